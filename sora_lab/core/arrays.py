"""Array helpers the generate path needs without numpy's heavier corners."""

from __future__ import annotations

import numpy as np


def median(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """np.median(values, axis) to the bit (same dtype rules: a mean of the middle one or two), without
    importing numpy.ma, which np.median and np.percentile do: 0.1 s of a cold `sora-lab generate`."""
    n = values.shape[axis]
    middle = range(n // 2, n // 2 + 1) if n % 2 else range(n // 2 - 1, n // 2 + 1)
    part = np.partition(values, list(middle), axis=axis)
    return np.mean(part.take(middle, axis=axis), axis=axis)
