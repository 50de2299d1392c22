"""Temporal smoothing of keypoints in video: the One Euro filter.

Casiez, Roussel, Vogel, "1 Euro Filter: A Simple Speed-based Low-pass Filter for Noisy Input in
Interactive Systems", CHI 2012. An exponential low-pass filter whose cutoff frequency rises with
the signal's speed: slow movement is smoothed hard (jitter removed), fast movement lightly (little
lag). MediaPipe filters its pose landmarks the same way.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np


def _alpha(cutoff, dt: float):
    """Smoothing factor of an exponential filter with ``cutoff`` (Hz) at sample period ``dt``."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter over an array of values (e.g. keypoints ``(K, 2)``), element-wise.

    Args:
        min_cutoff: cutoff frequency (Hz) at rest; lower removes more jitter, with more lag.
        beta: how fast the cutoff rises with speed (per unit of the values per second); higher
            follows fast movement with less lag.
        d_cutoff: cutoff frequency (Hz) of the speed estimate.

    ``filter(x, t)`` takes the values at time ``t`` (seconds) and returns the filtered values;
    ``mask`` (same shape, bool) marks the values that were observed: a masked-out value is not
    filtered and restarts its element's filter when it is observed again.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f"OneEuroFilter needs min_cutoff > 0, d_cutoff > 0, beta >= 0; got "
                             f"{min_cutoff}, {d_cutoff}, {beta}")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def fresh(self) -> "OneEuroFilter":
        """A new filter with the same parameters and no history (one per tracked person)."""
        return OneEuroFilter(self.min_cutoff, self.beta, self.d_cutoff)

    def reset(self) -> None:
        self._x: Optional[np.ndarray] = None
        self._dx: Optional[np.ndarray] = None
        self._t: Optional[float] = None

    def filter(self, x, t: float, mask=None) -> np.ndarray:
        x = np.asarray(x, np.float64)
        mask = np.ones(x.shape, bool) if mask is None else np.broadcast_to(np.asarray(mask, bool), x.shape)
        if self._x is None or self._x.shape != x.shape or t <= self._t:
            self._x, self._dx, self._t = np.where(mask, x, np.nan), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        fresh = mask & np.isnan(self._x)  # observed again after a gap: restart there
        dx = np.where(fresh, 0.0, (x - self._x) / dt)
        a_d = _alpha(self.d_cutoff, dt)
        dx_hat = a_d * dx + (1 - a_d) * self._dx
        a = _alpha(self.min_cutoff + self.beta * np.abs(dx_hat), dt)
        x_hat = np.where(fresh, x, a * x + (1 - a) * self._x)
        self._x = np.where(mask, x_hat, np.nan)
        self._dx = np.where(mask, dx_hat, 0.0)
        self._t = t
        return np.where(mask, x_hat, x)
