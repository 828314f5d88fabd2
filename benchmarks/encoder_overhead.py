"""How close do skmm's encoders, with their default parameters, run to the model alone?

Images: EfficientNet-Lite0 (ImageNet weights from ../shared/models) on grocery photos,
every configuration in this one process on the same photos and the same weights:

(a) ceiling: the forward pass alone on pre-decoded tensors, at the fastest batch size
    and memory format found by a sweep on this machine;
(b) a naive batched loop: PIL open + timm transform + model, batch 32, default layout;
(c) a per-image loop as embetter's ``TimmEncoder`` does it (one image per call, the
    model as timm returns it);
(d) ``ImageEncoder`` with its default parameters (decoding and preprocessing
    included).

Targets: (d)/(a) >= 0.85 and (d)/(b) >= 2.5.

Text: MiniLM on review texts, ``TextEncoder`` (defaults) vs
``SentenceTransformer.encode`` on the same texts: unique texts (target >= 0.95) and
texts with 50% duplicates (target >= 1.8).

The image configurations run in 3 rounds, back to back within a round; printed are
the best rate of each and the median over rounds of the within-round ratio, to damp
the noise of a shared machine. Text runs twice; the faster run counts.
Run: ``python benchmarks/encoder_overhead.py [n_images] [n_texts]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
import timm
import timm.data
import torch
from _common import EFFICIENTNET_LITE0, REVIEWS, grocery_photos, load
from PIL import Image

from skmm import ImageEncoder, TextEncoder
from skmm.encoders._backends import resolve_text_model

REPEAT = 2  # text
ROUNDS = 3  # images


def lite0(memory_format=torch.contiguous_format, eval_mode=True):
    model = timm.create_model(
        "tf_efficientnet_lite0",
        pretrained=True,
        num_classes=0,
        pretrained_cfg_overlay={"file": str(EFFICIENTNET_LITE0)},
    )
    if eval_mode:
        model.eval()
    return model.to(memory_format=memory_format)


def forward_rate(model, tensors, batch, memory_format) -> float:
    with torch.inference_mode():
        model(tensors[:batch].contiguous(memory_format=memory_format))  # warm-up
        start = time.perf_counter()
        for i in range(0, len(tensors), batch):
            model(tensors[i : i + batch].contiguous(memory_format=memory_format))
    return len(tensors) / (time.perf_counter() - start)


def images(n: int) -> dict[str, float]:
    paths = grocery_photos(n)
    model = lite0()
    config = timm.data.resolve_data_config({}, model=model)
    transform = timm.data.create_transform(**config, is_training=False)
    tensors = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])
    models = {
        "contiguous": (model, torch.contiguous_format),
        "channels_last": (lite0(torch.channels_last), torch.channels_last),
    }

    # (a) the ceiling: sweep batch size x memory format on a slice, then measure
    # the best one on all the photos.
    sweep = {}
    for name, (m, fmt) in models.items():
        for batch in (1, 2, 4, 8, 16, 32, 64):
            sample = tensors[: max(32, 2 * batch)]
            sweep[(name, batch)] = forward_rate(m, sample, batch, fmt)
    best_name, best_batch = max(sweep, key=sweep.get)
    print(
        "sweep (img/s): "
        + ", ".join(f"{n}/{b} {r:.0f}" for (n, b), r in sorted(sweep.items()))
    )

    def ceiling() -> float:
        m, fmt = models[best_name]
        return forward_rate(m, tensors, best_batch, fmt)

    def naive() -> float:  # (b)
        start = time.perf_counter()
        with torch.no_grad():
            for i in range(0, n, 32):
                batch = [
                    transform(Image.open(p).convert("RGB")) for p in paths[i : i + 32]
                ]
                model(torch.stack(batch)).numpy()
        return n / (time.perf_counter() - start)

    embetter_model = lite0(eval_mode=False)  # as timm.create_model returns it

    def per_image() -> float:  # (c), embetter's TimmEncoder.transform
        # Slow (autograd on, one image per call): a rate on the first 16 photos.
        start = time.perf_counter()
        np.array(
            [
                embetter_model(transform(Image.open(p).convert("RGB")).unsqueeze(0))
                .squeeze(0)
                .detach()
                .numpy()
                for p in paths[:16]
            ]
        )
        return 16 / (time.perf_counter() - start)

    encoder = ImageEncoder(pretrained=EFFICIENTNET_LITE0).fit(paths[:2])

    def skmm_default() -> float:  # (d)
        start = time.perf_counter()
        encoder.transform(paths)
        return n / (time.perf_counter() - start)

    runs = {"a": ceiling, "b": naive, "c": per_image, "d": skmm_default}
    rates: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(ROUNDS):
        for key, run in runs.items():
            rates[key].append(run())
    best = {k: max(v) for k, v in rates.items()}
    # Ratios within each round (the configurations of a round ran back to back,
    # under about the same load), then their median.
    round_ratios = {
        pair: float(np.median(np.divide(rates[pair[0]], rates[pair[1]])))
        for pair in (("d", "a"), ("d", "b"))
    }
    labels = {
        "a": f"(a) ceiling, forward only, {best_name} batch {best_batch}",
        "b": "(b) naive batched loop, batch 32, contiguous",
        "c": "(c) per-image loop (embetter TimmEncoder)",
        "d": f"(d) ImageEncoder defaults (batch_size_={encoder.batch_size_}, "
        f"num_workers_={encoder.num_workers_}, precision_={encoder.precision_})",
    }
    for key in runs:
        shown = " / ".join(f"{r:.1f}" for r in rates[key])
        print(f"{labels[key]}: {best[key]:.1f} img/s (runs {shown})")
    print(
        f"image (d)/(a): {best['d'] / best['a']:.2f} best vs best, "
        f"{round_ratios['d', 'a']:.2f} median per round (target >= 0.85)"
    )
    print(
        f"image (d)/(b): {best['d'] / best['b']:.2f} best vs best, "
        f"{round_ratios['d', 'b']:.2f} median per round (target >= 2.5)"
    )
    print(f"image (d)/(c): {best['d'] / best['c']:.2f}")
    return best


def texts(n: int) -> None:
    from sentence_transformers import SentenceTransformer

    reviews = pd.read_parquet(REVIEWS, columns=["Review Text"])["Review Text"]
    unique = list(dict.fromkeys(reviews.dropna()))[:n]
    rng = np.random.default_rng(0)
    half = unique[: n // 2]
    duplicated = [half[i] for i in rng.permutation(np.arange(n) % len(half))]
    st = SentenceTransformer(resolve_text_model("all-MiniLM-L6-v2"), device="cpu")
    encoder = TextEncoder().fit(unique[:2])
    for name, values, target in (
        ("unique", unique, 0.95),
        ("50% duplicates", duplicated, 1.8),
    ):
        st_times, skmm_times = [], []
        for _ in range(REPEAT):
            start = time.perf_counter()
            st.encode(values)
            st_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            encoder.transform(values)
            skmm_times.append(time.perf_counter() - start)
        ratio = min(st_times) / min(skmm_times)
        skmm_rate = len(values) / min(skmm_times)
        st_rate = len(values) / min(st_times)
        print(
            f"text {name} ({len(values)} texts): TextEncoder {skmm_rate:.1f} texts/s,"
            f" SentenceTransformer.encode {st_rate:.1f} texts/s, ratio {ratio:.2f}"
            f" (target >= {target})"
        )


def main() -> None:
    n_images = int(sys.argv[1]) if len(sys.argv) > 1 else 96
    n_texts = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    print(f"encoder_overhead: {n_images} photos, {n_texts} texts, {load()}")
    start = time.perf_counter()
    images(n_images)
    texts(n_texts)
    print(f"done in {time.perf_counter() - start:.0f} s, {load()}")


if __name__ == "__main__":
    main()
