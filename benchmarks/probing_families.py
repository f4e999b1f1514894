"""What the probing families cost, at the demo's batch size and at 1M rows, against the obvious peer call on the
same data and model, in one run (the machine is shared: read the ratios).

    .venv/bin/python -m benchmarks.probing_families [--large 1000000]

Model: the demo's v2 recipe (histogram gradient boosting) trained on 20,000 reference rows. Data: the ACS 2016
rows, a nightly batch's worth, and the same rows drawn with replacement up to `--large`.

- robustness: the suite's four perturbations (re-scoring only the rows each changed, flips and paired accuracy
  changes with intervals) vs re-scoring every perturbed row and nothing else (no intervals).
- counterfactual: the suite's moves (the feature itself, the 3 strongest proxies and the placebo) vs re-scoring the
  batch once per other group (the feature itself only, no intervals).
- proxies: per feature and sensitive group, mutual information and a cross-fitted AUC, each with 1,000 bootstrap
  resamples, vs scikit-learn's mutual_info_score and a 2-fold cross-validated one-hot logistic regression per
  feature and group (no intervals).
- attributions: permutation importance (3 shuffles) vs scikit-learn's permutation_importance(n_repeats=3) on the
  same rows; SHAP on 500 rows vs shap's default explainer (shap.Explainer) on the same rows and background.
- membership: the attack AUC with 1,000 bootstrap resamples overall and per group vs scikit-learn's roc_auc_score
  on 1,000 row resamples.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from sklearn.inspection import permutation_importance

from rai_pipelines.catalog import load_catalog
from rai_pipelines.data.snapshots import DatasetStore
from rai_pipelines.data.sources import reference_window
from rai_pipelines.data.validation import group_labels
from rai_pipelines.evaluation.attributions import permutation_contributions, shap_values
from rai_pipelines.evaluation.counterfactual import counterfactual_rows
from rai_pipelines.evaluation.membership import attack_scores, membership_rows
from rai_pipelines.evaluation.probes import Probe, Window
from rai_pipelines.evaluation.proxies import binned, proxy_rows
from rai_pipelines.evaluation.robustness import robustness_rows
from rai_pipelines.modeling.training import RECIPES, train
from rai_pipelines.settings import project_dir


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _peer_proxies(frame, kinds, sensitive, features):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import mutual_info_score
    from sklearn.model_selection import cross_val_score
    from sklearn.preprocessing import OneHotEncoder

    for labels in sensitive.values():
        for feature in features:
            codes = binned(frame[feature], kinds[feature], 10)
            mutual_info_score(codes, labels)
            x = OneHotEncoder(handle_unknown="ignore").fit_transform(codes.reshape(-1, 1))
            for group in np.unique(labels)[: 1 if len(np.unique(labels)) == 2 else None]:
                cross_val_score(LogisticRegression(max_iter=200), x, labels == group, cv=2, scoring="roc_auc")


def _peer_counterfactual(probe, frame, codes, sensitive):
    for name, labels in sensitive.items():
        for target, values in codes[name].items():
            moved = frame.loc[labels != target].copy()
            moved[name] = values[0]
            probe.decide(moved)


def _peer_membership(p, y, member):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    scores = attack_scores(p, y)
    for _ in range(1000):
        i = rng.integers(0, len(scores), len(scores))
        roc_auc_score(member[i], scores[i])


def _measure(system, suites, probe: Probe, model, facts: dict, frame) -> None:
    kinds, codes = probe.kinds, {k: v.groups for k, v in system.data.sensitive_features.items()}
    groups = group_labels(system, frame)
    sensitive = {c: groups[c].to_numpy() for c in groups}
    y = frame[system.data.label].to_numpy()
    prediction = probe.decide(frame)
    features = [f for f in kinds if f not in sensitive]
    rows = len(frame)

    def report(name, ours, peer):
        print(f"{name:<34} {rows:>10,} {ours:>9.2f} {peer:>9.2f} {peer / ours:>11.2f}x", flush=True)

    perturbations = suites["robustness"].perturbations
    report("robustness (4 perturbations)",
           _timed(lambda: robustness_rows(probe, frame, y, prediction, sensitive, perturbations)),
           _timed(lambda: [probe.decide(frame) for _ in perturbations]))
    report("counterfactual", _timed(lambda: counterfactual_rows(probe, frame, prediction, sensitive, codes)),
           _timed(lambda: _peer_counterfactual(probe, frame, codes, sensitive)))
    report("proxies (MI + AUC, 1,000 resamples)", _timed(lambda: proxy_rows(frame, kinds, sensitive, features)),
           _timed(lambda: _peer_proxies(frame, kinds, sensitive, features)))
    some = frame.sample(min(rows, 5000), random_state=3)
    report("permutation importance (same rows)",
           _timed(lambda: permutation_contributions(probe, Window(some, some[system.data.label].to_numpy(), {}),
                                                    list(kinds), 3, np.random.default_rng(0))),
           _timed(lambda: permutation_importance(model, some[facts["features"]], some[system.data.label],
                                                 scoring="accuracy", n_repeats=3, random_state=0)))
    explained, background = frame.iloc[:500], frame.iloc[500:600]

    def peer_shap():
        import shap

        encode = model[0]
        shap.Explainer(model[-1], encode.transform(background[facts["features"]]))(encode.transform(explained[facts["features"]]))

    report("SHAP (500 rows)", _timed(lambda: shap_values(probe, explained, facts["features"], background, 0)),
           _timed(peer_shap))
    member = np.random.default_rng(4).random(rows) < 0.8
    p = probe.score(frame)
    report("membership (AUC, 1,000 resamples)",
           _timed(lambda: membership_rows(p, y, member, sensitive)), _timed(lambda: _peer_membership(p, y, member)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    catalog = load_catalog(project_dir() / "assets")
    system = catalog.system("acs_employment")
    suites = {s.name: s for s in catalog.suites.values()}
    _, reference = DatasetStore(tempfile.mkdtemp()).snapshot(system, reference_window(system))
    recipe = next(r for r in RECIPES if r.name == "gradient_boosting")
    model, facts = train(recipe, system, reference.sample(20000, random_state=0))
    probe = Probe(lambda f: model.predict_proba(f[facts["features"]])[:, 1], system.model.decision_threshold,
                  dict(system.data.features), model)
    batch = reference.sample(17000, random_state=1).reset_index(drop=True)
    sizes = {"batch": batch, "large": batch.sample(args.large, replace=True, random_state=2).reset_index(drop=True)}
    print(f"model: {recipe.name} on 20,000 reference rows; rows: {len(batch):,} (a nightly batch) and {args.large:,}")
    print(f"{'family':<34} {'rows':>10} {'ours s':>9} {'peer s':>9} {'peer / ours':>12}")
    for frame in sizes.values():
        _measure(system, suites, probe, model, facts, frame)


if __name__ == "__main__":
    main()
