"""The main job: what does each modality, and each way of fusing them, buy?

``python -m skmm demo`` cross-validates single-modality pipelines, early fusion with a
classical head, late fusion and the neural fusion heads on one dataset, prints one
comparison table and writes a report folder (the table as CSV and Markdown, plots,
and the best pipeline saved with joblib). Every embedding is computed once: the
encoders share an embedding cache, so the folds and the methods after the first
one only look vectors up.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, get_scorer
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skmm._config import config_context
from skmm.cache import open_cache
from skmm.compose import CategoricalEncoder, MultimodalUnion
from skmm.encoders import TextEncoder
from skmm.encoders._base import BaseEncoder
from skmm.ensemble import EnsembleClassifier
from skmm.fusion import FusionClassifier, LateFusionClassifier
from skmm.inspection import modality_importance

__all__ = ["DATASETS", "DemoReport", "format_table", "run_demo"]

# All seven neural fusion types in a full run; the two strongest on the shipped
# reviews (benchmarks/README.md, "Fusion quality") in a quick one.
FULL_FUSIONS = (
    "concat",
    "gated",
    "attention",
    "transformer",
    "tensor",
    "lowrank",
    "late",
)
QUICK_FUSIONS = ("concat", "gated")


@dataclass
class DemoTask:
    """A dataset with its modalities: what the demo cross-validates on."""

    name: str
    description: str
    X: pd.DataFrame
    y: pd.Series
    # modality name -> factory (device, cache) -> (transformer, columns)
    blocks: dict[str, Callable[[str, Any], tuple[Any, Any]]]
    scoring: str = "balanced_accuracy"
    class_weight: str | None = "balanced"
    label_names: dict[Any, str] = field(default_factory=dict)
    # Blocks the ensemble reads in another form: raw numbers and categorical
    # codes, which its trees split on natively (its linear candidates one-hot).
    native_blocks: dict[str, Callable[[str, Any], tuple[Any, Any]]] = field(
        default_factory=dict
    )


@dataclass
class DemoReport:
    """What :func:`run_demo` returns."""

    table: pd.DataFrame
    best: str
    model: Pipeline
    out: Path | None
    files: list[Path] = field(default_factory=list)
    importance: pd.DataFrame | None = None
    confusion: np.ndarray | None = None
    leaderboard: pd.DataFrame | None = None


# -- datasets -------------------------------------------------------------------
def _reviews(n_samples: int, random_state: int, data_home: Any) -> DemoTask:
    from skmm.datasets import load_womens_reviews

    X, y = load_womens_reviews(return_X_y=True)
    if n_samples < len(X):
        X, _, y, _ = train_test_split(
            X, y, train_size=n_samples, stratify=y, random_state=random_state
        )
    X, y = X.reset_index(drop=True), y.reset_index(drop=True)
    numbers = ["Age", "Positive Feedback Count"]
    categories = ["Division Name", "Department Name", "Class Name"]

    def text(column: str, max_length: int):
        def make(device: str, cache: Any):
            # Reviews are short: max_length keeps almost every one whole, cheaper.
            encoder = TextEncoder(max_length=max_length, device=device, cache=cache)
            return encoder, column

        return make

    def tabular(device: str, cache: Any):
        return (
            make_column_transformer(
                (
                    make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                    numbers,
                ),
                (
                    make_pipeline(
                        SimpleImputer(strategy="constant", fill_value="missing"),
                        OneHotEncoder(
                            handle_unknown="ignore",
                            min_frequency=5,
                            sparse_output=False,
                        ),
                    ),
                    categories,
                ),
            ),
            numbers + categories,
        )

    def native_tabular(device: str, cache: Any):
        return (
            make_column_transformer(
                ("passthrough", numbers),
                (CategoricalEncoder(min_frequency=5), categories),
                verbose_feature_names_out=False,
            ),
            numbers + categories,
        )

    missing_text = int(X["Review Text"].isna().sum())
    missing_title = int(X["Title"].isna().sum())
    return DemoTask(
        name="reviews",
        description=(
            f"Women's clothing reviews (ships with skmm): {len(X)} of 23,486 rows "
            f"(stratified sample, {int((y == 0).sum())} not recommended), target "
            f"'Recommended IND', balanced accuracy. Modalities: text = 'Review Text' "
            f"({missing_text} missing) and title = 'Title' ({missing_title} missing), "
            f"each all-MiniLM-L6-v2; tabular = {', '.join(numbers + categories)}."
        ),
        X=X,
        y=y,
        blocks={
            "text": text("Review Text", 128),
            "title": text("Title", 32),
            "tabular": tabular,
        },
        label_names={0: "not recommended", 1: "recommended"},
        native_blocks={"tabular": native_tabular},
    )


def _av_digits(n_samples: int, random_state: int, data_home: Any) -> DemoTask:
    from skmm.datasets import load_av_digits
    from skmm.encoders import AudioEncoder, ImageEncoder

    X, y = load_av_digits(
        data_home, n_samples=n_samples, random_state=random_state, return_X_y=True
    )
    weights: Any = True
    if data_home is not None:
        # The project's shared layout keeps EfficientNet-Lite0 beside the data.
        local = Path(data_home).parent / "models" / "tf_efficientnet_lite0.safetensors"
        weights = str(local) if local.exists() else True

    def image(device: str, cache: Any):
        encoder = ImageEncoder(
            "tf_efficientnet_lite0", pretrained=weights, device=device, cache=cache
        )
        return encoder, "image"

    def audio(device: str, cache: Any):
        encoder = AudioEncoder(
            "tf_efficientnet_lite0",
            pretrained=weights,
            max_seconds=1,
            device=device,
            cache=cache,
        )
        return encoder, "audio"

    return DemoTask(
        name="av-digits",
        description=(
            f"Audio-visual digits: {len(X)} MNIST images each paired with a spoken "
            f"digit from FSDD (pairs drawn by label, seed {random_state}), accuracy. "
            f"Modalities: image and audio (log-mel), each through ImageNet "
            f"EfficientNet-Lite0."
        ),
        X=X.reset_index(drop=True),
        y=pd.Series(np.asarray(y), name="label"),
        blocks={"image": image, "audio": audio},
        scoring="accuracy",
        class_weight=None,
    )


#: The demo's datasets: name -> (loader, default rows, quick rows).
DATASETS: dict[str, tuple[Callable[..., DemoTask], int, int]] = {
    "reviews": (_reviews, 1500, 600),
    "av-digits": (_av_digits, 1500, 300),
}


# -- methods --------------------------------------------------------------------
def _methods(
    task: DemoTask, quick: bool, device: str, cache: Any, random_state: int
) -> list[tuple[str, str, list[str], Pipeline]]:
    """(name, kind, modalities, pipeline) for every method the demo compares."""

    def union(names: list[str], native: bool = False) -> MultimodalUnion:
        # Pandas output: the fusion heads read the blocks from the column prefixes.
        factories = {**task.blocks, **(task.native_blocks if native else {})}
        return MultimodalUnion(
            [(name, *factories[name](device, cache)) for name in names],
            missing="indicator",
        ).set_output(transform="pandas")

    def linear():
        return LogisticRegression(max_iter=2000, class_weight=task.class_weight)

    names = list(task.blocks)
    methods = [
        (f"{name} only", "single", [name], make_pipeline(union([name]), linear()))
        for name in names
    ]
    methods.append(
        (
            "early fusion: LogisticRegression",
            "early",
            names,
            make_pipeline(union(names), StandardScaler(), linear()),
        )
    )
    methods.append(
        (
            "late fusion: LateFusionClassifier",
            "late",
            names,
            make_pipeline(
                union(names),
                LateFusionClassifier(make_pipeline(StandardScaler(), linear())),
            ),
        )
    )
    for fusion in QUICK_FUSIONS if quick else FULL_FUSIONS:
        head = FusionClassifier(
            fusion,
            class_weight=task.class_weight,
            device=device,
            random_state=random_state,
        )
        methods.append(
            (
                f"FusionClassifier({fusion})",
                "neural",
                names,
                make_pipeline(union(names), head),
            )
        )
    methods.append(
        (
            "ensemble: EnsembleClassifier",
            "ensemble",
            names,
            make_pipeline(
                union(names, native=True),
                EnsembleClassifier(
                    cv=2 if quick else 5,
                    scoring=task.scoring,
                    class_weight=task.class_weight,
                    device=device,
                    random_state=random_state,
                    verbose=0,
                ),
            ),
        )
    )
    return methods


def _encoders(pipeline: Pipeline) -> list[BaseEncoder]:
    """The fitted encoders of a fitted union pipeline."""
    return [
        transformer
        for transformer in pipeline[0].named_transformers_.values()
        if isinstance(transformer, BaseEncoder)
    ]


def _progress(iterable=None, **kwargs):
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


# -- the job --------------------------------------------------------------------
def run_demo(
    dataset: str = "reviews",
    *,
    quick: bool = False,
    n_samples: int | None = None,
    cv: int | None = None,
    out: str | Path | None = "skmm_demo_report",
    cache: str | Path | None = None,
    device: str = "auto",
    data_home: str | Path | None = None,
    random_state: int = 0,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> DemoReport:
    """Compare single modalities, early, late and neural fusion on one dataset.

    Encodes every modality once (into an embedding cache), cross-validates each
    method on the same stratified folds, then refits the best one, inspects it on a
    held-out quarter (confusion matrix, permutation importance of each modality),
    fits it on all rows and writes the report.

    Parameters
    ----------
    dataset : {"reviews", "av-digits"}, default="reviews"
        ``"reviews"``: women's clothing reviews, text + title + tabular; ships with
        skmm. ``"av-digits"``: MNIST images paired with spoken digits (FSDD), image +
        audio; read from ``data_home`` or downloaded there.
    quick : bool, default=False
        Fewer rows (600 reviews), 3 folds and two neural fusion types (concat,
        gated) instead of seven: under 2 minutes on 2 CPU cores.
    n_samples : int, default=None
        Rows; default 1500 (quick: 600 reviews, 300 digit pairs).
    cv : int, default=None
        Stratified folds; default 5 (quick: 3).
    out : str or Path or None, default="skmm_demo_report"
        Report folder (created); ``None`` writes nothing.
    cache : str or Path, default=None
        Embedding cache directory; default ``out/cache`` (a temporary one when
        ``out`` is None). A second run with the same cache encodes nothing.
    device : str, default="auto"
        Torch device of the encoders and the neural heads.
    data_home : str or Path, default=None
        Where ``"av-digits"`` is read from or downloaded to.
    random_state : int, default=0
        Seed of the sample, the folds and the heads.
    progress : bool, default=True
        Progress bars (on stderr) for encoding and cross-validation.
    log : callable, default=print
        Where the progress lines go.

    Returns
    -------
    report : DemoReport
        ``table`` (one row per method: score and std over folds, mean fit time per
        fold, the seconds spent encoding its modalities once, cache hits during its
        cross-validation), ``best`` (the best method's name), ``model`` (the best
        pipeline fitted on every row), ``out`` and ``files`` (what was written),
        ``importance`` and ``confusion`` (of the best method, on the held-out
        quarter).

    Examples
    --------
    >>> from skmm._demo import run_demo
    >>> report = run_demo(quick=True, out=None, progress=False)  # doctest: +SKIP
    >>> report.table[["method", "score"]]  # doctest: +SKIP
    """
    import tempfile

    if dataset not in DATASETS:
        raise ValueError(
            f"Unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}"
        )
    if out is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImportError(
                "The demo's report draws its plots with matplotlib: "
                "pip install 'skmm[demo]' (or pass out=None for the table alone)"
            ) from None
    loader, full_rows, quick_rows = DATASETS[dataset]
    n_samples = n_samples or (quick_rows if quick else full_rows)
    cv = cv or (3 if quick else 5)
    out_dir = None if out is None else Path(out)
    # progress=False also quiets the heads' epoch bars, which follow the setting.
    quiet = {} if progress else {"progress": False}
    with (
        tempfile.TemporaryDirectory(prefix="skmm-demo-") as scratch,
        config_context(**quiet),
    ):
        if cache is None:
            cache = (out_dir / "cache") if out_dir is not None else Path(scratch)
        return _run(
            loader(n_samples, random_state, data_home),
            quick=quick,
            cv=cv,
            out=out_dir,
            cache=str(cache),
            device=device,
            random_state=random_state,
            progress=progress,
            log=log,
        )


def _run(
    task: DemoTask,
    *,
    quick: bool,
    cv: int,
    out: Path | None,
    cache: str,
    device: str,
    random_state: int,
    progress: bool,
    log: Callable[[str], None],
) -> DemoReport:
    log(task.description)
    log(f"{cv}-fold stratified cross-validation; embedding cache: {cache}")
    X, y = task.X, task.y
    store = open_cache(cache)
    methods = _methods(task, quick, device, cache, random_state)

    # 1. Encode each modality once. The encoders are frozen, so the vectors do not
    # depend on the fold: every later fit and predict finds them in the cache.
    encode_s: dict[str, float] = {}
    single = {names[0]: pipe for _, kind, names, pipe in methods if kind == "single"}
    for modality, pipeline in single.items():
        for _, transformer, columns in pipeline[0].transformers:
            if not isinstance(transformer, BaseEncoder):
                continue
            log(f"encoding {modality} ({type(transformer).__name__}) ...")
            columns = [columns] if isinstance(columns, str) else list(columns)
            encoder = clone(transformer).set_params(verbose=progress)
            before = store.cache_info()
            start = time.perf_counter()
            encoder.fit(X[columns]).transform(X[columns])
            encode_s[modality] = time.perf_counter() - start
            after = store.cache_info()
            log(
                f"  {len(X)} rows in {encode_s[modality]:.1f} s on {encoder.device_}: "
                f"{after.misses - before.misses} encoded, "
                f"{after.hits - before.hits} found in the cache"
            )

    # 2. Cross-validate every method on the same folds.
    folds = list(
        StratifiedKFold(cv, shuffle=True, random_state=random_state).split(X, y)
    )
    scorer = get_scorer(task.scoring)
    rows = []
    bar = _progress(
        total=len(methods) * cv, desc="cross-validating", disable=not progress
    )
    # Lines printed through the bar do not break it.
    emit = bar.write if progress and log is print else log
    for name, kind, modalities, pipeline in methods:
        before = store.cache_info()
        scores, fit_s = [], []
        for train, test in folds:
            model = clone(pipeline)
            start = time.perf_counter()
            model.fit(X.iloc[train], y.iloc[train])
            fit_s.append(time.perf_counter() - start)
            scores.append(scorer(model, X.iloc[test], y.iloc[test]))
            bar.update()
        after = store.cache_info()
        row = {
            "method": name,
            "kind": kind,
            "modalities": " + ".join(modalities),
            "score": float(np.mean(scores)),
            "score_std": float(np.std(scores)),
            "fit_s": float(np.mean(fit_s)),
            "encode_s": float(sum(encode_s.get(m, 0.0) for m in modalities)),
            "cache_hits": after.hits - before.hits,
            "cache_misses": after.misses - before.misses,
        }
        rows.append(row)
        line = (
            f"{name}: {row['score']:.3f} ± {row['score_std']:.3f} "
            f"({row['fit_s']:.1f} s per fit)"
        )
        emit(line)
    bar.close()
    table = pd.DataFrame(rows)
    table.attrs["scoring"] = task.scoring
    table.attrs["dataset"] = task.name

    # 3. The best method: inspect it on a held-out quarter, then fit on every row.
    best_index = int(table["score"].idxmax())
    best_name, _, _, best_pipeline = methods[best_index]
    log(f"best: {best_name}; inspecting it on a held-out quarter ...")
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=random_state
    )
    held_out = clone(best_pipeline).fit(X_train, y_train)
    predicted = held_out.predict(X_test)
    labels = np.unique(y)
    confusion = confusion_matrix(y_test, predicted, labels=labels)
    importance = modality_importance(
        held_out,
        X_test,
        y_test,
        scoring=task.scoring,
        n_repeats=3 if quick else 5,
        random_state=random_state,
    )
    log(f"fitting {best_name} on all {len(X)} rows ...")
    model = clone(best_pipeline).fit(X, y)
    # The ensemble's leaderboard: its candidates out of fold on every row.
    ensemble = [pipe for _, kind, _, pipe in methods if kind == "ensemble"]
    leaderboard = None
    if ensemble:
        fitted = model if best_pipeline is ensemble[0] else None
        if fitted is None:
            log(f"fitting the ensemble on all {len(X)} rows for its leaderboard ...")
            fitted = clone(ensemble[0]).fit(X, y)
        leaderboard = fitted[-1].leaderboard_
    for encoder in _encoders(model):
        # The saved model must not point at this run's cache folder.
        encoder.set_params(cache=None)

    report = DemoReport(
        table=table,
        best=best_name,
        model=model,
        out=out,
        importance=importance,
        confusion=confusion,
        leaderboard=leaderboard,
    )
    if out is not None:
        report.files = _write_report(report, task, labels, cv)
    return report


# -- the report -----------------------------------------------------------------
def format_table(table: pd.DataFrame) -> str:
    """The demo's table as aligned text.

    Parameters
    ----------
    table : DataFrame
        ``DemoReport.table``.

    Returns
    -------
    text : str

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm._demo import format_table
    >>> row = dict(method="text only", kind="single", modalities="text", score=0.75,
    ...            score_std=0.01, fit_s=1.0, encode_s=9.0, cache_hits=800)
    >>> print(format_table(pd.DataFrame([row])))  # doctest: +NORMALIZE_WHITESPACE
    method       modalities   score ± std     fit s  encode s  cache hits
    text only    text         0.750 ± 0.010   1.0    9.0       800
    """
    width = max(len("method"), *(len(m) for m in table["method"])) + 2
    mod_width = max(len("modalities"), *(len(m) for m in table["modalities"])) + 2
    lines = [
        f"{'method':<{width}}{'modalities':<{mod_width}}{'score ± std':<16}"
        f"{'fit s':<7}{'encode s':<10}{'cache hits'}"
    ]
    for row in table.itertuples():
        lines.append(
            f"{row.method:<{width}}{row.modalities:<{mod_width}}"
            f"{f'{row.score:.3f} ± {row.score_std:.3f}':<16}"
            f"{f'{row.fit_s:.1f}':<7}{f'{row.encode_s:.1f}':<10}{row.cache_hits}"
        )
    return "\n".join(lines)


def _markdown(table: pd.DataFrame, scoring: str) -> str:
    lines = [
        f"| method | kind | modalities | {scoring} | fit s | encode s | cache hits |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        lines.append(
            f"| {row.method} | {row.kind} | {row.modalities} | "
            f"{row.score:.3f} ± {row.score_std:.3f} | {row.fit_s:.1f} | "
            f"{row.encode_s:.1f} | {row.cache_hits} |"
        )
    return "\n".join(lines) + "\n"


_KIND_COLOURS = {
    "single": "#9e9e9e",
    "early": "#4c72b0",
    "late": "#55a868",
    "neural": "#c44e52",
    "ensemble": "#8172b2",
}


def _leaderboard_markdown(board: pd.DataFrame | None, scoring: str, n: int) -> str:
    if board is None:
        return ""
    lines = [
        "",
        f"## The ensemble's candidates ({n} rows, out of fold)",
        "",
        f"| candidate | blocks | {scoring} | fit s | weight |",
        "|---|---|---|---|---|",
    ]
    for row in board.itertuples():
        weight = "" if np.isnan(row.weight) else f"{row.weight:.2f}"
        lines.append(
            f"| {row.candidate} | {row.blocks} | {row.score:.3f} | {row.fit_s:.1f} | "
            f"{weight} |"
        )
    return "\n".join(lines) + "\n"


def _write_leaderboard(board: pd.DataFrame, out: Path, scoring: str) -> list[Path]:
    """The ensemble's leaderboard as CSV and as a plot beside its candidates."""
    from matplotlib.figure import Figure

    path_csv = out / "ensemble_leaderboard.csv"
    board.to_csv(path_csv, index=False)
    fig = Figure(figsize=(7, 0.4 * len(board) + 1.3), layout="constrained")
    ax = fig.subplots()
    order = board.iloc[::-1]
    colours = [
        _KIND_COLOURS["ensemble"]
        if name == "ensemble"
        else ("#4c72b0" if weight > 0 else "#bdbdbd")
        for name, weight in zip(order["candidate"], order["weight"], strict=True)
    ]
    labels = [
        name if name == "ensemble" or weight <= 0 else f"{name} (w {weight:.2f})"
        for name, weight in zip(order["candidate"], order["weight"], strict=True)
    ]
    ax.barh(labels, order["score"], color=colours)
    low = max(0.0, float(board["score"].min()) - 0.05)
    ax.set_xlim(low, min(1.0, float(board["score"].max()) + 0.02))
    ax.set_xlabel(f"{scoring}, out of fold (grey: weight 0)")
    ax.set_title("Ensemble candidates and the ensemble")
    path_png = out / "ensemble_candidates.png"
    fig.savefig(path_png, dpi=120)
    return [path_csv, path_png]


