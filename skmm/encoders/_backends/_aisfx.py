"""The aiSFX backend: a pretrained audio CNN whose weights ship in a PyPI wheel.

The ``aisfx`` package (0.1.2; Ma and Lerch, "Representation Learning for the
Automatic Indexing of Sound Effects Libraries", ISMIR 2022; weights and code
CC BY 4.0, Copyright (c) 2022 A.B. Ma and A. Lerch) ships
``aisfx/models/checkpoint.pth``: the X-Sequential-CE model, a 9-layer CNN (the
DCASE 2018 cross-task baseline's ``Cnn_9layers``; 4.7 M parameters) trained on
sound-effect libraries, whose embedding is 512-d. Its own code pins numpy 1.23 and
librosa 0.9.2 and its loader fails on current torch, so skmm imports none of it:
the module is defined here, the checkpoint is located through the package's
installed metadata and read with ``torch.load(weights_only=True)``, and the
preprocessing is reproduced in torch (the package's librosa path):

- 44.1 kHz, each window scaled to a peak of 1 (a silent window stays silent);
- power spectrogram, 2048-sample Hann windows every 1024 (centred frames);
- 96 HTK mel bands from 0 to 22.05 kHz, each filter summing to 1;
- ``log10(1e4 * mel + 1) / 9.4578`` (the package's "original" normalisation);
- the CNN on ``(time, mel)``, mean over frequency, max over time.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from skmm._torch import autocast, seeded
from skmm.cache._keys import weights_digest
from skmm.encoders._backends._common import LoadedModel, check_saved
from skmm.encoders._backends._mel import mel_filters, power_spectrogram
from skmm.encoders._registry import get_or_load

__all__ = ["AisfxBackend", "AisfxModel", "aisfx_checkpoint"]

SAMPLE_RATE = 44_100
_N_FFT, _HOP, _N_MELS = 2048, 1024, 96
_SPEC_MAX = 9.457798957824707  # the package's "original" min-max (min 0)
_INSTALL = (
    "the aisfx model's weights ship in the aisfx wheel: pip install --no-deps "
    "'aisfx>=0.1.2,<0.2' (--no-deps: skmm uses only its checkpoint file, and the "
    "package pins numpy 1.23 and librosa 0.9.2)"
)


class _ConvBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.bn2 = nn.BatchNorm2d(channels_out)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return nn.functional.max_pool2d(x, pool) if pool > 1 else x


class AisfxNet(nn.Module):
    """The aiSFX embedding network: log-mel ``(n, time, 96)`` -> ``(n, 512)``."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.conv_block1 = _ConvBlock(1, width)
        self.conv_block2 = _ConvBlock(width, 2 * width)
        self.conv_block3 = _ConvBlock(2 * width, 4 * width)
        self.conv_block4 = _ConvBlock(4 * width, 8 * width)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        x = spec.unsqueeze(1)
        x = self.conv_block1(x, 2)
        x = self.conv_block2(x, 2)
        x = self.conv_block3(x, 2)
        x = self.conv_block4(x, 1)
        return x.mean(dim=3).amax(dim=2)


def aisfx_spectrogram(windows: torch.Tensor) -> torch.Tensor:
    """The network's input for 44.1 kHz windows: ``(n, frames, 96)``."""
    peak = windows.abs().amax(dim=1, keepdim=True)
    waves = windows / torch.where(peak > 0, peak, torch.ones_like(peak))
    power = power_spectrogram(waves.float(), _N_FFT, _HOP)
    filters = mel_filters(_N_MELS, _N_FFT, SAMPLE_RATE, True).to(power.device)
    mel = torch.einsum("nft,fm->ntm", power, filters)
    return torch.log10(mel * 1e4 + 1.0) / _SPEC_MAX


