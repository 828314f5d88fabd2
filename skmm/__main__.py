"""The skmm command line: ``skmm demo``, ``skmm fit``, ``skmm predict``,
``skmm evaluate`` (also as ``python -m skmm ...``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from skmm._demo import format_table, run_demo

    start = time.perf_counter()
    report = run_demo(
        args.dataset,
        quick=args.quick,
        n_samples=args.n_samples,
        cv=args.cv,
        out=args.out,
        cache=args.cache,
        device=args.device,
        data_home=args.data_home,
        random_state=args.random_state,
        progress=not args.no_progress,
        log=lambda line: print(line, flush=True),
    )
    print()
    print(format_table(report.table))
    print()
    print(
        f"score: {report.table.attrs['scoring']} (mean ± std over folds); fit s: mean "
        "seconds per fit, cache lookups included; encode s: encoding the method's "
        "modalities once; cache hits: vectors looked up instead of computed."
    )
    print(f"best: {report.best}")
    if report.out is not None:
        print(f"report in {report.out}/: " + ", ".join(p.name for p in report.files))
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


def _fit(args: argparse.Namespace) -> int:
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

    from skmm._cli import build_model, echo, read_table, resolve_paths, save_model

    table = read_table(args.data)
    source = str(args.data)
    table = resolve_paths(
        table,
        [c for c in args.image_col + args.audio_col + args.video_col if c in table],
        Path(args.data).resolve().parent,
    )
    with tempfile.TemporaryDirectory(prefix="skmm-fit-") as scratch:
        # Cross-validation refits the encoders' pipeline on every fold: with a
        # cache (a temporary one unless --cache) each item is encoded once.
        cache = args.cache or (scratch if args.cv > 1 else None)
        model, X, y, spec, notes = build_model(
            table,
            args.target,
            image_cols=args.image_col,
            text_cols=args.text_col,
            audio_cols=args.audio_col,
            video_cols=args.video_col,
            drop=args.drop,
            task=args.task,
            head=args.head,
            fusion=args.fusion,
            image_model=args.image_model,
            image_weights=args.image_weights,
            text_model=args.text_model,
            device=args.device,
            cache=cache,
            verbose=not args.quiet,
            random_state=args.random_state,
            source=source,
        )
        for note in notes:
            echo(note)
        blocks = ", ".join(name for name, _, _ in model[0].transformers)
        head = type(model[-1]).__name__ if args.head != "linear" else "linear"
        echo(
            f"{spec.task} of {spec.target!r} from {len(X)} rows; blocks: {blocks}; "
            f"head: {head}"
        )
        if args.cv > 1:
            classify = spec.task == "classification"
            if classify and y.value_counts().min() < args.cv:
                folds = KFold(args.cv, shuffle=True, random_state=args.random_state)
            elif classify:
                folds = StratifiedKFold(
                    args.cv, shuffle=True, random_state=args.random_state
                )
            else:
                folds = KFold(args.cv, shuffle=True, random_state=args.random_state)
            scoring = (
                {"balanced accuracy": "balanced_accuracy", "accuracy": "accuracy"}
                if classify
                else {"R²": "r2", "MAE": "neg_mean_absolute_error"}
            )
            scores = cross_validate(clone(model), X, y, cv=folds, scoring=scoring)
            parts = []
            for label in scoring:
                values = scores[f"test_{label}"]
                values = -values if label == "MAE" else values
                parts.append(f"{label} {values.mean():.3f} ± {values.std():.3f}")
            print(f"{args.cv}-fold cross-validation: " + ", ".join(parts), flush=True)
        model.fit(X, y)
    for transformer in model[0].named_transformers_.values():
        if hasattr(transformer, "cache") and transformer.cache == cache != args.cache:
            transformer.set_params(cache=None)  # the temporary cache is gone
    model.skmm_spec_ = spec
    save_model(model, args.out)
    echo(f"saved {args.out}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    import pandas as pd

    from skmm._cli import CommandError, echo, load_model, prepare_inputs, read_table

    if args.out is not None:
        _check_out(args.out)
    model = load_model(args.model, log=echo)
    table = read_table(args.data)
    X = prepare_inputs(model, table, Path(args.data).resolve().parent, str(args.data))
    spec = model.skmm_spec_
    for column in args.keep:
        if column not in table.columns:
            raise CommandError(f"column {column!r} (--keep) is not in {args.data}")
    output = table[args.keep].copy() if args.keep else pd.DataFrame(index=table.index)
    output[spec.target] = model.predict(X)
    if args.proba:
        if spec.task != "classification":
            raise CommandError("--proba needs a classification model")
        proba = model.predict_proba(X)
        for j, label in enumerate(model.classes_):
            output[f"proba_{label}"] = proba[:, j]
    if args.out is None:
        output.to_csv(sys.stdout, index=False)
    else:
        output.to_csv(args.out, index=False)
    return 0


def _check_out(out: str) -> None:
    """Fail before any encoding when ``--out`` cannot be written."""
    from skmm._cli import CommandError

    path = Path(out)
    if path.is_dir():
        raise CommandError(f"--out {out}: is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise CommandError(f"--out {out}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"--out {out}: the folder {folder} is not writable")


def _evaluate(args: argparse.Namespace) -> int:
    from skmm._cli import (
        CommandError,
        echo,
        evaluate_model,
        load_model,
        prepare_inputs,
        read_table,
    )

    model = load_model(args.model, log=echo)
    table = read_table(args.data)
    spec = model.skmm_spec_
    if spec.target not in table.columns:
        raise CommandError(
            f"column {spec.target!r} (the model's target) is not in {args.data}"
        )
    known = table[spec.target].notna()
    if not known.all():
        rows = [str(i) for i in table.index[~known][:5]]
        more = ", ..." if (~known).sum() > 5 else ""
        echo(
            f"{int((~known).sum())} rows without a target left out "
            f"(rows {', '.join(rows)}{more})"
        )
    table = table.loc[known].reset_index(drop=True)
    X = prepare_inputs(model, table, Path(args.data).resolve().parent, str(args.data))
    result = evaluate_model(model, X, table[spec.target])
    if args.json:
        print(json.dumps(result))
    else:
        for name, value in result.items():
            print(
                f"{name:<18}{value:.4f}" if name != "n_rows" else f"{name:<18}{value}"
            )
    return 0


def _parser() -> argparse.ArgumentParser:
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
    demo.set_defaults(run=_demo)

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
    fit.set_defaults(run=_fit)

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
    predict.set_defaults(run=_predict)

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
    evaluate.set_defaults(run=_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the skmm command line.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments; default ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 2 for bad input (a missing column, an empty file, a target
        with one class, a damaged model file), 1 for a value the encoders could not
        read and any other error (printed as one line; ``SKMM_TRACEBACK=1`` shows
        the traceback), 130 when interrupted.
    """
    from skmm._cli import CommandError

    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except CommandError as exc:
        print(f"skmm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of stdout went away (``skmm predict ... | head``).
        # Python would report it again when flushing stdout at exit.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, OSError) as exc:
        # The encoders' errors name the column, the row and the value.
        print(f"skmm {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"skmm {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("SKMM_TRACEBACK"):
            raise
        # An unknown model, a failed safetensors write...: one line, not a trace.
        print(
            f"skmm {args.command}: error: {type(exc).__name__}: {exc} "
            "(SKMM_TRACEBACK=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
