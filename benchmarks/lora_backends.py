"""LoRA of a fine-tuned backbone's top: a hand-written adapter vs peft's.

On the real all-MiniLM-L6-v2 (the TextEncoder default) cut before its last two
layers, the top's linear layers get rank-8 LoRA updates (alpha 16) two ways:

- ``hand``: the ~40-line ``LoRALinear`` skmm had before it moved to peft (copied
  below as the baseline): ``y = W x + b + (alpha / r) B A x``, A Gaussian / sqrt(in);
- ``peft``: ``peft.LoraModel`` with ``target_modules`` = the top's linear layers,
  ``lora_dropout=0``, merged with ``merge_and_unload``.

Both train the top on a fixed batch of 32 reviews (womens_reviews, ``Review
Text``) with AdamW. Printed: (a) seconds per training step (forward, backward and
optimizer step; the two alternate, best and median of the rounds) and their
ratio, (b) the trained parameters, (c) the top's output at the start vs the
plain top's (B = 0), (d) after training, the merged plain module's output vs the
adapted one's, and that no peft module is left. Under a minute on one thread.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 python benchmarks/lora_backends.py [steps=10]
"""

from __future__ import annotations

import statistics
import sys
import time

import pandas as pd
import peft
import torch
from _common import REVIEWS, load
from torch import nn

from skmm import TextEncoder
from skmm._torch import seeded
from skmm.finetune import split_backbone

RANK, ALPHA, BATCH = 8, 16.0, 32


class HandLoRALinear(nn.Module):
    """skmm's LoRA before peft (the baseline)."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, generator):
        super().__init__()
        self.base = base
        self.scale = float(alpha) / rank
        a = torch.randn(rank, base.in_features, generator=generator)
        self.a = nn.Parameter(a / base.in_features**0.5)
        self.b = nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.a.T @ self.b.T) * self.scale


def top_linears(backbone) -> list[str]:
    """The names (in ``backbone.module``) of the top's linear layers."""
    trained = {id(p) for p in backbone.parameters}
    return [
        name
        for name, m in backbone.module.named_modules()
        if isinstance(m, nn.Linear) and id(m.weight) in trained
    ]


def hand_lora(backbone, names: list[str]) -> list[nn.Parameter]:
    generator = torch.Generator().manual_seed(0)
    params = []
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = backbone.module.get_submodule(parent_name)
        wrapped = HandLoRALinear(getattr(parent, child), RANK, ALPHA, generator)
        setattr(parent, child, wrapped)
        params += [wrapped.a, wrapped.b]
    return params


def hand_merge(backbone) -> None:
    for parent in list(backbone.module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, HandLoRALinear):
                with torch.no_grad():
                    child.base.weight += child.scale * (child.b @ child.a)
                setattr(parent, name, child.base)


def peft_lora(backbone, names: list[str]) -> tuple[peft.LoraModel, list]:
    config = peft.LoraConfig(
        r=RANK, lora_alpha=ALPHA, target_modules=names, lora_dropout=0.0
    )
    with seeded(0):
        tuner = peft.LoraModel(backbone.module, config, "default")
    params = [p for n, p in backbone.module.named_parameters() if "lora_" in n]
    return tuner, params


def main(steps: int = 10) -> None:
    print(load(), f"peft {peft.__version__}, torch {torch.__version__}")
    texts = pd.read_parquet(REVIEWS, columns=["Review Text"])["Review Text"]
    texts = texts.dropna().head(BATCH).tolist()
    encoder = TextEncoder(device="cpu").fit(texts)
    backbones = {
        "hand": split_backbone(encoder, 2, "cpu"),
        "peft": split_backbone(encoder, 2, "cpu"),
    }
    reference = split_backbone(encoder, 2, "cpu")
    activations = reference.prefix(texts)
    names = top_linears(reference)
    with torch.no_grad():
        plain = reference.top(activations)
    print(f"top: 2 of 6 layers, {len(names)} linear layers adapted, rank {RANK}")
    params = {"hand": hand_lora(backbones["hand"], names)}
    tuner, params["peft"] = peft_lora(backbones["peft"], names)
    for kind, backbone in backbones.items():
        for p in backbone.module.parameters():
            p.requires_grad_(False)
        for p in params[kind]:
            p.requires_grad_(True)
        n = sum(p.numel() for p in params[kind])
        with torch.no_grad():
            start = float((backbone.top(activations) - plain).abs().max())
        print(
            f"{kind}: (b) {n:,} trained parameters in {len(params[kind])} tensors;"
            f" (c) at start, max |top - plain top| = {start:.1e}"
        )
    target = torch.nn.functional.normalize(
        torch.randn(plain.shape, generator=torch.Generator().manual_seed(1)), dim=1
    )
    optimizers = {k: torch.optim.AdamW(params[k], lr=1e-3) for k in backbones}
    times: dict[str, list[float]] = {k: [] for k in backbones}
    losses: dict[str, float] = {}
    for step in range(steps):
        for kind in backbones if step % 2 else reversed(backbones):
            begin = time.perf_counter()
            loss = ((backbones[kind].top(activations) - target) ** 2).sum(1).mean()
            optimizers[kind].zero_grad()
            loss.backward()
            optimizers[kind].step()
            times[kind].append(time.perf_counter() - begin)
            losses[kind] = float(loss.detach())
    for kind in backbones:
        t = times[kind][1:]  # the first step warms up
        print(
            f"{kind}: (a) {min(t):.3f} s best, {statistics.median(t):.3f} s "
            f"median per step over {len(t)} steps; final loss {losses[kind]:.4f}"
        )
    ratio_best = min(times["peft"][1:]) / min(times["hand"][1:])
    ratio_median = statistics.median(times["peft"][1:]) / statistics.median(
        times["hand"][1:]
    )
    print(
        f"(a) peft / hand time per step: {ratio_best:.3f} best, "
        f"{ratio_median:.3f} median (target <= 1.10)"
    )
    with torch.no_grad():
        adapted = {k: b.top(activations) for k, b in backbones.items()}
    hand_merge(backbones["hand"])
    merged_module = tuner.merge_and_unload()
    assert merged_module is backbones["peft"].module
    for kind, backbone in backbones.items():
        with torch.no_grad():
            merged = backbone.top(activations)
        left = [
            type(m).__name__
            for m in backbone.module.modules()
            if type(m).__module__.startswith("peft") or isinstance(m, HandLoRALinear)
        ]
        moved = float((adapted[kind] - plain).abs().max())
        error = float((merged - adapted[kind]).abs().max())
        print(
            f"{kind}: (d) merged vs adapted max |diff| = {error:.1e} (training moved "
            f"the output by {moved:.2e}); adapter modules left: {len(left)}, "
            f"peft_config attribute left: {hasattr(backbone.module, 'peft_config')}"
        )
    print(load())


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
