"""Gate validity: the release gate's error rates by simulation, beside the old rule's (issue 11, item 7).

The REAL engines and the REAL gate (`gate.decide`) judge simulated evaluations
under the REAL policy (assets/policies/risk_tiers.yaml), for models exactly at,
slightly inside and slightly beyond a threshold. The same simulated data is
also judged by the OLD rule, re-implemented here (`old_status`): 95%
percentile-bootstrap intervals of 1,000 resamples (a rate resampled
binomially, a classifier's confusion cells as the old engine did, by one
multinomial draw of the batch), a check passing when its whole interval meets
the threshold and failing when it lies wholly beyond it, no multiplicity
control, and a release on a single passing night.

    .venv/bin/python benchmarks/gate_validity.py [--quick] [--json PATH] [--jobs N]
        [--tabular-versions N] [--nights N] [--genai-versions N]

For each scenario and each rule:
- verdict mix: the share of nightly decisions whose own verdict is pass /
  insufficient_evidence / fail;
- false-fail rate per decision: nights whose verdict is `fail` although the
  truth meets every check (target: <= the tier's alpha);
- false-release rate per model version per year: versions released at least
  once in a year although the truth violates a check (target: <= alpha);
- power: the share of nights on which the release verdict is pass, and of
  versions released within the year, when the truth meets every check.
Every rate carries a 95% Clopper-Pearson interval for its Monte Carlo error. A
target is `met` when that interval's upper end is within it, `not met` when
its lower end is beyond it, `inconclusive` otherwise. Versions per year are
also estimated from every simulated night (`pooled`): with independent nights
passing with probability p, the chance of the release rule's run of K passing
nights within the year (`release_probability`); its interval is the night
rate's mapped through that monotone function. A tabular night costs ~0.1 s of
real engines and gate, so the default simulates 2 versions x 365 nights per
scenario (~12 minutes on 2 free cores): too few versions to show a yearly rate
of a few percent directly, but 730 independent nights bound it.

Tabular (`tiers.high`, system acs_employment):
- A night is an independent batch of 17,000 rows (the demo's nightly batch)
  from a fixed synthetic population: SEX (50/50) x RAC1P (4 groups, shares in
  RACE_SHARES, every intersection ~1,275 rows a night), base rate 0.5 in
  every group. The model's TPR and FPR are set per sex so that the accuracy
  is A and the TPR gap between the sexes is g, with equal selection rates
  and no race effect. Scores are calibrated by construction (each row's score
  is the share of positives among the rows given it; AUC ~0.9, ECE ~0). So
  AUC, calibration, parity and the race and intersectional gaps sit
  comfortably inside their thresholds, and the scenario's own check decides.
  The true values come from the population (a 1M-row sample for AUC and ECE).
- The real engines compute the rows (`performance_metrics`,
  `fairness_report`, with the shipped suites' metrics and options); the
  champion comparison runs with no champion (a first release), so the
  regression checks pass and the threshold checks decide.
- `gate.decide` judges every night with the full real tier, carrying
  `passing_nights_before` from night to night as the warehouse does; the
  release verdict is `decision.verdict`, the night's own `night_verdict`.
  A version is simulated for 365 nights, its year; versions are independent.
GenAI (`assistant_tiers.high`, system support_assistant):
- Each suite's outcomes are Bernoulli at a true rate, n = the prompts the
  shipped suite builds (`genai.suites.build`). With the judge, each outcome
  the judge decides is flagged with the probability its measured sensitivity
  and specificity give (the true rate as the judge distorts it) and
  `rate_rows` corrects it with the validation counts; with a perfect judge
  outcomes are exact (judge=None). Jailbreak's prompt-injection cases are
  decided exactly (by the code word) either way. The old rule read the raw
  flagged share.
- An assistant's prompt set is fixed and its generation deterministic: a
  re-run gives the same answers, so its year is ONE decision per model version
  (the policy's horizon_nights 1), and false-release and power are per version.
Cost, with the same decisions: the tabular engines compute only the metrics a
check reads, without the comparisons with reference groups no check reads
(`verify_trimming` checks on a batch that the rows checks read are identical);
rows carry their bounds as the JSON string the warehouse stores only where a
check reads them; GenAI rows and decisions depend only on the counts of
events, so they are cached by counts. Every draw is seeded by its scenario and
version, so the figures do not depend on --jobs.
"""

from __future__ import annotations

import argparse
import json
import math
import operator
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from rai_pipelines import gate
from rai_pipelines.catalog import AssistantSystem, Policy, Suite, System, load_catalog
from rai_pipelines.errors import CatalogError
from rai_pipelines.evaluation.bootstrap import resample_counts
from rai_pipelines.evaluation.confusion import METRICS as CONFUSION
from rai_pipelines.evaluation.engine import group_metrics
from rai_pipelines.evaluation.fairness import fairness_report
from rai_pipelines.evaluation.performance import performance_metrics
from rai_pipelines.evaluation.rows import BASELINE_METRIC, MetricRow
from rai_pipelines.genai import suites as genai_suites
from rai_pipelines.genai import validation
from rai_pipelines.genai.scoring import Outcome, rate_rows
from rai_pipelines.stats import intervals
from rai_pipelines.stats.judged import Validation

ASSETS = Path(__file__).resolve().parents[1] / "assets"
SEED = 20261101
T0 = datetime(2026, 11, 1, tzinfo=UTC)
PASS, FAIL, INSUFFICIENT = gate.PASS, gate.FAIL, gate.INSUFFICIENT
OPS = {">=": operator.ge, "<=": operator.le}
RESAMPLES_OLD = 1000
COLUMNS = ["run_id", "family", "metric", "slice", "value", "n", "ci_low", "ci_high", "bounds"]

BATCH_ROWS = 17_000
BASE_RATE = 0.5
SEX_SHARES = (0.5, 0.5)  # in the order of the system's SEX groups
RACE_SHARES = (0.55, 0.15, 0.15, 0.15)  # in the order of the system's RAC1P groups
SCORE_CLUSTERS = ((0.97, 0.53), (0.47, 0.03))  # predicted positive, predicted negative: (high, low) score
SCORE_JITTER = 0.02
TRUTH_ROWS = 1_000_000
YEAR = 365  # nights a version's false-release guarantee and its power are stated for
GENAI_STEP = 0.05  # "slightly": a rate this far from its threshold


