"""Per-block standardisation: the one scaler of the heads that read modality blocks.

Each block is standardised with the feature means and standard deviations of the
rows that have it (a block absent from a row says nothing about its features); a
NaN left in a present row becomes the feature's mean, and an absent row is all
zeros (the heads mask it). The statistics are float64 and merge chunk by chunk
(Chan's parallel formula), so that a head streaming a memory map gets the
statistics of the in-memory fit, and so that large values do not overflow: the
variance of a feature near 1e20 is 1e40, beyond float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["BlockScaler"]


class BlockScaler:
    """Standardise modality blocks with the statistics of the rows that have them.

    Parameters
    ----------
    min_scale : float, default=1e-6
        A feature whose standard deviation is below this (a constant) is scaled
        by 1 instead.

    Attributes
    ----------
    means_ : list of ndarray of float64
        Each block's feature means (0 for a feature with no value).
    stds_ : list of ndarray of float64
        Each block's feature standard deviations (0 for a feature with no value).
    scales_ : list of ndarray of float64
        ``stds_`` with constants scaled by 1: what ``transform`` divides by.
    counts_ : list of ndarray of float64
        Number of values seen of each feature.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.compose._scaling import BlockScaler
    >>> blocks = [np.array([[1.0], [3.0], [np.nan]]), np.array([[5.0], [5.0], [5.0]])]
    >>> present = np.array([[True, True], [True, True], [False, True]])
    >>> scaler = BlockScaler().fit(blocks, present)
    >>> [m.tolist() for m in scaler.means_], [s.tolist() for s in scaler.scales_]
    ([[2.0], [5.0]], [[1.0], [1.0]])
    >>> [b.ravel().tolist() for b in scaler.transform(blocks, present)]
    [[-1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """

    def __init__(self, min_scale: float = 1e-6):
        self.min_scale = min_scale

    def fit(self, blocks: Sequence[np.ndarray], present: np.ndarray) -> BlockScaler:
        """Compute the statistics of ``blocks`` over the rows that have them.

        Parameters
        ----------
        blocks : sequence of ndarray of shape (n_samples, width)
            One array per block; NaN where a value is missing.
        present : ndarray of bool, shape (n_samples, n_blocks)
            False where the block is absent from the row.

        Returns
        -------
        self
        """
        for attr in ("counts_", "_mean", "_m2"):
            self.__dict__.pop(attr, None)
        return self.partial_fit(blocks, present)

    def partial_fit(
        self, blocks: Sequence[np.ndarray], present: np.ndarray
    ) -> BlockScaler:
        """Merge the statistics of more rows into those seen so far.

        Parameters
        ----------
        blocks : sequence of ndarray of shape (n_samples, width)
        present : ndarray of bool, shape (n_samples, n_blocks)

        Returns
        -------
        self
        """
        if not hasattr(self, "counts_"):
            widths = [np.shape(b)[1] for b in blocks]
            self.counts_ = [np.zeros(w) for w in widths]
            self._mean = [np.zeros(w) for w in widths]
            self._m2 = [np.zeros(w) for w in widths]
        if len(blocks) != len(self.counts_):
            raise ValueError(
                f"got {len(blocks)} blocks; the scaler was fitted on "
                f"{len(self.counts_)}"
            )
        for j, block in enumerate(blocks):
            part = np.asarray(block, dtype=np.float64)[present[:, j]]
            n_b = (~np.isnan(part)).sum(axis=0).astype(np.float64)
            if not n_b.any():
                continue
            count, mean = self.counts_[j], self._mean[j]
            with np.errstate(all="ignore"):
                mean_b = np.where(n_b > 0, np.nansum(part, axis=0) / n_b, 0.0)
                m2_b = np.nansum((part - mean_b) ** 2, axis=0)
                n = count + n_b
                delta = mean_b - mean
                ratio = np.where(n > 0, n_b / n, 0.0)
                self._mean[j] = mean + delta * ratio
                self._m2[j] = self._m2[j] + m2_b + delta**2 * count * ratio
            self.counts_[j] = n
        return self

    @property
    def means_(self) -> list[np.ndarray]:
        return [m.copy() for m in self._mean]

    @property
    def stds_(self) -> list[np.ndarray]:
        out = []
        for count, m2 in zip(self.counts_, self._m2, strict=True):
            with np.errstate(all="ignore"):
                out.append(np.where(count > 0, np.sqrt(m2 / count), 0.0))
        return out

    @property
    def scales_(self) -> list[np.ndarray]:
        out = []
        for std in self.stds_:
            std[~(std >= self.min_scale)] = 1.0  # constants, and no value at all
            out.append(std)
        return out

    def transform(
        self, blocks: Sequence[np.ndarray], present: np.ndarray
    ) -> list[np.ndarray]:
        """Standardised float32 copies of ``blocks``.

        A NaN in a present row becomes 0 (the feature's mean); an absent row is
        all zeros.

        Parameters
        ----------
        blocks : sequence of ndarray of shape (n_samples, width)
        present : ndarray of bool, shape (n_samples, n_blocks)

        Returns
        -------
        list of ndarray of float32
        """
        means, scales = self.means_, self.scales_
        if len(blocks) != len(means):
            raise ValueError(
                f"got {len(blocks)} blocks; the scaler was fitted on {len(means)}"
            )
        out = []
        for j, block in enumerate(blocks):
            scaled = np.array(block, dtype=np.float64)
            scaled -= means[j]
            scaled /= scales[j]
            np.nan_to_num(scaled, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
            scaled[~present[:, j]] = 0.0
            out.append(scaled.astype(np.float32))
        return out
