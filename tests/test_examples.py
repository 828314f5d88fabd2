"""Every example runs, as a user starts it."""

from tests.conftest import ROOT, run_python


def test_quickstart(tmp_path):
    result = run_python(str(ROOT / "examples" / "quickstart.py"), "200", cwd=tmp_path)
    assert "balanced accuracy on 100 held-out reviews" in result.stdout
    assert "identical predictions" in result.stdout
    assert (tmp_path / "quickstart.joblib").exists()


def test_audio_visual_digits(tmp_path):
    """Quick mode (200 pairs): the table and its rows; the full run is in the README."""
    from tests.conftest import DATA, require_shared

    require_shared(DATA / "fsdd")  # the weights: the efficientnet-lite0 package
    script = ROOT / "examples" / "audio_visual_digits.py"
    result = run_python(str(script), "200", cwd=tmp_path)
    out = result.stdout
    assert "200 image + audio pairs" in out and "accuracy, audio removed" in out
    for head in ("image only", "audio only", "early fusion", "late fusion", "gated"):
        assert head in out


def test_crossmodal_retrieval(tmp_path):
    """Quick mode (2 training photos per class): recall and zero-shot are printed."""
    from tests.conftest import DATA, require_shared

    require_shared(DATA / "grocery")  # the weights: the efficientnet-lite0 package
    script = ROOT / "examples" / "crossmodal_retrieval.py"
    out = run_python(str(script), "2", cwd=tmp_path).stdout
    assert "120 training photos of 60 classes; 81 test photos" in out
    assert "photo -> description recall@5 among 81" in out
    assert "zero-shot accuracy on 21 photos of 21 unseen classes" in out


def _lines(out: str, start: str, n: int) -> list[str]:
    """The ``n`` lines after the line that starts with ``start``."""
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    return lines[first + 1 : first + 1 + n]


def test_gridsearch_and_save(tmp_path):
    script = ROOT / "examples" / "gridsearch_and_save.py"
    out = run_python(str(script), "150", cwd=tmp_path).stdout
    scores = _lines(out, "8 candidates x 3 folds", 8)
    assert all(0.0 <= float(line.split()[0]) <= 1.0 for line in scores)
    assert "'title': 'drop'" in scores[0] and "'fusion': 'attention'" in scores[-1]
    assert "best: {" in out and "identical predictions" in out
    assert (tmp_path / "gridsearch_best.joblib").exists()


def test_missing_modalities(tmp_path):
    script = ROOT / "examples" / "missing_modalities.py"
    out = run_python(str(script), "200", cwd=tmp_path).stdout
    rows = _lines(out, "texts", 4)
    assert [row.split("  ")[0] for row in rows] == [
        "early fusion (indicator + LR)",
        "late fusion (mean)",
        "FusionClassifier, no modality dropout",
        "FusionClassifier, modality_dropout=0.3",
    ]
    for row in rows:  # a score for 0%, 50% and 100% of the texts removed
        assert all(0.0 <= float(v) <= 1.0 for v in row.split()[-3:])


def test_late_fusion(tmp_path):
    out = run_python(str(ROOT / "examples" / "late_fusion.py"), "200").stdout
    assert len(_lines(out, "5-fold balanced accuracy on 200 reviews", 4)) == 4
    ablation = _lines(out, "modality", 3)
    assert [line.split()[0] for line in ablation] == ["text", "title", "tab"]


def test_multitask(tmp_path):
    out = run_python(str(ROOT / "examples" / "multitask.py"), "200").stdout
    rows = _lines(out, "model", 3)
    assert rows[0].startswith("FusionMultiTask (one model)")
    # The fused model learns the rating: below the MAE of always the mean.
    mae = [float(row.split()[-1]) for row in rows]
    assert mae[0] < mae[2]


def test_cached_grid_search(tmp_path):
    out = run_python(str(ROOT / "examples" / "cached_grid_search.py"), "40").stdout
    assert "filled cache: 0 vectors computed" in out
    assert "identical cross-validation scores with and without the cache" in out


def test_gpu_example_runs_on_the_cpu(tmp_path):
    out = run_python(str(ROOT / "examples" / "gpu.py"), "40", cwd=tmp_path).stdout
    assert "ImageEncoder:" in out and "FusionClassifier trained on" in out
    assert "reloaded in a process without a GPU: head on cpu, encoder on cpu" in out
    gap = float(out.rsplit("largest probability difference ", 1)[1].split()[0])
    assert gap < 1e-4


def test_scale_out_dask(tmp_path):
    """A 2-worker LocalCluster: grid search, prediction, out-of-core embeddings."""
    import pytest

    pytest.importorskip("distributed")
    script = ROOT / "examples" / "scale_out_dask.py"
    out = run_python(str(script), "80", cwd=tmp_path, timeout=300).stdout
    assert "cluster: 2 workers" in out and "grid search on the cluster" in out
    assert "predicted 80 rows on the workers; same as in one process: True" in out
    assert "embeddings on disk: (80, " in out
    assert "FusionClassifier from the memmap: blocks ('image', 'tab')" in out
