"""Loaders for the demo and benchmark data."""

from skmm.datasets._av_digits import load_av_digits
from skmm.datasets._grocery import load_grocery_store
from skmm.datasets._movielens import load_movielens
from skmm.datasets._reviews import load_womens_reviews

__all__ = [
    "load_av_digits",
    "load_grocery_store",
    "load_movielens",
    "load_womens_reviews",
]
