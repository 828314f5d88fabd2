"""Every example runs, as a user starts it."""

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_quickstart(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py"), "200"],
        cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "balanced accuracy on 100 held-out reviews" in result.stdout
    assert "identical predictions" in result.stdout
    assert (tmp_path / "quickstart.joblib").exists()
