"""Torch fusion modules.

Every fusion module takes the per-modality representations ``z`` of shape
``(batch, n_modalities, hidden)`` (each block already normalised and projected to the
same width) and a boolean ``mask`` of shape ``(batch, n_modalities)``, True where the
modality is present in the row, and returns the fused representation of shape
``(batch, out_dim)``. Absent modalities are *masked*: their raw values never reach
the network, and they take no part in the fusion (a softmax weight of zero, a padded
key, the ``[1; 0]`` of tensor fusion, a left-out term of a mean). That differs from
feeding the zeros a union writes for them, which the network would read as data.
The network in :mod:`skmm.fusion._network` makes sure every row has at least one
modality in ``mask``.

:data:`FUSIONS` maps each name to its class (ARCHITECTURE.md, "The heads").

A fusion type is one class here and its entry in :data:`FUSIONS`. The arguments it
takes beyond ``(n_modalities, hidden, dropout)`` are declared in its class attribute
``hyperparameters`` (argument name to scikit-learn parameter constraints): the
heads validate their parameters of those names with them and pass them on, so a new
type touches no other module (a new argument name is also a new parameter of the
heads' signatures, which scikit-learn wants explicit).
"""

from __future__ import annotations

import inspect
import math
import numbers
from typing import ClassVar

import torch
from sklearn.utils._param_validation import Interval
from torch import nn

__all__ = [
    "FUSIONS",
    "FUSION_PARAMETERS",
    "AttentionFusion",
    "ConcatFusion",
    "GatedFusion",
    "LateFusion",
    "LowRankFusion",
    "TensorFusion",
    "TransformerFusion",
]

_AT_LEAST_ONE = [Interval(numbers.Integral, 1, None, closed="left")]

_NEG = -1e9  # a finite "minus infinity": keeps softmax NaN-free in half precision

#: The constructor arguments beyond the common three, documented once.
_EXTRA_PARAMETERS = {
    "n_heads": "n_heads : int, default=4\n    Attention heads (dividing ``hidden``).",
    "n_layers": "n_layers : int, default=1\n    Transformer encoder layers.",
    "rank": "rank : int, default=4\n    Rank of the factorised fusion weights.",
}

_FORWARD_DOC = """Fuse the modality vectors of a batch.

Parameters
----------
z : torch.Tensor of shape (batch, n_modalities, hidden)
    Each block's projected representation.
mask : torch.Tensor of bool, shape (batch, n_modalities)
    True where the modality is present in the row.

Returns
-------
h : torch.Tensor of shape (batch, out_dim)
    The fused representation (``(batch, n_modalities, out_dim)`` for
    :class:`LateFusion`, whose task heads average over the modalities).
"""


def _documented(cls: type[nn.Module]) -> type[nn.Module]:
    """Complete a fusion module's docstring: its parameters, ``out_dim``, an example
    (written once here for the seven types) and ``forward``'s docstring."""
    extra = "".join(
        "\n" + _EXTRA_PARAMETERS[name] for name in getattr(cls, "hyperparameters", {})
    )
    params = (
        "n_modalities : int\n    Number of modalities (blocks).\n"
        "hidden : int\n    Width of each modality's projected vector.\n"
        "dropout : float, default=0.0\n    Dropout inside the module, where it has "
        "layers." + extra
    )
    body = f"""

Parameters
----------
{params}

Attributes
----------
out_dim : int
    Width of the fused representation.

Examples
--------
>>> import torch
>>> from skmm.fusion import {cls.__name__}
>>> module = {cls.__name__}(n_modalities=2, hidden=8)
>>> z, mask = torch.randn(3, 2, 8), torch.tensor([[1, 1], [1, 0], [0, 1]]).bool()
>>> module(z, mask).shape[0]
3
"""
    cls.__doc__ = inspect.cleandoc(cls.__doc__) + body
    cls.forward.__doc__ = _FORWARD_DOC
    return cls


