"""Time to the clear error for an image model that is neither bundled nor cached,
offline (issue 27's bound: under 5 s), as a user meets it.

Each figure is a fresh process with empty Hugging Face, torch hub and skmm caches:

- ``cli``: ``python -m skmm fit table.csv --target y --image-model resnet18`` on a
  12-row table of photos, from the start of the process to its exit (status 1, the
  error on stderr); with ``HF_HUB_OFFLINE`` unset (this machine has no network: the
  probe of the hub's host fails) and with ``HF_HUB_OFFLINE=1``.
- ``api``: ``ImageEncoder("resnet18").fit_transform(images)``, from the call to the
  error; the whole process and the time from ``import skmm`` are printed beside it.

The baseline, run in the same script: ``python -c "import torch, timm"`` (what any
process that loads a timm model pays). ``--before DIR`` also measures the skmm
package under ``DIR`` (e.g. ``git archive <commit> skmm | tar -x -C DIR``),
interleaved with this checkout's, so that both see the same machine load.

Run from the project root: ``python benchmarks/offline_error.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT  # noqa: E402

MODEL = "resnet18"  # a timm model that no installed package ships

_API = """
import json, sys, time
start = time.perf_counter()
import skmm
from skmm import ImageEncoder
import numpy as np
imported = time.perf_counter()
images = [np.zeros((32, 32, 3), dtype=np.uint8)]
try:
    ImageEncoder(sys.argv[1], device="cpu").fit_transform(images)
    message = None
except OSError as exc:
    message = str(exc)
end = time.perf_counter()
print(json.dumps({"from_import": end - start, "call": end - imported,
                  "message": message, "skmm": skmm.__file__}))
"""


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def _table(folder: Path) -> Path:
    rows = []
    for i in range(12):
        Image.fromarray(np.full((32, 32, 3), 20 * i, dtype=np.uint8)).save(
            folder / f"p{i}.png"
        )
        rows.append(f"p{i}.png,{i % 2}")
    path = folder / "table.csv"
    path.write_text("photo,y\n" + "\n".join(rows) + "\n")
    return path


def _env(pythonpath: str | None, scratch: Path, offline: bool) -> dict:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for name in ("HF_HOME", "XDG_CACHE_HOME", "TORCH_HOME"):
        env[name] = str(scratch / name.lower())  # empty caches: nothing is cached
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def _timed(args: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    # Not from the project root: there ``python -m``/``-c`` would import the
    # checkout's skmm whatever PYTHONPATH says.
    cwd = env.get("HF_HOME", tempfile.gettempdir())
    os.makedirs(cwd, exist_ok=True)
    start = time.perf_counter()
    done = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )
    return time.perf_counter() - start, done


def _cli(tree: str, table: Path, scratch: Path, offline: bool) -> float:
    args = [sys.executable, "-m", "skmm", "fit", str(table), "--target", "y"]
    args += ["--image-model", MODEL, "--out", str(scratch / "m.joblib"), "--quiet"]
    seconds, done = _timed(args, _env(tree, scratch, offline))
    if done.returncode != 1 or "--image-weights PATH" not in done.stderr:
        raise SystemExit(f"{tree}: not the error: {done.returncode} {done.stderr}")
    return seconds


def _api(tree: str, scratch: Path) -> tuple[float, float, float]:
    args = [sys.executable, "-c", _API, MODEL]
    seconds, done = _timed(args, _env(tree, scratch, offline=False))
    if done.returncode != 0:
        raise SystemExit(f"{tree}: {done.stderr}")
    result = json.loads(done.stdout.splitlines()[-1])
    if not result["skmm"].startswith(tree):
        raise SystemExit(f"imported {result['skmm']}, not the skmm under {tree}")
    if not result["message"] or "pretrained=PATH" not in result["message"]:
        raise SystemExit(f"{tree}: not the error: {result['message']}")
    return seconds, result["from_import"], result["call"]


def _summary(values: list[float]) -> str:
    return f"min {min(values):6.2f} s  median {statistics.median(values):6.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", help="the folder holding an older skmm package")
    args = parser.parse_args()
    trees = {"this checkout": str(ROOT)}
    if args.before:
        trees = {"before": str(Path(args.before).resolve()), **trees}
    figures: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="skmm-offline-") as tmp:
        table = _table(Path(tmp))
        print(f"start: {_load()}")
        for round_ in range(args.repeat):
            base, _ = _timed(
                [sys.executable, "-c", "import torch, timm"],
                _env(None, Path(tmp), False),
            )
            figures.setdefault("baseline", {}).setdefault("import torch, timm", [])
            figures["baseline"]["import torch, timm"].append(base)
            for name, tree in trees.items():
                row = figures.setdefault(name, {})
                for offline in (False, True):
                    with tempfile.TemporaryDirectory(dir=tmp) as scratch:
                        label = "cli HF_HUB_OFFLINE=1" if offline else "cli no network"
                        row.setdefault(label, []).append(
                            _cli(tree, table, Path(scratch), offline)
                        )
                with tempfile.TemporaryDirectory(dir=tmp) as scratch:
                    whole, from_import, call = _api(tree, Path(scratch))
                for label, value in (
                    ("api whole process", whole),
                    ("api from import skmm", from_import),
                    ("api call to error", call),
                ):
                    row.setdefault(label, []).append(value)
            print(f"round {round_ + 1}/{args.repeat}: {_load()}")
    print()
    for name, row in figures.items():
        print(name)
        for label, values in row.items():
            print(f"  {label:<22} {_summary(values)}  (n={len(values)})")
    base = statistics.median(figures["baseline"]["import torch, timm"])
    for name in trees:
        cli = statistics.median(figures[name]["cli no network"])
        print(f"{name}: cli / import torch, timm = {cli / base:.2f}")
    print(f"end: {_load()}")


if __name__ == "__main__":
    main()
