"""The documentation link of skmm's estimators in their HTML repr.

scikit-learn's HTML repr (a notebook's display of an estimator) shows a "?" link to
the estimator's page, made from ``_doc_link_module`` and ``_doc_link_template``
(``sklearn.utils._repr_html.base._HTMLDocumentationLinkMixin``). skmm's estimators
take :class:`DocLinkMixin` before ``BaseEstimator`` to link to skmm's API reference
instead of showing none: ``{DOCS_URL}/api/{module}.{Name}.html``, where module is the
public package the estimator is exported from (``skmm.encoders.TextEncoder``).

The project names no documentation site yet (neither the README nor pyproject.toml
has a URL): ``DOCS_URL`` is where the API reference is to be published, the one
place to change when it moves.
"""

from __future__ import annotations

__all__ = ["DOCS_URL", "DOC_LINK_TEMPLATE", "DocLinkMixin"]

DOCS_URL = "https://skmm.readthedocs.io/en/stable"
DOC_LINK_TEMPLATE = DOCS_URL + "/api/{estimator_module}.{estimator_name}.html"


class DocLinkMixin:
    """Link an estimator's HTML repr to skmm's API reference.

    Put it before ``BaseEstimator`` (and scikit-learn's other mixins) in the bases.

    Examples
    --------
    >>> from skmm import TextEncoder
    >>> TextEncoder()._get_doc_link()
    'https://skmm.readthedocs.io/en/stable/api/skmm.encoders.TextEncoder.html'
    """

    _doc_link_module = "skmm"
    _doc_link_template = DOC_LINK_TEMPLATE
