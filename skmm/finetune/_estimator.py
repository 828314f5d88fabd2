"""Fine-tuning estimators: the union's image and text backbones trained with a
fusion head on the raw frame.

``FineTuneClassifier`` / ``FineTuneRegressor`` take a :class:`~skmm.MultimodalUnion`
and a fusion type. ``fit`` fits the union (its encoders load their models, its
other transformers are fitted; the pretrained vectors give each block's
standardisation), cuts each image and text encoder's backbone before its last ``k``
blocks (:mod:`skmm.finetune._backbones`), computes the frozen prefix of every item
once (:mod:`skmm.finetune._store`: content-addressed, in this process and in the
embedding cache) and trains the tops with the fusion network of the heads
(:class:`~skmm.fusion.FusionNetwork`, any of the seven fusion types) through skorch
(:mod:`skmm.finetune._training`). What it shares with the fusion heads (parameters,
target encoding, validation split, network, loss, early stopping, the epoch bar) is
:class:`~skmm.fusion.NeuralFusionMixin`. The trained backbones go back into the
fitted union's encoders, so ``union_`` is a normal fitted union whose encoders give
the fine-tuned vectors.

With ``k="all"`` (every parameter trains) or ``augment=True`` (random train
transforms of the images), a backbone is in raw mode: nothing is cached, each
batch keeps the rows' raw values (paths or arrays, as in the frame) and the
backbone decodes and runs them; the training loop is the same.
"""

from __future__ import annotations

import copy
import numbers
import warnings
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    clone,
)
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from skmm._dataframe import column_values, is_dataframe, row_labels, to_numpy
from skmm._docs import DocLinkMixin
from skmm._torch import resolve_device, resolve_precision, seed_from, seeded
from skmm.compose._blocks import infer_layout, split_blocks
from skmm.compose._scaling import BlockScaler
from skmm.encoders import ImageEncoder, TextEncoder, is_missing
from skmm.finetune._backbones import split_backbone
from skmm.finetune._store import prefix_activations
from skmm.finetune._training import FineTuneModule, FineTuneNet, TunedBlock, WarmUp
from skmm.fusion import NeuralFusionMixin

__all__ = ["FineTuneClassifier", "FineTuneRegressor"]

_PREFIX_BATCH = 16


def _columns_of(spec: Any, X: Any) -> list:
    """The column names (or positions) a union entry takes."""
    if callable(spec):
        spec = spec(X)
    if isinstance(spec, (str, int, np.integer)):
        return [spec]
    if isinstance(spec, slice):
        names = list(nw.from_native(X).columns)
        return names[spec]
    return list(spec)


def _values(X: Any, column: Any) -> list:
    frame = nw.from_native(X)
    name = frame.columns[column] if isinstance(column, (int, np.integer)) else column
    return column_values(nw.to_native(frame[name]))


