"""A fitted encoder's backbone cut in two: a frozen prefix and a trainable top.

:func:`split_backbone` takes a fitted :class:`~skmm.ImageEncoder` (timm) or
:class:`~skmm.TextEncoder` (sentence-transformers) and the number ``k`` of its last
blocks (timm: the stages that the model's ``group_matcher(coarse=True)`` numbers,
the ones timm's layer-wise learning rates use) or layers (the transformer's
layers) to train. It works on a deep copy of the encoder's loaded model (the
registry's entry, shared by every clone, is never touched):

- ``prefix(values)`` runs the frozen part on raw values (decoded images, texts) and
  returns one activation per value: a ``(C, H, W)`` or ``(tokens, width)`` feature
  map for an image, the ``(tokens, width)`` hidden states of a text's real tokens
  (no padding: the attention mask is rebuilt when a batch is padded);
- ``top(activations)`` runs the trainable part on a batch of them, with gradients,
  and returns the encoder's vectors (``normalize`` included);
- ``trained_model()`` wraps the trained copy as a loaded model of the encoder's
  backend (``with_module``), for the encoder to hold after fit.

A backbone in *raw* mode has no cached prefix: ``top`` takes the raw values
themselves, decodes and preprocesses each batch and runs the whole model. That is
``k="all"`` (every parameter trains, the stem / patch embedding or the text
embeddings included: the prefix is empty; any timm model or sentence-transformers
model, no split needed) and an image backbone with ``augment=True`` (training
batches get timm's random train transform, so the prefix runs again, without
gradients, on every batch).

The prefix output is captured by a forward pre-hook on the first trained block, so
it is exactly what the model computes there; the top is the rest of the model's
forward (the trained stages, the modules ``forward_features`` calls after them,
found by tracing it once, then ``forward_head``), checked at construction against
the whole model on a probe input (a model whose forward the top does not reproduce
is refused with a clear error). What trains is what timm's grouping puts at or after
the first trained stage.
"""

from __future__ import annotations

import copy
import numbers
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from skmm._torch import seeded
from skmm._version import __version__
from skmm.cache._keys import fingerprint_of
from skmm.encoders import ImageEncoder, TextEncoder
from skmm.io import decode_image

__all__ = ["Backbone", "n_blocks", "split_backbone", "train_transform"]

_TOLERANCE = 1e-3
# The train transform of ``augment=True``: milder than timm's ImageNet recipe
# (area 0.08-1, jitter 0.4), which is meant for training from scratch for hundreds
# of epochs. A pretrained model fine-tuned for a few epochs on few rows gains from
# small shifts of framing and colour; crops of 8 % of a product photo often lose
# the object, and predictions use the centre crop, so the gap is kept small.
_AUGMENT = {"scale": (0.5, 1.0), "ratio": (3 / 4, 4 / 3), "hflip": 0.5}
_AUGMENT_JITTER = 0.2


def train_transform(data_config: dict) -> Callable:
    """timm's random train transform for a model's ``data_config``: a random
    resized crop (half the area to all of it), a horizontal flip and colour
    jitter, then the model's normalisation. It draws from torch's and Python's
    global generators (seed them in a scoped block: ``skmm._torch.seeded``).

    Parameters
    ----------
    data_config : dict
        A timm data config (``input_size``, ``interpolation``, ``mean``,
        ``std``, ...), as a loaded image model holds it.

    Returns
    -------
    transform : callable
        PIL image to a ``(C, H, W)`` float tensor, a new random view each call.

    Examples
    --------
    >>> from skmm.finetune import train_transform
    >>> config = {"input_size": (3, 32, 32), "interpolation": "bilinear",
    ...           "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
    >>> type(train_transform(config)).__name__
    'Compose'
    """
    import timm.data

    return timm.data.create_transform(
        **data_config, is_training=True, color_jitter=_AUGMENT_JITTER, **_AUGMENT
    )


def _inject_lora(
    module: nn.Module, trained: Sequence[nn.Module], rank: int, seed: int, device: str
) -> Any:
    """peft's LoRA (rank ``rank``, alpha ``2 * rank``, no dropout) on every
    ``nn.Linear`` inside ``trained`` (sub-modules of ``module``), in place; the
    tuner (for merging), or None when there is no linear layer. peft draws the
    initialisation from torch's global generator: seeded here and given back."""
    linear = {id(m) for root in trained for m in root.modules()}
    linear &= {id(m) for m in module.modules() if isinstance(m, nn.Linear)}
    names = [name for name, m in module.named_modules() if id(m) in linear]
    if not names:
        return None
    import peft  # imported here: only LoRA needs it

    config = peft.LoraConfig(
        r=rank, lora_alpha=2 * rank, target_modules=names, lora_dropout=0.0
    )
    with seeded(seed, device):
        return peft.LoraModel(module, config, "default")


