"""Every public class, function and method has a numpydoc docstring that says what
its parameters are, and every public class and function shows an example.

The public API is what ``skmm`` and its subpackages list in ``__all__``; numpydoc's
validator reads each docstring against the signature, so a parameter added to a
signature without a line in its docstring fails here.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

PACKAGES = [
    "skmm",
    "skmm.cache",
    "skmm.compose",
    "skmm.crossmodal",
    "skmm.datasets",
    "skmm.distributed",
    "skmm.encoders",
    "skmm.ensemble",
    "skmm.exceptions",
    "skmm.fusion",
    "skmm.inspection",
    "skmm.io",
]

#: numpydoc's codes this project holds every public docstring to.
CHECKED = {
    "GL08": "no docstring",
    "SS01": "no summary",
    "PR01": "a parameter is not documented",
    "PR02": "a documented parameter is not in the signature",
    "PR03": "parameters documented in the wrong order",
    "PR10": "a parameter's colon needs a space on each side",
}
#: Checked only for classes and functions (not for each of their methods, nor for
#: exception and warning classes).
CHECKED_TOP_LEVEL = {"EX01": "no Examples section"}


def _public_api() -> list[tuple[str, bool]]:
    """(dotted name for numpydoc, needs an example?) for every public object."""
    names, seen = [], set()
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj) or not callable(obj) or id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.__module__.split(".")[0] != "skmm":
                continue  # a re-export of another library's object
            path = f"{obj.__module__}.{obj.__qualname__}"
            example = not (inspect.isclass(obj) and issubclass(obj, BaseException))
            names.append((path, example))
            if inspect.isclass(obj):
                for attr, value in vars(obj).items():
                    if attr.startswith("_"):
                        continue
                    if callable(value) or isinstance(value, property):
                        names.append((f"{path}.{attr}", False))
    return names


API = _public_api()


def test_the_public_api_is_found():
    tops = {name for name, example in API if example}
    assert "skmm.ensemble._ensemble.EnsembleClassifier" in tops
    assert "skmm.fusion._neural.FusionClassifier.fit" in {name for name, _ in API}
    assert len(tops) > 40


@pytest.mark.parametrize(("name", "example"), API, ids=[name for name, _ in API])
def test_docstring(name, example):
    checked = {**CHECKED, **(CHECKED_TOP_LEVEL if example else {})}
    result = numpydoc_validate.validate(name)
    errors = [f"{code}: {msg}" for code, msg in result["errors"] if code in checked]
    assert not errors, "\n".join(errors)
