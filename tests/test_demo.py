"""The main job runs end to end, as a user starts it, and writes its report."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.conftest import ROOT, run_python

METHODS = [
    "text only",
    "title only",
    "tabular only",
    "early fusion: LogisticRegression",
    "late fusion: LateFusionClassifier",
    "FusionClassifier(concat)",
    "FusionClassifier(gated)",
    "ensemble: EnsembleClassifier",
]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    """``python -m skmm demo --quick`` in a fresh process, as the README says."""
    out = tmp_path_factory.mktemp("demo") / "report"
    result = run_python(
        "-m", "skmm", "demo", "--quick", "--out", str(out), "--no-progress"
    )
    return result.stdout, out


def test_demo_quick_prints_one_row_per_method(quick_report):
    stdout, _ = quick_report
    assert "600 of 23,486 rows" in stdout
    lines = stdout[stdout.index("method ") :].splitlines()
    n = len(METHODS)
    assert [line.split("  ")[0] for line in lines[1 : n + 1]] == METHODS
    for line in lines[1 : n + 1]:
        fields = line.split()
        # ... score ± std, fit s, encode s, cache hits
        assert fields[-5] == "±" and 0.0 <= float(fields[-6]) <= 1.0
    assert "best: " in stdout


def test_demo_report_folder(quick_report):
    stdout, out = quick_report
    table = pd.read_csv(out / "results.csv")
    assert table["method"].tolist() == METHODS
    assert table["score"].between(0, 1).all() and (table["score_std"] >= 0).all()
    # Never an embedding twice: after the one encoding pass every fold of every
    # method found its text vectors in the cache.
    text = table["modalities"].str.contains("text")
    assert (table.loc[text, "cache_hits"] > 0).all()
    assert (table["cache_misses"] == 0).all()
    best = table.loc[table["score"].idxmax(), "method"]
    assert f"best: {best}" in stdout
    markdown, candidates = (out / "results.md").read_text().split("## The ensemble")
    assert markdown.count("\n| ") == len(METHODS) + 1 and f"**{best}**" in markdown
    # The ensemble's leaderboard: its candidates out of fold, the ensemble first
    # (never below its best candidate), weights summing to 1.
    board = pd.read_csv(out / "ensemble_leaderboard.csv")
    assert board["candidate"].iloc[0] == "ensemble"
    assert board["score"].iloc[0] >= board["score"].iloc[1:].max()
    assert board["weight"].iloc[1:].sum() == pytest.approx(1.0)
    assert {"hgb", "linear[text]", "fusion_concat"} <= set(board["candidate"])
    assert candidates.count("\n| ") == len(board) + 1
    importance = pd.read_csv(out / "modality_importance.csv")
    best_modalities = table.set_index("method").loc[best, "modalities"]
    assert importance["modality"].tolist() == best_modalities.split(" + ")
    assert importance["importance_std"].ge(0).all()
    pngs = ("scores.png", "modality_importance.png", "confusion_matrix.png")
    for name in (*pngs, "ensemble_candidates.png"):
        with Image.open(out / name) as image:
            assert image.format == "PNG" and min(image.size) >= 300
            # Something is drawn: not a blank canvas.
            assert len(image.convert("L").getcolors(maxcolors=1 << 16)) > 20


def test_demo_saved_model_predicts_in_a_fresh_process(quick_report):
    _, out = quick_report
    code = (
        "import joblib, sys\n"
        "from skmm.datasets import load_womens_reviews\n"
        "X, y = load_womens_reviews(return_X_y=True)\n"
        f"model = joblib.load({str(out / 'best_model.joblib')!r})\n"
        "print(sorted(set(model.predict(X.iloc[:40]))))\n"
        "print([getattr(t, 'cache', None) for t in "
        "model[0].named_transformers_.values()])\n"
    )
    result = run_python("-c", code)
    labels, caches = result.stdout.strip().splitlines()
    assert set(eval(labels)) <= {0, 1}
    # The saved model does not point at the report's cache folder.
    assert set(eval(caches)) == {None}


def test_demo_second_run_encodes_nothing(tmp_path, monkeypatch):
    import joblib
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    from skmm import MultimodalUnion
    from skmm._demo import run_demo

    # Every method's pipeline fit, as (its parameters, the rows it saw).
    fits = []
    pipeline_fit = Pipeline.fit

    def recorded_fit(self, X, y=None, **params):
        if isinstance(self.steps[0][1], MultimodalUnion):
            fits.append((joblib.hash(clone(self)), tuple(X.index)))
        return pipeline_fit(self, X, y, **params)

    lines = []
    kwargs = dict(
        quick=True, n_samples=90, cv=2, out=None, cache=tmp_path, progress=False
    )
    with monkeypatch.context() as patch:
        patch.setattr(Pipeline, "fit", recorded_fit)
        first = run_demo(**kwargs, log=lines.append)
    # Nothing fitted twice on the same rows: 8 methods x 2 folds, then the best
    # one on all 90 rows; its inspection reuses the fold models.
    assert len(fits) == 8 * 2 + 1 and len(set(fits)) == len(fits)
    assert sum(len(rows) == 90 for _, rows in fits) == 1
    encoded = [line for line in lines if " encoded, " in line]
    assert len(encoded) == 2 and "0 encoded" not in encoded[0]
    lines.clear()
    second = run_demo(**kwargs, log=lines.append)
    encoded = [line for line in lines if " encoded, " in line]
    assert all(" 0 encoded, " in line for line in encoded)
    pd.testing.assert_frame_equal(
        first.table[["method", "score"]], second.table[["method", "score"]]
    )
    # The best method is inspected on its own modalities, out of fold: each row
    # once, predicted by the fold model that did not see it; one permutation of
    # each modality per fold.
    best = first.table.set_index("method").loc[first.best, "modalities"]
    assert first.importance["modality"].tolist() == best.split(" + ")
    assert first.confusion.sum() == 90
    assert all(len(values) == 2 for values in first.importance["importances"])


def test_demo_unknown_dataset_is_refused():
    from skmm._demo import run_demo

    with pytest.raises(ValueError, match="Unknown dataset 'nope'; choose one of"):
        run_demo("nope", out=None)


def test_cli_without_command_shows_usage():
    result = subprocess.run(
        [sys.executable, "-m", "skmm"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2 and "usage: skmm" in result.stderr
    assert np.all([c in result.stderr for c in ("demo", "fit", "predict", "evaluate")])


def test_demo_on_audio_visual_digits(tmp_path):
    """``--dataset av-digits``: images and recordings, a confusion matrix of 10."""
    from tests.conftest import DATA, EFFICIENTNET_LITE0, require_shared

    require_shared(DATA / "fsdd")
    require_shared(EFFICIENTNET_LITE0)
    out = tmp_path / "report"
    result = run_python(
        "-m", "skmm", "demo", "--dataset", "av-digits", "--data-home", str(DATA),
        "--quick", "--n-samples", "80", "--cv", "2", "--out", str(out),
        "--no-progress",
    )  # fmt: skip
    assert "Audio-visual digits: 80 MNIST images" in result.stdout
    table = pd.read_csv(out / "results.csv")
    assert table["method"].tolist()[:2] == ["image only", "audio only"]
    assert (table["cache_misses"] == 0).all()
    with Image.open(out / "confusion_matrix.png") as image:
        assert min(image.size) >= 500  # room for 10 x 10 cells