class _IntervalNotBool(Interval):
    """An Interval of ints that refuses True and False (``k=True`` is no ``k=1``)."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


class _BaseFineTune(NeuralFusionMixin, DocLinkMixin, BaseEstimator):
    """What the fine-tuning classifier and regressor share (and, through
    :class:`NeuralFusionMixin`, the fusion heads too)."""

    _parameter_constraints: dict = {
        **NeuralFusionMixin._parameter_constraints,
        "union": [HasMethods(["fit_transform", "transform", "get_feature_names_out"])],
        "k": [
            _IntervalNotBool(numbers.Integral, 0, None, closed="left"),
            StrOptions({"all"}),
            dict,
        ],
        "augment": ["boolean"],
        "backbone_lr": [Interval(numbers.Real, 0, None, closed="left")],
        "lora_rank": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "warmup_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "precision": [StrOptions({"auto", "fp32", "fp16", "bf16"})],
    }

    def __init__(
        self,
        union: Any,
        fusion: str = "concat",
        *,
        k: int | str | dict = 1,
        augment: bool = False,
        hidden: int = 64,
        dropout: float = 0.1,
        modality_dropout: float = 0.2,
        missing_embedding: str = "learned",
        n_heads: int = 4,
        n_layers: int = 1,
        rank: int = 4,
        lr: float = 1e-3,
        backbone_lr: float = 1e-4,
        lora_rank: int | None = None,
        warmup_epochs: int = 1,
        max_epochs: int = 10,
        batch_size: int = 32,
        weight_decay: float = 1e-4,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 3,
        device: str = "auto",
        precision: str = "auto",
        random_state: Any = None,
        verbose: int = 0,
    ):
        self.union = union
        self.fusion = fusion
        self.k = k
        self.augment = augment
        self.hidden = hidden
        self.dropout = dropout
        self.modality_dropout = modality_dropout
        self.missing_embedding = missing_embedding
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.rank = rank
        self.lr = lr
        self.backbone_lr = backbone_lr
        self.lora_rank = lora_rank
        self.warmup_epochs = warmup_epochs
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    # -- hooks ----------------------------------------------------------------------
    def _encode_targets(self, y) -> tuple[np.ndarray, Any]:
        """Return (target matrix, the ClassificationTarget or RegressionTarget)."""
        raise NotImplementedError

    # -- input ----------------------------------------------------------------------
    def _check_frame(self, X) -> None:
        if not is_dataframe(X):
            raise TypeError(
                f"{type(self).__name__} takes the raw frame (a pandas or polars "
                f"DataFrame, one column per modality), got {type(X).__name__}"
            )

    def _blocks(self, Xt) -> tuple[list[np.ndarray], np.ndarray]:
        if sp.issparse(Xt):
            Xt = Xt.toarray()
        return split_blocks(to_numpy(Xt, dtype=np.float64), self.layout_, np.float64)

    def _k_of(self, name: str) -> int | str:
        """The block's ``k``: an int (0: frozen) or "all"."""
        if not isinstance(self.k, dict):
            return self.k if isinstance(self.k, str) else int(self.k)
        unknown = set(self.k) - set(self.layout_.names)
        if unknown:
            raise ValueError(
                f"k names unknown blocks {sorted(unknown)}; the union's blocks "
                f"are {list(self.layout_.names)}"
            )
        k = self.k.get(name, 0)
        if isinstance(k, str) and k == "all":
            return k
        if isinstance(k, numbers.Integral) and not isinstance(k, bool) and k >= 0:
            return int(k)
        raise ValueError(
            f"k[{name!r}]={k!r}: a block's k must be an int >= 0 (0: frozen) or 'all'"
        )

    # -- fit ------------------------------------------------------------------------
    def _fit(self, X, y):
        self._check_frame(X)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y")
        targets, encoding = self._encode_targets(y)
        union = clone(self.union)
        Xt = union.fit_transform(X, y)
        if len(targets) != Xt.shape[0]:
            raise ValueError(
                f"X has {Xt.shape[0]} rows but y has {len(targets)}: they must match"
            )
        self.union_ = union
        self.layout_ = infer_layout(
            Xt if not sp.issparse(Xt) else Xt.toarray(),
            modalities=union.output_indices_,
            feature_names=union.get_feature_names_out(),
        )
        blocks, present = self._blocks(Xt)
        self._set_scaler(BlockScaler().fit(blocks, present), present)
        scaled = self.scaler_.transform(blocks, present)
        self.device_ = resolve_device(self.device)
        self.precision_ = resolve_precision(self.precision, self.device_)
        seed = seed_from(self.random_state)
        self.batch_size_ = int(self.batch_size)

        chosen = []  # (position, name, encoder, k) of each block to fine-tune
        for j, name in enumerate(self.layout_.names):
            k = self._k_of(name)
            encoder = union.named_transformers_.get(name)
            if k == 0:
                continue
            if not isinstance(encoder, (ImageEncoder, TextEncoder)):
                if isinstance(self.k, dict):
                    raise ValueError(
                        f"k[{name!r}]={k!r}: block {name!r} is not an ImageEncoder "
                        "or TextEncoder, it cannot be fine-tuned"
                    )
                continue
            chosen.append((j, name, encoder, k))
        encoders = [
            name
            for name in self.layout_.names
            if isinstance(
                union.named_transformers_.get(name), (ImageEncoder, TextEncoder)
            )
        ]
        if not encoders:
            raise ValueError(
                f"{type(self).__name__} fine-tunes the union's ImageEncoder and "
                f"TextEncoder blocks, and this union has none (blocks: "
                f"{dict(union.modalities_)}): there is nothing to fine-tune. Use "
                "FusionClassifier / FusionRegressor on the union's output instead"
            )
        if self.augment and not any(
            isinstance(encoder, ImageEncoder) for _, _, encoder, _ in chosen
        ):
            raise ValueError(
                f"augment=True augments the images of fine-tuned image blocks, but "
                f"no ImageEncoder block is fine-tuned (k={self.k!r}, fine-tuned: "
                f"{[name for _, name, _, _ in chosen]}); give an image block k > 0 "
                "or 'all', or set augment=False"
            )
        tuned: dict[int, TunedBlock] = {}
        self.finetuned_blocks_ = []
        for j, name, encoder, k in chosen:
            tuned[j] = self._prepare_block(
                X, j, name, encoder, k, blocks[j], present[:, j], seed
            )
            self.finetuned_blocks_.append(name)

        train, valid = self._validation_split(targets, len(targets), seed)
        train = np.sort(train)  # the batches' order is drawn from the seed
        valid = None if valid is None else np.sort(valid)
        # Python's random too: timm's random crops (augment=True) draw from it.
        with seeded(seed, self.device_, python_random=True):
            module = FineTuneModule(
                self._network([encoding.n_outputs]),
                tuned,
                scaled,
                present,
                self.device_,
                self.precision_,
                train_backbones=self.backbone_lr > 0,
            )
            net = self._net(module, encoding, targets, valid, seed)
            net.fit(train, targets[train])
        network = net.module_.network
        self.history_ = [
            {
                "epoch": int(row["epoch"]),
                "train_loss": float(row["train_loss"]),
                "backbone_trained": bool(row["backbone_trained"]),
                **({} if valid is None else {"valid_loss": float(row["valid_loss"])}),
                "seconds": float(row["dur"]),
            }
            for row in net.history
        ]
        network.eval()
        self.network_ = network
        self._encoding = encoding
        self.n_epochs_ = len(self.history_)
        if tuned and self.n_epochs_ <= self.warmup_epochs:
            # The backbones join after the warm-up: none of them trained.
            why = (
                f"warmup_epochs={self.warmup_epochs} >= max_epochs={self.max_epochs}"
                if self.warmup_epochs >= self.max_epochs
                else f"early stopping ended the fit after {self.n_epochs_} epochs, "
                f"within warmup_epochs={self.warmup_epochs}"
            )
            warnings.warn(
                f"{type(self).__name__}: {why}, so the backbones of "
                f"{self.finetuned_blocks_} never trained (they are frozen during the "
                "warm-up) and keep their pretrained weights; finetuned_blocks_ is "
                "empty. Give max_epochs > warmup_epochs to fine-tune them",
                UserWarning,
                stacklevel=3,
            )
            self.finetuned_blocks_ = []
            tuned = {}
        for j, block in tuned.items():
            name = self.layout_.names[j]
            union.named_transformers_[name].model_ = block.backbone.trained_model()
        return self

    def _prepare_block(
        self, X, j, name, encoder, k, block, present, seed
    ) -> TunedBlock:
        backbone = split_backbone(
            encoder, k, self.device_, self.lora_rank, seed + j, self.augment
        )
        columns = _columns_of(
            next(c for n, _, c in self.union_.transformers_ if n == name), X
        )
        dim = backbone.dim
        inputs = []
        for c, column in enumerate(columns):
            values = _values(X, column)
            # A row has this column when the encoder gave it a vector (missing
            # and unreadable values are NaN there, as the encoder decided).
            have = present & ~np.isnan(block[:, c * dim])
            rows = np.flatnonzero(have)
            if backbone.raw:
                # No cache: the values as the frame holds them (paths or
                # arrays), decoded batch by batch by the backbone.
                found = [values[r] for r in rows]
            else:
                found = prefix_activations(
                    [values[r] for r in rows],
                    namespace=backbone.namespace(),
                    compute=backbone.prefix,
                    encoder=encoder,
                    paths=isinstance(encoder, ImageEncoder),
                    batch_size=_PREFIX_BATCH,
                    shape_of=backbone.activation_shape,
                )
            per_row: list = [None] * len(values)
            for r, value in zip(rows, found, strict=True):
                if not is_missing(values[r]):
                    per_row[r] = value
            inputs.append(per_row)
        scaler = self.scaler_
        return TunedBlock(
            backbone,
            inputs,
            scaler.means_[j],
            scaler.scales_[j],
            columns=[str(column) for column in columns],
            labels=row_labels(X),
        )

    def _net(self, module, encoding, targets, valid, seed) -> FineTuneNet:
        """The skorch net that trains ``module``: AdamW, the backbones' trained
        parameters at ``backbone_lr``, the warm-up, early stopping on the rows
        ``valid`` (None: none) and the heads' epoch bar or table."""
        train_split = None
        if valid is not None:
            train_split = predefined_split(Dataset(valid, targets[valid]))
        # Strict improvement, as fine-tuning always stopped (skorch's default
        # ignores a relative gain under 1e-4).
        callbacks = [WarmUp(self.warmup_epochs)]
        callbacks += self._callbacks(valid is not None, threshold=0.0)
        return FineTuneNet(
            module,
            self._criterion([encoding], [1.0]),
            owner=self,
            precision=self.precision_,
            seed=seed,
            optimizer=torch.optim.AdamW,
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            optimizer__param_groups=[("backbones.*", {"lr": self.backbone_lr})],
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=train_split,
            callbacks=callbacks,
            # verbose=0: no table to format each epoch (the bar is the feedback)
            **({} if self.verbose else {"callbacks__print_log": None}),
            verbose=self.verbose,
            device=self.device_,
        )

    # -- predict --------------------------------------------------------------------
    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        self._check_frame(X)
        blocks, present = self._blocks(self.union_.transform(X))
        scaled = self.scaler_.transform(blocks, present)
        outs = []
        with torch.inference_mode():
            for start in range(0, len(present), max(self.batch_size, 256)):
                rows = slice(start, start + max(self.batch_size, 256))
                inputs = {
                    f"x{j}": torch.as_tensor(b[rows]).to(self.device_)
                    for j, b in enumerate(scaled)
                }
                inputs["present"] = torch.as_tensor(present[rows]).to(self.device_)
                outs.append(self.network_(**inputs).float().cpu().numpy())
        if not outs:
            return np.empty((0, self._encoding.n_outputs), dtype=np.float32)
        return np.concatenate(outs)

    # -- pickling -------------------------------------------------------------------
    def __getstate__(self):
        state = dict(super().__getstate__())
        network = state.get("network_")
        if network is not None:
            # Saved on the CPU: a model trained on a GPU loads anywhere.
            state["network_"] = copy.deepcopy(network).cpu()
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if state.get("network_") is not None:
            self.device_ = resolve_device(self.device, fallback=True)
            self.network_.to(self.device_)


