"""Joining per-modality encoders and tabular transformers into one matrix."""

from skmm.compose._union import MultimodalUnion, make_multimodal_union

__all__ = ["MultimodalUnion", "make_multimodal_union"]