@dataclass(frozen=True)
class Scale:
    tabular_versions: int
    nights: int
    genai_versions: int


# A tabular night costs ~0.1 s of real engines and gate on one core: 2 versions x 365 nights x 12 scenarios (and
# the GenAI decisions) take ~12 minutes on 2 free cores. The per-year figures rest on the pooled nights; for more
# versions, --tabular-versions (each adds ~4 core-minutes).
DEFAULT = Scale(tabular_versions=2, nights=YEAR, genai_versions=1000)
QUICK = Scale(tabular_versions=2, nights=20, genai_versions=100)


# ---------------------------------------------------------------- the catalog


@dataclass(frozen=True)
class Parts:
    policy: Policy
    suites: dict[str, Suite]
    tabular: System
    assistant: AssistantSystem
    judges: dict[str, Validation]
    note: str = ""


def load_parts() -> Parts:
    """The shipped policy, suites, systems and judge validation counts. A catalog that refuses its policy (a check
    infeasible at the suite sizes) is still simulated, with a note: the simulation shows what the refusal prevents."""
    note = ""
    try:
        cat = load_catalog(ASSETS)
        policy, suites, systems = cat.policy, cat.suites, cat.systems
        judges = getattr(cat, "judges", None) or validation.load(ASSETS)
    except Exception as exc:  # noqa: BLE001 - a refused (or, mid-edit, broken) catalog: simulate its files as they are
        what = "refused the catalog" if isinstance(exc, CatalogError) else f"failed ({type(exc).__name__})"
        note = f"load_catalog {what}: {exc}; the policy, suites and systems files were read directly"
        read = lambda p: yaml.safe_load(p.read_text())  # noqa: E731
        policy = Policy.model_validate(read(next((ASSETS / "policies").glob("*.yaml"))))
        suites = {p.stem: Suite.model_validate(read(p)) for p in sorted((ASSETS / "suites").glob("*.yaml"))}
        systems = {}
        for p in sorted((ASSETS / "systems").glob("*.yaml")):
            raw = read(p)
            systems[p.stem] = (AssistantSystem if raw.get("kind") == "llm_assistant" else System).model_validate(raw)
        judges = validation.load(ASSETS)
    if not judges:  # no measured.yaml yet: measure the judges on their labelled sets now
        judges = validation.measure(ASSETS)
        note += ("; " if note else "") + f"no {validation.MEASURED}: judges measured now on their labelled sets"
    tabular = next(s for s in systems.values() if s.kind == "tabular_classifier" and s.risk_tier == "high")
    assistant = next(s for s in systems.values() if s.kind == "llm_assistant" and s.risk_tier == "high")
    return Parts(policy, suites, tabular, assistant, judges, note)


# ---------------------------------------------------------------- shared: rates, release rule, old rule


def ci95(k: int, n: int) -> tuple[float, float]:
    lo, hi = intervals.clopper_pearson(k, n, 0.025)
    return float(lo), float(hi)


def release_probability(p: float, consecutive: int, nights: int) -> float:
    """P(a run of `consecutive` passing nights within `nights` independent nights, each passing with probability p)."""
    run = np.zeros(consecutive)  # probability of not yet released with the current run of passes at each length
    run[0] = 1.0
    released = 0.0
    for _ in range(nights):
        released += run[-1] * p
        run = np.concatenate([[run.sum() * (1 - p)], run[:-1] * p])
    return float(released)


def old_status(samples: np.ndarray, op: str, threshold: float) -> str:
    """The old rule on one check: the 95% percentile interval of the resampled statistic."""
    undefined = np.isnan(samples)
    if undefined.mean() > 0.025:  # the old percentile_interval: undefined beyond the tail share
        return INSUFFICIENT
    lo, hi = np.quantile(samples[~undefined], [0.025, 0.975])
    return interval_status(float(lo), float(hi), op, threshold)


def interval_status(lo: float, hi: float, op: str, threshold: float) -> str:
    if math.isnan(lo) or math.isnan(hi):
        return INSUFFICIENT
    near, far = (hi, lo) if op == "<=" else (lo, hi)
    meets = OPS[op]
    return PASS if meets(near, threshold) else FAIL if not meets(far, threshold) else INSUFFICIENT


def worst(statuses) -> str:
    return next((v for v in gate.SEVERITY if v in set(statuses)), PASS)


def metric_name(check) -> str:
    return f"{check.metric}_{check.disparity}" if check.disparity else check.metric


def needed_rows(tier) -> set[tuple[str, str, str]]:
    """(family, metric, slice) of the rows whose bounds the tier's checks read."""
    return {(c.family, metric_name(c), c.slice) for c in tier.checks}


def metrics_frame(rows_by_run: dict[str, list[MetricRow]], needed: set) -> pd.DataFrame:
    records = [(run_id, r.family, r.metric, r.slice, r.value, r.n, r.ci_low, r.ci_high,
                intervals.to_json(r.bounds) if (r.family, r.metric, r.slice) in needed else None)
               for run_id, rows in rows_by_run.items() for r in rows]
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def runs_frame(suites: list[Suite]) -> pd.DataFrame:
    return pd.DataFrame([(f"r-{s.name}", s.name, s.family, "ok", None, T0) for s in suites],
                        columns=["run_id", "suite", "family", "status", "error", "finished_at"])


def pass_level(tier) -> float:
    return intervals.grid_level(tier.night_alpha)


# ---------------------------------------------------------------- tallies and figures


@dataclass
class Tally:
    """One rule's verdicts on one scenario."""

    nights: Counter = field(default_factory=Counter)  # the night's own verdict
    release_nights: int = 0  # nights whose release verdict is pass
    versions: int = 0
    versions_released: int = 0

    def add_version(self, night_verdicts: list[str], release_verdicts: list[str]) -> None:
        self.nights.update(night_verdicts)
        released = sum(v == PASS for v in release_verdicts)
        self.release_nights += released
        self.versions += 1
        self.versions_released += released > 0


