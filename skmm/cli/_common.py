"""What every command shares: the error a user gets, and the messages on stderr."""

from __future__ import annotations

import sys

__all__ = [
    "CLASSIFICATION_METRICS",
    "DEMO_DATASETS",
    "REGRESSION_METRICS",
    "CommandError",
    "echo",
]

# Here rather than beside the code that uses them: the parser needs the names, and
# ``skmm --help`` must not import scikit-learn or torch (tests/test_cli.py checks
# that these agree with skmm._demo.DATASETS).
#: The metrics of ``skmm evaluate --metric``.
CLASSIFICATION_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "f1_weighted",
    "precision_macro",
    "recall_macro",
    "matthews_corrcoef",
    "roc_auc",
    "log_loss",
)
REGRESSION_METRICS = ("r2", "mae", "rmse", "mse", "median_ae", "mape")
#: The datasets of ``skmm demo --dataset``.
DEMO_DATASETS = ("reviews", "av-digits")


class CommandError(ValueError):
    """Bad input to a command: printed as one line, exit status 2."""


def echo(line: str) -> None:
    """A message for the user: on stderr, so that stdout stays data."""
    print(line, file=sys.stderr, flush=True)