_DOC = """
    Parameters
    ----------
    union : MultimodalUnion
        The blocks and their columns of the raw frame (cloned at fit). Each
        :class:`~skmm.ImageEncoder` (timm: EfficientNet, MobileNetV3, ConvNeXt,
        ViT) and :class:`~skmm.TextEncoder` (sentence-transformers BERT-like
        models) block is fine-tuned; other blocks are fitted and used as they are.
    fusion : {"concat", "gated", "attention", "transformer", "tensor", "lowrank", \
"late"}, default="concat"
        The fusion type, as in :class:`~skmm.FusionClassifier`.
    k : int, "all" or dict, default=1
        The last ``k`` blocks (timm stages) or transformer layers of each backbone
        are trained; the rest (the prefix) is frozen and its activations are
        computed once per item (content-addressed, also in the encoder's embedding
        cache when it has one), so an epoch runs only the trained top. Even with
        ``k`` = every block, the stem (patch embedding, text embeddings) stays
        frozen and cached. 0: frozen (the encoder's vectors, as with a fusion
        head). "all": full fine-tuning, every parameter trains, stem and
        embeddings included, on any timm or sentence-transformers model; nothing
        is cached, so each batch decodes and preprocesses its raw values and runs
        the whole model (the cost of a full forward and backward pass per item
        and epoch). A dict gives ``k`` (an int or "all") per block name (absent
        names: 0).
    augment : bool, default=False
        Image blocks only (text blocks ignore it): training batches get timm's
        random train transform (a random resized crop of half the area to all of
        it, a horizontal flip, colour jitter of 0.2: milder than timm's ImageNet
        recipe, which is meant for training from scratch) instead of the eval
        transform; validation batches, warm-up epochs and predictions see the
        eval transform. A random view changes the prefix's activations, so an
        augmented block caches nothing: each training batch decodes its images
        and runs the frozen prefix again (without gradients), a prefix forward
        pass per item per epoch instead of one per item (on 1,000 grocery photos
        with EfficientNet-Lite0's last stage trained: 9x the epoch time, balanced
        accuracy 0.713 against 0.678 cached). True with no image block
        fine-tuned is a ValueError.
    hidden, dropout, modality_dropout, missing_embedding, n_heads, n_layers, rank
        The fusion network's, as in :class:`~skmm.FusionClassifier`.
    lr : float, default=1e-3
        AdamW learning rate of the fusion network (the new head).
    backbone_lr : float, default=1e-4
        Learning rate of the trained backbone blocks (discriminative learning
        rates: pretrained weights move more slowly than the new head); 0 freezes
        them.
    lora_rank : int or None, default=None
        None: the top blocks' weights train. An int ``r``: they stay frozen and a
        rank-``r`` LoRA update of each of their linear layers trains (transformer
        text models and ViTs; a convnet's stages have no linear layer), merged
        into the weights after fit, so the fitted encoder is the plain model.
        With ``k="all"`` every linear layer of the model gets one. With a
        cached prefix the saving is in optimizer state and trained parameters,
        not in compute. The adapters start at zero and want a larger
        ``backbone_lr`` than trained weights (MiniLM's last two layers on 1,500
        reviews, rank 8: F1 0.923 at 1e-4, 0.936 at 1e-3).
    warmup_epochs : int, default=1
        Epochs that train the head alone before the backbones join, so that a
        random head's gradients do not disturb the pretrained weights. A fit that
        ends within the warm-up (``warmup_epochs >= max_epochs``, or early
        stopping) trains no backbone: a warning says so, ``finetuned_blocks_`` is
        empty.
    max_epochs, batch_size, weight_decay : int, int, float, default=10, 32, 1e-4
        On a device out-of-memory error the batch is halved and retried (an
        ``OutOfMemoryWarning`` says so); ``batch_size_`` keeps the size in use.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows (stratified for a
        classifier), stop when the validation loss has not improved for
        ``patience`` epochs and keep the best epoch's weights (head and
        backbones). Needs 20 rows; with fewer, all rows train ``max_epochs``.
    validation_fraction : float, default=0.1
    patience : int, default=3
    device : str, default="auto"
        Where the trained copies of the backbones and the head train.
    precision : {"auto", "fp32", "fp16", "bf16"}, default="auto"
        Autocast precision of training (the weights stay float32). "auto": bf16
        on CUDA devices that support it, else fp16 (with loss scaling) on CUDA,
        fp32 on CPU and MPS.
    random_state : int, RandomState or None, default=None
        Seeds initialisation, shuffling, dropout, the random train transforms
        of ``augment`` and the validation split, without changing torch's,
        numpy's or Python's global random state.
    verbose : int, default=0
        0: an epoch bar on stderr with the losses and the time left, shown as
        ``skmm.set_config(progress=...)`` says (as the fusion heads'); 1:
        skorch's per-epoch table (losses, ``backbone_trained``, duration) on
        stdout, uncoloured off a terminal.

    Attributes
    ----------
    union_ : MultimodalUnion
        The fitted union; its fine-tuned encoders hold the trained weights
        (``union_.transform`` gives the fine-tuned vectors; their cache
        fingerprint is that of the new weights). Fitting it again reloads the
        pretrained models.
    finetuned_blocks_ : list of str
        The blocks whose backbone was trained (empty when the fit stopped within
        the warm-up).
    layout_ : BlockLayout
    scaler_ : BlockScaler
        Each block's standardisation (of the pretrained vectors, kept for the
        fine-tuned ones).
    network_ : FusionNetwork
        The trained fusion network.
    history_ : list of dict
        Per epoch: ``train_loss``, ``valid_loss`` (with early stopping),
        whether the backbones trained (``backbone_trained``) and its wall time
        (``seconds``).
    n_epochs_ : int
    batch_size_ : int
        The training batch size in the end (smaller than ``batch_size`` after an
        out-of-memory error).
    device_ : str
    precision_ : str"""