def figures(t: Tally, meets: bool, consecutive: int, horizon: int) -> dict:
    nights = sum(t.nights.values())
    mix = {v: t.nights.get(v, 0) / nights for v in gate.SEVERITY if t.nights.get(v, 0) or v != gate.UNASSESSED}
    passes = t.nights.get(PASS, 0)
    p_lo, p_hi = ci95(passes, nights)
    pooled = [release_probability(p, consecutive, horizon) for p in (passes / nights, p_lo, p_hi)]
    out = {"nights": nights, "versions": t.versions, "verdict_mix": mix, "truth_meets": meets,
           "released_versions": t.versions_released,
           "released_per_version": [t.versions_released / t.versions, *ci95(t.versions_released, t.versions)],
           "released_per_version_pooled": pooled}
    if meets:
        fails = t.nights.get(FAIL, 0)
        out["false_fail_per_decision"] = [fails / nights, *ci95(fails, nights)]
        out["power_per_night"] = [t.release_nights / nights, *ci95(t.release_nights, nights)]
    return out


def target(estimate: list[float], alpha: float) -> str:
    _, lo, hi = estimate
    return "met" if hi <= alpha else "not met" if lo > alpha else "inconclusive"


# ---------------------------------------------------------------- tabular


@dataclass(frozen=True)
class TabularScenario:
    name: str
    accuracy: float
    tpr_gap_sex: float
    note: str
    selection_gap_sex: float = 0.0
    tpr_gap_race: float = 0.0


def tabular_scenarios(tier) -> list[TabularScenario]:
    """Each proportion check of the tier at, 0.005 beyond and 0.01 inside its threshold, the others safely inside."""
    threshold = lambda metric, slice_="overall", disparity=None: next(  # noqa: E731
        c.threshold for c in tier.checks if (c.metric, c.slice, c.disparity) == (metric, slice_, disparity))
    acc, gap = threshold("accuracy"), threshold("tpr", "SEX", "difference")
    parity, race = threshold("selection_rate", "SEX", "difference"), threshold("tpr", "RAC1P", "difference")
    safe_acc = acc + 0.04
    out = []
    for where, step in (("at", 0.0), ("beyond", 0.005), ("inside", -0.01)):
        def say(what, value, limit, step=step):
            return f"{what} {value:.3f}" + (f", {abs(step)} {'beyond' if step > 0 else 'inside'} {limit}" if step else "")

        out += [
            TabularScenario(f"accuracy {where}", acc - step, 0.0, say("accuracy", acc - step, acc)),
            TabularScenario(f"SEX TPR gap {where}", safe_acc, gap + step, say("TPR gap", gap + step, gap)),
            TabularScenario(f"SEX parity {where}", safe_acc, 0.0, say("selection gap", parity + step, parity),
                            selection_gap_sex=parity + step),
            TabularScenario(f"RAC1P TPR gap {where}", safe_acc, 0.0, say("race TPR gap", race + step, race),
                            tpr_gap_race=race + step),
        ]
    return out


def population(s: TabularScenario) -> np.ndarray:
    """(SEX, RAC1P, 4) probabilities of the confusion cells TN, FP, FN, TP of one row.

    Every gap is symmetric around the mean, so the overall accuracy stays s.accuracy: a TPR gap between the sexes
    keeps their selection rates equal (FPR moves against TPR); a selection gap moves FPR only (TPR gap 0); a race
    TPR gap lowers one 15% race group's TPR and raises another's by half of it."""
    tpr, fpr = s.accuracy + 0.02, 1 - (s.accuracy - 0.02)  # mean TPR and FPR over the sexes
    half, sel = s.tpr_gap_sex / 2, s.selection_gap_sex
    per_sex = [(tpr + half, fpr - half + sel), (tpr - half, fpr + half - sel)]
    race_shift = np.array([0.0, -s.tpr_gap_race / 2, s.tpr_gap_race / 2, 0.0])
    cells = np.zeros((len(SEX_SHARES), len(RACE_SHARES), 4))
    for i, (t0, f) in enumerate(per_sex):
        for j, share in enumerate(RACE_SHARES):
            w, t = SEX_SHARES[i] * share, t0 + race_shift[j]
            cells[i, j] = w * np.array([(1 - BASE_RATE) * (1 - f), (1 - BASE_RATE) * f, BASE_RATE * (1 - t), BASE_RATE * t])
    return cells


