"""Named reads of the warehouse: the questions more than one layer asks (the CLI, the Dagster layer, the gate,
the demo), each with its SQL here once.

Every function returns plain values or a DataFrame; none writes. A read that
belongs to one engine stays beside it (the gate's release-window history, the
waiver register, the quality verdict); the trend report's queries live in
report/queries.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rai_pipelines.warehouse.store import Warehouse

_LATEST_DECISION = """
    select * from gate_decisions where system = ? and model_version = ? and dataset_version = ?
    order by decided_at desc limit 1"""


def latest_decision(warehouse: Warehouse, system: str, model_version: str, dataset_version: str) -> pd.Series | None:
    """The newest recorded release decision of a model version on a dataset version, or None."""
    found = warehouse.frame(_LATEST_DECISION, [system, str(model_version), dataset_version])
    return None if found.empty else found.iloc[0]


def latest_verdict(warehouse: Warehouse, system: str, model_version: str, dataset_version: str) -> str | None:
    found = latest_decision(warehouse, system, model_version, dataset_version)
    return None if found is None else str(found.verdict)


def latest_decisions(warehouse: Warehouse, system: str, dataset_version: str | None = None) -> pd.DataFrame:
    """The newest decision per model version of a system (on one dataset version, if given), in model-version order."""
    return warehouse.frame(
        """select model_version, dataset_version, verdict, reasons from gate_decisions
           where system = ? and (? is null or dataset_version = ?)
           qualify row_number() over (partition by model_version order by decided_at desc) = 1
           order by try_cast(model_version as integer), model_version""", [system, dataset_version, dataset_version])


def artifact_digest(warehouse: Warehouse, system: str, model_version: str) -> str | None:
    """The sha256 of a model version's artifact, as recorded when the pipeline first saw it."""
    found = warehouse.frame(
        """select artifact_sha256 from model_versions where system = ? and model_version = ? and artifact_sha256 is not null
           order by recorded_at desc limit 1""", [system, str(model_version)])
    return None if found.empty else str(found.artifact_sha256.iloc[0])


def last_evaluated_dataset(warehouse: Warehouse, system: str, model_version: str) -> str | None:
    """The dataset version this model version was most recently evaluated on."""
    found = warehouse.frame(
        "select dataset_version from evaluation_runs where system = ? and model_version = ? order by finished_at desc limit 1",
        [system, str(model_version)],
    )
    return None if found.empty else str(found.dataset_version.iloc[0])


def evaluation_counts(warehouse: Warehouse) -> tuple[int, int]:
    """(successful evaluations, distinct dataset versions they ran on)."""
    found = warehouse.frame(
        "select count(*) as runs, count(distinct dataset_version) as datasets from evaluation_runs where status = 'ok'")
    return int(found.runs[0]), int(found.datasets[0])


def production_versions(warehouse: Warehouse, system: str) -> int:
    """How many production dataset versions have arrived (the demo's replay resumes after them)."""
    return int(warehouse.frame(
        "select count(*) as n from dataset_versions where system = ? and kind = 'production'", [system]).n.iloc[0])


def latest_overall_metrics(warehouse: Warehouse, system: str, model_version: str, dataset_version: str) -> pd.DataFrame:
    """Per suite and metric, the newest overall value with its interval and the run's finish time."""
    return warehouse.frame(
        "select e.suite, e.finished_at, m.family, m.metric, m.value, m.ci_low, m.ci_high, m.n "
        "from metrics m join evaluation_runs e using (run_id) "
        "where m.system = ? and m.model_version = ? and m.dataset_version = ? and m.slice = 'overall' "
        "qualify row_number() over (partition by e.suite, m.metric order by m.recorded_at desc) = 1 order by e.suite, m.metric",
        [system, str(model_version), dataset_version])


@dataclass(frozen=True)
class Measured:
    n: int
    ci_low: float
    ci_high: float


def latest_measurement(warehouse: Warehouse, system: str, family: str, metric: str, slice_: str) -> Measured | None:
    """The newest measurement of a metric on a slice, any version: what a policy check would be judged on today."""
    found = warehouse.frame("select n, ci_low, ci_high from metrics where system = ? and family = ? and metric = ? and slice = ? "
                            "order by recorded_at desc limit 1", [system, family, metric, slice_])
    return None if found.empty else Measured(int(found.n[0]), float(found.ci_low[0]), float(found.ci_high[0]))


@dataclass(frozen=True)
class Findings:
    expectations: int
    expectations_met: int
    drift_assessed: int
    drifted: list[str]


def dataset_findings(warehouse: Warehouse, system: str, dataset_version: str) -> Findings:
    """What the quality check and the drift check found on one dataset version."""
    quality = warehouse.frame(
        "select count(*) as n, count(*) filter (where success) as ok from quality_results where system = ? and dataset_version = ?",
        [system, dataset_version],
    )
    drift = warehouse.frame(
        """select count(*) filter (where drifted is not null) as n,
                  coalesce(list(column_name order by column_name) filter (where drifted), []) as cols
           from drift_results where system = ? and dataset_version = ?""",
        [system, dataset_version],
    )
    return Findings(int(quality.n[0]), int(quality.ok[0]), int(drift.n[0]), [str(c) for c in drift.cols[0]])
