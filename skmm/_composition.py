"""Nested parameters of a meta-estimator's named estimators, written once.

scikit-learn's ``_BaseComposition`` (what ``ColumnTransformer`` and ``Pipeline``
use) exposes a list of ``(name, estimator)`` pairs as ``<name>__<param>``. The
ensemble and late fusion hold theirs under a parameter (``candidates``,
``estimators``) and expose them with that prefix: ``candidates__<name>``,
``candidates__<name>__<param>``. :class:`NamedEstimatorsMixin` is that pattern
with the prefix: ``get_params`` lists them, ``set_params`` replaces an estimator
by name or sets its parameters (in place, as scikit-learn does), after the whole
collection and the other parameters.

A leaf module: it imports nothing of skmm.
"""

from __future__ import annotations

from typing import Any

__all__ = ["NamedEstimatorsMixin"]


class NamedEstimatorsMixin:
    """``<attr>__<name>[__<param>]`` parameters over named estimators.

    A subclass sets ``_composition_attr`` (the parameter holding them) and
    implements ``_named_estimators(editable)``: the ``[name, estimator, ...]``
    items of that parameter (``editable=True``: the ones ``set_params`` edits, for
    example a default library made explicit) or ``None`` when it holds none; and
    ``_store_named_estimators(items)``, which writes edited items back.
    ``_composition_what`` names one of them in errors ("candidate", "modality").

    Examples
    --------
    >>> from sklearn.base import BaseEstimator
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmm._composition import NamedEstimatorsMixin
    >>> class Meta(NamedEstimatorsMixin, BaseEstimator):
    ...     _composition_attr = "parts"
    ...     def __init__(self, parts=None):
    ...         self.parts = parts
    ...     def _named_estimators(self, editable=False):
    ...         return None if self.parts is None else [list(p) for p in self.parts]
    ...     def _store_named_estimators(self, items):
    ...         self.parts = [tuple(item) for item in items]
    >>> meta = Meta([("lr", LogisticRegression())]).set_params(parts__lr__C=0.5)
    >>> meta.get_params()["parts__lr__C"]
    0.5
    """

    _composition_attr = "estimators"
    _composition_what = "estimator"

    def _named_estimators(self, editable: bool = False) -> list[list[Any]] | None:
        raise NotImplementedError

    def _store_named_estimators(self, items: list[list[Any]]) -> None:
        raise NotImplementedError

    def get_params(self, deep: bool = True) -> dict:
        out = super().get_params(deep=deep)
        if not deep:
            return out
        try:
            items = self._named_estimators()
        except (TypeError, ValueError):
            return out  # an invalid collection: fit says what is wrong with it
        attr = self._composition_attr
        for name, est, *_ in items or []:
            out[f"{attr}__{name}"] = est
            if hasattr(est, "get_params") and not isinstance(est, type):
                for key, value in est.get_params(deep=True).items():
                    out[f"{attr}__{name}__{key}"] = value
        return out

    def set_params(self, **params):
        attr = self._composition_attr
        prefix = f"{attr}__"
        # 1. the whole collection, 2. the other parameters (a default library
        # may depend on them), 3. estimators by name and their parameters.
        if attr in params:
            setattr(self, attr, params.pop(attr))
        nested = {k: params.pop(k) for k in list(params) if k.startswith(prefix)}
        super().set_params(**params)
        if nested:
            items = self._named_estimators(editable=True)
            if items is None:
                raise ValueError(
                    f"cannot set {sorted(nested)}: `{attr}` holds no named estimators"
                )
            by_name = {str(item[0]): item for item in items}
            sub_params: dict[str, dict] = {}
            for key, value in nested.items():
                name, _, sub = key[len(prefix) :].partition("__")
                if name not in by_name:
                    raise ValueError(
                        f"invalid parameter {key!r}: no {self._composition_what} "
                        f"{name!r} in {attr} (it has {list(by_name)})"
                    )
                if sub:
                    sub_params.setdefault(name, {})[sub] = value
                else:
                    by_name[name][1] = value
            for name, values in sub_params.items():
                by_name[name][1].set_params(**values)
            self._store_named_estimators(items)
        return self
