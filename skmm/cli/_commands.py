"""The commands: ``skmm demo``, ``fit``, ``predict`` and ``evaluate``.

Each takes the parsed arguments and returns the exit status; bad input raises
:class:`~skmm.cli._common.CommandError`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from skmm.cli._common import CommandError, echo

__all__ = ["demo", "evaluate", "fit", "predict"]


def demo(args: argparse.Namespace) -> int:
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


def fit(args: argparse.Namespace) -> int:
    if args.image_weights is None:
        _check_image_weights(args.image_model)
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

    from skmm.cli._files import check_model_out, save_model
    from skmm.cli._model import build_model
    from skmm.cli._table import read_table

    check_model_out(args.out)  # before the fit, as predict checks its --out
    table = read_table(args.data)
    source = str(args.data)
    with tempfile.TemporaryDirectory(prefix="skmm-fit-") as scratch:
        # Cross-validation refits the encoders' pipeline on every fold: with a
        # cache (a temporary one with --no-cache) each item is encoded once.
        cache = cache_folder(args) or (scratch if args.cv > 1 else None)
        model, X, y, spec, notes = build_model(
            table,
            args.target,
            image_cols=args.image_col,
            text_cols=args.text_col,
            audio_cols=args.audio_col,
            video_cols=args.video_col,
            categorical_cols=args.categorical_col,
            numeric_cols=args.numeric_col,
            datetime_cols=args.datetime_col,
            drop=args.drop,
            task=args.task,
            head=args.head,
            fusion=args.fusion,
            time_limit=args.time_limit,
            preset=args.preset,
            image_model=args.image_model,
            image_weights=args.image_weights,
            text_model=args.text_model,
            device=args.device,
            cache=cache,
            verbose=not args.quiet,
            random_state=args.random_state,
            base=Path(args.data).resolve().parent,
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
    if not args.quiet:
        _report_cache(cache_folder(args))
    echo(f"saved {args.out}")
    return 0


def _check_image_weights(model: str) -> None:
    """Fail at once, before the table is read and torch or timm imported (5-8 s on
    a busy machine), when ``--image-model``'s pretrained weights cannot be had: no
    installed package ships them, no local cache holds them and the hub cannot be
    reached (``HF_HUB_OFFLINE``, or no connection within a few seconds)."""
    from skmm._weights import missing_timm_weights, weights_unavailable

    reason = missing_timm_weights(model)
    if reason is not None:
        raise weights_unavailable(model, reason)


def predict(args: argparse.Namespace) -> int:
    import pandas as pd

    from skmm.cli._files import load_model
    from skmm.cli._model import prepare_inputs
    from skmm.cli._table import read_table

    if args.out is not None:
        _check_out(args.out)
    say = _messages(args.quiet)
    model = load_model(args.model, log=say)
    _set_progress(model, not args.quiet)
    cache = _use_cache(model, args)
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
    if not args.quiet:
        _report_cache(cache)
    return 0


def _check_out(out: str) -> None:
    """Fail before any encoding when ``--out`` cannot be written."""
    path = Path(out)
    if path.is_dir():
        raise CommandError(f"--out {out}: is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise CommandError(f"--out {out}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"--out {out}: the folder {folder} is not writable")


def _messages(quiet: bool):
    """``echo``, or nothing with ``--quiet`` (errors are printed either way)."""
    return (lambda line: None) if quiet else echo


def _encoders(model) -> list:
    """The saved model's encoders (inside pipelines of the union too)."""
    found = []
    for transformer in model[0].named_transformers_.values():
        steps = getattr(transformer, "steps", None)
        for step in [transformer] if steps is None else [s for _, s in steps]:
            if hasattr(step, "verbose") and hasattr(step, "modality"):
                found.append(step)
    return found


def _set_progress(model, on: bool) -> None:
    """Progress bars of the saved model's encoders on or off."""
    for encoder in _encoders(model):
        encoder.set_params(verbose=on)


def cache_folder(args: argparse.Namespace) -> str | None:
    """The embedding cache folder of a command: ``--cache``; else, without
    ``--no-cache`` or ``SKMM_CACHE`` (which the encoders read themselves), skmm's
    folder in the user's cache directory. None: no disk cache from the CLI.
    The folder is bounded by ``--cache-size``."""
    if getattr(args, "no_cache", False):
        return None
    if args.cache:
        folder = args.cache
    elif os.environ.get("SKMM_CACHE"):
        return None
    else:
        from skmm._paths import user_cache_dir

        folder = str(user_cache_dir("embeddings"))
    _bound(folder, args)
    return folder


def _bound(folder: str, args: argparse.Namespace) -> None:
    """Bound the process's handle of the cache in ``folder`` by ``--cache-size``:
    the encoders that name the folder write through it."""
    from skmm.cache import open_cache

    open_cache(folder, max_bytes=args.cache_size)


def _use_cache(model, args: argparse.Namespace) -> str | None:
    """Point the saved model's encoders at the command's cache (a folder saved by
    ``fit --cache`` is kept unless ``--cache`` or ``--no-cache`` says otherwise).
    Returns the folder, if any."""
    folder = cache_folder(args)
    for encoder in _encoders(model):
        if args.no_cache:
            encoder.set_params(cache=None)  # the in-process store only
        elif args.cache or encoder.cache is None:
            encoder.set_params(cache=folder)
        elif isinstance(encoder.cache, (str, os.PathLike)):
            _bound(os.fspath(encoder.cache), args)  # fit --cache DIR's folder
    return folder


def _report_cache(folder: str | None) -> None:
    """How many vectors the command's disk cache gave and how many were encoded."""
    if folder is None:
        return
    from skmm.cache import open_cache

    hits, misses, _ = open_cache(folder).cache_info()
    if hits or misses:
        echo(
            f"embedding cache {folder}: {hits} vectors looked up, {misses} encoded "
            "(--no-cache: none kept)"
        )


def evaluate(args: argparse.Namespace) -> int:
    from skmm.cli._files import load_model
    from skmm.cli._model import evaluate_model, prepare_inputs
    from skmm.cli._table import read_table

    say = _messages(args.quiet)
    model = load_model(args.model, log=say)
    _set_progress(model, not args.quiet)
    cache = _use_cache(model, args)
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
        say(
            f"{int((~known).sum())} rows without a target left out "
            f"(rows {', '.join(rows)}{more})"
        )
    table = table.loc[known].reset_index(drop=True)
    X = prepare_inputs(model, table, Path(args.data).resolve().parent, str(args.data))
    result = evaluate_model(model, X, table[spec.target], metrics=args.metric)
    unseen = result.get("unseen_labels", {})
    if unseen:
        shown = ", ".join(f"{label!r} ({n} rows)" for label, n in unseen.items())
        echo(
            f"note: labels the model never saw in fit: {shown}; no prediction can "
            "match them (they count as errors and are in the per-class table)"
        )
    if not args.quiet:
        _report_cache(cache)
    if args.json:
        print(json.dumps(result))
        return 0
    per_class = result.pop("per_class", None)
    result.pop("unseen_labels", None)
    for name, value in result.items():
        print(f"{name:<18}{value:.4f}" if name != "n_rows" else f"{name:<18}{value}")
    if per_class:
        width = max(12, *(len(label) for label in per_class))
        print()
        print(f"{'class':<{width}}  precision  recall  f1-score  support")
        for label, row in per_class.items():
            print(
                f"{label:<{width}}  {row['precision']:>9.3f}  {row['recall']:>6.3f}  "
                f"{row['f1-score']:>8.3f}  {row['support']:>7d}"
            )
    return 0
