"""Fine-tuning's training loop: skorch's, with the backbones' tops in the module.

:class:`FineTuneModule` is the skorch module: the fusion network, fed for a batch
of rows by each fine-tuned block's trainable top (:class:`TunedBlock`) and by the
union's vectors of the other blocks. Its ``state_dict`` holds the network and the
backbones' trained parameters, so early stopping's best state restores both, and
``optimizer__param_groups`` gives the latter their own learning rate.
:class:`FineTuneNet` is skorch's ``NeuralNet`` with what fine-tuning adds to a
training step: batches of row numbers in an order drawn from the fit's seed, of
the size in use (halved after a device out-of-memory error, the batch retried:
:func:`skmm._torch.retry_on_out_of_memory`, the encoders' own), and fp16 loss
scaling. :class:`WarmUp` keeps the backbones out of the first epochs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import TeeGenerator
from torch import nn

from skmm._torch import autocast, retry_on_out_of_memory
from skmm.exceptions import DecodeError, OutOfMemoryWarning
from skmm.finetune._backbones import Backbone
from skmm.io import decode_image

__all__ = ["FineTuneModule", "FineTuneNet", "TunedBlock", "WarmUp"]


class TunedBlock:
    """One fine-tuned block during fit: its backbone, the input of its top for
    each row of each of its columns (the prefix activation, or in raw mode the
    raw value), and the block's standardisation."""

    def __init__(
        self,
        backbone: Backbone,
        inputs: list[list],
        mean,
        scale,
        columns: list | None = None,
        labels: list | None = None,
    ):
        self.backbone = backbone
        self.inputs = inputs  # per column: per row, array / raw value, or None
        self.mean = torch.as_tensor(mean, dtype=torch.float32)
        self.scale = torch.as_tensor(scale, dtype=torch.float32)
        self.columns = columns  # the frame's column names, for messages
        self.labels = labels  # the frame's row labels (None: the positions)

    def _decode_error(self, c: int, batch: list[int], exc: DecodeError):
        """``exc`` (a raw value that stopped decoding during fit: a file deleted
        or changed) with the column, the row, its index label and the value."""
        column = self.columns[c] if self.columns else c
        bad = batch[0]
        for row in batch:  # the first value of the batch that does not decode
            try:
                decode_image(self.inputs[c][row])
            except DecodeError:
                bad = row
                break
        where = f"column {column!r}, row {bad}"
        if self.labels is not None and self.labels[bad] != bad:
            where += f" (index {self.labels[bad]!r})"
        return DecodeError(
            f"{where}: {self.inputs[c][bad]!r} could be read when fit started, not "
            f"now: {exc} (changed or deleted during training?)"
        )

    def vectors(
        self, rows: np.ndarray, device: str, *, augment: bool = False
    ) -> torch.Tensor:
        """The standardised block of ``rows``: each column's top output, zero
        (the mean) where the column is missing. ``augment``: a training batch
        (an augmented backbone's random transforms)."""
        dim = self.backbone.dim
        parts = []
        for c, column in enumerate(self.inputs):
            mean = self.mean[c * dim : (c + 1) * dim].to(device)
            scale = self.scale[c * dim : (c + 1) * dim].to(device)
            have = [i for i, r in enumerate(rows) if column[r] is not None]
            out = torch.zeros(len(rows), dim, device=device)
            if have:
                try:
                    top = self.backbone.top(
                        [column[rows[i]] for i in have], augment=augment
                    )
                except DecodeError as exc:
                    batch = [int(rows[i]) for i in have]
                    raise self._decode_error(c, batch, exc) from exc
                scaled = (top.float() - mean) / scale
                index = torch.as_tensor(have, device=device)
                out = out.index_copy(0, index, scaled)
            parts.append(out)
        return torch.cat(parts, dim=1)


class FineTuneModule(nn.Module):
    """The fusion network on a batch of row numbers: each fine-tuned block from
    its backbone's top, the other blocks from the union's vectors.

    Parameters
    ----------
    network : FusionNetwork
    blocks : dict of int to TunedBlock
        The fine-tuned blocks by position.
    scaled : list of ndarray
        Each block's standardised union vectors, one row per training row.
    present : ndarray of bool, shape (n_rows, n_blocks)
    device, precision : str
        Where it runs; the autocast precision of training batches (validation
        batches run in float32).
    train_backbones : bool, default=True
        Whether the backbones' trained parameters are registered here (in the
        optimizer and in early stopping's best state); False with
        ``backbone_lr=0``, where they never change.

    Attributes
    ----------
    tops : bool
        False (the warm-up, see :class:`WarmUp`): the backbones still have their
        pretrained weights, so their vectors are the union's and the tops do not
        run. True: every fine-tuned block comes from its top, with gradients in
        a training batch.
    """

    def __init__(
        self,
        network: nn.Module,
        blocks: dict[int, TunedBlock],
        scaled: list[np.ndarray],
        present: np.ndarray,
        device: str,
        precision: str,
        *,
        train_backbones: bool = True,
    ):
        super().__init__()
        self.network = network
        # The trained parameters only: the frozen prefix is neither optimised
        # nor copied into the best state; the backbones' modules stay outside
        # (always in eval mode, see Backbone.train_mode).
        self.backbones = nn.ParameterList(
            [p for b in blocks.values() for p in b.backbone.parameters]
            if train_backbones
            else []
        )
        self.blocks = blocks
        self.scaled = scaled
        self.present = present
        self.device = device
        self.precision = precision
        self.tops = False
        self.train()  # the backbones in eval mode (LoRA's new layers included)

    def train(self, mode: bool = True) -> FineTuneModule:
        super().train(mode)
        for block in self.blocks.values():
            block.backbone.train_mode()
        return self

    def forward(self, rows: np.ndarray) -> torch.Tensor:
        """The network's outputs (float32) for the training rows ``rows``."""
        rows = np.asarray(rows)
        grad = self.training and self.tops
        # Training batches run under autocast; the loss is computed outside it.
        context = (
            autocast(self.device, self.precision)
            if self.training
            else contextlib.nullcontext()
        )
        with context:
            present = torch.as_tensor(self.present[rows]).to(self.device)
            inputs = {"present": present}
            for j, block in enumerate(self.scaled):
                if j in self.blocks and self.tops:
                    with torch.set_grad_enabled(grad):
                        x = self.blocks[j].vectors(rows, self.device, augment=grad)
                    x = x * present[:, j, None].to(x.dtype)
                else:
                    x = torch.as_tensor(block[rows]).to(self.device)
                inputs[f"x{j}"] = x
            return self.network(**inputs).float()