def aisfx_checkpoint() -> Path:
    """The path of the installed aisfx package's checkpoint (without importing the
    package's code), or an ImportError that says how to install it."""
    from importlib import metadata

    try:
        dist = metadata.distribution("aisfx")
    except metadata.PackageNotFoundError:
        raise ImportError(_INSTALL) from None
    path = Path(str(dist.locate_file("aisfx/models/checkpoint.pth")))
    if not path.is_file():
        raise ImportError(f"{path} is missing; reinstall: {_INSTALL}")
    return path


def _read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The embedding network's weights from the package's ``(state_dict,
    datasets)`` pickle; ``weights_only``, with numpy's scalars allowed (the
    datasets dict holds numpy integers)."""
    core = getattr(np, "_core", None) or np.core
    allowed = [
        (core.multiarray.scalar, "numpy.core.multiarray.scalar"),
        np.dtype,
        type(np.dtype("int64")),
    ]
    with torch.serialization.safe_globals(allowed):
        state, _datasets = torch.load(path, map_location="cpu", weights_only=True)
    prefix = "embedding_net."
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


@dataclass(eq=False)
class AisfxModel(LoadedModel):
    """The loaded aiSFX embedding network."""

    backend: ClassVar[str] = "aisfx"
    module: nn.Module
    sample_rate: int = SAMPLE_RATE

    @property
    def torch_module(self) -> nn.Module:
        return self.module

    def _compute_digest(self) -> str:
        return weights_digest(self.module)

    def forward(
        self, windows: torch.Tensor, batch_size: int, precision: str
    ) -> np.ndarray:
        """The embeddings of 44.1 kHz ``windows``, in chunks of ``batch_size``, as
        float32 numpy (the spectrogram in float32, the CNN under ``precision``)."""
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(windows), batch_size):
                spec = aisfx_spectrogram(
                    windows[start : start + batch_size].to(self.device)
                )
                with autocast(self.device, precision):
                    outputs.append(self.module(spec).float().cpu())
        return torch.cat(outputs).numpy()

    def _export(self) -> dict[str, Any]:
        buffer = io.BytesIO()
        torch.save({k: v.cpu() for k, v in self.module.state_dict().items()}, buffer)
        return {"backend": self.backend, "weights": buffer.getvalue()}


def _finish(module: nn.Module, device: str) -> AisfxModel:
    module.eval().requires_grad_(False).to(device)
    return AisfxModel(512, device, module)


class AisfxBackend:
    """The aiSFX CNN (``AudioEncoder(model="aisfx")``).

    Parameters
    ----------
    pretrained : bool
        True: the checkpoint of the installed aisfx wheel; False: random weights,
        the same in every process (seed 0), with no package needed.
    device : str
        A resolved torch device.
    """

    name = "aisfx"

    def __init__(self, pretrained: bool, device: str):
        self.pretrained = pretrained
        self.device = device

    def _source(self) -> tuple:
        if not self.pretrained:
            return ("random",)
        path = aisfx_checkpoint()
        stat = path.stat()
        return (str(path), stat.st_size, stat.st_mtime_ns)

    def key(self) -> tuple:
        return ("aisfx", self._source(), self.device)

    def load(self) -> AisfxModel:
        return get_or_load(self.key(), self._load)

    def _load(self) -> AisfxModel:
        if not self.pretrained:
            with seeded(0):
                return _finish(AisfxNet(), self.device)
        module = AisfxNet()
        module.load_state_dict(_read_checkpoint(aisfx_checkpoint()))
        return _finish(module, self.device)

    def restore(self, saved: dict[str, Any]) -> AisfxModel:
        check_saved(saved, self.name)
        weights = saved["weights"]

        def load() -> AisfxModel:
            module = AisfxNet()
            state = torch.load(
                io.BytesIO(weights), map_location="cpu", weights_only=True
            )
            module.load_state_dict(state)
            return _finish(module, self.device)

        digest = hashlib.sha256(weights).hexdigest()
        return get_or_load(("aisfx", ("saved", digest), self.device), load)
