"""Coverage of 95% intervals for a rate, computed exactly (summed over every count by the binomial law), for the
interval the gate uses (Clopper-Pearson) and the one it replaced (percentile bootstrap of the count, which with
many resamples is the binomial quantile interval at the observed rate), plus the disparity intervals by
simulation.

    .venv/bin/python benchmarks/interval_coverage.py [--json PATH]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy.stats import binom

from rai_pipelines.evaluation.fairness import fairness_report
from rai_pipelines.stats.intervals import proportion_bounds

SIZES = (8, 24, 100, 1000, 10000)
RATES = (0.01, 0.05, 0.5, 0.95, 0.99)


def coverage(n: int, p: float, method: str) -> float:
    k = np.arange(n + 1)
    if method == "clopper_pearson":
        b = proportion_bounds(k, np.full(n + 1, n), [0.025])[:, 0]
        lo, hi = b[:, 0], b[:, 1]
    else:  # percentile bootstrap: quantiles of Binomial(n, k/n) / n
        lo, hi = binom.ppf(0.025, n, k / n) / n, binom.ppf(0.975, n, k / n) / n
    return float(binom.pmf(k, n, p)[(lo <= p) & (p <= hi)].sum())


def disparity_coverage(rates: tuple[float, ...], trials: int = 400, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    truth = max(rates) - min(rates)
    hits = 0
    for _ in range(trials):
        sizes = rng.integers(80, 400, len(rates))
        g = np.repeat([f"g{i}" for i in range(len(rates))], sizes)
        p = (rng.random(len(g)) < np.repeat(rates, sizes)).astype(int)
        d = fairness_report(np.zeros(len(g), dtype=int), p, {"G": g}, metrics=["selection_rate"],
                            resamples=0).partitions[0].disparities["selection_rate"]["difference"]
        hits += d.ci_low <= truth <= d.ci_high
    return hits / trials


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    table = {m: {n: {p: coverage(n, p, m) for p in RATES} for n in SIZES} for m in ("clopper_pearson", "percentile_bootstrap")}
    print("coverage of 95% intervals for a rate (exact): Clopper-Pearson / percentile bootstrap")
    print("| n | " + " | ".join(f"p = {p}" for p in RATES) + " |")
    print("|---" * (len(RATES) + 1) + "|")
    for n in SIZES:
        print(f"| {n} | " + " | ".join(f"{table['clopper_pearson'][n][p]:.3f} / {table['percentile_bootstrap'][n][p]:.3f}"
                                      for p in RATES) + " |")
    worst = min(v for row in table["clopper_pearson"].values() for v in row.values())
    print(f"worst cell, Clopper-Pearson: {worst:.3f} (target >= 0.93)")
    disparities = {str(r): disparity_coverage(r) for r in [(0.3, 0.3), (0.3, 0.33), (0.3, 0.3, 0.3, 0.3), (0.3, 0.32, 0.3, 0.35)]}
    print("coverage of the 95% max - min selection-rate difference (400 simulated populations, groups of 80-400):")
    for rates, c in disparities.items():
        print(f"  group rates {rates}: {c:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rates": {m: {str(n): {str(p): v for p, v in row.items()} for n, row in t.items()} for m, t in table.items()},
                       "disparities": disparities}, f, indent=1)


if __name__ == "__main__":
    main()
