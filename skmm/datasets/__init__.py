"""Loaders for the demo and benchmark data."""

from skmm.datasets._reviews import load_womens_reviews

__all__ = ["load_womens_reviews"]