def statistic(check, cells: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    """A proportion check's value on confusion counts or probabilities (..., SEX, RAC1P, 4)."""
    keep = () if check.slice == "overall" else tuple(features.index(f) for f in check.slice.split("&"))
    lead = cells.ndim - 3
    drop = tuple(lead + a for a in range(len(features)) if a not in keep)
    c = cells.sum(axis=drop) if drop else cells
    rate = CONFUSION[check.metric](c.reshape(*cells.shape[:lead], -1, 4))
    if check.disparity == "difference":
        return np.nanmax(rate, -1) - np.nanmin(rate, -1)
    if check.disparity == "ratio":
        return np.nanmin(rate, -1) / np.nanmax(rate, -1)
    return rate[..., 0]


def draw_rows(counts: np.ndarray, cells: np.ndarray, rng: np.random.Generator):
    """A batch's rows from its confusion counts per group, with calibrated scores: labels, predictions, scores,
    and the group of each row (SEX index, RAC1P index)."""
    flat = counts.reshape(-1)
    idx = np.repeat(np.arange(flat.size), flat)
    sex, race, cell = np.unravel_index(idx, counts.shape)
    y, p = cell >= 2, cell % 2 == 1
    score = np.empty(len(idx))
    for pred, (high, low) in zip((True, False), SCORE_CLUSTERS):
        # Among the rows predicted `pred` in a group, a share w scores `high` and the rest `low`, with w chosen so that
        # the positives' share at each score equals the score (calibrated), given the group's true positive share m.
        pos = cells[..., 3] if pred else cells[..., 2]
        m = pos / (pos + (cells[..., 1] if pred else cells[..., 0]))
        w = (m - low) / (high - low)
        p_high = np.where(y, w[sex, race] * high / m[sex, race], w[sex, race] * (1 - high) / (1 - m[sex, race]))
        mine = p == pred
        score[mine] = np.where(rng.random(mine.sum()) < p_high[mine], high, low)
    score += rng.uniform(-SCORE_JITTER, SCORE_JITTER, len(score))
    return y.astype(np.int8), p.astype(np.int8), np.clip(score, 0, 1), sex, race


@dataclass(frozen=True)
class World:
    """What every worker needs: the real policy, suites and systems, the scenarios and the scale."""

    parts: Parts
    scale: Scale
    tabular: tuple[TabularScenario, ...]
    populations: tuple[np.ndarray, ...]
    genai_suites: tuple[GenAISuite, ...]
    genai: tuple[tuple[str, dict[str, float]], ...]
    variants: tuple[tuple[str, bool], ...]  # (name, judge-corrected)

    @property
    def tier(self):
        return self.parts.policy.tier_for(self.parts.tabular)

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.parts.tabular.data.sensitive_features)

    def labels(self, sex: np.ndarray, race: np.ndarray) -> dict[str, np.ndarray]:
        names = [np.array(list(self.parts.tabular.data.sensitive_features[f].groups)) for f in self.features]
        return {self.features[0]: names[0][sex], self.features[1]: names[1][race]}

    def tabular_suites(self) -> list[Suite]:
        return [self.parts.suites[s] for s in self.tier.required_suites]


def checked_metrics(suite: Suite, tier) -> list[str]:
    """The suite's metrics that a check of the tier reads (the others never enter a decision)."""
    read = {c.metric for c in tier.checks if c.family == suite.family}
    return [m for m in suite.metrics if m in read]


def engine_rows(world: World, y, p, score, sensitive, full: bool = False) -> dict[str, list[MetricRow]]:
    """Each required suite's rows from the real engines, with the suite's options. Unless `full`, only the metrics
    a check reads, and no comparisons with reference groups (no check reads them): the rows checks read are the
    same (`verify_trimming`), at a fraction of the cost."""
    out = {}
    for suite in world.tabular_suites():
        metrics = suite.metrics if full else checked_metrics(suite, world.tier)
        needs_score = full or any(m not in CONFUSION for m in metrics)
        options = dict(resamples=suite.bootstrap_resamples, confidence=suite.confidence, seed=suite.seed,
                       calibration_bins=suite.calibration_bins)
        if suite.family == "performance":
            rows = performance_metrics(y, p, score if needs_score else None, metrics, **options)
        elif suite.family == "fairness":
            rows = fairness_report(y, p, sensitive, score if needs_score else None, metrics, intersections=suite.intersections,
                                   reference_groups=suite.reference_groups if full else {}, **options).rows("fairness")
        elif suite.family == "regression":  # no champion: the marker row says so, and regression checks pass
            rows = [MetricRow("regression", BASELINE_METRIC, "overall", float("nan"), len(y))]
        else:
            raise ValueError(f"no simulation for suite family {suite.family!r}")
        out[f"r-{suite.name}"] = rows
    return out


def verify_trimming(world: World) -> bool:
    """On one batch: the rows the checks read are identical whether the engines compute the whole suites or only
    the checked metrics."""
    cells = world.populations[0]
    rng = np.random.default_rng([SEED, 0])
    counts = rng.multinomial(BATCH_ROWS, cells.reshape(-1)).reshape(cells.shape)
    y, p, score, sex, race = draw_rows(counts, cells, rng)
    key = lambda r: (r.family, r.metric, r.slice)  # noqa: E731
    read = needed_rows(world.tier)
    pick = lambda rows: {key(r): r for rs in rows.values() for r in rs if key(r) in read}  # noqa: E731
    sensitive = world.labels(sex, race)
    full, trimmed = pick(engine_rows(world, y, p, score, sensitive, full=True)), pick(engine_rows(world, y, p, score, sensitive))
    return full.keys() == trimmed.keys() and all(
        intervals.to_json(full[k].bounds) == intervals.to_json(trimmed[k].bounds) and full[k].n == trimmed[k].n
        and np.isclose(full[k].value, trimmed[k].value, equal_nan=True) for k in full)


def old_night(world: World, counts: np.ndarray, rows: dict[str, list[MetricRow]]) -> str:
    """The old rule on the same batch: proportion checks on multinomial resamples of the batch's confusion cells
    (the old engine's row bootstrap); score metrics (AUC, ECE) on the engine's own 95% percentile interval."""
    boot = resample_counts(counts, RESAMPLES_OLD, np.random.default_rng(0))
    by_key = {(r.family, r.metric, r.slice): r for rs in rows.values() for r in rs}
    statuses = []
    for check in world.tier.checks:
        if check.metric in CONFUSION:
            statuses.append(old_status(statistic(check, boot, world.features), check.op, check.threshold))
            continue
        row = by_key.get((check.family, metric_name(check), check.slice))
        lo, hi = (row.ci_low, row.ci_high) if row is not None and row.ci_low is not None else (math.nan, math.nan)
        statuses.append(interval_status(float(lo), float(hi), check.op, check.threshold))
    return worst(statuses)


def tabular_version(world: World, scenario: int, version: int) -> tuple[list[str], list[str], list[str], list[dict], list[bool]]:
    """One model version's year: (night verdicts, release verdicts, old night verdicts, check statuses per night,
    whether each night raised a monitoring alarm, as it would for the champion)."""
    cells = world.populations[scenario]
    rng = np.random.default_rng([SEED, 1, scenario, version])
    runs = runs_frame(world.tabular_suites())
    needed = needed_rows(world.tier)
    before: list[str] = []
    night_v, release_v, old_v, checks, alarms = [], [], [], [], []
    for night in range(world.scale.nights):
        counts = rng.multinomial(BATCH_ROWS, cells.reshape(-1)).reshape(cells.shape)
        y, p, score, sex, race = draw_rows(counts, cells, rng)
        rows = engine_rows(world, y, p, score, world.labels(sex, race))
        dataset = f"night-{night:03d}"
        d = gate.decide(world.parts.tabular, world.parts.policy, str(version + 1), dataset, runs,
                        metrics_frame(rows, needed), passing_nights_before=before)
        before = [*before, dataset] if d.night_verdict == PASS else []
        night_v.append(d.night_verdict)
        release_v.append(d.verdict)
        old_v.append(old_night(world, counts, rows))
        checks.append({r.check: r.status for r in d.reasons if r.kind == "threshold"})
        alarms.append(bool(d.monitoring_alarms))
    return night_v, release_v, old_v, checks, alarms