def _write_report(
    report: DemoReport, task: DemoTask, labels: np.ndarray, cv: int
) -> list[Path]:
    # Figure objects, not pyplot: no global figure registry, no backend switch.
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    out = report.out
    out.mkdir(parents=True, exist_ok=True)
    table, scoring = report.table, task.scoring
    files = []

    path = out / "results.csv"
    table.to_csv(path, index=False)
    files.append(path)
    path = out / "results.md"
    path.write_text(
        f"# skmm demo: {task.name}\n\n{task.description}\n\n"
        f"{cv}-fold stratified cross-validation; score = {scoring} (mean ± std over "
        f"folds); fit s = mean seconds per fit (cache lookups included); encode s = "
        f"seconds to encode the method's modalities once; cache hits = vectors found "
        f"in the embedding cache during the method's cross-validation.\n\n"
        f"{_markdown(table, scoring)}\nBest: **{report.best}**.\n"
        + _leaderboard_markdown(report.leaderboard, scoring, len(task.X))
    )
    files.append(path)
    if report.leaderboard is not None:
        files += _write_leaderboard(report.leaderboard, out, scoring)

    # Score per method, with the fold spread as error bars.
    fig = Figure(figsize=(7.5, 0.42 * len(table) + 1.4), layout="constrained")
    ax = fig.subplots()
    order = table.iloc[::-1]
    ax.barh(
        order["method"],
        order["score"],
        xerr=order["score_std"],
        color=[_KIND_COLOURS[k] for k in order["kind"]],
        capsize=3,
    )
    low = max(0.0, float((table["score"] - table["score_std"]).min()) - 0.05)
    ax.set_xlim(
        low, min(1.0, float((table["score"] + table["score_std"]).max()) + 0.03)
    )
    ax.set_xlabel(f"{scoring} ({cv}-fold CV, mean ± std)")
    ax.set_title(f"skmm demo on {task.name}: {len(task.X)} rows")
    for y_pos, value in enumerate(order["score"]):
        # Inside the bar at its start: clear of the error bar at its end.
        ax.text(
            low + 0.004,
            y_pos,
            f"{value:.3f}",
            va="center",
            ha="left",
            fontsize=8,
            color="white",
            fontweight="bold",
        )
    ax.legend(
        handles=[Patch(color=c, label=k) for k, c in _KIND_COLOURS.items()],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        title="kind",
        title_fontsize=8,
    )
    path = out / "scores.png"
    fig.savefig(path, dpi=120)
    files.append(path)

    # Permutation importance of each modality for the best method.
    importance = report.importance
    fig = Figure(figsize=(6, 0.5 * len(importance) + 1.5), layout="constrained")
    ax = fig.subplots()
    ax.barh(
        importance["modality"][::-1],
        importance["importance_mean"][::-1],
        xerr=importance["importance_std"][::-1],
        color="#4c72b0",
        capsize=3,
    )
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"drop in {scoring} when the modality is shuffled")
    ax.set_title(f"Modality importance: {report.best}\n(held-out quarter)")
    path = out / "modality_importance.png"
    fig.savefig(path, dpi=120)
    files.append(path)
    path = out / "modality_importance.csv"
    importance.drop(columns="importances").to_csv(path, index=False)
    files.append(path)

    # Confusion matrix of the best method on the held-out quarter.
    from sklearn.metrics import ConfusionMatrixDisplay

    size = max(4.5, 3.2 + 0.35 * len(labels))
    fig = Figure(figsize=(size, size), layout="constrained")
    ax = fig.subplots()
    names = [
        "\n".join(textwrap.wrap(str(task.label_names.get(label, label)), 12))
        for label in labels
    ]
    ConfusionMatrixDisplay(report.confusion, display_labels=names).plot(
        ax=ax, colorbar=False, cmap="Blues"
    )
    ax.set_title(f"{report.best}\n(held-out quarter)")
    path = out / "confusion_matrix.png"
    fig.savefig(path, dpi=120)
    files.append(path)

    path = out / "best_model.joblib"
    joblib.dump(report.model, path)
    files.append(path)
    return files
