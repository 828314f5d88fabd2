"""ImageEncoder on a CUDA GPU: precision="auto" vs fp32 vs a bare loop.

EfficientNet-Lite0 (ImageNet weights from ../shared/models) on grocery photos (2,000 by
default, the training photos repeated), all in this process:

- bare loop: PIL decode + timm transform in the main process, batch 64, fp32,
  contiguous, synchronous copies (what a user writes first);
- ImageEncoder(precision="fp32"), otherwise defaults;
- ImageEncoder() defaults: precision "auto" (bf16 autocast where supported, else
  fp16), batch 64, channels_last, pinned memory with non-blocking copies, decoding
  workers;
- the forward pass alone on pre-decoded tensors at batch 64 in fp32 and with autocast
  (the ceiling of each precision).

Also checks that the autocast vectors stay close to fp32 (cosine similarity). Without
CUDA it prints that it skipped. Run: ``python benchmarks/gpu_throughput.py [n]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from _common import EFFICIENTNET_LITE0, grocery_photos, load


def main() -> None:
    if not torch.cuda.is_available():
        print("gpu_throughput: skipped (no CUDA device)")
        return
    import timm
    import timm.data
    from PIL import Image

    from skmm import ImageEncoder

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(f"gpu_throughput: {n} photos on {torch.cuda.get_device_name()}, {load()}")
    paths = grocery_photos(n)
    model = timm.create_model(
        "tf_efficientnet_lite0",
        pretrained=True,
        num_classes=0,
        pretrained_cfg_overlay={"file": str(EFFICIENTNET_LITE0)},
    ).eval()
    model.cuda()
    config = timm.data.resolve_data_config({}, model=model)
    transform = timm.data.create_transform(**config, is_training=False)

    def bare() -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, n, 64):
                batch = [
                    transform(Image.open(p).convert("RGB")) for p in paths[i : i + 64]
                ]
                out.append(model(torch.stack(batch).cuda()).cpu().numpy())
        return np.concatenate(out)

    def timed(run):
        run()  # warm-up (cuDNN autotuning, worker start)
        torch.cuda.synchronize()
        start = time.perf_counter()
        result = run()
        torch.cuda.synchronize()
        return n / (time.perf_counter() - start), result

    bare_rate, bare_out = timed(bare)
    fp32 = ImageEncoder(pretrained=EFFICIENTNET_LITE0, precision="fp32").fit(paths[:2])
    fp32_rate, fp32_out = timed(lambda: fp32.transform(paths))
    auto = ImageEncoder(pretrained=EFFICIENTNET_LITE0).fit(paths[:2])
    auto_rate, auto_out = timed(lambda: auto.transform(paths))

    tensors = torch.stack(
        [transform(Image.open(p).convert("RGB")) for p in paths[:512]]
    )
    tensors = tensors.cuda().contiguous(memory_format=torch.channels_last)
    module = auto.model_.module

    def forward(dtype):
        def run():
            with (
                torch.inference_mode(),
                torch.autocast("cuda", dtype=dtype, enabled=dtype is not None),
            ):
                for i in range(0, len(tensors), 64):
                    module(tensors[i : i + 64])

        return run

    rates = {}
    for name, dtype in (
        ("fp32", None),
        (
            auto.precision_,
            {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}[
                auto.precision_
            ],
        ),
    ):
        run = forward(dtype)
        run()
        torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        torch.cuda.synchronize()
        rates[name] = len(tensors) / (time.perf_counter() - start)

    cos = np.sum(auto_out * fp32_out, 1) / (
        np.linalg.norm(auto_out, axis=1) * np.linalg.norm(fp32_out, axis=1)
    )
    print(f"bare loop (batch 64, fp32, decode in the loop): {bare_rate:.0f} img/s")
    print(
        f"ImageEncoder fp32 (batch {fp32.batch_size_}, workers {fp32.num_workers_}): "
        f"{fp32_rate:.0f} img/s, {fp32_rate / bare_rate:.2f}x bare"
    )
    print(
        f"ImageEncoder defaults (precision_={auto.precision_}, batch "
        f"{auto.batch_size_}, workers {auto.num_workers_}): {auto_rate:.0f} img/s, "
        f"{auto_rate / fp32_rate:.2f}x fp32, {auto_rate / bare_rate:.2f}x bare"
    )
    for name, rate in rates.items():
        print(f"forward only, {name}, batch 64, channels_last: {rate:.0f} img/s")
    print(
        f"auto vs fp32 vectors: min cosine {cos.min():.5f}; fp32 vs bare max abs "
        f"diff {np.abs(fp32_out - bare_out).max():.2e}"
    )


if __name__ == "__main__":
    main()
