"""Mel filterbanks and power spectrograms in torch, shared by the audio backends."""

from __future__ import annotations

import functools

import numpy as np
import torch

__all__ = ["mel_filters", "power_spectrogram"]


@functools.lru_cache(maxsize=16)
def mel_filters(
    n_mels: int, n_fft: int, rate: int, unit_sum: bool = False
) -> torch.Tensor:
    """Triangular filters on the HTK mel scale from 0 Hz to ``rate / 2``, shape
    ``(n_fft // 2 + 1, n_mels)``; ``unit_sum``: each filter's weights sum to 1
    (librosa's ``norm=1``, Essentia's ``normalize="unit_sum"``)."""

    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    edges = hz(np.linspace(mel(0.0), mel(rate / 2), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    up = (freqs[:, None] - lower) / (centre - lower)
    down = (upper - freqs[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(up, down))
    if unit_sum:
        weights = weights / np.maximum(weights.sum(axis=0, keepdims=True), 1e-12)
    return torch.from_numpy(weights.astype(np.float32))


def power_spectrogram(waves: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """``|STFT|^2`` with a Hann window of ``n_fft`` samples every ``hop``, frames
    centred (zero padding at both ends): shape ``(n, n_fft // 2 + 1, frames)``."""
    window = torch.hann_window(n_fft, device=waves.device)
    stft = torch.stft(
        waves, n_fft, hop, window=window, center=True, pad_mode="constant",
        return_complex=True,
    )  # fmt: skip
    return stft.real**2 + stft.imag**2
