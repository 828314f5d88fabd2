"""The torch network behind the neural fusion heads, and its multi-task loss.

``FusionNetwork`` = per-modality projection (Linear -> LayerNorm -> GELU -> Dropout)
-> absent modalities masked (plus, optionally, a learned vector that says which are
absent) -> a fusion module from :mod:`skmm.fusion._modules` -> a shared trunk -> one
linear output per task.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from skmm.fusion._modules import FUSIONS

__all__ = ["FusionNetwork", "MultiTaskLoss"]


class FusionNetwork(nn.Module):
    """Projection, masking, fusion and task outputs in one module.

    Each modality block has its own projection to ``hidden`` features (Linear ->
    LayerNorm -> GELU -> Dropout); absent modalities are zeroed after it and masked
    out of the fusion module; the fused representation goes through a shared trunk
    (Linear -> GELU -> Dropout) and one linear layer holding every task's outputs.
    With ``fusion="late"`` each modality has its own output layer instead, and the
    outputs are averaged over the modalities present in the row. The neural heads
    (:class:`~skmm.fusion.FusionClassifier`, ...) build and train it with skorch.

    Parameters
    ----------
    input_dims : sequence of int
        Width of each modality block, in the order of the blocks ``x0, x1, ...``.
    output_sizes : sequence of int
        Number of outputs of each task (classes for a classification task, targets
        for a regression task); the network returns them side by side.
    fusion : str, default="concat"
        A key of :data:`skmm.fusion.FUSIONS`.
    hidden : int, default=64
        Width of each modality's projection and of the trunk.
    dropout : float, default=0.1
        Dropout after each projection, in the trunk, and inside the fusion module
        where it has layers.
    modality_dropout : float, default=0.0
        In training, the probability of hiding each present modality of a row (a
        row always keeps one).
    missing_embedding : {"learned", "zero"}, default="learned"
        "learned": each absent modality adds a trained vector to the fused
        representation (to the outputs for late fusion), so that absence itself
        can inform the prediction; "zero": an absent modality is only masked.
    fusion_params : dict or None, default=None
        Extra arguments of the fusion module (``n_heads``, ``n_layers``, ``rank``).

    Attributes
    ----------
    projections : torch.nn.ModuleList
        One projection per modality.
    fusion : torch.nn.Module
        The fusion module, an instance of ``FUSIONS[fusion]``.
    missing : torch.Tensor of shape (n_modalities, width)
        The absence vectors: a trained parameter ("learned") or a buffer of zeros
        ("zero"); ``width`` is the fusion module's ``out_dim``, or the total number
        of outputs for late fusion.

    See Also
    --------
    skmm.fusion.FUSIONS : the fusion modules by name.

    Examples
    --------
    >>> import torch
    >>> from skmm.fusion import FusionNetwork
    >>> net = FusionNetwork(input_dims=[5, 3], output_sizes=[4], hidden=8).eval()
    >>> present = torch.tensor([[True, True], [True, False]])
    >>> x0, x1 = torch.randn(2, 5), torch.randn(2, 3)
    >>> out = net(present, x0=x0, x1=x1)
    >>> out.shape
    torch.Size([2, 4])

    The second row has no ``x1``: its values do not reach the output.

    >>> x1[1] = 100.0
    >>> torch.allclose(net(present, x0=x0, x1=x1), out)
    True
    """

    def __init__(
        self,
        input_dims: Sequence[int],
        output_sizes: Sequence[int],
        fusion: str = "concat",
        hidden: int = 64,
        dropout: float = 0.1,
        modality_dropout: float = 0.0,
        missing_embedding: str = "learned",
        fusion_params: dict | None = None,
    ):
        super().__init__()
        n_mod = len(input_dims)
        self.modality_dropout = float(modality_dropout)
        self.projections = nn.ModuleList(
            nn.Sequential(
                nn.Linear(int(d), hidden),
                nn.LayerNorm(hidden),
                nn.GELU(),
                nn.Dropout(dropout),
            )
            for d in input_dims
        )
        self.fusion = FUSIONS[fusion](n_mod, hidden, dropout, **(fusion_params or {}))
        n_out = int(sum(output_sizes))
        self.late = getattr(self.fusion, "late", False)
        # The fact that a modality is absent can itself be informative (no photo,
        # no review): "learned" adds one vector per absent modality to the fused
        # representation (to the outputs for late fusion); "zero" adds nothing.
        absent_shape = (n_mod, n_out if self.late else self.fusion.out_dim)
        if missing_embedding == "learned":
            self.missing = nn.Parameter(torch.randn(absent_shape) * 0.02)
        else:
            self.register_buffer("missing", torch.zeros(absent_shape))
        if self.late:
            self.head_weight = nn.Parameter(
                torch.randn(n_mod, hidden, n_out) / hidden**0.5
            )
            self.head_bias = nn.Parameter(torch.zeros(n_mod, n_out))
        else:
            self.trunk = nn.Sequential(
                nn.Linear(self.fusion.out_dim, hidden), nn.GELU(), nn.Dropout(dropout)
            )
            self.head = nn.Linear(hidden, n_out)

    def _drop_modalities(self, present: torch.Tensor) -> torch.Tensor:
        hide = torch.rand(present.shape, device=present.device) < self.modality_dropout
        kept = present & ~hide
        emptied = ~kept.any(dim=1)
        return torch.where(emptied[:, None], present, kept)

    def forward(self, present: torch.Tensor, **blocks: torch.Tensor) -> torch.Tensor:
        """Predict every task's outputs for a batch.

        Parameters
        ----------
        present : torch.Tensor of shape (batch, n_modalities)
            True (or 1) where the row holds the modality. A row with none is fused
            from zeros and the absence vectors.
        **blocks : torch.Tensor
            The blocks as keyword arguments ``x0, x1, ...``, ``x{i}`` of shape
            ``(batch, input_dims[i])``. An absent modality's values must be finite
            (the heads pass zeros); they are multiplied by zero after the
            projection.

        Returns
        -------
        outputs : torch.Tensor of shape (batch, sum(output_sizes))
            The tasks' outputs side by side (logits for a classification task),
            in the order of ``output_sizes``.
        """
        present = present.bool()
        if self.training and self.modality_dropout > 0:
            present = self._drop_modalities(present)
        z = torch.stack(
            [proj(blocks[f"x{i}"]) for i, proj in enumerate(self.projections)], dim=1
        )
        z = z * present[:, :, None].to(z.dtype)
        # A row with no modality at all is fused from zeros (and absence vectors).
        mask = present | ~present.any(dim=1, keepdim=True)
        fused = self.fusion(z, mask)
        absence = (~present).to(z.dtype) @ self.missing.to(z.dtype)
        if not self.late:
            return self.head(self.trunk(fused + absence))
        outputs = torch.einsum("bmh,mho->bmo", fused, self.head_weight)
        outputs = outputs + self.head_bias
        weights = mask.to(outputs.dtype)[:, :, None]
        return (outputs * weights).sum(dim=1) / weights.sum(dim=1) + absence


class MultiTaskLoss(nn.Module):
    """Weighted sum of one loss per task.

    Parameters
    ----------
    tasks : sequence of (str, int)
        ``("classification", n_classes)`` or ``("regression", n_targets)`` per task,
        in the order of the network's outputs. The target matrix holds one column
        per classification task (the class index, -1 when unknown) and one column per
        regression target (NaN when unknown): unknown targets are left out.
    weights : sequence of float
        The weight of each task's loss.
    class_weights : sequence of (tensor or None)
        Per-class weights of each classification task.
    row_weights : bool, default=False
        The target matrix's last column is each row's weight (a ``sample_weight``):
        each task's loss is then the weighted mean ``sum_i w_i l_i / sum_i w_i``
        over the rows whose target is known (``w_i`` times the class weight for
        classification, as the cross-entropy's own class weights are averaged). A
        batch whose rows all weigh 0 adds nothing.
    """

    def __init__(self, tasks, weights, class_weights, row_weights=False):
        super().__init__()
        self.tasks = [(str(k), int(n)) for k, n in tasks]
        self.weights = [float(w) for w in weights]
        self.row_weights = bool(row_weights)
        for i, cw in enumerate(class_weights):
            self.register_buffer(f"class_weight{i}", cw)

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        total = y_pred.sum() * 0.0
        row_weight = y_true[:, -1] if self.row_weights else None
        out_col = target_col = 0
        for i, ((kind, n_out), weight) in enumerate(
            zip(self.tasks, self.weights, strict=True)
        ):
            pred = y_pred[:, out_col : out_col + n_out]
            out_col += n_out
            if kind == "classification":
                target = y_true[:, target_col].long()
                target_col += 1
                known = target >= 0
                if known.any():
                    class_weight = getattr(self, f"class_weight{i}")
                    if row_weight is None:
                        loss = F.cross_entropy(
                            pred[known], target[known], weight=class_weight
                        )
                    else:
                        # reduction="none" already multiplies by the class weight
                        losses = F.cross_entropy(
                            pred[known],
                            target[known],
                            weight=class_weight,
                            reduction="none",
                        )
                        w = row_weight[known]
                        if class_weight is not None:
                            w = w * class_weight[target[known]]
                        loss = _weighted_mean(losses * row_weight[known], w)
                    total = total + weight * loss
            else:
                target = y_true[:, target_col : target_col + n_out]
                target_col += n_out
                known = ~torch.isnan(target)
                if known.any():
                    if row_weight is None:
                        loss = F.mse_loss(pred[known], target[known])
                    else:
                        w = row_weight[:, None].expand_as(target)[known]
                        squared = (pred[known] - target[known]) ** 2
                        loss = _weighted_mean(squared * w, w)
                    total = total + weight * loss
        return total


def _weighted_mean(weighted: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``weighted.sum() / weights.sum()``; 0 (with a zero gradient) when every
    weight is 0."""
    mass = weights.sum()
    return torch.where(mass > 0, weighted.sum() / mass.clamp_min(1e-12), mass * 0.0)
