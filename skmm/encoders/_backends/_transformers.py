"""The transformers backend: Hugging Face audio models (wav2vec2, HuBERT, AST...)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from skmm._progress import quiet_third_party
from skmm._torch import autocast, seeded
from skmm.cache._keys import weights_digest
from skmm.encoders._backends._common import (
    LoadedModel,
    check_saved,
    files_digest,
    pack_directory,
    unpacked_directory,
)
from skmm.encoders._registry import get_or_load

__all__ = ["TransformersAudioBackend", "TransformersAudioModel"]


@dataclass(eq=False)
class TransformersAudioModel(LoadedModel):
    """A loaded transformers audio model with its feature extractor."""

    backend: ClassVar[str] = "transformers"
    module: torch.nn.Module
    extractor: Any
    sample_rate: int

    @property
    def torch_module(self) -> torch.nn.Module:
        return self.module

    def _compute_digest(self) -> str:
        return weights_digest(self.module)

    def forward_chunk(self, windows: torch.Tensor, precision: str) -> torch.Tensor:
        """The pooled output of one chunk of waveforms (the mean of the last
        hidden states when the model has no pooler), float32 on the CPU."""
        inputs = self.extractor(
            list(windows.numpy()), sampling_rate=self.sample_rate, return_tensors="pt"
        )
        inputs = {k: v.to(self.device) for k, v in inputs.items() if torch.is_tensor(v)}
        with torch.inference_mode(), autocast(self.device, precision):
            out = self.module(**inputs)
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = out.last_hidden_state.mean(dim=1)
        return pooled.float().cpu()

    def forward(
        self, windows: torch.Tensor, batch_size: int, precision: str
    ) -> np.ndarray:
        """The model on ``windows``, in chunks of ``batch_size``, as float32 numpy."""
        outputs = [
            self.forward_chunk(windows[start : start + batch_size], precision)
            for start in range(0, len(windows), batch_size)
        ]
        return torch.cat(outputs).numpy()

    def _export(self) -> dict[str, Any]:
        def save(directory: str) -> None:
            self.module.save_pretrained(directory)
            self.extractor.save_pretrained(directory)

        return {"backend": self.backend, "files": pack_directory(save)}


def _finish(
    module: torch.nn.Module, extractor: Any, device: str
) -> TransformersAudioModel:
    module.eval().requires_grad_(False).to(device)
    rate = int(getattr(extractor, "sampling_rate", 16_000))
    entry = TransformersAudioModel(0, device, module, extractor, rate)
    entry.dim = int(entry.forward_chunk(torch.zeros(1, rate), "fp32").shape[-1])
    return entry


class TransformersAudioBackend:
    """A transformers audio model (``AutoModel`` and ``AutoFeatureExtractor``).

    Parameters
    ----------
    model : str or os.PathLike
        A local directory or a hub name.
    pretrained : bool
        True: the saved weights; False: random weights from the model's config,
        the same in every process (seed 0).
    device : str
        A resolved torch device.
    """

    name = "transformers"

    def __init__(self, model: Any, pretrained: bool, device: str):
        self.model = model
        self.pretrained = pretrained
        self.device = device

    def _source(self) -> str:
        path = Path(str(self.model))
        return str(path.resolve()) if path.is_dir() else str(self.model)

    def key(self) -> tuple:
        return ("transformers-audio", self._source(), self.pretrained, self.device)

    def load(self) -> TransformersAudioModel:
        return get_or_load(self.key(), self._load)

    def _load(self) -> TransformersAudioModel:
        with quiet_third_party():
            return self._load_quietly()

    def _load_quietly(self) -> TransformersAudioModel:
        import transformers

        source = self._source()
        extractor = transformers.AutoFeatureExtractor.from_pretrained(source)
        if self.pretrained:
            module = transformers.AutoModel.from_pretrained(source)
        else:
            config = transformers.AutoConfig.from_pretrained(source)
            with seeded(0):
                module = transformers.AutoModel.from_config(config)
        return _finish(module, extractor, self.device)

    def restore(self, saved: dict[str, Any]) -> TransformersAudioModel:
        check_saved(saved, self.name)
        files = saved["files"]

        def load() -> TransformersAudioModel:
            import transformers

            with unpacked_directory(files) as tmp, quiet_third_party():
                extractor = transformers.AutoFeatureExtractor.from_pretrained(tmp)
                module = transformers.AutoModel.from_pretrained(tmp)
            return _finish(module, extractor, self.device)

        key = ("transformers-audio", ("saved", files_digest(files)), self.device)
        return get_or_load(key, load)
