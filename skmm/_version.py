"""The version of skmm (a leaf module: read by the package root and the build)."""

__version__ = "0.1.0"