class WarmUp(Callback):
    """The backbones join after ``epochs`` epochs that train the head alone.

    Each epoch records ``backbone_trained`` in the history: whether the tops ran
    (with gradients) in its training batches. Until then they do not run at all:
    the union's pretrained vectors stand for them.
    """

    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_epoch_begin(self, net, **kwargs) -> None:
        module = net.module_
        module.tops = bool(module.blocks) and len(net.history) > self.epochs
        net.history.record("backbone_trained", module.tops)


class _RowBatches:
    """Batches of (row numbers, targets) of a skorch dataset of rows: shuffled
    by the net's generator (training) or in order, each of the size in use when
    it is drawn."""

    def __init__(self, dataset: Any, net: FineTuneNet, shuffle: bool):
        self.rows = np.asarray(dataset.X)
        self.targets = torch.as_tensor(np.asarray(dataset.y), dtype=torch.float32)
        self.net = net
        self.shuffle = shuffle

    def __iter__(self) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        n = len(self.rows)
        order = self.net.shuffler_.permutation(n) if self.shuffle else np.arange(n)
        start = 0
        while start < n:
            take = order[start : start + self.net.owner.batch_size_]
            yield self.rows[take], self.targets[take]
            start += len(take)


class FineTuneNet(NeuralNet):
    """skorch's ``NeuralNet`` over batches of row numbers.

    Parameters
    ----------
    *args, **kwargs
        ``NeuralNet``'s; ``module`` is a :class:`FineTuneModule`, ``X`` the
        training rows' numbers, ``y`` their target matrix.
    owner : estimator
        The fine-tuning estimator: its ``batch_size_`` is the batch size in use
        (halved after an out-of-memory error) and its ``device_`` the device.
    precision : str
        "fp16" scales the loss (its gradients would underflow).
    seed : int
        Seeds the training batches' order, a new one each epoch.
    """

    def __init__(self, *args, owner: Any, precision: str, seed: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.precision = precision
        self.seed = seed

    def initialize(self) -> FineTuneNet:
        super().initialize()
        self.shuffler_ = np.random.default_rng(self.seed)
        self.grad_scaler_ = torch.amp.GradScaler(
            torch.device(self.device).type, enabled=self.precision == "fp16"
        )
        return self

    def _set_training(self, training: bool = True) -> None:
        # Once per epoch and phase, not per batch: walking the modules costs
        # more than a small head's step.
        if self.module_.training != training:
            super()._set_training(training)

    def get_iterator(self, dataset, training: bool = False) -> _RowBatches:
        return _RowBatches(dataset, self, shuffle=training)

    def infer(self, x, **fit_params) -> torch.Tensor:
        # The row numbers stay on the host: the module looks their inputs up.
        return self.module_(x, **fit_params)

    def train_step(self, batch, **fit_params) -> dict[str, Any]:
        """One optimiser step on the batch; after a device out-of-memory error,
        its rows not yet trained go on at the halved batch size."""
        rows, y = batch
        done, total, outputs = 0, 0.0, []

        def rest() -> None:
            nonlocal done, total
            while done < len(rows):
                part = slice(done, done + self.owner.batch_size_)
                loss, y_pred = self._train_part(rows[part], y[part], **fit_params)
                total += float(loss.detach()) * len(rows[part])
                outputs.append(y_pred.detach())
                done += len(rows[part])

        retry_on_out_of_memory(rest, self.owner, OutOfMemoryWarning)
        loss = torch.tensor(total / max(len(rows), 1), dtype=torch.float64)
        return {"loss": loss, "y_pred": torch.cat(outputs) if outputs else None}

    def _train_part(self, rows, y, **fit_params) -> tuple[torch.Tensor, torch.Tensor]:
        self._set_training(True)
        self._zero_grad_optimizer(set_to_none=True)
        y_pred = self.infer(rows, **fit_params)
        loss = self.get_loss(y_pred, y, X=rows, training=True)
        self.grad_scaler_.scale(loss).backward()
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=(rows, y),
            training=True,
        )
        self.grad_scaler_.step(self.optimizer_)
        self.grad_scaler_.update()
        return loss, y_pred
