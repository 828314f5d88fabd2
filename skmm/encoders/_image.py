"""ImageEncoder: a frozen timm backbone as a scikit-learn transformer."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions
from torch.utils.data import DataLoader, Dataset

from skmm._torch import autocast, seeded
from skmm.cache._keys import weights_digest
from skmm.encoders._base import BaseEncoder, NumberInterval
from skmm.encoders._registry import get_or_load
from skmm.exceptions import DecodeError
from skmm.io import check_image, decode_image

__all__ = ["ImageEncoder"]

# Measured on a 2-core CPU with EfficientNet-Lite0 at 224 px, forward only: batch 4
# ran 66 img/s, batch 8 55, batch 16 51, batch 32 27. GPUs want large batches.
_AUTO_BATCH_SIZE = {"cpu": 4, "cuda": 64, "mps": 32}


def _auto_num_workers(device_type: str) -> int:
    """Decoding workers for ``num_workers="auto"``.

    None on a CPU: the model's forward pass already keeps every core busy (on 2
    cores, one decoding worker slowed EfficientNet-Lite0 down). Up to 4 on CUDA,
    where the CPU would otherwise leave the GPU waiting.
    """
    if device_type != "cuda":
        return 0
    return max(0, min(4, (os.cpu_count() or 1) - 1))


# The parameters of the encoders that read through a timm model (image, video and
# the spectrogram backend of audio) and decode in DataLoader workers.
TIMM_CONSTRAINTS: dict[str, list] = {
    "pretrained": ["boolean", str, os.PathLike],
    "num_workers": [
        NumberInterval(Integral, 0, None, closed="left"),
        StrOptions({"auto"}),
    ],
}

# An image wider (or taller) than this many times the model's input aspect ratio
# does not go through timm's resize-then-crop: resizing the short side of a
# 15000 x 1 image to 256 pixels makes a 256 x 3.84-million strip (3.9 GB measured)
# of which the centre crop keeps 224 x 224. Such an image is resized straight into
# the crop instead (the same pixels: PIL resamples only the box the crop covers).
_MAX_ASPECT = 4.0


class _BoundedTransform:
    """timm's eval transform, with bounded memory for images of extreme aspect ratio.

    Images within ``_MAX_ASPECT`` times the input's aspect ratio (every usual photo,
    panoramas up to 4:1 for a square input) go through timm's transform untouched.
    Beyond, with timm's default "center" crop, the resize and the centre crop are
    done in one step that computes only the crop's pixels: the same result as
    timm's, at the memory of the crop. A transform of another shape gets the image
    cut first to the centre part that its centre crop keeps.
    """

    def __init__(self, transform: Callable, data_config: dict):
        self.transform = transform
        self.center = data_config.get("crop_mode") in (None, "center")
        _, height, width = data_config["input_size"]
        self.max_aspect = _MAX_ASPECT * max(height, width) / min(height, width)
        steps = list(getattr(transform, "transforms", []))
        self.fused = _fused_resize_crop(steps[:2])
        self.rest = steps[2:]

    def __call__(self, image):
        width, height = image.size
        if not self.center or max(width, height) <= self.max_aspect * max(
            1, min(width, height)
        ):
            return self.transform(image)
        if self.fused is None:
            return self.transform(_cut_to_aspect(image, self.max_aspect))
        image = self.fused(image)
        for step in self.rest:
            image = step(image)
        return image


def _fused_resize_crop(steps: list) -> Callable | None:
    """torchvision's ``Resize(short side)`` then ``CenterCrop``, as one PIL resize of
    the box the crop covers; None when ``steps`` are not these two."""
    from PIL import Image
    from torchvision import transforms

    if len(steps) != 2:
        return None
    resize, crop = steps
    if not (
        isinstance(resize, transforms.Resize)
        and isinstance(crop, transforms.CenterCrop)
    ):
        return None
    size = resize.size
    size = size[0] if isinstance(size, (list, tuple)) and len(size) == 1 else size
    resample = getattr(Image.Resampling, resize.interpolation.name, None)
    if not isinstance(size, int) or resize.max_size is not None or resample is None:
        return None
    crop_height, crop_width = crop.size

    def fused(image):
        width, height = image.size
        short, long = sorted((width, height))
        new_short, new_long = size, int(size * long / short)
        new_w, new_h = (
            (new_short, new_long) if width <= height else (new_long, new_short)
        )
        if crop_width > new_w or crop_height > new_h:
            return crop(resize(image))
        top = int(round((new_h - crop_height) / 2.0))
        left = int(round((new_w - crop_width) / 2.0))
        sx, sy = width / new_w, height / new_h
        box = (left * sx, top * sy, (left + crop_width) * sx, (top + crop_height) * sy)
        return image.resize((crop_width, crop_height), resample, box=box)

    return fused


def _cut_to_aspect(image, max_aspect: float):
    """The centre of a PIL ``image``, at most ``max_aspect`` times longer than its
    short side."""
    width, height = image.size
    long_max = int(np.ceil(max_aspect * max(1, min(width, height))))
    if width > long_max:
        left = (width - long_max) // 2
        return image.crop((left, 0, left + long_max, height))
    if height > long_max:
        top = (height - long_max) // 2
        return image.crop((0, top, width, top + long_max))
    return image


@dataclass
class _TimmModel:
    """A loaded timm backbone with what is needed to feed it."""

    module: torch.nn.Module
    data_config: dict
    transform: Callable
    dim: int
    channels_last: bool


def _finish(
    module: torch.nn.Module, device: str, data_config: dict | None = None
) -> _TimmModel:
    import timm.data

    module.eval().requires_grad_(False)
    channels_last = any(isinstance(m, torch.nn.Conv2d) for m in module.modules())
    module.to(device)
    if channels_last:
        module.to(memory_format=torch.channels_last)
    if data_config is None:
        data_config = timm.data.resolve_data_config({}, model=module)
    transform = _BoundedTransform(
        timm.data.create_transform(**data_config, is_training=False), data_config
    )
    with torch.inference_mode():
        probe = torch.zeros((1, *data_config["input_size"]), device=device)
        dim = int(module(probe).shape[-1])
    return _TimmModel(module, data_config, transform, dim, channels_last)


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
        True: timm's pretrained weights (downloaded from the Hugging Face hub on
        first use). False: random weights, the same in every process (seed 0). A path:
        a local weights file in the model's timm layout (``.safetensors``, ``.pth``).
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
    cache : str, os.PathLike, EmbeddingCache, False or None, default=None
        An embedding cache (a directory or a :class:`~skmm.cache.EmbeddingCache`):
        an image already encoded by the same model and preprocessing is looked up
        by its content instead of decoded and encoded. None uses the default of
        :func:`skmm.set_config` (no cache unless set); False uses no cache.
    on_error : {"raise", "missing"}, default="raise"
        What a bad value (missing file, undecodable file, wrong type) does: raise a
        ``ValueError`` naming column, row and value, or count as missing (one
        ``UnreadableValuesWarning`` per call lists them).
    save_weights : bool, default=True
        Store the weights in the pickle, so that a saved model works offline and on
        another machine. False stores only the model name and reloads it.
    verbose : bool, default=False
        Show a progress bar while encoding.

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
        **TIMM_CONSTRAINTS,
        "model": [str],
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
        verbose: bool = False,
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

    def _weights_source(self) -> tuple:
        if isinstance(self.pretrained, bool):
            return ("timm", self.pretrained)
        path = Path(self.pretrained)
        if not path.is_file():
            raise ValueError(f"pretrained={str(self.pretrained)!r}: no such file")
        stat = path.stat()
        return ("file", str(path.resolve()), stat.st_size, stat.st_mtime_ns)

    def _registry_key(self) -> tuple:
        return ("timm", self.model, self._weights_source(), self.device_)

    def _load(self) -> _TimmModel:
        import timm

        kwargs: dict[str, Any] = {"num_classes": 0}
        if isinstance(self.pretrained, bool):
            kwargs["pretrained"] = self.pretrained
        else:
            kwargs["pretrained"] = True
            kwargs["pretrained_cfg_overlay"] = {"file": str(self.pretrained)}
        try:
            if kwargs["pretrained"]:
                module = timm.create_model(self.model, **kwargs)
            else:
                # Same random weights in every process (GridSearchCV workers agree).
                with seeded(0):
                    module = timm.create_model(self.model, **kwargs)
        except RuntimeError as exc:
            if str(exc).startswith("Unknown model"):
                raise ValueError(
                    f"unknown timm model {self.model!r} (timm.list_models() lists "
                    "the names)"
                ) from exc
            raise
        except OSError as exc:  # the hub unreachable, the weights not cached
            raise OSError(
                f"cannot load the pretrained weights of timm model {self.model!r}: "
                f"{exc} -- without network access, pass pretrained=PATH (a local "
                "weights file; skmm fit: --image-weights PATH), or pretrained=False "
                "for random weights"
            ) from exc
        return _finish(module, self.device_)

    def _set_fitted_metadata(self) -> None:
        super()._set_fitted_metadata()
        self.data_config_ = dict(self.model_.data_config)
        self.batch_size_ = self._batch_size(_AUTO_BATCH_SIZE)
        if self.num_workers == "auto":
            self.num_workers_ = _auto_num_workers(torch.device(self.device_).type)
        else:
            self.num_workers_ = int(self.num_workers)

    def _weights_digest(self) -> str:
        return weights_digest(self.model_.module)

    def _output_params(self) -> dict[str, Any]:
        return {"model": self.model, "data_config": self.data_config_}

    def _check_value(self, value: Any) -> str | None:
        return check_image(value)

    def _encode(
        self, values: list, fail: Callable[[int, str], None]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        from tqdm.auto import tqdm

        entry: _TimmModel = self.model_
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
        memory_format = (
            torch.channels_last if entry.channels_last else torch.contiguous_format
        )
        with tqdm(
            total=len(values), desc=type(self).__name__, disable=not self.verbose
        ) as progress:
            for positions, tensors, errors in loader:
                for position, reason in errors:
                    fail(position, reason)
                if tensors is not None:
                    # Pinned memory (the loader's pin_memory) makes this copy
                    # asynchronous on CUDA.
                    batch = tensors.to(
                        self.device_, non_blocking=on_gpu, memory_format=memory_format
                    )
                    vectors = self._retry_on_oom(lambda b=batch: self._forward(b))
                    yield positions.numpy(), vectors
                progress.update(len(positions) + len(errors))

    def _forward(self, batch: torch.Tensor) -> np.ndarray:
        """The model on ``batch``, in chunks of ``batch_size_`` (which may have been
        lowered after an out-of-memory error), as float32 numpy."""
        module = self.model_.module
        size = self.batch_size_
        outputs = []
        with torch.inference_mode(), autocast(self.device_, self.precision_):
            for start in range(0, len(batch), size):
                outputs.append(module(batch[start : start + size]).float().cpu())
        return torch.cat(outputs).numpy()

    def _export_weights(self) -> bytes:
        state = {
            k: v.detach().cpu() for k, v in self.model_.module.state_dict().items()
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue()

    def _import_weights(self, saved: bytes) -> _TimmModel:
        def load() -> _TimmModel:
            import timm

            module = timm.create_model(self.model, pretrained=False, num_classes=0)
            state = torch.load(io.BytesIO(saved), map_location="cpu", weights_only=True)
            module.load_state_dict(state)
            return _finish(module, self.device_, self.data_config_)

        digest = hashlib.sha256(saved).hexdigest()
        return get_or_load(("timm", self.model, ("saved", digest), self.device_), load)