def tabular_truth(world: World, scenario: int) -> dict[str, float]:
    """Each check's true value: exact for proportions, from a large sample for AUC and ECE."""
    cells = world.populations[scenario]
    truth = {c.name: float(statistic(c, cells, world.features)) for c in world.tier.checks if c.metric in CONFUSION}
    scored = [c for c in world.tier.checks if c.metric not in CONFUSION]
    if scored:
        rng = np.random.default_rng([SEED, 2, scenario])
        counts = rng.multinomial(TRUTH_ROWS, cells.reshape(-1)).reshape(cells.shape)
        y, p, score, _, _ = draw_rows(counts, cells, rng)
        report = group_metrics(y, p, None, score, sorted({c.metric for c in scored}), resamples=0)
        values = {m: e.value for m, e in report.partitions[0].groups[0].metrics.items()}
        truth.update({c.name: float(values[c.metric]) for c in scored})
    return truth


def meets_all(checks, values: dict[str, float]) -> bool:
    return all(OPS[c.op](round(values[c.name], 9), c.threshold) for c in checks)


def count_statuses(decisions) -> dict[str, dict[str, int]]:
    """check -> status -> decisions, over each decision's {check: status}."""
    out: dict[str, Counter] = {}
    for checks in decisions:
        for name, status in checks.items():
            out.setdefault(name, Counter())[status] += 1
    return {k: dict(v) for k, v in out.items()}


def tabular_results(world: World, results: list) -> list[dict]:
    tier, out = world.tier, []
    for i, s in enumerate(world.tabular):
        truth = tabular_truth(world, i)
        meets = meets_all(tier.checks, truth)
        new, old = Tally(), Tally()
        alarmed = nights = 0
        for night_v, release_v, old_v, _, alarms in results[i]:
            new.add_version(night_v, release_v)
            old.add_version(old_v, old_v)  # the old rule released on a single passing night
            alarmed, nights = alarmed + sum(alarms), nights + len(alarms)
        rate = [alarmed / nights, *ci95(alarmed, nights)]
        out.append({"scenario": s.name, "setting": s.note, "truth": truth, "truth_meets": meets,
                    # The champion's nightly monitoring: false alarms a year when the truth meets every check, the
                    # share of nights alarmed (its power) when it does not.
                    "monitoring": {"false_alarms_per_year": [YEAR * x for x in rate]} if meets else {"alarm_per_night": rate},
                    "check_statuses": count_statuses(night for _, _, _, checks, _ in results[i] for night in checks),
                    "new": figures(new, meets, tier.release.consecutive_passes, YEAR),
                    "old": figures(old, meets, 1, YEAR)})
    return out


# ---------------------------------------------------------------- GenAI


@dataclass(frozen=True)
class GenAISuite:
    name: str  # the catalog suite
    family: str
    metric: str
    judge: str
    negated: bool
    judged: int  # outcomes the judge decides
    exact: int  # outcomes decided exactly (jailbreak's prompt injection)
    check: object

    @property
    def n(self) -> int:
        return self.judged + self.exact


def prompt_counts(suite: Suite, assistant: AssistantSystem) -> tuple[int, int, str]:
    """(judged, exact, how it was counted): from the prompts the shipped suite builds, or, without the prompt-set
    packages, from its size and sources as `genai.suites.build` takes them."""
    from rai_pipelines.genai import record

    try:
        cases = genai_suites.build(suite.genai, record.assistant(assistant), suite.size, suite.seed).cases
        exact = sum(c.slice == "prompt_injection" for c in cases)
        return len(cases) - exact, exact, "built"
    except Exception:  # noqa: BLE001 - the packages with the prompt sets are missing: count as build() would
        size, corpus, questions = suite.size, len(assistant.corpus), len(assistant.grounding_questions)
        judged = {"jailbreak": size, "harmful_requests": 2 * size, "toxicity": 4 * size, "privacy": 2 * size,
                  "hallucination": 2 * size, "grounding": min(size, questions) if size else questions}[suite.genai]
        return judged, min(size, corpus) if suite.genai == "jailbreak" else 0, "size x sources: at most what build() gives"


def genai_suites_of(parts: Parts) -> tuple[list[GenAISuite], dict[str, str], list[str]]:
    """The required suites a check reads, how their n was counted, and the required suites no check reads (they
    still run, so the decision is not unassessed, but their rates decide nothing)."""
    tier = parts.policy.tier_for(parts.assistant)
    out, how, unchecked = [], {}, []
    for name in tier.required_suites:
        suite = parts.suites[name]
        if suite.genai is None:  # the comparison with the champion: no champion is simulated
            continue
        registered = genai_suites.get(suite.genai)
        family, metric = registered.family, registered.metric
        check = next((c for c in tier.checks if c.family == family and c.metric == metric and c.slice == "overall"), None)
        if check is None:
            unchecked.append(name)
            continue
        judged, exact, how[name] = prompt_counts(suite, parts.assistant)
        out.append(GenAISuite(name, family, metric, registered.judge, registered.negated, judged, exact, check))
    return out, how, unchecked


def toward(check, step: float) -> float:
    """The threshold moved `step` to the good side (negative: the bad side), kept a rate."""
    good = 1 if check.op == ">=" else -1
    return float(np.clip(check.threshold + good * step, 0.0, 1.0))