def _merge_lora(tuner: Any) -> nn.Module:
    """The plain module again, the LoRA updates added to its weights (no peft
    module or attribute left: it pickles and digests as the plain architecture)."""
    module = tuner.merge_and_unload()
    if hasattr(module, "peft_config"):  # peft 0.13-0.18 leave it (0.21 does not)
        del module.peft_config
    return module


class _Stop(Exception):
    """Raised by the prefix hook: the frozen part has run, the rest is not needed."""


def _capture(module: nn.Module, run: Callable[[], Any]) -> torch.Tensor:
    """The first positional (or ``hidden_states``) input of ``module`` when
    ``run()`` calls it; the forward stops there."""
    box: list[torch.Tensor] = []

    def hook(_module, args, kwargs):
        box.append(args[0] if args else kwargs["hidden_states"])
        raise _Stop

    handle = module.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        run()
    except _Stop:
        pass
    finally:
        handle.remove()
    if not box:
        raise RuntimeError("the backbone's forward never reached its trained part")
    return box[0]


def _timm_stages(module: nn.Module) -> list[str]:
    """The names of a timm model's stages, in order: the sub-modules that the
    numbered ``blocks`` patterns of its ``group_matcher(coarse=True)`` match
    (``blocks.3``, ``stages.1``, ``layer4``)."""
    matcher = getattr(module, "group_matcher", None)
    spec = matcher(coarse=True).get("blocks") if callable(matcher) else None
    if isinstance(spec, str):
        spec = [(spec, None)]
    # Entries with a suffix (``(99999,)``: the norm after the blocks) are no stage.
    patterns = [re.compile(p) for p, suffix in spec or () if suffix is None]
    found: dict[tuple[int, ...], str] = {}
    for name, _ in module.named_parameters():
        for pattern in patterns:
            match = pattern.match(name)
            if match and match.groups():
                order = tuple(int(g) for g in match.groups() if g is not None)
                found.setdefault(order, match.group(0))
                break
    names = [found[order] for order in sorted(found)]
    if not names or not all(_is_module(module, n) for n in names):
        raise ValueError(
            f"fine-tuning the top blocks of a timm {type(module).__name__} is not "
            "supported: timm's group_matcher names no stages of it; use k=0 "
            "(frozen) or k='all' for this encoder"
        )
    return names


def _is_module(module: nn.Module, name: str) -> bool:
    try:
        return isinstance(module.get_submodule(name), nn.Module)
    except AttributeError:
        return False


def _trained_names(module: nn.Module, first: str) -> set[str]:
    """The parameters that timm's grouping puts at or after the stage ``first``."""
    from timm.models import group_parameters

    group_of = group_parameters(module, module.group_matcher(coarse=True), reverse=True)
    start = min(g for n, g in group_of.items() if n.startswith(first + "."))
    return {n for n, g in group_of.items() if g >= start}


def _features_tail(module: nn.Module, last: str, pixels: torch.Tensor) -> list[str]:
    """The children that ``forward_features`` calls after the stage ``last``, in
    order (EfficientNet's ``conv_head`` and ``bn2``, ViT's ``norm``), found by
    tracing one forward."""
    done: list[str] = []
    watched = [*module.named_children(), (last, module.get_submodule(last))]
    hooks = [
        child.register_forward_hook(lambda *_, name=name: done.append(name))
        for name, child in watched
    ]
    try:
        with torch.inference_mode():
            module.forward_features(pixels)
    finally:
        for hook in hooks:
            hook.remove()
    after = done[len(done) - done[::-1].index(last) :]
    container = last.split(".")[0]
    return [n for i, n in enumerate(after) if n != container and n not in after[:i]]


def _text_layers(st: Any) -> nn.ModuleList:
    transformer = st[0]
    model = getattr(transformer, "auto_model", None) or transformer.model
    for path in ("encoder.layer", "layers", "transformer.layer", "layer"):
        found: Any = model
        for part in path.split("."):
            found = getattr(found, part, None)
        if isinstance(found, nn.ModuleList) and len(found):
            return found
    raise ValueError(
        f"cannot find the layers of the text model {type(model).__name__}; use k=0 "
        "(frozen) for this encoder"
    )


