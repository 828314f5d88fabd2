"""CrossModalAligner: a shared space for two modalities (contrastive, CCA, PLS or a
random projection), for retrieval and zero-shot transfer."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.cross_decomposition import CCA, PLSCanonical
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d
from skorch import NeuralNet
from torch import nn

from skmm._docs import DocLinkMixin
from skmm._torch import resolve_device, seed_from, seeded
from skmm.compose._blocks import split_blocks, validate_modality_input
from skmm.compose._scaling import BlockScaler
from skmm.crossmodal._metrics import recall_at_k

__all__ = ["CrossModalAligner"]

_METHODS = ("contrastive", "cca", "pls", "random")
_MAX_LOGIT_SCALE = math.log(100.0)  # temperature >= 0.01, as in CLIP
_CHUNK = 4096


class _Projector(nn.Module):
    """One projection per modality into the shared space, and the temperature.

    The forward pass returns the L2-normalised projections of both blocks, the
    ``present`` mask and the log inverse temperature (``logit_scale``).
    """

    def __init__(
        self,
        input_dims: tuple[int, int],
        n_components: int,
        hidden: int | None,
        dropout: float,
        temperature: float,
        learn_temperature: bool,
    ):
        super().__init__()

        def projection(dim: int) -> nn.Module:
            if not hidden:
                return nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, n_components))
            return nn.Sequential(
                nn.Dropout(dropout),
                nn.Linear(dim, hidden),
                nn.GELU(),
                nn.Dropout(dropout),
                nn.Linear(hidden, n_components),
            )

        self.projections = nn.ModuleList(projection(int(d)) for d in input_dims)
        scale = torch.tensor(math.log(1.0 / temperature), dtype=torch.float32)
        if learn_temperature:
            self.logit_scale = nn.Parameter(scale)
        else:
            self.register_buffer("logit_scale", scale)

    def embed(self, x: torch.Tensor, which: int) -> torch.Tensor:
        return F.normalize(self.projections[which](x), dim=-1)

    def forward(self, x0: torch.Tensor, x1: torch.Tensor, present: torch.Tensor):
        return self.embed(x0, 0), self.embed(x1, 1), present, self.logit_scale


class _MultiPositiveInfoNCE(nn.Module):
    """Symmetric InfoNCE with several positives per anchor.

    In a batch, every row holding modality A is an anchor against every row holding
    modality B, and the other way round. Two rows are a positive pair when their
    labels are equal (the row's own index when pairs come from rows; the class when
    they come from ``y``). Each anchor's loss is the mean over its positives of
    ``-log softmax`` (the supervised-contrastive form, Khosla et al. 2020); anchors
    without a positive in the batch are left out; the two directions are averaged.
    With one positive per anchor this is CLIP's loss (Radford et al. 2021).
    """

    def forward(self, y_pred, labels: torch.Tensor) -> torch.Tensor:
        z0, z1, present, logit_scale = y_pred
        present = present.bool()
        a, b = present[:, 0], present[:, 1]
        scale = logit_scale.clamp(max=_MAX_LOGIT_SCALE).exp()
        logits = scale * z0[a] @ z1[b].T
        labels = labels.reshape(-1)
        positive = labels[a][:, None] == labels[b][None, :]
        total = (z0.sum() + z1.sum()) * 0.0 + logit_scale * 0.0
        terms = 0
        for lg, pos in ((logits, positive), (logits.T, positive.T)):
            has = pos.any(dim=1)
            if not has.any():
                continue
            log_prob = F.log_softmax(lg[has], dim=1)
            weight = pos[has].to(log_prob.dtype)
            per_anchor = -(log_prob * weight).sum(dim=1) / weight.sum(dim=1)
            total = total + per_anchor.mean()
            terms += 1
        return total / max(terms, 1)


class CrossModalAligner(DocLinkMixin, TransformerMixin, BaseEstimator):
    """Learn a shared space for two modalities, for retrieval and zero-shot use.

    ``X`` holds two modality blocks, as every block-reading head in skmm reads
    them: the output of a :class:`~skmm.MultimodalUnion` as a DataFrame (columns
    ``"{modality}__{feature}"``), a dict of arrays (one per modality), or any
    matrix with ``modalities=``. Each modality gets its own projection into an
    ``n_components``-d space, where matching items are close in cosine similarity.

    What is a match:

    - without ``y``, the two modalities of the same row (a photo and its caption);
    - with ``y``, any two items of the same class, in the same row or not (all the
      photos of a class and that class's description): rows may then hold only
      one modality, e.g. photo rows with the text block absent and description rows
      with the image block absent. Rows holding both train faster: a batch of
      photo-only and description-only rows holds few descriptions, so few
      positives; repeating the class's description on each photo row gives the
      same loss with more positives per batch.

    Methods:

    - ``"contrastive"``: a linear (or one-hidden-layer, ``hidden``) projection per
      modality, trained with a symmetric InfoNCE loss and a learnable temperature
      (CLIP, Radford et al. 2021; several positives per anchor when pairs come from
      labels, Khosla et al. 2020), with skorch (the ``NeuralNet`` is in ``net_``);
    - ``"cca"``, ``"pls"``: scikit-learn's :class:`~sklearn.cross_decomposition.
      CCA` / :class:`~sklearn.cross_decomposition.PLSCanonical` on the matched
      pairs, a classical baseline to compare with on your data (without
      regularisation: it overfits when a block is wide next to the number of
      distinct pairs, and scikit-learn's CCA is slow on wide blocks, about two
      minutes for 2,000 x 1,280 with 32 components on one core);
    - ``"random"``: a fixed random Gaussian projection of each modality, learning
      nothing about the other: the floor any aligner must beat.

    Every method standardises each block with the mean and standard deviation of
    the training rows that hold it, and L2-normalises the projections.

    Parameters
    ----------
    method : {"contrastive", "cca", "pls", "random"}, default="contrastive"
    n_components : int, default=64
        Width of the shared space. CCA and PLS need it no larger than the number of
        distinct matched pairs and either block's width; with few distinct items on
        one side (e.g. one description per class) only that many are meaningful.
    modalities : dict, list of two str or None, default=None
        Which two blocks to align. A list or tuple names two of the blocks found in
        ``X`` (e.g. ``["image", "text"]`` when the union also has a ``tab`` block);
        a dict maps two names to a slice, column positions or column names of ``X``
        (``MultimodalUnion.output_indices_`` entries work). None: ``X`` must have
        exactly two blocks.
    temperature : float, default=0.07
        The softmax temperature of the contrastive loss, its starting value when
        ``learn_temperature`` (the learned value is ``temperature_``; it stays at
        or above 0.01). Other methods only report it as ``temperature_``, which
        :class:`ZeroShotClassifier` uses for probabilities.
    learn_temperature : bool, default=True
    hidden : int or None, default=None
        None: each projection is linear, the usual choice on frozen pretrained
        embeddings (on the grocery benchmark a hidden layer of 256 did no better).
        An int: one hidden layer of this width with GELU.
    dropout : float, default=0.0
        Dropout on the inputs (and the hidden layer) of the projections, in training.
    lr, max_epochs, batch_size, weight_decay : default=1e-3, 50, 128, 1e-4
        AdamW learning rate, epochs, rows per batch (the in-batch negatives) and
        weight decay of the contrastive method.
    k : int, default=1
        The ``k`` of the recall@k returned by :meth:`score`.
    output : {"mean", "blocks"}, default="mean"
        What :meth:`transform` returns, see there.
    device : str, default="auto"
        "auto" (CUDA, then MPS, then CPU), "cpu", "cuda", ...
    random_state : int, RandomState or None, default=None
        Seeds the initialisation and the batches of the contrastive method and the
        random projection, without touching torch's global random state. Fixed, a
        fit repeats bit for bit on the CPU.
    verbose : int, default=0
        1 prints skorch's per-epoch table.

    Attributes
    ----------
    modalities_ : tuple of str
        The two aligned modalities: those of ``modalities`` in its order, else the
        blocks of ``X`` in their order (``output="blocks"`` follows it).
    layout_ : BlockLayout
        Where the blocks are in ``X``.
    scaler_ : BlockScaler
        The standardisation of the two blocks (``block_means_`` and
        ``block_scales_`` are its float64 statistics).
    temperature_ : float
        The learned temperature (contrastive), else ``temperature``.
    net_ : skorch.NeuralNet
        The trained projections (contrastive only).
    estimator_ : CCA or PLSCanonical
        The fitted scikit-learn model (cca and pls only).
    components_ : list of two ndarray
        The random projection matrices (random only).
    n_epochs_ : int
        Epochs trained (contrastive only).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` was a DataFrame.

    See Also
    --------
    ZeroShotClassifier : classify items by their nearest class description.
    recall_at_k : the retrieval metric of :meth:`score`.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.crossmodal import CrossModalAligner
    >>> rng = np.random.default_rng(0)
    >>> latent = rng.normal(size=(200, 4))
    >>> X = {"image": latent @ rng.normal(size=(4, 16)),
    ...      "text": latent @ rng.normal(size=(4, 8))}
    >>> aligner = CrossModalAligner(n_components=4, lr=1e-2, random_state=0)
    >>> aligner.fit(X).transform({"text": X["text"][:3]}).shape
    (3, 4)
    >>> aligner.set_params(k=5).score(X) > 0.5
    True
    """

    _parameter_constraints: dict = {
        "method": [StrOptions(set(_METHODS))],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "modalities": [dict, list, tuple, None],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
        "learn_temperature": ["boolean"],
        "hidden": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "k": [Interval(numbers.Integral, 1, None, closed="left")],
        "output": [StrOptions({"mean", "blocks"})],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        method: str = "contrastive",
        *,
        n_components: int = 64,
        modalities: dict | list | tuple | None = None,
        temperature: float = 0.07,
        learn_temperature: bool = True,
        hidden: int | None = None,
        dropout: float = 0.0,
        lr: float = 1e-3,
        max_epochs: int = 50,
        batch_size: int = 128,
        weight_decay: float = 1e-4,
        k: int = 1,
        output: str = "mean",
        device: str = "auto",
        random_state: Any = None,
        verbose: int = 0,
    ):
        self.method = method
        self.n_components = n_components
        self.modalities = modalities
        self.temperature = temperature
        self.learn_temperature = learn_temperature
        self.hidden = hidden
        self.dropout = dropout
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.k = k
        self.output = output
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = (
            self.method == "contrastive" and self.random_state is None
        )
        return tags

    # -- input ------------------------------------------------------------------
    def _read(self, X, *, reset: bool) -> tuple[list[np.ndarray], np.ndarray]:
        """Validate ``X``; return the two aligned blocks and which rows have them."""
        layout_modalities = (
            self.modalities if isinstance(self.modalities, Mapping) else None
        )
        if not reset:
            check_is_fitted(self)
            if isinstance(X, Mapping) and not sp.issparse(X) and self.layout_.from_dict:
                # Rows of one modality only: the other blocks may be left out.
                n_rows = {len(np.asarray(v)) for v in X.values()}
                if len(n_rows) > 1:
                    raise ValueError(
                        "the arrays of the dict have different numbers of rows: "
                        f"{sorted(n_rows)}"
                    )
                n = n_rows.pop() if n_rows else 0
                X = {
                    name: X[name]
                    if name in X
                    else np.full((n, width), np.nan, dtype=np.float32)
                    for name, width in zip(
                        self.layout_.names, self.layout_.widths, strict=True
                    )
                } | {k: v for k, v in X.items() if k not in self.layout_.names}
        X, _ = validate_modality_input(
            self,
            X,
            reset=reset,
            modalities=layout_modalities,
            dtype=[np.float32, np.float64],
            warn_single_block=False,  # one block is an error below
        )
        layout = self.layout_
        if reset:
            if isinstance(self.modalities, (list, tuple)):
                names = [str(m) for m in self.modalities]
                unknown = [m for m in names if m not in layout.names]
                if len(names) != 2 or len(set(names)) != 2 or unknown:
                    raise ValueError(
                        "modalities must name two different blocks of X; got "
                        f"{list(self.modalities)}, X has the blocks "
                        f"{list(layout.names)}"
                    )
            else:
                names = list(layout.names)
                if len(names) != 2:
                    raise ValueError(
                        f"CrossModalAligner aligns two modalities, X has "
                        f"{len(names)} blocks: {list(names)}; pass modalities= "
                        "(e.g. ['image', 'text']) to pick two"
                    )
            self._block_index = tuple(layout.names.index(m) for m in names)
            self.modalities_ = tuple(names)
        blocks, present = split_blocks(X, layout)
        idx = list(self._block_index)
        return [blocks[i] for i in idx], present[:, idx]

    def _standardise(self, blocks, present, *, fit: bool) -> list[np.ndarray]:
        """Standardise each block with the statistics of the rows that have it;
        absent rows become zeros (masked downstream)."""
        if fit:
            self.scaler_ = BlockScaler().fit(blocks, present)
        return self.scaler_.transform(blocks, present)

    @property
    def block_means_(self) -> list[np.ndarray]:
        """The two blocks' feature means (float64), over the rows that have them."""
        return self.scaler_.means_

    @property
    def block_scales_(self) -> list[np.ndarray]:
        """What the two blocks' features are divided by (float64; 1 for a constant)."""
        return self.scaler_.scales_

    def _labels(self, y, n_rows: int) -> np.ndarray:
        """Integer match labels: the class from ``y``, else the row itself."""
        if y is None:
            return np.arange(n_rows)
        y = column_or_1d(y, warn=True)
        if len(y) != n_rows:
            raise ValueError(f"X has {n_rows} rows but y has {len(y)}")
        try:
            return np.unique(y, return_inverse=True)[1].reshape(-1)
        except TypeError:  # mixed types
            return np.unique(y.astype(str), return_inverse=True)[1].reshape(-1)

    # -- fit ------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None) -> CrossModalAligner:
        """Learn the projections from matched items.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            Rows with one or both modalities (an absent one as NaN, a set
            ``{modality}__missing`` indicator, or left out of a dict's row).
        y : array-like of shape (n_samples,), default=None
            Class of each row: items of the same class match across modalities.
            None: the two modalities of a row match, and nothing else does.

        Returns
        -------
        self
        """
        blocks, present = self._read(X, reset=True)
        labels = self._labels(y, len(present))
        for j, name in enumerate(self.modalities_):
            if not present[:, j].any():
                raise ValueError(
                    f"modality {name!r} is absent from every row of the training data"
                )
        if not np.intersect1d(labels[present[:, 0]], labels[present[:, 1]]).size:
            raise ValueError(
                "no matched pair in the training data: without y, a row must hold "
                "both modalities; with y, a class must have items of both"
            )
        inputs = self._standardise(blocks, present, fit=True)
        self._seed = seed_from(self.random_state)
        self.temperature_ = float(self.temperature)
        for attr in ("net_", "estimator_", "components_", "n_epochs_"):
            self.__dict__.pop(attr, None)
        if self.method == "contrastive":
            self._fit_contrastive(inputs, present, labels)
        elif self.method in ("cca", "pls"):
            self._fit_classical(inputs, present, labels)
        else:
            rng = np.random.default_rng(self._seed)
            self.components_ = [
                (rng.standard_normal((b.shape[1], self.n_components))).astype(
                    np.float32
                )
                for b in inputs
            ]
        return self

    def _fit_contrastive(self, inputs, present, labels) -> None:
        self.device_ = resolve_device(self.device)
        keep = present.any(axis=1)
        data = {
            "x0": inputs[0][keep],
            "x1": inputs[1][keep],
            "present": present[keep],
        }
        with seeded(self._seed, self.device_):
            module = _Projector(
                (inputs[0].shape[1], inputs[1].shape[1]),
                self.n_components,
                self.hidden,
                self.dropout,
                self.temperature,
                self.learn_temperature,
            )
            self.net_ = NeuralNet(
                module=module,
                criterion=_MultiPositiveInfoNCE,
                optimizer=torch.optim.AdamW,
                lr=self.lr,
                optimizer__weight_decay=self.weight_decay,
                max_epochs=self.max_epochs,
                batch_size=self.batch_size,
                iterator_train__shuffle=True,
                train_split=None,
                device=self.device_,
                verbose=self.verbose,
            )
            self.net_.fit(data, labels[keep].astype(np.int64))
        scale = float(self.net_.module_.logit_scale.detach().cpu())
        self.temperature_ = float(math.exp(-min(scale, _MAX_LOGIT_SCALE)))
        self.n_epochs_ = len(self.net_.history)

    def _fit_classical(self, inputs, present, labels) -> None:
        a_rows, b_rows = _matched_pairs(present, labels)
        A, B = inputs[0][a_rows], inputs[1][b_rows]
        limit = min(len(a_rows), A.shape[1], B.shape[1])
        if self.n_components > limit:
            raise ValueError(
                f"method={self.method!r} needs n_components <= {limit} (the number "
                f"of matched pairs, {len(a_rows)}, and the blocks' widths, "
                f"{A.shape[1]} and {B.shape[1]}); got {self.n_components}"
            )
        # Centre on the pairs themselves: then the fitted model's own centring is
        # zero and each modality projects alone.
        self.pair_means_ = [A.mean(axis=0), B.mean(axis=0)]
        model_class = CCA if self.method == "cca" else PLSCanonical
        model = model_class(n_components=self.n_components, scale=False, max_iter=1000)
        with warnings.catch_warnings():
            # Components past the rank of a block (e.g. one description per class)
            # are degenerate: scikit-learn warns and carries on.
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.filterwarnings("ignore", message=".*residual is constant.*")
            model.fit(A - self.pair_means_[0], B - self.pair_means_[1])
        self.estimator_ = model

    def _rotation(self, j: int) -> np.ndarray:
        model = self.estimator_
        return model.x_rotations_ if j == 0 else model.y_rotations_

    # -- transform ------------------------------------------------------------------
    def _project(self, inputs, present) -> list[np.ndarray]:
        """Unit vectors of each modality in the shared space; NaN where absent."""
        out = []
        for j, x in enumerate(inputs):
            if self.method == "contrastive":
                module = self.net_.module_
                was_training = module.training
                module.eval()
                parts = []
                with torch.inference_mode():
                    for start in range(0, len(x), _CHUNK):
                        chunk = torch.as_tensor(x[start : start + _CHUNK])
                        chunk = chunk.to(self.net_.device)
                        parts.append(module.embed(chunk, j).float().cpu().numpy())
                module.train(was_training)
                z = (
                    np.concatenate(parts)
                    if parts
                    else np.zeros((0, self.n_components), np.float32)
                )
            elif self.method in ("cca", "pls"):
                # The scores of scikit-learn's transform. Rescaling each variate
                # to unit variance did worse on the grocery benchmark's inner
                # split (zero-shot 0.240 against 0.283).
                z = (x - self.pair_means_[j]) @ self._rotation(j)
            else:
                z = x @ self.components_[j]
            z = np.asarray(z, dtype=np.float64)
            norm = np.linalg.norm(z, axis=1, keepdims=True)
            z = z / np.where(norm < 1e-12, 1.0, norm)
            z[~present[:, j]] = np.nan
            out.append(z.astype(np.float32))
        return out

    def transform(self, X) -> np.ndarray:
        """Shared-space vectors of the modalities each row has.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
            The form seen in fit. A dict may leave a modality out (photos only:
            ``{"image": Z}``).

        Returns
        -------
        ndarray
            ``output="mean"``: shape (n_samples, n_components), the unit-length
            mean of the unit-length projections of the modalities present in the
            row: a row with one modality gets that modality's vector, so photos and
            descriptions can be compared by cosine (dot product); a row with none
            gets NaN. ``output="blocks"``: shape (n_samples, 2 * n_components), the
            first modality's unit vector, then the second's (feature names
            ``"{modality}__{i}"``), NaN where the modality is absent.
        """
        blocks, present = self._read(X, reset=False)
        z = self._project(self._standardise(blocks, present, fit=False), present)
        if self.output == "blocks":
            return np.hstack(z)
        total = np.nan_to_num(z[0]) + np.nan_to_num(z[1])
        norm = np.linalg.norm(total, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / norm
        mean[~present.any(axis=1)] = np.nan
        return mean.astype(np.float32)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the columns of :meth:`transform`.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored: the names depend only on ``output``, ``n_components`` and
            ``modalities_``. Accepted for scikit-learn's API.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``shared__{i}`` for ``i < n_components`` (``output="mean"``), else
            ``{modality}__{i}`` for each of ``modalities_`` in turn
            (``output="blocks"``).
        """
        check_is_fitted(self)
        if self.output == "blocks":
            names = [f"{m}__{i}" for m in self.modalities_ for i in range(self._n_out)]
        else:
            names = [f"shared__{i}" for i in range(self._n_out)]
        return np.asarray(names, dtype=object)

    @property
    def _n_out(self) -> int:
        return int(self.n_components)

    # -- score ------------------------------------------------------------------------
    def score(self, X, y=None) -> float:
        """Mean recall@k of cross-modal retrieval in both directions.

        Each row's first modality queries the second modality of all rows, and the
        other way round; a query is a hit when a match (the same row without ``y``,
        the same class with ``y``) is among its ``k`` nearest candidates (cosine).
        With ``y``, identical candidates of the same class (e.g. the description
        repeated on each photo row of its class) count once. Queries without a
        match among the candidates are left out.

        Parameters
        ----------
        X : DataFrame, array-like or dict of str to array-like
        y : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
            The mean of the two directions' recall@k (one direction when the other
            has no query).
        """
        blocks, present = self._read(X, reset=False)
        labels = self._labels(y, len(present))
        z = self._project(self._standardise(blocks, present, fit=False), present)
        recalls = []
        for q, c in ((0, 1), (1, 0)):
            q_rows, c_rows = (
                np.flatnonzero(present[:, q]),
                np.flatnonzero(present[:, c]),
            )
            if len(q_rows) == 0 or len(c_rows) == 0:
                continue
            if y is not None:
                c_rows = _distinct(blocks[c], labels, c_rows)
            relevant = labels[q_rows][:, None] == labels[c_rows][None, :]
            if not relevant.any():
                continue
            similarity = z[q][q_rows] @ z[c][c_rows].T
            recalls.append(recall_at_k(similarity, relevant, self.k))
        if not recalls:
            raise ValueError(
                "no row has a match in the other modality: recall is undefined"
            )
        return float(np.mean(recalls))

    def __setstate__(self, state):
        super().__setstate__(state)
        net = state.get("net_")
        if net is not None:
            # skorch moved a CUDA-trained net to the CPU if this machine lacks CUDA.
            self.device_ = str(net.device)


def _matched_pairs(present: np.ndarray, labels: np.ndarray):
    """Row pairs (first modality, second modality) for CCA and PLS.

    A row holding both is its own pair. A row with one modality (possible with
    labels) is paired with the rows of its class that hold the other one, in turn.
    """
    a_rows, b_rows = [], []
    both = present[:, 0] & present[:, 1]
    a_rows.extend(np.flatnonzero(both))
    b_rows.extend(np.flatnonzero(both))
    for j, other in ((0, 1), (1, 0)):
        alone = np.flatnonzero(present[:, j] & ~present[:, other])
        partners = np.flatnonzero(present[:, other])
        by_label: dict[int, np.ndarray] = {}
        for lab in np.unique(labels[alone]):
            by_label[int(lab)] = partners[labels[partners] == lab]
        used: dict[int, int] = {}
        for row in alone:
            cands = by_label[int(labels[row])]
            if len(cands) == 0:
                continue
            turn = used.get(int(labels[row]), 0)
            used[int(labels[row])] = turn + 1
            partner = cands[turn % len(cands)]
            if j == 0:
                a_rows.append(row)
                b_rows.append(partner)
            else:
                a_rows.append(partner)
                b_rows.append(row)
    return np.asarray(a_rows, dtype=int), np.asarray(b_rows, dtype=int)


def _distinct(block: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The first of each group of rows with the same label and identical values."""
    keyed = np.column_stack([labels[rows].astype(np.float64), block[rows]])
    keyed = np.nan_to_num(keyed, nan=np.inf)
    _, first = np.unique(keyed, axis=0, return_index=True)
    return rows[np.sort(first)]
