"""The MFCC backend: classical speech features, no weights at all.

Each window (16 kHz) becomes a 25 ms / 10 ms power spectrogram, 40 HTK mel bands up
to 8 kHz, their natural log, and 20 MFCCs (orthonormal DCT-II of the log bands) with
their deltas (regression over +-2 frames). Statistics are taken over the window's
*active* frames only, those within 50 dB of its loudest frame, so that the silence
a short clip is padded with does not count:

- the mean and standard deviation of each MFCC and of each delta;
- the mean and standard deviation of each log-mel band;
- the mean MFCCs of each third of the active span (first to last active frame),
  which keeps the coarse order of the sounds (a spoken "six" against "seven");
- the active span's length in seconds.

A silent window (no active frame) is the zero vector.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from skmm.encoders._backends._common import LoadedModel, check_saved
from skmm.encoders._backends._mel import mel_filters, power_spectrogram
from skmm.encoders._registry import get_or_load

__all__ = ["MfccBackend", "MfccModel"]

SAMPLE_RATE = 16_000
_N_FFT, _HOP = 400, 160  # 25 ms windows every 10 ms
_N_MELS, _N_MFCC, _SEGMENTS = 40, 20, 3
_ACTIVE_DB = 50.0
_FLOOR = 1e-10
# Bump when the features change: it is the backend's "weights digest" (caches).
_VERSION = "mfcc-1"


def _dct_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """Orthonormal DCT-II, shape ``(n_in, n_out)``."""
    n = np.arange(n_in)[:, None]
    k = np.arange(n_out)[None, :]
    basis = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    basis[:, 0] /= np.sqrt(2.0)
    return torch.from_numpy(basis.astype(np.float32))


def _deltas(frames: torch.Tensor, width: int = 2) -> torch.Tensor:
    """Regression deltas over +-``width`` frames along the last axis (edges
    repeated), as HTK and librosa compute them."""
    padded = torch.nn.functional.pad(frames, (width, width), mode="replicate")
    length = frames.shape[-1]
    out = torch.zeros_like(frames)
    for k in range(1, width + 1):
        ahead = padded[..., width + k : width + k + length]
        behind = padded[..., width - k : width - k + length]
        out += k * (ahead - behind)
    return out / (2 * sum(k * k for k in range(1, width + 1)))


def _masked_stats(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean and standard deviation of ``x`` (n, d, t) over the frames of ``mask``
    (n, t), shape (n, 2 * d); zeros where no frame is active."""
    weights = mask.to(x.dtype).unsqueeze(1)
    count = weights.sum(dim=-1).clamp_min(1.0)
    mean = (x * weights).sum(dim=-1) / count
    var = (((x - mean.unsqueeze(-1)) ** 2) * weights).sum(dim=-1) / count
    return torch.cat([mean, var.sqrt()], dim=1)


def mfcc_features(windows: torch.Tensor) -> torch.Tensor:
    """The statistics vector of each 16 kHz window, shape ``(n, dim)``."""
    power = power_spectrogram(windows.float(), _N_FFT, _HOP)
    filters = mel_filters(_N_MELS, _N_FFT, SAMPLE_RATE).to(power.device)
    mel = torch.einsum("nft,fm->nmt", power, filters)
    log_mel = torch.log(mel.clamp_min(_FLOOR))
    mfcc = torch.einsum("nmt,mk->nkt", log_mel, _dct_matrix(_N_MELS, _N_MFCC))
    delta = _deltas(mfcc)

    energy = 10.0 * torch.log10(power.sum(dim=1).clamp_min(_FLOOR))  # (n, t)
    loudest = energy.amax(dim=1, keepdim=True)
    active = (energy > loudest - _ACTIVE_DB) & (energy > 10.0 * np.log10(_FLOOR) + 1)

    parts = [
        _masked_stats(mfcc, active),
        _masked_stats(delta, active),
        _masked_stats(log_mel, active),
    ]
    # The active span, first to last active frame, in equal thirds.
    frames = torch.arange(active.shape[1], device=active.device).expand_as(active)
    big = active.shape[1]
    first = torch.where(active, frames, big).amin(dim=1, keepdim=True)
    last = torch.where(active, frames, -1).amax(dim=1, keepdim=True)
    span = (last - first + 1).clamp_min(1)
    segment = ((frames - first) * _SEGMENTS) // span
    for s in range(_SEGMENTS):
        inside = active & (segment == s)
        parts.append(_masked_stats(mfcc, inside)[:, :_N_MFCC])
    seconds = (last - first + 1).clamp_min(0).float() * _HOP / SAMPLE_RATE
    parts.append(seconds)
    out = torch.cat(parts, dim=1)
    silent = ~active.any(dim=1, keepdim=True)
    return torch.where(silent, torch.zeros_like(out), out)


_DIM = 2 * _N_MFCC + 2 * _N_MFCC + 2 * _N_MELS + _SEGMENTS * _N_MFCC + 1


@dataclass(eq=False)
class MfccModel(LoadedModel):
    """The MFCC statistics "model": a function, nothing to load or save."""

    backend: ClassVar[str] = "mfcc"
    sample_rate: int = SAMPLE_RATE

    @property
    def torch_module(self) -> torch.nn.Module:
        raise TypeError("the mfcc backend has no torch module (no weights to tune)")

    def _compute_digest(self) -> str:
        return hashlib.sha256(_VERSION.encode()).hexdigest()

    def forward(
        self, windows: torch.Tensor, batch_size: int, precision: str
    ) -> np.ndarray:
        """The statistics of ``windows`` (16 kHz), in chunks of ``batch_size``,
        as float32 numpy (always computed in float32: ``precision`` is unused)."""
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(windows), batch_size):
                chunk = windows[start : start + batch_size].to(self.device)
                outputs.append(mfcc_features(chunk).cpu())
        return torch.cat(outputs).numpy()

    def _export(self) -> dict[str, Any]:
        return {"backend": self.backend, "version": _VERSION}


class MfccBackend:
    """MFCC and log-mel statistics (``AudioEncoder(model="mfcc")``).

    Parameters
    ----------
    device : str
        A resolved torch device.
    """

    name = "mfcc"

    def __init__(self, device: str):
        self.device = device

    def key(self) -> tuple:
        return ("mfcc", _VERSION, self.device)

    def load(self) -> MfccModel:
        return get_or_load(self.key(), lambda: MfccModel(_DIM, self.device))

    def restore(self, saved: dict[str, Any]) -> MfccModel:
        check_saved(saved, self.name)
        if saved.get("version") != _VERSION:
            raise ValueError(
                f"the saved mfcc features are version {saved.get('version')!r}, this "
                f"skmm computes {_VERSION!r}; fit the pipeline again and save it"
            )
        return self.load()