def genai_scenarios(suites: list[GenAISuite]) -> list[tuple[str, dict[str, float]]]:
    at = {s.name: s.check.threshold for s in suites}
    inside = {s.name: toward(s.check, GENAI_STEP) for s in suites}
    best = {s.name: 1.0 if s.check.op == ">=" else 0.0 for s in suites}
    halfway = {k: (inside[k] + best[k]) / 2 for k in best}
    out = [("every rate at its threshold", at), (f"every rate {GENAI_STEP} inside", inside),
           ("every rate halfway to perfect", halfway), ("every rate perfect", best)]
    out += [(f"{s.name} {GENAI_STEP} beyond, rest inside", {**inside, s.name: toward(s.check, -GENAI_STEP)}) for s in suites]
    return out


class GenAIModel:
    """One judging variant: how outcomes are drawn and judged, with the real rows and decisions cached by counts."""

    def __init__(self, parts: Parts, suites: list[GenAISuite], judged: bool):
        self.parts, self.suites, self.judged = parts, suites, judged
        self.judges = parts.judges if judged else {}
        self.tier = parts.policy.tier_for(parts.assistant)
        self.runs = runs_frame([parts.suites[s] for s in self.tier.required_suites])
        self.needed = needed_rows(self.tier)
        self._rows: dict = {}
        self._decisions: dict = {}
        self._old: dict = {}

    def validation(self, s: GenAISuite) -> Validation | None:
        v = self.judges.get(s.judge)
        return None if v is None else (v.flipped() if s.negated else v)

    def flag_rate(self, s: GenAISuite, rate: float) -> float:
        """The probability the judge flags an outcome of this true rate (its measured errors taken as true)."""
        v = self.validation(s)
        return rate if v is None else rate * v.sensitivity + (1 - rate) * (1 - v.specificity)

    def draw(self, rates: dict[str, float], rng: np.random.Generator) -> tuple:
        return tuple((int(rng.binomial(s.judged, self.flag_rate(s, rates[s.name]))), int(rng.binomial(s.exact, rates[s.name])))
                     for s in self.suites)

    def rows(self, s: GenAISuite, k: tuple[int, int]) -> list[MetricRow]:
        key = (s.name, k)
        if key not in self._rows:
            judge = s.judge if self.validation(s) is not None else None
            outcomes = ([Outcome(True, judge, s.negated)] * k[0] + [Outcome(False, judge, s.negated)] * (s.judged - k[0])
                        + [Outcome(True, None)] * k[1] + [Outcome(False, None)] * (s.exact - k[1]))
            self._rows[key] = rate_rows(s.family, s.metric, outcomes, self.judges)
        return self._rows[key]

    def decide(self, counts: tuple) -> tuple[str, str, dict[str, str]]:
        """(night verdict, release verdict, check statuses) of one model version: one decision, its evidence
        repeating every night."""
        if counts not in self._decisions:
            rows = {f"r-{s.name}": self.rows(s, k) for s, k in zip(self.suites, counts)}
            # No champion is simulated: the comparison's marker row says so, and regression checks pass.
            rows.update({f"r-{name}": [MetricRow("regression", BASELINE_METRIC, "overall", float("nan"), 1)]
                         for name in self.tier.required_suites if self.parts.suites[name].family == "regression"})
            frame = metrics_frame(rows, self.needed)
            decide = lambda before: gate.decide(self.parts.assistant, self.parts.policy, "1", "prompts", self.runs,  # noqa: E731
                                                frame, passing_nights_before=before)
            d = decide(None)
            needed = self.tier.release.consecutive_passes
            if d.night_verdict == PASS and d.verdict != PASS and needed > 1:  # the same answers on the nights after
                d = decide([f"prompts-{i}" for i in range(needed - 1)])
            self._decisions[counts] = (d.night_verdict, d.verdict, {r.check: r.status for r in d.reasons if r.kind == "threshold"})
        return self._decisions[counts]

    def old(self, counts: tuple) -> str:
        """The old rule: the raw flagged share, resampled binomially (the old `rate_row`, seed 0)."""
        statuses = []
        for s, k in zip(self.suites, counts):
            hits = k[0] + k[1]
            if (s.name, hits) not in self._old:
                draws = resample_counts(np.array([hits, s.n - hits]), RESAMPLES_OLD, np.random.default_rng(0))
                self._old[(s.name, hits)] = old_status(draws[:, 0] / s.n, s.check.op, s.check.threshold)
            statuses.append(self._old[(s.name, hits)])
        return worst(statuses)


def genai_scenario(world: World, variant: int, scenario: int) -> list[tuple[str, str, dict, str]]:
    """(night verdict, release verdict, check statuses, old verdict) of each simulated model version."""
    model = GenAIModel(world.parts, list(world.genai_suites), world.variants[variant][1])
    rates = world.genai[scenario][1]
    rng = np.random.default_rng([SEED, 3, variant, scenario])
    out = []
    for _ in range(world.scale.genai_versions):
        counts = model.draw(rates, rng)
        out.append((*model.decide(counts), model.old(counts)))
    return out


def genai_results(world: World, results: dict) -> list[dict]:
    out = []
    for v, (variant, _) in enumerate(world.variants):
        for i, (name, rates) in enumerate(world.genai):
            meets = all(OPS[s.check.op](round(rates[s.name], 9), s.check.threshold) for s in world.genai_suites)
            new, old = Tally(), Tally()
            for night, release, _checks, o in results[(v, i)]:
                new.add_version([night], [release])
                old.add_version([o], [o])
            out.append({"variant": variant, "scenario": name, "rates": rates, "truth_meets": meets,
                        "check_statuses": count_statuses(checks for _, _, checks, _ in results[(v, i)]),
                        "new": figures(new, meets, 1, 1), "old": figures(old, meets, 1, 1)})
    return out


# ---------------------------------------------------------------- running


_WORLD: World | None = None


def _init_worker(world: World) -> None:
    global _WORLD
    _WORLD = world


def work(task: tuple) -> object:
    kind, a, b = task
    return tabular_version(_WORLD, a, b) if kind == "tabular" else genai_scenario(_WORLD, a, b)


