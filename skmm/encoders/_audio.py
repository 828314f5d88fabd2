"""AudioEncoder: spectrogram CNNs (timm) or speech models (transformers)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch.utils.data import DataLoader, Dataset

from skmm._progress import progress_bar
from skmm._torch import resolve_num_workers
from skmm.encoders._backends import (
    AisfxBackend,
    MfccBackend,
    TimmBackend,
    TimmModel,
    TransformersAudioBackend,
    is_timm_model,
)
from skmm.encoders._backends._mel import mel_filters, power_spectrogram
from skmm.encoders._base import NUM_WORKERS, BaseEncoder, positive
from skmm.encoders._pooling import encode_stacks
from skmm.exceptions import DecodeError
from skmm.io import check_audio, decode_audio, resample_audio

__all__ = ["AudioEncoder", "log_mel_spectrogram"]

# The spectrogram of the timm backend: 16 kHz, 25 ms windows every 10 ms, 128 mel
# bands up to 8 kHz, in dB over an 80 dB range (AudioSet / AST conventions).
_SPEC_RATE = 16_000
_N_FFT = 400
_HOP = 160
_TOP_DB = 80.0
_LONG_CLIPS = ("windows", "crop")
# Spectrograms are resized to the model's input size: the batch sizes of images.
_AUTO_BATCH_SIZE = {"cpu": 4, "cuda": 64, "mps": 32}
# Windows per batch of the backends that are not timm's.
_AUTO_BATCH_SIZES = {
    "mfcc": {"cpu": 64, "cuda": 256, "mps": 256},
    "aisfx": {"cpu": 8, "cuda": 64, "mps": 32},
    "transformers": _AUTO_BATCH_SIZE,
}
# Backends named by ``model``: no weights to fetch (mfcc) or a wheel's (aisfx).
_NAMED_BACKENDS = ("mfcc", "aisfx")


def log_mel_spectrogram(
    waves: torch.Tensor, n_mels: int = 128, sample_rate: int = _SPEC_RATE
) -> torch.Tensor:
    """Log-mel spectrograms scaled to [0, 1], one per waveform.

    Power spectrogram (25 ms Hann windows every 10 ms at 16 kHz), ``n_mels``
    triangular mel bands, decibels over the top 80 dB of each waveform mapped to
    [0, 1] (1 is the loudest bin). Silence (all zeros) maps to 0. Low frequencies
    are at the bottom row, as in a picture of a spectrogram.

    Parameters
    ----------
    waves : Tensor of shape (n, n_samples), float32
        Waveforms of equal length.
    n_mels : int, default=128
        Mel bands (image height).
    sample_rate : int, default=16000
        Sample rate of ``waves``.

    Returns
    -------
    spectrograms : Tensor of shape (n, n_mels, 1 + n_samples // hop), float32

    Examples
    --------
    >>> import torch
    >>> from skmm.encoders._audio import log_mel_spectrogram
    >>> spec = log_mel_spectrogram(torch.zeros(2, 16000))
    >>> tuple(spec.shape), float(spec.max())
    ((2, 128, 101), 0.0)
    """
    n_fft = round(_N_FFT * sample_rate / _SPEC_RATE)
    hop = round(_HOP * sample_rate / _SPEC_RATE)
    power = power_spectrogram(waves, n_fft, hop)
    filters = mel_filters(n_mels, n_fft, sample_rate).to(waves.device)
    mel = torch.einsum("nft,fm->nmt", power, filters)
    db = 10.0 * torch.log10(mel.clamp_min(1e-10))
    top = db.amax(dim=(1, 2), keepdim=True)
    scaled = ((db - top + _TOP_DB) / _TOP_DB).clamp_min(0.0)
    scaled = torch.where(top > -100.0 + 1e-3, scaled, torch.zeros_like(scaled))
    return scaled.flip(1)


def _windows(wave: np.ndarray, length: int, long_clips: str) -> np.ndarray:
    """Cut a waveform into windows of ``length`` samples, the last padded with
    silence; "crop" keeps the first window only."""
    count = max(1, math.ceil(len(wave) / length))
    if long_clips == "crop":
        count = 1
    out = np.zeros((count, length), dtype=np.float32)
    flat = out.reshape(-1)
    n = min(len(wave), len(flat))
    flat[:n] = wave[:n]
    return out


class _AudioDataset(Dataset):
    """Decodes, resamples and windows one clip per item; errors are returned, not
    raised, so that DataLoader workers report them to the encoder."""

    def __init__(self, values, sample_rate, target_rate, length, long_clips):
        self.values = values
        self.sample_rate = sample_rate
        self.target_rate = target_rate
        self.length = length
        self.long_clips = long_clips

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int):
        try:
            # "crop" reads only the first window's worth (a 6 h file costs 2 s),
            # with a margin for the resampling filter.
            limit = None
            if self.long_clips == "crop":
                limit = self.length / self.target_rate + 0.05
            wave, rate = decode_audio(self.values[index], self.sample_rate, limit)
            wave = resample_audio(wave, rate, self.target_rate)
            windows = _windows(wave, self.length, self.long_clips)
            return index, torch.from_numpy(windows), None
        except DecodeError as exc:
            return index, None, str(exc)


class AudioEncoder(BaseEncoder):
    """Encode audio clips with classical features or a frozen, pretrained model.

    Four backends, chosen by ``model``:

    - ``"mfcc"`` (the default): classical speech features, no weights. Each window
      (16 kHz) gives 20 MFCCs and their deltas (25 ms / 10 ms frames, 40 HTK mel
      bands); the vector (221 values) holds the mean and standard deviation of the
      MFCCs, the deltas and the 40 log-mel bands over the window's active frames
      (within 50 dB of its loudest, so the silence a clip is padded with does not
      count), the mean MFCCs of each third of the active span, and its length in
      seconds. A silent window is the zero vector. Measured on FSDD
      (``benchmarks/audio_quality.py``: 30 training clips per digit, 2 s windows,
      standardised logistic regression): 0.94 accuracy at about 190 clips per
      second on one core, against 0.69 at 9 clips per second for EfficientNet-Lite0.
    - ``"aisfx"``: the aiSFX CNN (Ma and Lerch, ISMIR 2022; 4.7 M parameters,
      512-d, trained on sound-effect libraries; CC BY 4.0), whose weights ship in
      the ``aisfx`` wheel (``pip install --no-deps 'aisfx>=0.1.2,<0.2'``; skmm
      reads only its checkpoint). 44.1 kHz windows, each scaled to a peak of 1,
      96-band log-mel spectrograms (2048 / 1024 samples) as the package computes
      them; the embedding is the max over time of the last block's mean over
      frequency. ``pretrained=False`` gives random weights without the package.
    - a **timm image model** (e.g. ``"tf_efficientnet_lite0"``): each clip becomes
      a log-mel spectrogram (16 kHz, 25 ms windows every 10 ms, ``n_mels`` bands,
      the top 80 dB mapped to [0, 1]), resized (bilinear) to the model's input
      size from its timm data config (224 x 224 for EfficientNet-Lite0), repeated
      on three channels and normalised with the model's own mean and std.
      ImageNet-pretrained CNNs transfer well to spectrograms (Palanisamy et al.
      2020, "Rethinking CNN models for audio classification"). Measured on FSDD
      (linear probe, 1,000 training clips, EfficientNet-Lite0): 0.82 accuracy
      resized to 224 x 224, against 0.72 at the native 128 x 101 (1 s windows), for
      3.5 times the compute.
    - a **Hugging Face audio model** (wav2vec2, HuBERT, AST... anything
      ``transformers.AutoModel`` and ``AutoFeatureExtractor`` load), given as a
      local directory or a hub name: the waveform goes through the model's feature
      extractor at the model's sample rate; the vector is the model's pooled output,
      or the mean of its last hidden states.

    Every clip is resampled to the model's rate and cut into windows of
    ``max_seconds``: a shorter clip (or the last window) is padded with silence, so
    that a clip's vector never depends on the other clips of its batch. A clip longer
    than ``max_seconds`` gives several windows whose vectors are averaged
    (``long_clips="windows"``), or only its first ``max_seconds`` are used
    (``long_clips="crop"``). Multichannel audio is mixed down to mono.

    A silent or empty clip is a value (it encodes as silence), not an error; a file
    that cannot be decoded or whose audio data is cut short is a bad value.

    Parameters
    ----------
    model : str, default="mfcc"
        ``"mfcc"``, ``"aisfx"``, a timm model name (spectrogram backend), or a local
        directory or hub name of
        a transformers audio model.
    pretrained : bool or str or os.PathLike, default=True
        True: the pretrained weights (timm or the hub; downloaded on first use
        unless local). False: random weights, the same in every process. A path: a
        local weights file in the timm model's layout (timm backend only).
        ``"mfcc"`` has no weights and ignores it; for ``"aisfx"``, True reads the
        installed aisfx wheel's checkpoint.
    sample_rate : int or None, default=None
        Sample rate (Hz) of waveform arrays; files carry their own. Needed when X
        holds arrays.
    max_seconds : float, default=2.0
        Length of one window: clips are padded or cut to a whole number of windows.
        Each window becomes one model input, so a long clip costs one forward pass
        per window (measured on FSDD: 1 s and 2 s windows scored the same).
    long_clips : {"windows", "crop"}, default="windows"
        A clip longer than ``max_seconds``: the mean over its windows, or its start.
        "windows" holds all of a clip's windows in memory at the model's rate (4
        bytes a sample: 1.4 GB for 6 hours at 16 kHz, 3.8 GB at aisfx's 44.1 kHz)
        and runs one forward pass per window; "crop" decodes only the first
        ``max_seconds`` of a file or array, so a clip of any length costs one
        window: use it when recordings may be hours long.
    n_mels : int, default=128
        Mel bands of the spectrogram (timm backend).
    batch_size : int or "auto", default="auto"
        Windows per forward pass; "auto": 4 on CPU, 64 on CUDA, 32 on MPS. On a
        device out-of-memory error the batch is halved and retried.
    device : str, default="auto"
        "auto" (CUDA, then MPS, then CPU), or any torch device string.
    num_workers : int or "auto", default="auto"
        DataLoader worker processes that decode while the model runs; "auto": none
        on CPU and MPS, up to 4 on CUDA.
    precision : {"auto", "fp32", "fp16", "bf16"}, default="auto"
        Autocast precision of the forward pass (bf16/fp16 on CUDA under "auto").
    cache : str, os.PathLike, EmbeddingCache, MemoryCache, False or None
        An embedding cache: a clip already encoded with the same model and settings
        is looked up by its content. None uses :func:`skmm.set_config`'s default
        (the process's in-memory store unless set); False uses no cache.
    on_error : {"raise", "missing"}, default="raise"
        What a bad value does: raise a ``ValueError`` naming column, row and value,
        or count as missing (one ``UnreadableValuesWarning`` per call lists them).
    save_weights : bool, default=True
        Store the weights in the pickle (a saved model works offline).
    verbose : bool or None, default=None
        The progress bar while encoding (on stderr): None follows
        :func:`skmm.set_config`'s ``progress`` (by default, a bar for more than
        a few hundred items or a few seconds), True always shows it, False never.

    Attributes
    ----------
    embedding_dim_ : int
        Width of the vector of one clip.
    backend_ : {"mfcc", "aisfx", "timm", "transformers"}
        The backend in use.
    model_sample_rate_ : int
        The sample rate the model reads (16000 for mfcc and the spectrogram
        backend, 44100 for aisfx).
    batch_size_, num_workers_ : int
        The batch size and decoding workers in use.
    device_, precision_ : str
        The device and precision in use.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` had them.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm import AudioEncoder
    >>> t = np.arange(8000) / 8000
    >>> clips = [np.sin(2 * np.pi * 440 * t), np.zeros(4000), None]
    >>> enc = AudioEncoder(sample_rate=8000, max_seconds=1.0, device="cpu")
    >>> X = enc.fit_transform(clips)
    >>> X.shape, bool(np.isnan(X[2]).all()), bool((X[1] == 0).all())
    ((3, 221), True, True)
    """

    modality = "audio"
    _str_is_path = True
    _parameter_constraints: ClassVar[dict] = {
        **BaseEncoder._parameter_constraints,
        **TimmBackend.parameter_constraints,
        "model": [str, os.PathLike],
        "num_workers": NUM_WORKERS,
        "sample_rate": [positive(Real), None],
        "max_seconds": [positive(Real)],
        "long_clips": [StrOptions(set(_LONG_CLIPS))],
        "n_mels": [Interval(Integral, 8, None, closed="left")],
    }

    def __init__(
        self,
        model: str = "mfcc",
        *,
        pretrained: bool | str | os.PathLike = True,
        sample_rate: int | None = None,
        max_seconds: float = 2.0,
        long_clips: str = "windows",
        n_mels: int = 128,
        batch_size: int | str = "auto",
        device: str = "auto",
        num_workers: int | str = "auto",
        precision: str = "auto",
        cache: Any = None,
        on_error: str = "raise",
        save_weights: bool = True,
        verbose: bool | None = None,
    ):
        self.model = model
        self.pretrained = pretrained
        self.sample_rate = sample_rate
        self.max_seconds = max_seconds
        self.long_clips = long_clips
        self.n_mels = n_mels
        self.batch_size = batch_size
        self.device = device
        self.num_workers = num_workers
        self.precision = precision
        self.cache = cache
        self.on_error = on_error
        self.save_weights = save_weights
        self.verbose = verbose

    # -- backend ----------------------------------------------------------------
    def _backend_kind(self) -> str:
        model = str(self.model)
        if model in _NAMED_BACKENDS:
            return model
        if Path(model).is_dir():
            return "transformers"
        if is_timm_model(model):
            return "timm"
        if "/" in model:
            return "transformers"
        raise ValueError(
            f"model={self.model!r} is neither a timm model name nor a local "
            "directory or hub name ('org/name') of a transformers audio model"
        )

    def _make_backend(self):
        kind = self._backend_kind()
        if kind == "timm":
            # The backend of an ImageEncoder with the same model: one loaded model.
            return TimmBackend(self.model, self.pretrained, self.device_)
        if kind == "mfcc":
            return MfccBackend(self.device_)
        if kind == "aisfx":
            return AisfxBackend(self.pretrained, self.device_)
        return TransformersAudioBackend(self.model, self.pretrained, self.device_)

    # -- fitted metadata -------------------------------------------------------
    def _set_fitted_metadata(self) -> None:
        super()._set_fitted_metadata()
        entry = self.model_
        self.backend_ = entry.backend
        if isinstance(entry, TimmModel):
            self.model_sample_rate_ = _SPEC_RATE
            self.data_config_ = dict(entry.data_config)
            self.batch_size_ = self._batch_size(_AUTO_BATCH_SIZE)
        else:
            self.model_sample_rate_ = entry.sample_rate
            self.batch_size_ = self._batch_size(_AUTO_BATCH_SIZES[entry.backend])
        self.num_workers_ = resolve_num_workers(self.num_workers, self.device_)

    def _check_params(self) -> None:
        kind = self._backend_kind()
        if not isinstance(self.pretrained, bool) and kind != "timm":
            raise ValueError(
                f"pretrained must be True or False for a {kind} model; a weights "
                "file is for timm models (put a transformers model's local weights "
                "in a directory and pass it as model=)"
            )

    # -- cache ------------------------------------------------------------------
    def _output_params(self) -> dict[str, Any]:
        params = {
            "model": str(self.model),
            "backend": self.backend_,
            "sample_rate": self.sample_rate,
            "max_seconds": float(self.max_seconds),
            "long_clips": self.long_clips,
        }
        if self.backend_ == "timm":
            params.update(n_mels=self.n_mels, data_config=self.data_config_)
        return params

    # -- encoding -----------------------------------------------------------------
    def _check_value(self, value: Any) -> str | None:
        reason = check_audio(value)
        if reason is None and isinstance(value, np.ndarray) and not self.sample_rate:
            return "a waveform array needs the encoder's sample_rate parameter"
        return reason

    def _encode(
        self, values: list, fail: Callable[[int, str], None]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rate = self.model_sample_rate_
        length = max(1, round(float(self.max_seconds) * rate))
        dataset = _AudioDataset(values, self.sample_rate, rate, length, self.long_clips)
        loader = DataLoader(
            dataset,
            batch_size=None,
            num_workers=self.num_workers_,
            # A local generator: the loader must not draw from the global RNG.
            generator=torch.Generator(),
        )
        if self.backend_ == "timm":
            entry: TimmModel = self.model_

            def forward(windows: torch.Tensor) -> np.ndarray:
                return entry.forward(
                    windows, self.batch_size_, self.precision_, self._spectrograms
                )
        else:

            def forward(windows: torch.Tensor) -> np.ndarray:
                return self.model_.forward(windows, self.batch_size_, self.precision_)

        with progress_bar(len(values), type(self).__name__, self.verbose) as progress:
            yield from encode_stacks(
                loader,
                lambda windows: self._retry_on_oom(lambda: forward(windows)),
                lambda: self.batch_size_,
                "mean",
                fail,
                progress,
            )

    def _spectrograms(self, windows: torch.Tensor) -> torch.Tensor:
        """Waveforms (on the device) as the timm model's input images: log-mel
        spectrograms resized to its input size, on three channels, normalised."""
        config = self.data_config_
        mean = torch.tensor(config["mean"]).view(1, 3, 1, 1)
        std = torch.tensor(config["std"]).view(1, 3, 1, 1)
        size_hw = tuple(int(v) for v in config["input_size"][1:])
        spec = log_mel_spectrogram(windows, self.n_mels).unsqueeze(1)
        # The model sees each window at the size it was trained at.
        spec = torch.nn.functional.interpolate(
            spec, size=size_hw, mode="bilinear", align_corners=False
        )
        return (spec.expand(-1, 3, -1, -1) - mean.to(spec)) / std.to(spec)
