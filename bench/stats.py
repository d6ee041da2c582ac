"""Figures the benchmarks print."""

from __future__ import annotations


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0.99 for p99) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * q) - 1)]
