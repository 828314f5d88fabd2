"""The main job runs end to end, as a user starts it."""

import subprocess
import sys

from tests.conftest import ROOT, run_python


def test_python_m_skmm_demo_prints_its_table():
    result = run_python(
        "-m", "skmm", "demo", "--n-samples", "120", "--cv", "2", "--device", "cpu"
    )
    out = result.stdout
    assert "120 of 23,486 rows" in out
    table = out[out.index("modalities") :].splitlines()
    assert [line.split("  ")[0] for line in table[1:4]] == [
        "text",
        "tabular",
        "text + tabular",
    ]
    for line in table[1:4]:
        # name, balanced accuracy ± std, ROC AUC ± std, encode s, fit s
        fields = line.split()
        assert fields[-7] == fields[-4] == "±"
        assert 0.0 <= float(fields[-8]) <= 1.0 and 0.0 <= float(fields[-5]) <= 1.0


def test_cli_without_command_shows_usage():
    result = subprocess.run(
        [sys.executable, "-m", "skmm"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2 and "usage: skmm" in result.stderr
