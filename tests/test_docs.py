"""What a user's tools read from the package: type hints, documentation links."""

import sys
from pathlib import Path

import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_html_repr

import skmm
from skmm import ImageEncoder, TextEncoder
from skmm._docs import DOCS_URL

ROOT = Path(__file__).resolve().parents[1]


def test_the_package_ships_its_type_hints():
    """PEP 561: a py.typed marker in the package, listed as package data."""
    assert (Path(skmm.__file__).parent / "py.typed").is_file()
    if sys.version_info < (3, 11):
        pytest.skip("tomllib is Python 3.11+")
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in config["tool"]["setuptools"]["package-data"]["skmm"]


@pytest.mark.parametrize("estimator", [TextEncoder(), ImageEncoder("test_convnext")])
def test_the_html_repr_links_to_the_estimator_page(estimator):
    name = type(estimator).__name__
    url = f"{DOCS_URL}/api/skmm.encoders.{name}.html"
    assert estimator._get_doc_link() == url
    html = estimator_html_repr(make_pipeline(estimator, StandardScaler()))
    assert f'href="{url}"' in html
    # scikit-learn's own steps keep their own links.
    assert "scikit-learn.org" in html


def _public_estimators():
    from sklearn.base import BaseEstimator

    return sorted(
        {
            obj
            for name in skmm.__all__
            if isinstance(obj := getattr(skmm, name), type)
            and issubclass(obj, BaseEstimator)
        },
        key=lambda cls: cls.__name__,
    )


@pytest.mark.parametrize("cls", _public_estimators(), ids=lambda cls: cls.__name__)
def test_every_public_estimator_links_to_its_own_page(cls):
    """Not scikit-learn's site, and not nothing: the page of the public name."""
    public = ".".join(
        part for part in cls.__module__.split(".") if not part.startswith("_")
    )
    link = cls._get_doc_link(cls.__new__(cls))
    assert link == f"{DOCS_URL}/api/{public}.{cls.__name__}.html"
