"""The queries behind the trend report, in one place so the benchmark times exactly what the report runs.

Each returns the latest fact per identity (a re-decided pair, or a re-run
evaluation, shows once), with the arrival time of its dataset version.
"""

from __future__ import annotations

from dataclasses import dataclass

from rai_pipelines.catalog import Catalog


@dataclass(frozen=True)
class KeyMetric:
    """A metric a gate check judges: what the report plots over time."""

    system: str
    check: str
    family: str
    metric: str
    slice: str
    op: str
    threshold: float
    confidence: float  # of the suite that computes the metric's interval


def key_metrics(catalog: Catalog) -> list[KeyMetric]:
    out = []
    for system in catalog.systems.values():
        confidence = {suite.family: suite.confidence for suite in catalog.suites_for(system)}
        for c in catalog.policy.tier_for(system).checks:
            metric = f"{c.metric}_{c.disparity}" if c.disparity else c.metric
            out.append(KeyMetric(system.name, c.name, c.family, metric, c.slice, c.op, c.threshold,
                                 confidence.get(c.family, 0.95)))
    return out


KPIS = "select * from kpis order by system, kpi, period"

_ARRIVAL = "join dataset_versions d using (system, dataset_version)"  # the batch label and when it arrived


def metric_trends(keys: list[KeyMetric]) -> tuple[str, list]:
    if not keys:
        return "select null as system limit 0", []
    values = ", ".join("(?, ?, ?, ?)" for _ in keys)
    params = [v for k in keys for v in (k.system, k.family, k.metric, k.slice)]
    sql = f"""
        with wanted(system, family, metric, slice) as (values {values}),
        latest as (
            select m.system, m.model_version, m.dataset_version, m.family, m.metric, m.slice,
                   arg_max(m.value, m.recorded_at) as value, arg_max(m.ci_low, m.recorded_at) as ci_low,
                   arg_max(m.ci_high, m.recorded_at) as ci_high, arg_max(m.n, m.recorded_at) as n
            from metrics m join wanted w using (system, family, metric, slice)
            group by all
        )
        select l.*, d.label, d.registered_at from latest l {_ARRIVAL}"""
    return sql, params


DRIFT = f"""
    select r.system, r.dataset_version, d.label, d.registered_at, r.column_name, r.role, r.method, r.statistic,
           r.threshold, r.drifted, r.share_drifted, r.dataset_drift
    from drift_results r {_ARRIVAL}
    qualify row_number() over (partition by r.system, r.dataset_version, r.column_name order by r.recorded_at desc) = 1
    order by r.system, d.registered_at, r.column_name"""

VERDICTS = f"""
    select g.system, g.model_version, g.dataset_version, d.label, d.registered_at, g.verdict, g.decision_id,
           coalesce(g.waivers_applied, '[]') <> '[]' as waived
    from gate_decisions g {_ARRIVAL}
    qualify row_number() over (partition by g.system, g.model_version, g.dataset_version order by g.decided_at desc) = 1
    order by g.system, d.registered_at, g.model_version"""

ATTRIBUTIONS = f"""
    select m.system, m.model_version, m.dataset_version, d.label, d.registered_at, m.slice as feature,
           arg_max(m.value, m.recorded_at) as value, arg_max(m.ci_low, m.recorded_at) as ci_low,
           arg_max(m.ci_high, m.recorded_at) as ci_high
    from metrics m {_ARRIVAL}
    where m.family = 'attributions' and m.metric = 'shap_share'
    group by all
    order by m.system, d.registered_at, m.model_version, feature"""

TOP_ATTRIBUTION_CHANGES = 8  # per system

# The latest batch each system's attributions were measured on: per model version, how each feature's SHAP share moved
# against the reference window and against the champion, those whose interval lies wholly off zero first.
ATTRIBUTION_CHANGES = f"""
    with changes as (
        select m.system, m.model_version, m.dataset_version, m.slice as feature,
               replace(m.metric, 'shap_share_change_vs_', '') as against,
               arg_max(m.value, m.recorded_at) as value, arg_max(m.ci_low, m.recorded_at) as ci_low,
               arg_max(m.ci_high, m.recorded_at) as ci_high
        from metrics m
        where m.family = 'attributions' and m.metric like 'shap_share_change_vs_%'
        group by all
    ), latest as (
        select c.*, d.label, coalesce((c.ci_low > 0 or c.ci_high < 0) and not isnan(c.ci_low) and not isnan(c.ci_high),
                                      false) as moved
        from changes c {_ARRIVAL}
        qualify dense_rank() over (partition by c.system order by d.registered_at desc) = 1
    )
    select * from latest
    qualify row_number() over (partition by system order by moved desc, abs(value) desc, feature) <= {TOP_ATTRIBUTION_CHANGES}
    order by system, moved desc, abs(value) desc, feature"""

LINEAGE_ROWS = 50  # per system; the full table is one `rai query` away

LINEAGE = f"""
    with latest as (
        select * from gate_decisions
        qualify row_number() over (partition by system order by decided_at desc) <= {LINEAGE_ROWS}
    ),
    runs as (
        select l.decision_id, e.suite, e.mlflow_run_id, e.mlflow_experiment_id
        from (select decision_id, unnest(from_json(evaluation_run_ids, '["VARCHAR"]')) as run_id from latest) l
        join evaluation_runs e using (run_id)
    )
    select l.system, l.decision_id, l.decided_at, l.verdict, l.model_version, mv.artifact_sha256, l.dataset_version,
           d.label, d.digest as dataset_digest, l.policy_version, l.code_version, l.evidence_digest,
           coalesce(l.waivers_applied, '[]') <> '[]' as waived,
           list({{'suite': r.suite, 'run': r.mlflow_run_id, 'experiment': r.mlflow_experiment_id}} order by r.suite) as mlflow_runs
    from latest l
    left join dataset_versions d using (system, dataset_version)
    left join model_versions mv using (system, model_version)
    left join runs r using (decision_id)
    group by all
    order by l.system, l.decided_at desc"""

COUNTS = """
    select (select count(*) from gate_decisions) as decisions, (select count(*) from metrics) as metric_rows,
           (select count(*) from evaluation_runs) as evaluations"""
