"""The deployment files agree with the project: pins in sync, the image's health check works."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line.strip())
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_the_cpu_requirements_pin_the_same_versions():
    main, cpu = pins(ROOT / "requirements.txt"), pins(ROOT / "deploy" / "requirements-cpu.txt")
    assert cpu.pop("torch") == main.pop("torch") + "+cpu"
    assert cpu == main


def test_the_dockerfile_uses_the_install_script_a_non_root_user_and_the_health_check():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "torch==2.13.0" in (ROOT / "deploy" / "install.sh").read_text()
    assert "bash deploy/install.sh" in dockerfile and "download.pytorch.org/whl/cpu" in dockerfile
    assert re.search(r"^USER lab$", dockerfile, re.M) and "--uid 1000" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "deploy/healthcheck.py" in dockerfile
    assert "LAB_HOME=/data/runs" in dockerfile and "VOLUME /data" in dockerfile
    assert 'ENTRYPOINT ["/usr/bin/tini", "--"]' in dockerfile  # reaps what a dead worker's code left
    assert "install -y --no-install-recommends tini" in dockerfile


def test_the_health_check_fails_without_a_server_and_passes_with_one(tmp_path):
    env = {**os.environ, "STREAMLIT_SERVER_PORT": "1"}  # nothing listens there
    assert subprocess.run([sys.executable, "deploy/healthcheck.py"], cwd=ROOT, env=env).returncode == 1
    from tests.e2e.helpers import free_port, wait_healthy

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT,
        env={**os.environ, "LAB_HOME": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        env = {**os.environ, "STREAMLIT_SERVER_PORT": str(port)}
        assert subprocess.run([sys.executable, "deploy/healthcheck.py"], cwd=ROOT, env=env).returncode == 0
    finally:
        server.terminate()
        server.wait(15)
