"""VideoEncoder: frames sampled from a video, through an image model, pooled."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions
from torch.utils.data import DataLoader, Dataset

from skmm._progress import progress_bar
from skmm._torch import resolve_num_workers
from skmm.encoders._backends import TimmBackend, TimmModel
from skmm.encoders._base import NUM_WORKERS, BaseEncoder, positive
from skmm.encoders._pooling import POOLS, encode_stacks
from skmm.exceptions import DecodeError
from skmm.io import check_video, decode_image, decode_video

__all__ = ["VideoEncoder"]


class _VideoDataset(Dataset):
    """Decodes one video per item into a stack of preprocessed frames; errors are
    returned, not raised, so that DataLoader workers report them."""

    def __init__(self, values, transform, n_frames, fps):
        self.values = values
        self.transform = transform
        self.n_frames = n_frames
        self.fps = fps

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int):
        try:
            # Each sampled frame once: n_frames beyond the frames a clip has costs
            # nothing more than the clip's own frames.
            frames = decode_video(
                self.values[index], self.n_frames, self.fps, distinct=True
            )
            stack = torch.stack([self.transform(decode_image(f)) for f in frames])
            return index, stack, None
        except DecodeError as exc:
            return index, None, str(exc)


# Frames per forward pass: the batch sizes of images.
_AUTO_BATCH_SIZE = {"cpu": 4, "cuda": 64, "mps": 32}


class VideoEncoder(BaseEncoder):
    """Encode videos: frames sampled uniformly, a frozen image model, pooled over time.

    ``n_frames`` frames are sampled at the centres of equal segments of each video
    (or one every ``1 / fps`` seconds), decoded with PyAV (``pip install
    'skmm[video]'``), and each goes through the image model exactly as an
    :class:`ImageEncoder` with the same ``model`` and ``pretrained`` sees an image
    (same loading, same preprocessing, one shared loaded model). The frame vectors
    of a video are pooled over time. A video with no decodable frame is a bad value.

    Parameters
    ----------
    model : str, default="tf_efficientnet_lite0"
        A timm model name.
    pretrained : bool or str or os.PathLike, default=True
        True (timm's weights), False (random, the same in every process) or a local
        weights file, as for :class:`ImageEncoder`.
    n_frames : int, default=8
        Frames sampled per video (ignored when ``fps`` is given). A frame that
        several samples land on (a clip with fewer frames than ``n_frames``) is
        encoded and pooled once: asking for more frames than a clip has costs no
        more than its frames.
    fps : float or None, default=None
        Sample this many frames per second of video instead (at least one frame).
    pool : {"mean", "max", "meanmax"}, default="mean"
        Pooling over time: the mean, the max, or both concatenated (twice as wide).
    batch_size : int or "auto", default="auto"
        Frames per forward pass; "auto" as for :class:`ImageEncoder`.
    device : str, default="auto"
        "auto" (CUDA, then MPS, then CPU), or any torch device string.
    num_workers : int or "auto", default="auto"
        DataLoader worker processes that decode videos while the model runs.
    precision : {"auto", "fp32", "fp16", "bf16"}, default="auto"
        Autocast precision of the forward pass.
    cache : str, os.PathLike, EmbeddingCache, MemoryCache, False or None
        An embedding cache: a video file already encoded with the same model and
        sampling is looked up by its content. None uses :func:`skmm.set_config`'s
        default (the process's in-memory store unless set); False uses no cache.
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
        Width of the vector of one video (twice the model's width for "meanmax").
    batch_size_, num_workers_ : int
        The batch size and decoding workers in use.
    device_, precision_ : str
        The device and precision in use.
    data_config_ : dict
        The frames' preprocessing (the model's timm data config).
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` had them.

    Examples
    --------
    >>> from skmm import VideoEncoder
    >>> enc = VideoEncoder("test_convnext", pretrained=False, n_frames=4,
    ...                    pool="meanmax", device="cpu")
    >>> enc.fit_transform([None]).shape  # a missing video gives a row of NaN
    (1, 128)
    """

    modality = "video"
    _str_is_path = True
    _parameter_constraints: ClassVar[dict] = {
        **BaseEncoder._parameter_constraints,
        **TimmBackend.parameter_constraints,
        "num_workers": NUM_WORKERS,
        "n_frames": [positive(Integral)],
        "fps": [positive(Real), None],
        "pool": [StrOptions(set(POOLS))],
    }

    def __init__(
        self,
        model: str = "tf_efficientnet_lite0",
        *,
        pretrained: bool | str | os.PathLike = True,
        n_frames: int = 8,
        fps: float | None = None,
        pool: str = "mean",
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
        self.n_frames = n_frames
        self.fps = fps
        self.pool = pool
        self.batch_size = batch_size
        self.device = device
        self.num_workers = num_workers
        self.precision = precision
        self.cache = cache
        self.on_error = on_error
        self.save_weights = save_weights
        self.verbose = verbose

    def _make_backend(self) -> TimmBackend:
        # The backend of an ImageEncoder with the same model: one loaded model.
        return TimmBackend(self.model, self.pretrained, self.device_)

    def _set_fitted_metadata(self) -> None:
        super()._set_fitted_metadata()
        if self.pool == "meanmax":
            self.embedding_dim_ = 2 * int(self.model_.dim)
        self.data_config_ = dict(self.model_.data_config)
        self.batch_size_ = self._batch_size(_AUTO_BATCH_SIZE)
        self.num_workers_ = resolve_num_workers(self.num_workers, self.device_)

    def _output_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "data_config": self.data_config_,
            "n_frames": None if self.fps is not None else int(self.n_frames),
            "fps": None if self.fps is None else float(self.fps),
            "pool": self.pool,
        }

    def _check_value(self, value: Any) -> str | None:
        return check_video(value)

    def transform(self, X):
        """Encode every video of every column: sample frames, encode them, pool.

        ``pool`` is read at each call: changed with ``set_params`` after ``fit``,
        it changes ``embedding_dim_`` (and the width of the output) without a new
        fit, as no model is reloaded.

        Parameters
        ----------
        X : DataFrame, Series, list or array, shape (n_samples,) or (n_samples, n_cols)
            Paths to video files (``str`` or ``os.PathLike``), missing values
            allowed, with the same columns as in ``fit``.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_columns * embedding_dim_), float32
            One pooled vector per video; a missing video (or, with
            ``on_error="missing"``, a bad one) gives a row of NaN.
        """
        # pool is a parameter: set_params(pool=...) after fit changes the width.
        if getattr(self, "model_", None) is not None:
            width = int(self.model_.dim)
            self.embedding_dim_ = 2 * width if self.pool == "meanmax" else width
        return super().transform(X)

    def _encode(
        self, values: list, fail: Callable[[int, str], None]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        entry: TimmModel = self.model_
        on_gpu = torch.device(self.device_).type == "cuda"
        fps = None if self.fps is None else float(self.fps)
        loader = DataLoader(
            _VideoDataset(values, entry.transform, int(self.n_frames), fps),
            batch_size=None,
            num_workers=getattr(self, "num_workers_", 0),
            pin_memory=on_gpu,
            generator=torch.Generator(),
        )

        def forward(frames: torch.Tensor) -> np.ndarray:
            batch = frames.to(
                self.device_, non_blocking=on_gpu, memory_format=entry.memory_format
            )
            return self._retry_on_oom(
                lambda: entry.forward(batch, self.batch_size_, self.precision_)
            )

        with progress_bar(len(values), type(self).__name__, self.verbose) as progress:
            yield from encode_stacks(
                loader, forward, lambda: self.batch_size_, self.pool, fail, progress
            )
