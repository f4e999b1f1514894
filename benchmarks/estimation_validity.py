"""How good are estimates made while labels are pending? CBPE (evaluation/estimation.py) on the ACS replay, labels
withheld and then compared.

Each of the demo's recipes is trained on one half of the 2015 reference window; the other half (held out from
training, as a CBPE reference must be) calibrates the estimates. Each of the twelve replayed nights (2016-2018) is
estimated without its labels, then set against what its labels realize: accuracy overall and the TPR difference by
SEX, each with its 95% interval. Printed: every night, then per recipe and metric the mean absolute error, the mean
signed error, and the share of nights whose interval covered the realized value.

Run: .venv/bin/python benchmarks/estimation_validity.py [--resamples 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rai_pipelines.catalog import load_catalog
from rai_pipelines.data.snapshots import DatasetStore
from rai_pipelines.data.sources import production_windows, reference_window
from rai_pipelines.data.validation import group_labels
from rai_pipelines.evaluation.estimation import estimate
from rai_pipelines.evaluation.fairness import compare_groups, fairness_report
from rai_pipelines.modeling.training import RECIPES, train
from rai_pipelines.settings import load_settings

KEYS = (("accuracy", "overall"), ("tpr_difference", "SEX"))


def _rows(report) -> dict:
    return {(r.metric, r.slice): r for r in report.rows("x")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    catalog = load_catalog(load_settings().catalog_dir)
    system = catalog.system("acs_employment")
    store = DatasetStore(load_settings().snapshot_dir)
    _, reference = store.snapshot(system, reference_window(system))
    order = np.random.default_rng(0).permutation(len(reference))
    train_rows, calibration_rows = reference.iloc[order[: len(order) // 2]], reference.iloc[order[len(order) // 2:]]
    nights = [store.snapshot(system, w)[1] for w in production_windows(system)]
    found: dict = {}
    for recipe in RECIPES:
        model, facts = train(recipe, system, train_rows)
        columns = facts["features"]
        ref_score = model.predict_proba(calibration_rows[columns])[:, 1]
        ref_y = calibration_rows[system.data.label].to_numpy()
        ref_sex = {"SEX": group_labels(system, calibration_rows)["SEX"].to_numpy()}
        for i, frame in enumerate(nights):
            score = model.predict_proba(frame[columns])[:, 1]
            decision = (score >= system.model.decision_threshold).astype(int)
            sex = {"SEX": group_labels(system, frame)["SEX"].to_numpy()}
            started = time.perf_counter()
            overall, assumptions = estimate(ref_score, ref_y, score, decision, None, ["accuracy"], resamples=args.resamples)
            by_sex, _ = estimate(ref_score, ref_y, score, decision, sex, ["tpr"], reference_sensitive=ref_sex,
                                 resamples=args.resamples)
            seconds = time.perf_counter() - started
            estimated = {**_rows(overall), **_rows(compare_groups(by_sex, {}))}
            y = frame[system.data.label].to_numpy()
            realized = {**_rows(fairness_report(y, decision, None, None, ["accuracy"], resamples=0)),
                        **_rows(fairness_report(y, decision, sex, None, ["tpr"], resamples=0))}
            for key in KEYS:
                e, r = estimated[key], realized[key].value
                found.setdefault((recipe.name, key), []).append((e.value - r, e.ci_low <= r <= e.ci_high))
                print(f"{recipe.name:<20} night {i + 1:>2}  {key[0]:<15} estimated {e.value:.4f} [{e.ci_low:.4f}, "
                      f"{e.ci_high:.4f}]  realized {r:.4f}  {'covered' if e.ci_low <= r <= e.ci_high else 'MISSED'}  "
                      f"({seconds:.1f} s; calibrator {assumptions.calibrator}, reference ECE {assumptions.reference_ece:.4f}, "
                      f"score KS {assumptions.score_ks:.3f})")
    print("\n| recipe | metric | mean absolute error | mean signed error (estimated - realized) | interval coverage |")
    print("|---|---|---|---|---|")
    for (recipe, key), results in found.items():
        errors = np.array([e for e, _ in results])
        print(f"| {recipe} | {key[0]} ({key[1]}) | {np.abs(errors).mean():.4f} | {errors.mean():+.4f} | "
              f"{np.mean([c for _, c in results]):.0%} of {len(results)} |")


if __name__ == "__main__":
    main()
