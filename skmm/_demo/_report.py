"""The demo's report: the table as text, CSV and Markdown, the plots, the model."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from skmm._demo._datasets import DemoTask

__all__ = ["DemoReport", "format_table", "write_report"]


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
    # The rows the leaderboard's ensemble was fitted on.
    leaderboard_rows: int = 0


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


def write_report(
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
        + _leaderboard_markdown(report.leaderboard, scoring, report.leaderboard_rows)
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
    ax.set_title(f"Modality importance: {report.best}\n(out of fold)")
    path = out / "modality_importance.png"
    fig.savefig(path, dpi=120)
    files.append(path)
    path = out / "modality_importance.csv"
    importance.drop(columns="importances").to_csv(path, index=False)
    files.append(path)

    # Confusion matrix of the best method out of fold: each row predicted by the
    # fold model that did not see it.
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
    ax.set_title(f"{report.best}\n(out of fold)")
    path = out / "confusion_matrix.png"
    fig.savefig(path, dpi=120)
    files.append(path)

    path = out / "best_model.joblib"
    joblib.dump(report.model, path)
    files.append(path)
    return files