def simulate(world: World, jobs: int) -> tuple[dict, list]:
    """Every task, spread over `jobs` processes; results in task order, so the figures do not depend on `jobs`."""
    genai = [("genai", v, i) for v in range(len(world.variants)) for i in range(len(world.genai))]
    tabular = [("tabular", i, v) for i in range(len(world.tabular)) for v in range(world.scale.tabular_versions)]
    tasks = tabular + genai  # the long tasks first
    if jobs > 1:
        with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(world,)) as pool:
            results = list(pool.map(work, tasks, chunksize=1))
    else:
        _init_worker(world)
        results = [work(t) for t in tasks]
    by_task = dict(zip(tasks, results))
    per_scenario = [[by_task[("tabular", i, v)] for v in range(world.scale.tabular_versions)] for i in range(len(world.tabular))]
    return {(v, i): by_task[("genai", v, i)] for _, v, i in genai}, per_scenario


def build_world(parts: Parts, scale: Scale) -> tuple[World, dict]:
    tier = parts.policy.tier_for(parts.tabular)
    scenarios = tabular_scenarios(tier)
    suites, how, unchecked = genai_suites_of(parts)
    variants = (("judge-corrected", True), ("perfect judge", False)) if parts.judges else (("perfect judge", False),)
    world = World(parts, scale, tuple(scenarios), tuple(population(s) for s in scenarios), tuple(suites),
                  tuple(genai_scenarios(suites)), variants)
    info = {s.name: {"n": s.n, "judged": s.judged, "exact": s.exact, "counted": how[s.name], "judge": s.judge,
                     "check": f"{s.metric} {s.check.op} {s.check.threshold}"} for s in suites}
    info.update({name: {"check": None} for name in unchecked})
    return world, info


# ---------------------------------------------------------------- report


def pct(x: float) -> str:
    return f"{100 * x:.1f}%" if x >= 0.001 or x == 0 else f"{100 * x:.2g}%"


def rate_ci(r: list[float] | None) -> str:
    return "-" if r is None else f"{pct(r[0])} [{pct(r[1])}, {pct(r[2])}]"


SHORT = {PASS: "pass", INSUFFICIENT: "insuf", FAIL: "fail", gate.UNASSESSED: "unassessed", gate.WAIVED: "waived"}


def mix(f: dict) -> str:
    m = f["verdict_mix"]
    return " ".join(f"{SHORT[v]} {pct(m[v])}" for v in gate.SEVERITY[::-1] if v in m)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def scenario_rows(results: list[dict], label) -> list[list[str]]:
    rows = []
    for r in results:
        for rule in ("new", "old"):
            f = r[rule]
            meets = r["truth_meets"]
            rows.append([label(r) if rule == "new" else "", "meets" if meets else "VIOLATES", rule, mix(f),
                         rate_ci(f.get("false_fail_per_decision")),
                         "-" if meets else f"{f['released_versions']}/{f['versions']}; pooled {rate_ci(f['released_per_version_pooled'])}",
                         rate_ci(f.get("power_per_night")) if meets else "-",
                         f"{f['released_versions']}/{f['versions']}; pooled {rate_ci(f['released_per_version_pooled'])}"
                         if meets else "-"])
    return rows


def blocking(statuses: dict[str, dict[str, int]]) -> str:
    parts = []
    for check, counts in statuses.items():
        total = sum(counts.values())
        short = ", ".join(f"{SHORT.get(v, v)} {pct(k / total)}" for v, k in counts.items() if v != PASS)
        if short:
            parts.append(f"{check}: {short}")
    return "; ".join(parts)


HEADER = ["scenario", "truth", "rule", "night verdicts", "false-fail / decision", "false-release / version-year",
          "power / night", "power / version-year"]


def targets(results: list[dict], alpha: float, label) -> list[list[str]]:
    """One row per scenario: the target its truth calls for, met or not by each rule."""
    rows = []
    for r in results:
        key, what = (("false_fail_per_decision", "false-fail / decision") if r["truth_meets"]
                     else ("released_per_version_pooled", "false-release / version-year"))
        new, old = r["new"][key], r["old"][key]
        rows.append([label(r), f"{what} <= {alpha}", f"{target(new, alpha)} ({rate_ci(new)})",
                     f"{target(old, alpha)} ({rate_ci(old)})"])
    return rows


def pooled_false_alarms(tabular: list[dict], nights_per_scenario: int) -> list[float]:
    """False alarms a year over every simulated night of the scenarios whose truth meets every check."""
    meeting = [r for r in tabular if r["truth_meets"]]
    alarmed = sum(round(r["monitoring"]["false_alarms_per_year"][0] / YEAR * nights_per_scenario) for r in meeting)
    nights = nights_per_scenario * len(meeting)
    return [YEAR * alarmed / nights, *(YEAR * x for x in ci95(alarmed, nights))]


