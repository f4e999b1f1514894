"""The one shape every evaluation family returns: tidy metric rows."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

OVERALL = "overall"
_MLFLOW_UNSAFE = re.compile(r"[^\w.\- :/]")
BASELINE_METRIC = "baseline_version"  # the regression family's row naming the champion compared against (NaN: none)


@dataclass(frozen=True)
class MetricRow:
    family: str
    metric: str
    slice: str
    value: float  # NaN when undefined (e.g. a TPR for a group with no positives)
    n: int
    ci_low: float | None = None
    ci_high: float | None = None
    bounds: tuple | None = None  # one-sided (lo, hi) per level of stats.intervals.LEVELS: what the gate judges

    @property
    def defined(self) -> bool:
        return not math.isnan(self.value)

    @property
    def mlflow_key(self) -> str:
        """MLflow metric names allow only [/\\w.\\- :]: slices map '=' to ':' and '&' to '/', and any other character
        a group name may hold ('60K+') to '_'."""
        return _MLFLOW_UNSAFE.sub("_", f"{self.family}/{self.metric}/{self.slice.replace('=', ':').replace('&', '/')}")
