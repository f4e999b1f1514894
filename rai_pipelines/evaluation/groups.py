"""Group encoding: each sensitive feature factorized once, groups of any subset
of features addressed by a mixed-radix id, so every per-group statistic is one
`bincount` over the finest partition (the full intersection) and coarser
partitions are sums over it."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd

from rai_pipelines.errors import DataError

OVERALL = "overall"


@dataclass(frozen=True)
class GroupIndex:
    features: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]  # sorted group labels per feature
    cell: np.ndarray  # per row: id of its intersection cell (int64)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(lv) for lv in self.levels)

    @property
    def n_cells(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.features else 1

    def partitions(self, intersections: bool = True) -> list[tuple[int, ...]]:
        """Feature subsets to report, as axis tuples: each feature alone, then their intersection."""
        if not self.features:
            return [()]
        parts = [(i,) for i in range(len(self.features))]
        if intersections and len(self.features) > 1:
            parts.append(tuple(range(len(self.features))))
        return parts

    def partition_name(self, axes: tuple[int, ...]) -> str:
        return "&".join(self.features[a] for a in axes) if axes else OVERALL

    def group_slices(self, axes: tuple[int, ...]) -> list[str]:
        """Slice names in the row-major order of the partition's tensor."""
        if not axes:
            return [OVERALL]
        return [
            "&".join(f"{self.features[a]}={label}" for a, label in zip(axes, combo))
            for combo in product(*(self.levels[a] for a in axes))
        ]

    def reduce(self, tensor: np.ndarray, axes: tuple[int, ...], lead: int = 0) -> np.ndarray:
        """Sum a per-cell tensor (optionally after `lead` leading axes, e.g. resamples)
        down to the groups of `axes`, flattened: shape (*lead_dims, groups, *trailing)."""
        k = len(self.features)
        drop = tuple(lead + a for a in range(k) if a not in axes)
        out = tensor.sum(axis=drop) if drop else tensor
        kept = [self.shape[a] for a in axes]
        lead_dims = out.shape[:lead]
        trailing = out.shape[lead + len(kept):]
        return out.reshape(*lead_dims, int(np.prod(kept, dtype=np.int64)) if kept else 1, *trailing)


def encode(sensitive: dict[str, object], n: int) -> GroupIndex:
    """Factorize each sensitive column; a missing value is an error, not a group."""
    cell = np.zeros(n, dtype=np.int64)
    levels = []
    for name, values in sensitive.items():
        codes, uniques = pd.factorize(np.asarray(values), sort=True)
        if len(codes) != n:
            raise DataError(f"sensitive column {name!r} has {len(codes)} rows, expected {n}")
        if (codes < 0).any():
            raise DataError(f"sensitive column {name!r} has {int((codes < 0).sum())} missing values; every row needs a group")
        cell *= len(uniques)
        cell += codes
        levels.append(tuple(str(u) for u in uniques))
    return GroupIndex(tuple(sensitive), tuple(levels), cell)
