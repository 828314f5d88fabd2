"""Every example runs, as a user starts it."""

from tests.conftest import ROOT, run_python


def test_quickstart(tmp_path):
    result = run_python(str(ROOT / "examples" / "quickstart.py"), "200", cwd=tmp_path)
    assert "balanced accuracy on 100 held-out reviews" in result.stdout
    assert "identical predictions" in result.stdout
    assert (tmp_path / "quickstart.joblib").exists()


def test_audio_visual_digits(tmp_path):
    """Quick mode (200 pairs): the table and its rows; the full run is in the README."""
    from tests.conftest import DATA, EFFICIENTNET_LITE0, require_shared

    require_shared(DATA / "fsdd")
    require_shared(EFFICIENTNET_LITE0)
    script = ROOT / "examples" / "audio_visual_digits.py"
    result = run_python(str(script), "200", cwd=tmp_path)
    out = result.stdout
    assert "200 image + audio pairs" in out and "accuracy, audio removed" in out
    for head in ("image only", "audio only", "early fusion", "late fusion", "gated"):
        assert head in out
