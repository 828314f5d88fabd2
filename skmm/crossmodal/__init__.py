"""Cross-modal learning: a shared space for two modalities, for retrieval and
zero-shot classification.

- :class:`CrossModalAligner` learns one projection per modality into a shared
  space (contrastive InfoNCE with a learnable temperature, or CCA / PLS / a random
  projection as baselines); ``score`` is the retrieval recall@k;
- :class:`ZeroShotClassifier` classifies items of one modality by their nearest
  class description of the other, including classes the aligner never saw;
- :func:`recall_at_k` is the retrieval metric.
"""

from skmm.crossmodal._aligner import CrossModalAligner
from skmm.crossmodal._metrics import recall_at_k
from skmm.crossmodal._zeroshot import ZeroShotClassifier

__all__ = ["CrossModalAligner", "ZeroShotClassifier", "recall_at_k"]