@_documented
class ConcatFusion(nn.Module):
    """Concatenate the modality vectors.

    ``h = [z_1, ..., z_M]``, where an absent modality's slot is zeros *after* its
    projection (its raw values never reach the network). A plain early-fusion
    baseline (Liang et al. 2021, MultiBench).
    """

    def __init__(self, n_modalities: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.out_dim = n_modalities * hidden

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return z.flatten(1)


@_documented
class GatedFusion(nn.Module):
    """Gated multimodal unit, generalised to M modalities.

    ``h = sum_m g_m * tanh(W_m z_m)``, ``g = softmax_m(W_g [z_1, ..., z_M])`` per
    feature, absent modalities excluded from the softmax (Arevalo et al. 2017, GMU).
    """

    def __init__(self, n_modalities: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.transforms = nn.ModuleList(
            nn.Linear(hidden, hidden) for _ in range(n_modalities)
        )
        self.gate = nn.Linear(n_modalities * hidden, n_modalities * hidden)
        self.out_dim = hidden

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, n_mod, hidden = z.shape
        values = torch.stack(
            [torch.tanh(t(z[:, i])) for i, t in enumerate(self.transforms)], dim=1
        )
        logits = self.gate(z.flatten(1)).view(batch, n_mod, hidden)
        logits = logits.masked_fill(~mask[:, :, None], _NEG)
        return (torch.softmax(logits, dim=1) * values).sum(dim=1)


@_documented
class AttentionFusion(nn.Module):
    """Additive attention over modalities.

    ``h = sum_m a_m z_m``, ``a = softmax_m(v^T tanh(W z_m))`` over the present
    modalities (Bahdanau-style attention pooling, as in Liang et al. 2021).
    """

    def __init__(self, n_modalities: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        # No bias on v: it would shift every modality's score alike, which the
        # softmax ignores, so it would never get a gradient.
        self.score = nn.Sequential(
            nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False)
        )
        self.out_dim = hidden

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(z).squeeze(-1).masked_fill(~mask, _NEG)
        weights = torch.softmax(scores, dim=1)
        return (weights[:, :, None] * z).sum(dim=1)


@_documented
class TransformerFusion(nn.Module):
    """A small transformer encoder over one token per modality plus a CLS token.

    ``h = TransformerEncoder([cls, z_1 + e_1, ..., z_M + e_M])[cls]`` with absent
    modalities as padded (ignored) keys (Vaswani et al. 2017; one token per modality
    as in multimodal transformers, Liang et al. 2021).
    """

    hyperparameters: ClassVar[dict] = {
        "n_heads": _AT_LEAST_ONE,
        "n_layers": _AT_LEAST_ONE,
    }

    def __init__(
        self,
        n_modalities: int,
        hidden: int,
        dropout: float = 0.0,
        n_heads: int = 4,
        n_layers: int = 1,
    ):
        super().__init__()
        if hidden % n_heads:
            raise ValueError(
                f"hidden={hidden} must be a multiple of n_heads={n_heads} for the "
                "transformer fusion"
            )
        self.cls = nn.Parameter(torch.randn(1, 1, hidden) * 0.02)
        self.modality_embedding = nn.Parameter(
            torch.randn(1, n_modalities, hidden) * 0.02
        )
        layer = nn.TransformerEncoderLayer(
            hidden,
            n_heads,
            dim_feedforward=2 * hidden,
            dropout=dropout,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, n_layers, enable_nested_tensor=False
        )
        self.norm = nn.LayerNorm(hidden)
        self.out_dim = hidden

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        tokens = torch.cat(
            [self.cls.expand(len(z), -1, -1), z + self.modality_embedding], dim=1
        )
        keep = torch.cat([mask.new_ones(len(z), 1), mask], dim=1)
        out = self.encoder(tokens, src_key_padding_mask=~keep)
        return self.norm(out[:, 0])


def _tensor_width(n_modalities: int, hidden: int, budget: int = 4096) -> int:
    """Per-modality width t such that (t + 1) ** M stays within ``budget``."""
    width = int(math.floor(budget ** (1.0 / n_modalities))) - 1
    return max(2, min(hidden, width))


@_documented
class TensorFusion(nn.Module):
    """Tensor fusion: the outer product of ``[1; z_m]`` over modalities.

    ``h = W vec([1; u_1] x ... x [1; u_M])`` with ``u_m = P_m z_m`` of a width that
    keeps the product within 4,096 terms; an absent modality contributes ``[1; 0]``,
    so only the interactions among present modalities remain (Zadeh et al. 2017,
    Tensor Fusion Network).
    """

    def __init__(self, n_modalities: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.width = _tensor_width(n_modalities, hidden)
        self.reduce = nn.ModuleList(
            nn.Linear(hidden, self.width) for _ in range(n_modalities)
        )
        self.out = nn.Linear((self.width + 1) ** n_modalities, hidden)
        self.out_dim = hidden

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch = len(z)
        product = z.new_ones(batch, 1)
        for i, reduce in enumerate(self.reduce):
            u = reduce(z[:, i]) * mask[:, i, None].to(z.dtype)
            u = torch.cat([z.new_ones(batch, 1), u], dim=1)
            product = (product[:, :, None] * u[:, None, :]).flatten(1)
        return self.out(product)


@_documented
class LowRankFusion(nn.Module):
    """Low-rank multimodal fusion.

    ``h = sum_r w_r prod_m (W_m^r [1; z_m]) + b``: the tensor of
    :class:`TensorFusion` with rank-``r`` factorised weights; as there, an absent
    modality contributes ``[1; 0]``, which keeps exactly the interactions among the
    present ones (Liu et al. 2018, LMF).
    """

    hyperparameters: ClassVar[dict] = {"rank": _AT_LEAST_ONE}

    def __init__(
        self, n_modalities: int, hidden: int, dropout: float = 0.0, rank: int = 4
    ):
        super().__init__()
        self.factors = nn.Parameter(
            torch.randn(n_modalities, rank, hidden + 1, hidden) / math.sqrt(hidden + 1)
        )
        self.rank_weights = nn.Parameter(torch.full((rank,), 1.0 / rank))
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.out_dim = hidden

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        ones = z.new_ones(z.shape[0], z.shape[1], 1)
        z1 = torch.cat([ones, z * mask[:, :, None].to(z.dtype)], dim=2)  # (B, M, H+1)
        factors = torch.einsum("bmi,mrio->bmro", z1, self.factors)  # (B, M, R, H)
        fused = factors.prod(dim=1)  # (B, R, H)
        return torch.einsum("r,bro->bo", self.rank_weights, fused) + self.bias


@_documented
class LateFusion(nn.Module):
    """Late fusion: one small network per modality; the task heads behind it average
    the per-modality outputs over the present modalities.

    ``y = mean_{m present} head_m(f_m(z_m))`` (decision-level fusion, Liang et al.
    2021). The module returns ``(batch, n_modalities, hidden)``; the network applies
    per-modality heads and the masked mean.
    """

    late = True

    def __init__(self, n_modalities: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout))
            for _ in range(n_modalities)
        )
        self.out_dim = hidden

    def forward(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.stack([b(z[:, i]) for i, b in enumerate(self.branches)], dim=1)


FUSIONS: dict[str, type[nn.Module]] = {
    "concat": ConcatFusion,
    "gated": GatedFusion,
    "attention": AttentionFusion,
    "transformer": TransformerFusion,
    "tensor": TensorFusion,
    "lowrank": LowRankFusion,
    "late": LateFusion,
}

# Each parameter that some fusion type declares, with its constraints.
FUSION_PARAMETERS: dict[str, list] = {
    name: constraints
    for fusion in FUSIONS.values()
    for name, constraints in getattr(fusion, "hyperparameters", {}).items()
}
