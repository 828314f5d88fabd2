"""The timm backend: image backbones (also read by the video and audio encoders)."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from skmm._torch import autocast, seeded
from skmm._weights import missing_timm_weights, offline_reason, weights_unavailable
from skmm.cache._keys import weights_digest
from skmm.encoders._backends._bundled import bundled_source, bundled_state_dict
from skmm.encoders._backends._common import LoadedModel, check_saved
from skmm.encoders._backends._hub import (
    cached_timm_weights,
    remember_timm_index,
    timm_weights_url,
)
from skmm.encoders._registry import get_or_load

__all__ = ["TimmBackend", "TimmModel", "is_timm_model"]


def is_timm_model(name: str) -> bool:
    """Whether ``name`` is a timm model name."""
    import timm

    return timm.is_model(name)


@dataclass(eq=False)
class TimmModel(LoadedModel):
    """A loaded timm backbone (``num_classes=0``: its pooled features) with what
    is needed to feed it: its data config and eval transform."""

    backend: ClassVar[str] = "timm"
    name: str
    module: torch.nn.Module
    data_config: dict
    transform: Callable
    channels_last: bool

    @property
    def torch_module(self) -> torch.nn.Module:
        return self.module

    @property
    def memory_format(self) -> torch.memory_format:
        """The memory format the model's inputs should have."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def _compute_digest(self) -> str:
        return weights_digest(self.module)

    def forward(
        self,
        inputs: torch.Tensor,
        batch_size: int,
        precision: str,
        prepare: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> np.ndarray:
        """The model on ``inputs``, in chunks of ``batch_size``, as float32 numpy.

        ``prepare`` (on the device, under autocast) turns a chunk into the
        model's input (the audio encoder's spectrograms); without it ``inputs``
        are the model's input, on the device already.
        """
        outputs = []
        with torch.inference_mode(), autocast(self.device, precision):
            for start in range(0, len(inputs), batch_size):
                chunk = inputs[start : start + batch_size]
                if prepare is not None:
                    chunk = prepare(chunk.to(self.device))
                    chunk = chunk.contiguous(memory_format=self.memory_format)
                outputs.append(self.module(chunk).float().cpu())
        return torch.cat(outputs).numpy()

    def with_module(self, module: torch.nn.Module) -> TimmModel:
        """This model with other weights: ``module`` (the same architecture, e.g.
        a fine-tuned copy of ``torch_module``), frozen and on this device.

        The result is not in the registry; its weights digest is computed from
        ``module``, so an encoder that holds it gets another cache fingerprint.
        """
        module.eval().requires_grad_(False).to(self.device)
        if self.channels_last:
            module.to(memory_format=torch.channels_last)
        return TimmModel(
            self.dim,
            self.device,
            self.name,
            module,
            dict(self.data_config),
            self.transform,
            self.channels_last,
        )

    def _export(self) -> dict[str, Any]:
        state = {k: v.detach().cpu() for k, v in self.module.state_dict().items()}
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return {
            "backend": self.backend,
            "weights": buffer.getvalue(),
            "data_config": dict(self.data_config),
        }


def _finish(
    name: str, module: torch.nn.Module, device: str, data_config: dict | None = None
) -> TimmModel:
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
    return TimmModel(dim, device, name, module, data_config, transform, channels_last)


class TimmBackend:
    """A timm model by name, with timm's weights, random ones or a local file.

    Parameters
    ----------
    model : str
        A timm model name.
    pretrained : bool or str or os.PathLike
        True: the pretrained weights (from an installed package that ships them,
        else timm's, from the hub or its local cache); False: random weights, the
        same in every process (seed 0); a path: a local weights file in the
        model's layout.
    device : str
        A resolved torch device.
    """

    name = "timm"
    # The constraints of the encoder parameters that name the model.
    parameter_constraints: ClassVar[dict] = {
        "model": [str],
        "pretrained": ["boolean", str, os.PathLike],
    }

    def __init__(self, model: str, pretrained: bool | str | os.PathLike, device: str):
        self.model = model
        self.pretrained = pretrained
        self.device = device

    def _weights_source(self) -> tuple:
        if self.pretrained is True:
            source = bundled_source(self.model)
            if source is not None:
                return ("bundled", str(source))
        if isinstance(self.pretrained, bool):
            return ("timm", self.pretrained)
        path = Path(self.pretrained)
        if not path.is_file():
            raise ValueError(f"pretrained={str(self.pretrained)!r}: no such file")
        stat = path.stat()
        return ("file", str(path.resolve()), stat.st_size, stat.st_mtime_ns)

    def key(self) -> tuple:
        return ("timm", self.model, self._weights_source(), self.device)

    def load(self) -> TimmModel:
        return get_or_load(self.key(), self._load)

    def _load(self) -> TimmModel:
        if self.pretrained is True and bundled_source(self.model) is None:
            # Before timm is imported (5-8 s on a busy machine): weights that
            # cannot be had fail at once.
            reason = missing_timm_weights(self.model)
            if reason is not None:
                raise weights_unavailable(self.model, reason)
        import timm

        kwargs: dict[str, Any] = {"num_classes": 0}
        if isinstance(self.pretrained, bool):
            kwargs["pretrained"] = self.pretrained
        else:
            kwargs["pretrained"] = True
            kwargs["pretrained_cfg_overlay"] = {"file": str(self.pretrained)}
        if self.pretrained is True:
            kwargs.update(self._local_weights())
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
            raise weights_unavailable(self.model, exc) from exc
        return _finish(self.model, module, self.device)

    def _local_weights(self) -> dict[str, Any]:
        """timm's arguments for ``pretrained=True`` weights found on this machine.

        The weights an installed package ships (EfficientNet-Lite0) first. Else,
        when the hub cannot be reached now (``HF_HUB_OFFLINE``, or no connection
        within a few seconds), a copy in the local caches, or an OSError at once
        instead of huggingface_hub's minute of retries. Online: nothing (timm
        downloads or revalidates as usual). Where timm's pretrained weights live
        is kept for later processes (``remember_timm_index``), which then decide
        before importing timm.
        """
        state = bundled_state_dict(self.model)
        if state is not None:
            return {"pretrained_cfg_overlay": {"state_dict": state}}
        if not is_timm_model(self.model):
            return {}  # create_model names the unknown model
        remember_timm_index()
        reason = offline_reason(timm_weights_url(self.model))
        if reason is None:
            return {}
        cached = cached_timm_weights(self.model)
        if cached is None:
            raise weights_unavailable(
                self.model, f"{reason}, and they are not in the local cache"
            )
        return {"pretrained_cfg_overlay": {"file": cached}}

    def restore(self, saved: dict[str, Any]) -> TimmModel:
        check_saved(saved, self.name)
        weights, data_config = saved["weights"], saved["data_config"]

        def load() -> TimmModel:
            import timm

            module = timm.create_model(self.model, pretrained=False, num_classes=0)
            state = torch.load(
                io.BytesIO(weights), map_location="cpu", weights_only=True
            )
            module.load_state_dict(state)
            return _finish(self.model, module, self.device, data_config)

        digest = hashlib.sha256(weights).hexdigest()
        return get_or_load(("timm", self.model, ("saved", digest), self.device), load)


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
