"""Training feedback of the neural heads: a skorch callback.

With ``verbose=0`` (the heads' default), an epoch bar on stderr with the losses and
the time left, shown as ``skmm.set_config(progress=...)`` says ("auto": once a fit
has run a few seconds). With ``verbose>=1``, skorch's epoch table is the feedback:
no bar, and the table loses its colour codes when stdout is not a terminal.
"""

from __future__ import annotations

import sys
from typing import Any

from skorch.callbacks import Callback

from skmm._progress import isatty, progress_bar, strip_ansi

__all__ = ["TrainingFeedback"]


class _PlainSink:
    """A PrintLog sink that drops ANSI colour codes when stdout is no terminal."""

    def __init__(self, sink: Any):
        self.sink = sink

    def __call__(self, text: str, *args: Any, **kwargs: Any) -> Any:
        if not isatty(sys.stdout):
            text = strip_ansi(text)
        return self.sink(text, *args, **kwargs)


class TrainingFeedback(Callback):
    """An epoch bar (``verbose=0``) or an uncoloured epoch table off a terminal.

    Parameters
    ----------
    desc : str, default="epochs"
        The bar's label (the head's class name).

    Examples
    --------
    >>> from skmm.fusion._progress import TrainingFeedback
    >>> TrainingFeedback("FusionClassifier").desc
    'FusionClassifier'
    """

    def __init__(self, desc: str = "epochs"):
        self.desc = desc

    def initialize(self) -> TrainingFeedback:
        self.bar_ = None
        self._sinks: list = []
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs) -> None:
        self.bar_ = None
        self._sinks = []
        if net.verbose:
            for _, callback in net.callbacks_:
                sink = getattr(callback, "sink", None)
                if callback.__class__.__name__ == "PrintLog" and sink is not None:
                    self._sinks.append((callback, sink))
                    callback.sink = _PlainSink(sink)
            return
        self.bar_ = progress_bar(
            net.max_epochs, self.desc, None, by_items=False, unit="epoch"
        )

    def on_epoch_end(self, net, **kwargs) -> None:
        if self.bar_ is None:
            return
        row = net.history[-1]
        losses = {
            key: f"{row[key]:.4g}"
            for key in ("train_loss", "valid_loss")
            if isinstance(row.get(key), float)
        }
        self.bar_.set_postfix(losses, refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net, X=None, y=None, **kwargs) -> None:
        if self.bar_ is not None:
            self.bar_.close()
            self.bar_ = None
        for callback, sink in self._sinks:  # the net pickles as it was built
            callback.sink = sink
        self._sinks = []

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["bar_"] = None
        state["_sinks"] = []
        return state
