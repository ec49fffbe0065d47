"""trainers selects the torch backend, refuses another one clearly, and never imports streamlit."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, **env_changes) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update({k: v for k, v in env_changes.items() if v is not None})
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_import_sets_torch_backend_and_skips_streamlit():
    out = _python("import sys, trainers, keras; print(keras.backend.backend(), 'streamlit' in sys.modules)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["torch", "False"]


def test_keras_already_imported_with_other_backend_is_refused():
    # No second real backend is installed here (numpy's needs scipy, jax is 600 MB), so a
    # stand-in keras module that reports "jax" plays the already-imported library.
    code = (
        "import sys, types; k = types.ModuleType('keras');"
        "k.backend = types.SimpleNamespace(backend=lambda: 'jax'); sys.modules['keras'] = k;"
        "import trainers"
    )
    out = _python(code)
    assert out.returncode != 0
    assert "already imported with the 'jax' backend" in out.stderr
    assert "KERAS_BACKEND=torch" in out.stderr


def test_other_backend_in_environment_is_refused_before_keras_loads():
    out = _python("import trainers", KERAS_BACKEND="jax")
    assert out.returncode != 0
    assert "KERAS_BACKEND='jax'" in out.stderr
