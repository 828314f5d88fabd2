"""The ``skmm`` argument parser."""

from __future__ import annotations

import argparse

from skmm.cli import _commands

__all__ = ["build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``skmm`` command line, one subcommand per command."""
    from skmm._demo import DATASETS

    parser = argparse.ArgumentParser(
        prog="skmm", description="Multimodal learning inside scikit-learn."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo",
        help="compare single modalities, early, late and neural fusion; write a report",
        description="Cross-validate single-modality pipelines, early fusion, late "
        "fusion and the neural fusion heads on one dataset; print the table and "
        "write a report folder (CSV, Markdown, PNG plots, the best model).",
    )
    demo.add_argument("--dataset", choices=list(DATASETS), default="reviews")
    demo.add_argument(
        "--quick",
        action="store_true",
        help="600 rows, 3 folds, 2 neural heads: under 2 minutes on 2 CPU cores",
    )
    demo.add_argument("--out", default="skmm_demo_report", help="report folder")
    demo.add_argument("--device", default="auto", help="torch device (default auto)")
    demo.add_argument("--n-samples", type=int, help="rows (default 1500)")
    demo.add_argument("--cv", type=int, help="folds (default 5; quick 3)")
    demo.add_argument("--cache", help="embedding cache folder (default OUT/cache)")
    demo.add_argument("--data-home", help="where av-digits is read or downloaded")
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    demo.set_defaults(run=_commands.demo)

    fit = commands.add_parser(
        "fit",
        help="fit a model on a table and save it",
        description="Fit a multimodal pipeline on a table (CSV, TSV or parquet) and "
        "save it with joblib. Media columns are named; other columns are used as "
        "numbers or categories. File paths are relative to the table's folder.",
    )
    fit.add_argument("data", help="training table (.csv, .tsv, .parquet)")
    fit.add_argument("--target", required=True, help="the column to predict")
    for kind, what in (
        ("image", "image file paths"),
        ("text", "text"),
        ("audio", "audio file paths"),
        ("video", "video file paths"),
    ):
        fit.add_argument(
            f"--{kind}-col",
            action="append",
            default=[],
            metavar="COL",
            help=f"a column of {what} (repeatable)",
        )
    fit.add_argument("--drop", action="append", default=[], metavar="COL")
    fit.add_argument(
        "--task", choices=["auto", "classification", "regression"], default="auto"
    )
    fit.add_argument(
        "--head",
        choices=["linear", "fusion", "late", "ensemble"],
        default="linear",
        help="linear: logistic/ridge on the joined features (default); fusion: "
        "a neural FusionClassifier/Regressor; late: late fusion; ensemble: trees, "
        "linear models and fusion heads chosen and weighted out of fold",
    )
    fit.add_argument("--fusion", default="concat", help="fusion type of --head fusion")
    fit.add_argument("--cv", type=int, default=0, help="report N-fold CV scores first")
    fit.add_argument("--out", default="model.joblib", help="where to save the model")
    fit.add_argument("--image-model", default="tf_efficientnet_lite0")
    fit.add_argument(
        "--image-weights",
        help="local weights file of --image-model (default: timm's pretrained "
        "weights from the hub; 'random' for random weights)",
    )
    fit.add_argument("--text-model", default="all-MiniLM-L6-v2")
    fit.add_argument("--device", default="auto")
    fit.add_argument("--cache", help="embedding cache folder")
    fit.add_argument("--random-state", type=int, default=0)
    fit.add_argument("--quiet", action="store_true", help="no progress bars")
    fit.set_defaults(run=_commands.fit)

    predict = commands.add_parser(
        "predict",
        help="predict with a saved model; CSV on stdout",
        description="Predict every row of a table with a model saved by skmm fit; "
        "write a CSV (the target column, optionally probabilities) to stdout. A "
        "model file is a pickle and runs code when loaded: load only files you "
        "trust.",
    )
    predict.add_argument("model")
    predict.add_argument("data")
    predict.add_argument("--proba", action="store_true", help="add class probabilities")
    predict.add_argument(
        "--keep", action="append", default=[], metavar="COL", help="copy a column"
    )
    predict.add_argument("--out", help="write here instead of stdout")
    predict.set_defaults(run=_commands.predict)

    evaluate = commands.add_parser(
        "evaluate",
        help="score a saved model on a labelled table",
        description="Score a model saved by skmm fit on a table with the target. A "
        "model file is a pickle and runs code when loaded: load only files you "
        "trust.",
    )
    evaluate.add_argument("model")
    evaluate.add_argument("data")
    evaluate.add_argument("--json", action="store_true", help="one JSON line")
    evaluate.set_defaults(run=_commands.evaluate)
    return parser
