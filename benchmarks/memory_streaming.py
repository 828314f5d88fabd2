"""Does ImageEncoder.transform's memory stay bounded by the batch?

Peak RSS of a fresh process transforming 2,000 and then (in another fresh process)
20,000 grocery photos (the 2,640 training photos, repeated), each less the size of its
own output array. What is left (the interpreter, torch, the model, one batch in
flight) must not grow with the count: the ratio 20,000 / 2,000 must be <= 1.1. Also
printed: the growth of the peak over the RSS just before ``transform``, less the
output, per image.

The model is timm's tiny ``test_efficientnet`` (random weights, 256-d output): memory
does not depend on the model's speed, and a tiny one keeps the 22,000 images under 5
minutes on 2 cores. Run: ``python benchmarks/memory_streaming.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from _common import load

CHILD = """
import json, resource, sys
sys.path.insert(0, {here!r})
from _common import grocery_photos
from skmm import ImageEncoder

n = int(sys.argv[1])
paths = grocery_photos(n)
encoder = ImageEncoder("test_efficientnet", pretrained=False, device="cpu")
encoder.fit(paths[:8]).transform(paths[:8])
def rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
before = rss_kib()
X = encoder.transform(paths)
print(json.dumps({{"n": n, "before": before * 1024, "peak": rss_kib() * 1024,
                  "output": X.nbytes, "dim": X.shape[1]}}))
"""


def measure(n: int) -> dict:
    here = str(Path(__file__).resolve().parent)
    result = subprocess.run(
        [sys.executable, "-c", CHILD.format(here=here), str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    print(f"memory_streaming: {load()}")
    start = time.perf_counter()
    small, large = measure(2_000), measure(20_000)
    mib = 1 << 20
    for r in (small, large):
        left = r["peak"] - r["output"]
        growth = (r["peak"] - r["before"] - r["output"]) / r["n"]
        print(
            f"{r['n']:>6} images: peak RSS {r['peak'] / mib:.0f} MiB, output "
            f"{r['output'] / mib:.1f} MiB, peak less output {left / mib:.0f} MiB, "
            f"growth during transform less output {growth:.0f} B/image"
        )
    ratio = (large["peak"] - large["output"]) / (small["peak"] - small["output"])
    print(f"peak less output, 20,000 / 2,000: {ratio:.3f} (target <= 1.1)")
    print(f"done in {time.perf_counter() - start:.0f} s, {load()}")


if __name__ == "__main__":
    main()
