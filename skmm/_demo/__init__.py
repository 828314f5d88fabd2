"""The main job: what does each modality, and each way of fusing them, buy?

``python -m skmm demo`` cross-validates single-modality pipelines, early fusion with a
classical head, late fusion, the neural fusion heads and the ensemble on one dataset,
prints one comparison table and writes a report folder (the table as CSV and
Markdown, plots, and the best pipeline saved with joblib). Every embedding is
computed once: the encoders share an embedding cache, so the folds and the methods
after the first one only look vectors up; and no model is fitted twice on the same
rows: the best method is inspected with the models its folds fitted.

One module per job: :mod:`._datasets` (the tables and their blocks),
:mod:`._methods` (the pipelines compared), :mod:`._runner` (encoding,
cross-validation, inspection, the final fit) and :mod:`._report` (the table, plots
and files).
"""

from skmm._demo._datasets import DATASETS
from skmm._demo._report import DemoReport, format_table
from skmm._demo._runner import run_demo

__all__ = ["DATASETS", "DemoReport", "format_table", "run_demo"]
