"""``skmm fit / predict / evaluate`` on a user's own table."""

import io
import json

import joblib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import skmm
from skmm.cli import main
from tests.conftest import TINY_IMAGE_MODEL, run_python

TINY = ["--image-model", TINY_IMAGE_MODEL, "--image-weights", "random", "--quiet"]


@pytest.fixture
def table(tmp_path):
    """40 rows: a photo (relative path), a review, a number, a category, an id."""
    rng = np.random.default_rng(0)
    label = np.array(["yes", "no"] * 20)
    (tmp_path / "photos").mkdir()
    photos = []
    for i, y in enumerate(label):
        tone = 200 if y == "yes" else 40
        pixels = rng.integers(0, 40, (24, 24, 3)) + tone
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(
            tmp_path / "photos" / f"{i}.png"
        )
        photos.append(f"photos/{i}.png")
    words = {"yes": "lovely fit, great quality", "no": "poor fabric, returned it"}
    frame = pd.DataFrame(
        {
            "id": [f"order-{i:04d}" for i in range(40)],
            "photo": photos,
            "review": [words[y] for y in label],
            "price": rng.normal(50, 10, 40).round(2),
            "colour": rng.choice(["red", "blue", "green"], 40),
            "label": label,
        }
    )
    frame.loc[3, "review"] = None  # a missing text: the union's indicator
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path, frame


def fit(table_path, *extra, out):
    return main(
        ["fit", str(table_path), "--target", "label", "--image-col", "photo",
         "--text-col", "review", "--out", str(out), *TINY, *extra]
    )  # fmt: skip


