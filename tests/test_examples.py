"""Every example runs, as a user starts it."""

from tests.conftest import ROOT, run_python


def test_quickstart(tmp_path):
    result = run_python(str(ROOT / "examples" / "quickstart.py"), "200", cwd=tmp_path)
    assert "balanced accuracy on 100 held-out reviews" in result.stdout
    assert "identical predictions" in result.stdout
    assert (tmp_path / "quickstart.joblib").exists()