def n_blocks(encoder: Any) -> int:
    """How many blocks (timm) or layers (text) a fitted encoder's backbone has.

    Examples
    --------
    >>> from skmm import ImageEncoder
    >>> from skmm.finetune import n_blocks
    >>> n_blocks(ImageEncoder("test_convnext", pretrained=False, device="cpu").fit([]))
    4
    """
    module = encoder.model_.torch_module
    if isinstance(encoder, TextEncoder):
        return len(_text_layers(module))
    return len(_timm_stages(module))


class Backbone:
    """One fine-tuned encoder: a frozen prefix and a trainable top.

    Parameters
    ----------
    encoder : ImageEncoder or TextEncoder
        A fitted encoder (its loaded model is copied, never changed).
    k : int or "all"
        Blocks or layers to train, counted from the end, at least 1; "all":
        every parameter (the stem / patch embedding or the text embeddings
        too), no cached prefix (raw mode).
    device : str
        Where the copy lives and trains.
    lora_rank : int or None, default=None
        None: the top's weights train. An int: they stay frozen and rank-``r``
        LoRA updates of its linear layers train instead (with ``k="all"``: of
        every linear layer; peft's LoRA, alpha ``2 r``, no dropout), merged into
        the weights by :meth:`trained_model`.
    seed : int, default=0
        Seeds the LoRA initialisation (torch's generators, forked for it and
        given back: the caller's random state is unchanged).
    augment : bool, default=False
        Image backbones: training batches (``top(..., augment=True)``) get
        :func:`train_transform`'s random crops, flips and colour jitter, so the
        prefix is not cached (raw mode). Ignored by text backbones.

    Attributes
    ----------
    raw : bool
        Whether ``top`` takes raw values (``k="all"``, or an augmented image
        backbone) instead of prefix activations.
    """

    def __init__(
        self,
        encoder: Any,
        k: int | str,
        device: str,
        lora_rank: int | None = None,
        seed: int = 0,
        augment: bool = False,
    ):
        self.full = isinstance(k, str) and k == "all"
        self.is_text = isinstance(encoder, TextEncoder)
        if not self.full:
            total = n_blocks(encoder)
            if not (
                isinstance(k, numbers.Integral)
                and not isinstance(k, bool)
                and 1 <= k <= total
            ):
                raise ValueError(
                    f"k={k!r} for {type(encoder).__name__}({encoder.model!r}): its "
                    f"backbone has {total} blocks; k must be in [0, {total}] or "
                    "'all'"
                )
        self.encoder = encoder
        self.entry = encoder.model_
        self.k: int | str = "all" if self.full else int(k)
        self.start = 0 if self.full else total - int(k)
        self.device = device
        self.dim = int(self.entry.dim)
        self.augment = bool(augment) and not self.is_text
        self.raw = self.full or self.augment
        self.module = copy.deepcopy(self.entry.torch_module).to(device)
        self.module.eval().requires_grad_(False)
        if self.is_text:
            if encoder.max_length is not None:
                self.module.max_seq_length = int(encoder.max_length)
            if self.full:
                self._trained = [self.module]
            else:
                self._layers = _text_layers(self.module)
                self._trained = [*self._layers[self.start :], *list(self.module)[1:]]
        else:
            self._train_transform = (
                train_transform(self.entry.data_config) if self.augment else None
            )
            if self.full:
                self._trained = [self.module]
            else:
                stages = _timm_stages(self.module)
                self._blocks = [self.module.get_submodule(n) for n in stages]
                self._tail = _features_tail(self.module, stages[-1], self._probe())
                names = _trained_names(self.module, stages[self.start])
                owners = {n.rpartition(".")[0] for n in names}
                self._trained = [
                    m for n, m in self.module.named_modules() if n and n in owners
                ]
        if not self.full:  # the whole model needs no check: nothing is cut
            self._check_split()
        self.lora_rank = lora_rank
        if lora_rank is None and not self.is_text and not self.full:
            self.parameters = [
                p for n, p in self.module.named_parameters() if n in names
            ]
        elif lora_rank is None:
            self.parameters = [p for m in self._trained for p in m.parameters()]
        else:
            self._lora = _inject_lora(
                self.module, self._trained, int(lora_rank), int(seed), device
            )
            if self._lora is None:
                where = "the model" if self.full else f"the last {self.k} blocks"
                raise ValueError(
                    f"lora_rank={lora_rank}: {where} of "
                    f"{type(encoder).__name__}({encoder.model!r}) have no linear "
                    "layer to adapt; use lora_rank=None"
                )
            # The adapters' A and B: the only parameters peft leaves trainable.
            self.parameters = [p for p in self.module.parameters() if p.requires_grad]
        for p in self.parameters:
            p.requires_grad_(True)

    def _probe(self) -> torch.Tensor:
        """Two random images of the model's input size (the split's checks)."""
        generator = torch.Generator().manual_seed(0)
        size = self.entry.data_config["input_size"]
        pixels = torch.randn((2, *size), generator=generator).to(self.device)
        return pixels.contiguous(memory_format=self.entry.memory_format)

    # -- identity -----------------------------------------------------------------
    def namespace(self) -> str:
        """The content-addressing key of the prefix's activations: the loaded
        model's weights digest, the preprocessing and the split point."""
        parts: dict[str, Any] = {
            "what": "finetune-prefix",
            "backend": self.entry.backend,
            "model": str(self.encoder.model),
            "weights": self.entry.weights_digest(),
            "start": self.start,
            "skmm": __version__,
        }
        if self.is_text:
            parts["max_length"] = int(self.module.max_seq_length)
        else:
            parts["data_config"] = self.entry.data_config
        return fingerprint_of(parts)

    def activation_shape(self, value: Any) -> tuple[int, ...]:
        """The shape of the prefix's activation of ``value``, without running it
        (a text's comes from its token count)."""
        if not self.is_text:
            return self._shape
        tokens = self.module[0].preprocess([value])["attention_mask"]
        return (int(tokens.sum()), self._width)

    # -- the frozen part ----------------------------------------------------------
    def prefix(self, values: Sequence[Any]) -> list[np.ndarray]:
        """The frozen part's activation of each value (float32, no padding)."""
        with torch.inference_mode():
            if self.is_text:
                return self._text_prefix(list(values))
            return self._image_prefix(list(values))

    def _image_prefix(self, values: list) -> list[np.ndarray]:
        transform = self.entry.transform
        pixels = torch.stack([transform(decode_image(v)) for v in values])
        pixels = pixels.to(self.device).contiguous(
            memory_format=self.entry.memory_format
        )
        out = _capture(self._blocks[self.start], lambda: self.module(pixels))
        return list(out.float().contiguous().cpu().numpy())

    def _features(self, texts: list[str]) -> dict[str, Any]:
        features = self.module[0].preprocess(texts)
        return {
            k: v.to(self.device) if torch.is_tensor(v) else v
            for k, v in features.items()
        }

    def _text_prefix(self, texts: list[str]) -> list[np.ndarray]:
        features = self._features(texts)
        hidden = _capture(
            self._layers[self.start], lambda: self.module[0](dict(features))
        )
        lengths = features["attention_mask"].sum(dim=1).tolist()
        hidden = hidden.float().cpu().numpy()
        return [hidden[i, : int(n)].copy() for i, n in enumerate(lengths)]

    # -- the trainable part -------------------------------------------------------
    def top(self, inputs: Sequence[Any], *, augment: bool = False) -> torch.Tensor:
        """The encoder's vectors of a batch, shape ``(batch, dim)``, with
        gradients into the trained blocks.

        ``inputs``: prefix activations; in raw mode the raw values (images,
        texts), decoded and preprocessed here, the frozen prefix (if any) run
        without gradients. ``augment`` (an augmented image backbone's training
        batch): timm's random train transform instead of the eval one.
        """
        if self.raw:
            return self._raw_top(list(inputs), augment=augment and self.augment)
        if self.is_text:
            return self._text_top(inputs)
        return self._image_top(torch.as_tensor(np.stack(inputs)).to(self.device))

    def _raw_top(self, values: list, *, augment: bool) -> torch.Tensor:
        if self.is_text:  # k="all": tokens in, the whole model trains
            return self._whole_text(values)
        transform = self._train_transform if augment else self.entry.transform
        pixels = torch.stack([transform(decode_image(v)) for v in values])
        pixels = pixels.to(self.device).contiguous(
            memory_format=self.entry.memory_format
        )
        if self.full:
            return self.module(pixels)
        with torch.no_grad():  # the frozen prefix, again for each random view
            x = _capture(self._blocks[self.start], lambda: self.module(pixels))
        return self._image_top(x)

    def _image_top(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            x = x.contiguous(memory_format=self.entry.memory_format)
        for block in self._blocks[self.start :]:
            x = block(x)
        for name in self._tail:
            x = getattr(self.module, name)(x)
        return self.module.forward_head(x)

    def _text_top(self, activations: Sequence[np.ndarray]) -> torch.Tensor:
        lengths = [len(a) for a in activations]
        longest, width = max(lengths), activations[0].shape[1]
        padded = np.zeros((len(activations), longest, width), dtype=np.float32)
        for i, a in enumerate(activations):
            padded[i, : len(a)] = a
        h = torch.as_tensor(padded).to(self.device)
        mask = torch.zeros(len(lengths), longest, dtype=torch.int64)
        for i, n in enumerate(lengths):
            mask[i, :n] = 1
        mask = mask.to(self.device)
        additive = (1.0 - mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        for layer in self._layers[self.start :]:
            out = layer(h, attention_mask=additive)
            h = out[0] if isinstance(out, tuple) else out
        features: dict[str, Any] = {"token_embeddings": h, "attention_mask": mask}
        for module in list(self.module)[1:]:
            features = module(features)
        return self._sentence_vectors(features["sentence_embedding"])

    def _sentence_vectors(self, vectors: torch.Tensor) -> torch.Tensor:
        """The encoder's vectors from the model's sentence embeddings."""
        return F.normalize(vectors, dim=1) if self.encoder.normalize else vectors

    def _whole_text(self, texts: list[str]) -> torch.Tensor:
        """The whole text model on ``texts``: the encoder's vectors."""
        features = self._features(texts)
        return self._sentence_vectors(self.module(features)["sentence_embedding"])

    def train_mode(self) -> None:
        """Keep the whole backbone in eval mode while its trained blocks train.

        Gradients flow into the trained parameters, but no module switches to
        train mode: batch-norm statistics stay those of the pretrained model
        (small fine-tuning batches would wreck them) and the backbone's own
        dropout stays off; the fusion network has its own.
        """
        self.module.eval()

    def state(self) -> dict[str, torch.Tensor]:
        """A copy of the trained parameters (for early stopping's best epoch)."""
        return {str(i): p.detach().clone() for i, p in enumerate(self.parameters)}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for i, p in enumerate(self.parameters):
                p.copy_(state[str(i)])

    def trained_model(self) -> Any:
        """The trained copy as a loaded model of the encoder's backend (LoRA
        updates merged into the weights: the plain architecture again)."""
        if self.lora_rank is not None:
            self.module = _merge_lora(self._lora)
            self._lora = None
            self.lora_rank = None
        return self.entry.with_module(self.module)

    # -- checks -------------------------------------------------------------------
    def _check_split(self) -> None:
        """The top of the prefix must give what the whole model gives."""
        with torch.inference_mode():
            if self.is_text:
                texts = ["a probe", "a longer probe text, with more tokens in it"]
                expected = self._whole_text(texts)
                activations = self._text_prefix(texts)
                self._width = int(activations[0].shape[1])
                got = self._text_top(activations)
            else:
                pixels = self._probe()
                expected = self.module(pixels)
                prefix = _capture(self._blocks[self.start], lambda: self.module(pixels))
                self._shape = tuple(int(n) for n in prefix.shape[1:])
                got = self._image_top(prefix.float())
        scale = float(expected.abs().max()) + 1e-6
        error = float((got.float() - expected.float()).abs().max()) / scale
        if not error <= _TOLERANCE:
            raise ValueError(
                f"cannot split {type(self.encoder).__name__}({self.encoder.model!r}) "
                f"before its last {self.k} blocks: the split model differs from the "
                f"whole one by {error:.2g} (relative); use k=0 (frozen) for it"
            )


def split_backbone(
    encoder: Any,
    k: int | str,
    device: str,
    lora_rank: int | None = None,
    seed: int = 0,
    augment: bool = False,
) -> Backbone:
    """The :class:`Backbone` of a fitted image or text encoder, its last ``k``
    blocks (``"all"``: every parameter) trainable, or LoRA updates of their
    linear layers; ``augment``: random train transforms for an image backbone.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skmm import ImageEncoder
    >>> from skmm.finetune import split_backbone
    >>> images = [np.zeros((24, 24, 3), dtype=np.uint8)]
    >>> encoder = ImageEncoder("test_vit", pretrained=False, device="cpu").fit(images)
    >>> backbone = split_backbone(encoder, 1, "cpu")
    >>> activations = backbone.prefix(images)  # computed once, then cached
    >>> with torch.no_grad():
    ...     vectors = backbone.top(activations).numpy()
    >>> bool(np.allclose(vectors, encoder.transform(images), atol=1e-5))
    True
    >>> full = split_backbone(encoder, "all", "cpu")  # raw values in, no prefix
    >>> with torch.no_grad():
    ...     vectors = full.top(images).numpy()
    >>> bool(np.allclose(vectors, encoder.transform(images), atol=1e-5))
    True
    """
    if not isinstance(encoder, (ImageEncoder, TextEncoder)):
        raise TypeError(
            f"only ImageEncoder and TextEncoder can be fine-tuned, not "
            f"{type(encoder).__name__}"
        )
    return Backbone(encoder, k, device, lora_rank, seed, augment)
