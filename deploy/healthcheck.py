"""Exit 0 if the lab answers on Streamlit's health endpoint (the image's HEALTHCHECK)."""

import os
import sys
import urllib.request

port = os.environ.get("STREAMLIT_SERVER_PORT", "8501")
try:
    answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).read()
except OSError:
    sys.exit(1)
sys.exit(0 if answer == b"ok" else 1)