def test_fit_predict_evaluate(table, tmp_path, capsys, monkeypatch):
    path, frame = table
    # Paths in the table are relative to the table's folder, not to the cwd.
    monkeypatch.chdir(tmp_path.parent)
    model_path = tmp_path / "model.joblib"
    assert fit(path, "--cv", "2", out=model_path) == 0
    out, err = capsys.readouterr()
    assert "2-fold cross-validation: balanced accuracy" in out
    assert "column 'id' left out: 40 distinct values in 40 rows" in err
    assert "classification of 'label' from 40 rows" in err

    model = joblib.load(model_path)  # a plain scikit-learn Pipeline
    spec = model.skmm_spec_
    assert (spec.numbers, spec.categories) == (["price"], ["colour"])
    assert [name for name, *_ in model[0].transformers] == [
        "image",
        "text",
        "numbers",
        "categories",
    ]

    assert main(["predict", str(model_path), str(path), "--proba", "--keep", "id"]) == 0
    predictions = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert predictions.columns.tolist() == ["id", "label", "proba_no", "proba_yes"]
    assert predictions["id"].tolist() == frame["id"].tolist()
    np.testing.assert_allclose(predictions[["proba_no", "proba_yes"]].sum(axis=1), 1)
    # The images tell the classes apart: the training rows come back right.
    assert (predictions["label"] == frame["label"]).mean() >= 0.9

    assert main(["evaluate", str(model_path), str(path), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    accuracy = (predictions["label"] == frame["label"]).mean()
    assert metrics["accuracy"] == pytest.approx(accuracy)
    assert metrics["n_rows"] == 40 and 0.5 <= metrics["roc_auc"] <= 1.0


def test_fusion_head_and_regression(table, tmp_path, capsys):
    path, frame = table
    frame = frame.assign(label=np.where(frame["label"] == "yes", 10.0, 0.0))
    frame["label"] += np.random.default_rng(1).normal(0, 1, 40)
    path = path.with_name("numbers.csv")
    frame.to_csv(path, index=False)
    model_path = tmp_path / "fused.joblib"
    assert fit(path, "--head", "fusion", out=model_path) == 0
    assert "regression of 'label'" in capsys.readouterr().err
    model = joblib.load(model_path)
    assert type(model[-1]).__name__ == "FusionRegressor"
    assert list(model[-1].layout_.names[:2]) == ["image", "text"]
    assert main(["evaluate", str(model_path), str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[0] == "r2" and "rmse" in out


@pytest.mark.parametrize(
    "change, args, message",
    [
        (None, ["--image-col", "foto"], "column 'foto' (--image-col) is not in"),
        (None, ["--target", "labell"], "did you mean 'label'?"),
        ("one class", [], "target 'label' has one class ('yes') in its 40 rows"),
        ("empty", [], "the file is empty"),
        ("header only", [], "has a header (id, photo, review, price, colour, label)"),
    ],
)
def test_clear_errors(table, tmp_path, capsys, change, args, message):
    path, frame = table
    if change == "one class":
        frame.assign(label="yes").to_csv(path, index=False)
    elif change == "empty":
        path.write_text("")
    elif change == "header only":
        frame.iloc[:0].to_csv(path, index=False)
    argv = ["fit", str(path), "--target", "label", "--out", str(tmp_path / "m.joblib")]
    argv += ["--image-col", "photo"] if "--image-col" not in args else []
    assert main(argv + args + TINY) == 2
    err = capsys.readouterr().err
    assert err.startswith("skmm fit: error: ") and message in err
    assert not (tmp_path / "m.joblib").exists()


def test_unreadable_image_names_column_row_and_value(table, tmp_path, capsys):
    path, frame = table
    frame.loc[7, "photo"] = "photos/missing.png"
    frame.to_csv(path, index=False)
    assert fit(path, out=tmp_path / "m.joblib") == 1
    err = capsys.readouterr().err
    assert "'photo'" in err and "row 7" in err and "missing.png" in err


def test_predict_needs_the_model_columns(table, tmp_path, capsys):
    path, frame = table
    model_path = tmp_path / "model.joblib"
    assert fit(path, out=model_path) == 0
    capsys.readouterr()
    frame.drop(columns="price").to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", str(model_path), str(tmp_path / "new.csv")]) == 2
    assert "column 'price' (needed by the model) is not in" in capsys.readouterr().err
    assert main(["predict", str(path), str(path)]) == 2  # a CSV is not a model
    assert "not a model saved by skmm fit" in capsys.readouterr().err


def test_a_model_file_cut_anywhere_is_a_one_line_error(tmp_path, capsys):
    """Without a manifest to check, a truncated pickle still says it is damaged."""
    data = tmp_path / "data.csv"
    pd.DataFrame({"size": np.arange(30.0), "label": ["a", "b", "c"] * 10}).to_csv(
        data, index=False
    )
    model_path = tmp_path / "model.joblib"
    assert main(["fit", str(data), "--target", "label", "--out", str(model_path)]) == 0
    whole = model_path.read_bytes()
    pickle_end = whole.rindex(b"\n#skmm-manifest\n")
    for cut in range(1, pickle_end, 11):
        model_path.write_bytes(whole[:cut])
        capsys.readouterr()
        assert main(["predict", str(model_path), str(data)]) == 2, cut
        err = capsys.readouterr().err.splitlines()[-1]
        assert "skmm predict: error:" in err
        # Numpy's own reader says EOF; every other cut is named as damage.
        assert "truncated or damaged" in err or "EOF: reading array data" in err, (
            cut,
            err,
        )


def test_a_failed_save_keeps_the_previous_model(table, tmp_path, monkeypatch):
    from skmm.cli import _files

    path, _ = table
    model_path = tmp_path / "model.joblib"
    assert fit(path, out=model_path) == 0
    before = model_path.read_bytes()

    def broken_dump(value, filename):
        with open(filename, "wb") as handle:
            handle.write(b"half a model")
        raise OSError("disk full")

    monkeypatch.setattr(joblib, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        _files.save_model({"a": 1}, model_path)
    assert model_path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_console_script_writes_predictions_to_stdout(table, tmp_path):
    path, _ = table
    model_path = tmp_path / "model.joblib"
    assert fit(path, out=model_path) == 0
    result = run_python("-m", "skmm", "predict", str(model_path), str(path))
    predictions = pd.read_csv(io.StringIO(result.stdout))
    assert predictions.shape == (40, 1) and set(predictions["label"]) <= {"yes", "no"}


def test_saved_model_mode_follows_the_umask(table, tmp_path):
    import os
    import stat

    path, _ = table
    old = os.umask(0o022)
    try:
        assert fit(path, out=tmp_path / "model.joblib") == 0
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "model.joblib").stat().st_mode)
    assert mode == 0o644  # as joblib.dump would write it, not mkstemp's 0600


def test_predict_out_into_a_missing_folder_fails_before_loading(
    table, tmp_path, capsys
):
    path, _ = table
    model_path = tmp_path / "model.joblib"
    assert fit(path, out=model_path) == 0
    capsys.readouterr()
    out = tmp_path / "no" / "such" / "p.csv"
    assert main(["predict", str(model_path), str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"the folder {out.parent} does not exist" in err
    assert "loading" not in err  # nothing was loaded, nothing encoded


def test_predict_says_what_it_loads(table, tmp_path, capsys):
    from skmm import __version__

    path, _ = table
    model_path = tmp_path / "model.joblib"
    assert fit(path, out=model_path) == 0
    capsys.readouterr()
    assert main(["evaluate", str(model_path), str(path)]) == 0
    err = capsys.readouterr().err
    assert f"loading {model_path} (" in err and " MB, " in err
    assert f"saved by skmm {__version__} on " in err and "checksum verified" in err
    assert "runs code when loaded: load only files you trust" in err


def test_rows_without_a_target_are_reported(table, tmp_path, capsys):
    path, frame = table
    frame.loc[[4, 9], "label"] = None
    frame.to_csv(path, index=False)
    model_path = tmp_path / "model.joblib"
    assert fit(path, out=model_path) == 0
    assert "2 rows without a target left out (rows 4, 9)" in capsys.readouterr().err
    assert main(["evaluate", str(model_path), str(path), "--json"]) == 0
    captured = capsys.readouterr()
    assert "2 rows without a target left out (rows 4, 9)" in captured.err
    assert json.loads(captured.out)["n_rows"] == 38


def test_ensemble_head_reads_raw_numbers_and_native_categories(
    table, tmp_path, monkeypatch
):
    path, frame = table
    monkeypatch.chdir(tmp_path)  # the photos' paths are relative to the table
    model_path = tmp_path / "ensemble.joblib"
    assert fit(path, "--head", "ensemble", out=model_path) == 0
    model = joblib.load(model_path)
    head = model[-1]
    assert type(head).__name__ == "EnsembleClassifier"
    assert model[0].modalities_ == {
        "image": "image",
        "text": "text",
        "numbers": "tabular",
        "categories": "categorical",
    }
    board = head.leaderboard_.set_index("candidate")
    # The tree reads the tabular blocks: the raw price and the colour's codes.
    assert board.loc["hgb", "blocks"] == "numbers + categories"
    assert board.loc["ensemble", "score"] >= board["score"].drop("ensemble").max()
    predicted = model.predict(frame.drop(columns="label"))
    assert (predicted == frame["label"]).mean() > 0.9


def test_fit_with_no_column_flags_detects_photos_text_and_numbers(
    table, tmp_path, capsys, monkeypatch
):
    """A newcomer's first try: no --image-col, no --text-col."""
    path, frame = table
    monkeypatch.chdir(tmp_path.parent)  # paths are relative to the table's folder
    model_path = tmp_path / "model.joblib"
    argv = ["fit", str(path), "--target", "label", "--out", str(model_path)]
    assert main(argv + TINY[:-1]) == 0  # with progress bars, saved with the model
    err = capsys.readouterr().err
    assert "column 'photo': image (10 of 10 sampled values decode as image)" in err
    assert "column 'review': text (free text" in err
    assert "column 'id' left out: 40 distinct values in 40 rows" in err
    assert "--text-col photo" not in err
    assert "blocks: image, text, numbers, categories; head: linear" in err

    # evaluate: the default metrics and a report per class; the metrics asked
    # for; --quiet: no message, no progress bar of skmm's.
    # A fresh process in real use: nothing in the in-memory store from the fit.
    # --no-cache: the fit's vectors in the default disk cache are not read.
    with skmm.config_context(cache=False):
        argv = ["evaluate", str(model_path), str(path), "--json", "--no-cache"]
        assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "loading" in err and "ImageEncoder" in err
    result = json.loads(out)
    assert set(result) == {
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "roc_auc",
        "n_rows",
        "per_class",
    }
    assert result["per_class"]["yes"]["support"] == 20
    assert result["accuracy"] >= 0.9
    argv = ["evaluate", str(model_path), str(path), "--quiet"]
    assert main(argv + ["--metric", "f1_macro", "--metric", "log_loss"]) == 0
    out, err = capsys.readouterr()
    assert "loading" not in err and "ImageEncoder" not in err
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["f1_macro", "log_loss", "n_rows"]
    assert lines[4].split() == ["class", "precision", "recall", "f1-score", "support"]
    assert [line.split()[0] for line in lines[5:]] == ["no", "yes"]
    assert [int(line.split()[-1]) for line in lines[5:]] == [20, 20]


def test_quiet_and_metric_errors(tmp_path, capsys):
    data = tmp_path / "data.csv"
    pd.DataFrame({"size": np.arange(30.0), "label": ["a", "b", "c"] * 10}).to_csv(
        data, index=False
    )
    model_path = tmp_path / "model.joblib"
    assert main(["fit", str(data), "--target", "label", "--out", str(model_path)]) == 0
    capsys.readouterr()
    argv = ["evaluate", str(model_path), str(data), "--metric", "r2"]
    assert main(argv) == 2
    assert "--metric r2 is not a classification metric" in capsys.readouterr().err
    for command in ("predict", "evaluate"):
        assert main([command, str(model_path), str(data)]) == 0
        assert "loading" in capsys.readouterr().err
        assert main([command, str(model_path), str(data), "--quiet"]) == 0
        assert capsys.readouterr().err == ""


def test_help_shows_defaults_examples_and_every_option(capsys, monkeypatch):
    import argparse

    monkeypatch.setenv("COLUMNS", "200")
    from skmm.cli._parser import build_parser

    parser = build_parser()
    commands = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, f"skmm {name} {action.dest} has no help"
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    out = capsys.readouterr().out
    assert "--head {linear,fusion,late,ensemble}" in out
    assert "(default: linear)" in out and "(default: model.joblib)" in out
    assert "(0: none) (default: 0)" in out and "(default: False)" not in out
    assert "examples:\n  skmm fit train.csv --target label" in out


def test_time_limit_needs_the_ensemble_head(table, tmp_path, capsys):
    path, _ = table
    out = tmp_path / "m.joblib"
    assert fit(path, "--time-limit", "30", out=out) == 2
    err = capsys.readouterr().err
    assert "--time-limit bounds the ensemble's fit" in err
    assert "pass it with --head ensemble, not --head linear" in err
    assert fit(path, "--head", "ensemble", "--time-limit", "0", out=out) == 2
    assert "--time-limit must be a positive number of seconds, got 0" in (
        capsys.readouterr().err
    )
    assert not out.exists()


def test_time_limit_reaches_the_ensemble(table, tmp_path, monkeypatch):
    from skmm.ensemble import EnsembleClassifier

    if "time_limit" not in EnsembleClassifier().get_params():
        pytest.skip("this EnsembleClassifier has no time_limit")
    path, _ = table
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "m.joblib"
    assert fit(path, "--head", "ensemble", "--time-limit", "45", out=out) == 0
    assert joblib.load(out)[-1].time_limit == 45


def test_preset_best_adds_fine_tuned_features_and_shares_the_time_limit(
    table, tmp_path, capsys
):
    from skmm.cli._model import build_model
    from skmm.finetune import FineTunedEmbeddings

    path, frame = table
    model, *_ = build_model(
        frame,
        "label",
        image_cols=["photo"],
        text_cols=["review"],
        head="ensemble",
        preset="best",
        time_limit=60,
        image_weights="random",
        base=tmp_path,
    )
    blocks = {name: t for name, t, _ in model[0].transformers}
    assert isinstance(blocks["image_tuned"], FineTunedEmbeddings)
    assert isinstance(blocks["text_tuned"], FineTunedEmbeddings)
    assert blocks["text_tuned"].time_limit == 15  # half of 60, over 2 blocks
    assert model[-1].preset == "best" and model[-1].time_limit == 30
    out = tmp_path / "m.joblib"
    assert fit(path, "--preset", "best", out=out) == 2
    err = capsys.readouterr().err
    assert "--preset chooses the ensemble's candidates" in err
    assert "not --head linear" in err and not out.exists()