class FineTuneClassifier(ClassifierMixin, _BaseFineTune):
    __doc__ = f"""Train image and text encoders with a fusion classifier.

    Cheap by default: only the last ``k`` blocks of each backbone train, on
    activations of the frozen part computed once per item; ``k="all"`` is full
    fine-tuning and ``augment=True`` random image transforms, both without the
    cache.
    {_DOC}
    classes_ : ndarray

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmm import FineTuneClassifier, ImageEncoder, MultimodalUnion
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({{
    ...     "photo": [rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    ...               for _ in range(8)],
    ...     "price": rng.normal(size=8)}})
    >>> y = np.array([0, 1] * 4)
    >>> union = MultimodalUnion([
    ...     ("image", ImageEncoder("test_convnext", pretrained=False, device="cpu"),
    ...      "photo"),
    ...     ("tab", StandardScaler(), ["price"])])
    >>> clf = FineTuneClassifier(union, k=1, max_epochs=2, device="cpu",
    ...                          random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape, clf.finetuned_blocks_
    ((8, 2), ['image'])
    >>> full = FineTuneClassifier(union, k="all", augment=True, max_epochs=2,
    ...                           device="cpu", random_state=0).fit(X, y)
    >>> full.predict(X).shape
    (8,)
    """

    def _encode_targets(self, y):
        return self._classification_target(y)

    def _stratify_labels(self, targets):
        return targets[:, 0]

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y) -> FineTuneClassifier:
        """Fit the union, then train the backbones' tops and the head.

        Parameters
        ----------
        X : DataFrame (pandas or polars)
            The raw table, with the columns the union's transformers take (None or
            NaN where a row lacks a modality).
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : FineTuneClassifier
        """
        return self._fit(X, y)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : DataFrame (pandas or polars)
            The raw table, with the columns the union's transformers take (None or
            NaN where a row lacks a modality).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return self._encoding.predict_proba(self._outputs(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row.

        Parameters
        ----------
        X : DataFrame (pandas or polars)
            The raw table, with the columns the union's transformers take (None or
            NaN where a row lacks a modality).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._encoding.predict(self._outputs(X))


class FineTuneRegressor(RegressorMixin, _BaseFineTune):
    __doc__ = f"""Train image and text encoders with a fusion regressor.

    As :class:`FineTuneClassifier`, with standardised targets (scaled back in
    ``predict``).
    {_DOC}

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skmm import FineTuneRegressor, ImageEncoder, MultimodalUnion
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({{"photo": [rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    ...                              for _ in range(8)]}})
    >>> union = MultimodalUnion(
    ...     [("image", ImageEncoder("test_vit", pretrained=False, device="cpu"),
    ...       "photo")])
    >>> reg = FineTuneRegressor(union, max_epochs=2, device="cpu",
    ...                         random_state=0).fit(X, rng.normal(size=8))
    >>> reg.predict(X).shape
    (8,)
    """

    def _encode_targets(self, y):
        return self._regression_target(y)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y) -> FineTuneRegressor:
        """Fit the union, then train the backbones' tops and the head.

        Parameters
        ----------
        X : DataFrame (pandas or polars)
            The raw table, with the columns the union's transformers take (None or
            NaN where a row lacks a modality).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.

        Returns
        -------
        self : FineTuneRegressor
        """
        return self._fit(X, y)

    def predict(self, X) -> np.ndarray:
        """Predicted targets: 1-D for a 1-D ``y``.

        Parameters
        ----------
        X : DataFrame (pandas or polars)
            The raw table, with the columns the union's transformers take (None or
            NaN where a row lacks a modality).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        out = self._encoding.predict(self._outputs(X))
        return out[:, 0] if self._y_1d else out