def report(out: dict) -> str:
    p, lines = out["policy"], []
    tab, ai = p["tabular_tier"], p["assistant_tier"]
    lines.append(f"Gate validity: real engines, real gate, policy {p['version']} ({out['scale']}; seed {SEED})")
    if out["note"]:
        lines.append(f"NOTE: {out['note']}")
    lines.append("")
    lines.append(f"TABULAR  tiers.high on {p['tabular_system']}: alpha {tab['alpha']}, {tab['multiplicity']}, release after "
                 f"{tab['consecutive_passes']} consecutive passing nights, each judged at "
                 f"{tab['night_alpha']:.4g} (grid level {tab['pass_level']}); a year = {YEAR} nights")
    lines.append(f"  nightly batch {BATCH_ROWS} rows, SEX shares {SEX_SHARES}, RAC1P shares {RACE_SHARES}, base rate {BASE_RATE};"
                 f" {out['scale_info']['tabular_versions']} model versions x {out['scale_info']['nights']} nights per scenario")
    lines.append(f"  checks judged: the full tier ({', '.join(tab['checks'])}); regression checks pass (no champion)")
    lines.append("  engines compute only the checked metrics; on a test batch the checked rows equal the full suites': "
                 + ("yes" if out["trimmed_engines_reproduce_checked_rows"] else "NO"))
    for r in out["tabular"]:
        truth = ", ".join(f"{k} {v:.4f}" for k, v in r["truth"].items())
        lines.append(f"  {r['scenario']:20s} {r['setting']:28s} truth: {truth}")
    lines.append("")
    lines.append(table(scenario_rows(out["tabular"], lambda r: r["scenario"]), HEADER))
    lines.append("")
    lines.append("  What held the new rule's nights back (share of nights each check was not pass):")
    for r in out["tabular"]:
        lines.append(f"  {r['scenario']:20s} {blocking(r['check_statuses']) or 'nothing'}")
    lines.append("")
    lines.append(f"  Champion monitoring at {tab['monitoring_alpha']:.4g} a night (target: <= "
                 f"{tab['false_alarms_per_year']:g} false alarm a year when the truth meets every check):")
    for r in out["tabular"]:
        m = r["monitoring"]
        lines.append(f"  {r['scenario']:20s} " + ("false alarms / year {:.2f} [{:.2f}, {:.2f}]".format(*m["false_alarms_per_year"])
                     if "false_alarms_per_year" in m else f"alarm on {rate_ci(m['alarm_per_night'])} of nights (truth violates)"))
    lines.append("  {:20s} false alarms / year {:.2f} [{:.2f}, {:.2f}] over every night whose truth meets every check".format(
        "pooled", *pooled_false_alarms(out["tabular"], out["scale_info"]["tabular_versions"] * out["scale_info"]["nights"])))
    lines.append("")
    lines.append(f"GENAI  assistant_tiers.high on {p['assistant_system']}: alpha {ai['alpha']}, {ai['multiplicity']}, "
                 f"release after {ai['consecutive_passes']} passing decision(s), each judged at {ai['night_alpha']:.4g} "
                 f"(grid level {ai['pass_level']}), horizon {ai['horizon_nights']} night(s)")
    lines.append("  The prompt set is fixed and generation deterministic: a model version's year is ONE decision;"
                 f" {out['scale_info']['genai_versions']} versions per scenario.")
    for name, s in out["genai_suites"].items():
        if s["check"] is None:
            lines.append(f"  {name:17s} runs (required) but no check reads it: not simulated")
            continue
        lines.append(f"  {name:17s} n={s['n']:4d} ({s['judged']} judged by {s['judge']}, {s['exact']} exact; {s['counted']})"
                     f"  check {s['check']}")
    for name, v in out["judges"].items():
        lines.append(f"  judge {name:14s} sensitivity {v['sensitivity']:.3f}, specificity {v['specificity']:.3f}")
    for variant in dict.fromkeys(r["variant"] for r in out["genai"]):
        lines.append("")
        lines.append(f"  [{variant}]")
        mine = [r for r in out["genai"] if r["variant"] == variant]
        lines.append(table(scenario_rows(mine, lambda r: r["scenario"]), HEADER))
        lines.append("")
        lines.append("  What held the new rule back (share of decisions each check was not pass):")
        lines += [f"  {r['scenario']:42s} {blocking(r['check_statuses']) or 'nothing'}" for r in mine]
    lines.append("")
    lines.append("TARGETS (met: the 95% Monte Carlo interval is within the target; false-release per version-year "
                 "from the pooled nights)")
    rows = targets(out["tabular"], tab["alpha"], lambda r: f"tabular: {r['scenario']}")
    rows += targets(out["genai"], ai["alpha"], lambda r: f"genai, {r['variant']}: {r['scenario']}")
    lines.append(table(rows, ["scenario", "target", "new rule", "old rule"]))
    lines.append("")
    lines.append(f"Time: {out['seconds']:.0f} s")
    return "\n".join(lines)


def tier_info(tier) -> dict:
    return {"alpha": tier.alpha, "multiplicity": tier.multiplicity, "night_alpha": tier.night_alpha,
            "pass_level": pass_level(tier), "consecutive_passes": tier.release.consecutive_passes,
            "horizon_nights": tier.release.horizon_nights, "checks": [c.name for c in tier.checks],
            "monitoring_alpha": tier.monitoring.alpha, "false_alarms_per_year": tier.monitoring.false_alarms_per_year}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"fewer versions and nights ({QUICK})")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (the figures do not depend on it)")
    ap.add_argument("--tabular-versions", type=int, help="model versions per tabular scenario")
    ap.add_argument("--nights", type=int, help="nights per tabular model version")
    ap.add_argument("--genai-versions", type=int, help="model versions per GenAI scenario")
    args = ap.parse_args()
    base = QUICK if args.quick else DEFAULT
    scale = Scale(args.tabular_versions or base.tabular_versions, args.nights or base.nights,
                  args.genai_versions or base.genai_versions)
    started = time.perf_counter()
    parts = load_parts()
    world, genai_info = build_world(parts, scale)
    trimmed_ok = verify_trimming(world)
    genai, tabular = simulate(world, args.jobs)
    out = {
        "scale": "quick" if args.quick else "default", "scale_info": scale.__dict__, "seed": SEED, "note": parts.note,
        "policy": {"version": parts.policy.version, "tabular_system": parts.tabular.name,
                   "assistant_system": parts.assistant.name, "tabular_tier": tier_info(world.tier),
                   "assistant_tier": tier_info(parts.policy.tier_for(parts.assistant))},
        "population": {"batch_rows": BATCH_ROWS, "sex_shares": SEX_SHARES, "race_shares": RACE_SHARES,
                       "base_rate": BASE_RATE, "score_clusters": SCORE_CLUSTERS},
        "trimmed_engines_reproduce_checked_rows": trimmed_ok,
        "judges": {k: {"sensitivity": v.sensitivity, "specificity": v.specificity, **v.__dict__} for k, v in parts.judges.items()},
        "genai_suites": genai_info, "genai": genai_results(world, genai), "tabular": tabular_results(world, tabular),
    }
    out["seconds"] = time.perf_counter() - started
    print(report(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=float))
        print(f"Figures written to {args.json}")


if __name__ == "__main__":
    main()
