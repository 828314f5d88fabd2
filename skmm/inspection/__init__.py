"""Which modality matters? Importance and ablation scores by modality block."""

from skmm.inspection._modality import modality_ablation, modality_importance

__all__ = ["modality_ablation", "modality_importance"]
