"""The demo's list of methods: single modalities, early, late and neural fusion,
and the ensemble, each one an unfitted pipeline on the task's blocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm._demo._datasets import DemoTask
from skmm.compose import MultimodalUnion
from skmm.ensemble import EnsembleClassifier
from skmm.fusion import FusionClassifier, LateFusionClassifier

__all__ = [
    "DEMO_CV",
    "FULL_FUSIONS",
    "QUICK_FUSIONS",
    "Method",
    "ensemble_head",
    "methods",
]

# The three neural fusion types that scored best on the shipped reviews in the
# demo's former 5-fold table of all seven (attention 0.833, concat 0.826, gated
# 0.822; tensor 0.805, late 0.800, transformer 0.799, lowrank 0.787):
# benchmarks/fusion_quality.py compares all seven. The quick run: the two
# strongest on those reviews (benchmarks/README.md, "Fusion quality").
FULL_FUSIONS = ("concat", "gated", "attention")
QUICK_FUSIONS = ("concat", "gated")

# The demo's folds, the ensemble's inner folds, and the seconds each of its fits
# may take (candidates fitted cheap first, the ones that no longer fit skipped):
# the full run and the quick one.
DEMO_CV = {False: 5, True: 3}
ENSEMBLE_CV = {False: 3, True: 2}
ENSEMBLE_TIME_LIMIT: dict[bool, float | None] = {False: 40.0, True: 15.0}
# Left out of the demo's ensemble: linear_all got weight 0 on the demo's reviews;
# on the quick run's 400 training rows late fusion took a third of the ensemble's
# fit (6.1 s per fit with it, 3.7 s without, the same score within its spread).
ENSEMBLE_DROP = {False: ("linear_all",), True: ("linear_all", "late")}


@dataclass
class Method:
    """One row of the demo's table: a name, its kind, the modalities it reads."""

    name: str
    kind: str  # "single", "early", "late", "neural" or "ensemble"
    modalities: list[str]
    pipeline: Pipeline


def ensemble_head(
    task: DemoTask,
    *,
    quick: bool,
    device: str,
    random_state: int,
) -> EnsembleClassifier:
    """The demo's ensemble: its default library on inner folds, within a budget."""
    ensemble = EnsembleClassifier(
        cv=ENSEMBLE_CV[quick],
        scoring=task.scoring,
        class_weight=task.class_weight,
        device=device,
        random_state=random_state,
        verbose=0,
        candidates=dict.fromkeys(ENSEMBLE_DROP[quick], "drop"),
        time_limit=ENSEMBLE_TIME_LIMIT[quick],
    )
    return ensemble


def methods(
    task: DemoTask,
    *,
    quick: bool,
    device: str,
    cache: Any,
    random_state: int,
) -> list[Method]:
    """Every method the demo compares, in the table's order."""

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
    found = [
        Method(f"{name} only", "single", [name], make_pipeline(union([name]), linear()))
        for name in names
    ]
    found.append(
        Method(
            "early fusion: LogisticRegression",
            "early",
            names,
            make_pipeline(union(names), StandardScaler(), linear()),
        )
    )
    found.append(
        Method(
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
        found.append(
            Method(
                f"FusionClassifier({fusion})",
                "neural",
                names,
                make_pipeline(union(names), head),
            )
        )
    head = ensemble_head(task, quick=quick, device=device, random_state=random_state)
    found.append(
        Method(
            "ensemble: EnsembleClassifier",
            "ensemble",
            names,
            make_pipeline(union(names, native=True), head),
        )
    )
    return found
