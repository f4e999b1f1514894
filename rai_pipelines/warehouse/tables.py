"""Fact table schemas (contract: columns may be added, never removed or renamed)."""

from __future__ import annotations

import pyarrow as pa

_TS = pa.timestamp("us", tz="UTC")

TABLES: dict[str, pa.Schema] = {
    "dataset_versions": pa.schema(
        [
            ("system", pa.string()),
            ("dataset_version", pa.string()),
            ("label", pa.string()),
            ("kind", pa.string()),
            ("digest", pa.string()),
            ("rows", pa.int64()),
            ("source", pa.string()),
            ("schema", pa.string()),
            ("registered_at", _TS),
            ("labelled_rows", pa.int64()),  # rows whose label had landed; fewer than `rows` while labels are late
        ]
    ),
    "evaluation_runs": pa.schema(
        [
            ("run_id", pa.string()),
            ("system", pa.string()),
            ("model_name", pa.string()),
            ("model_version", pa.string()),
            ("dataset_version", pa.string()),
            ("dataset_digest", pa.string()),
            ("suite", pa.string()),
            ("suite_digest", pa.string()),
            ("status", pa.string()),
            ("error", pa.string()),
            ("started_at", _TS),
            ("finished_at", _TS),
            ("dagster_run_id", pa.string()),
            ("dagster_partition", pa.string()),
            ("mlflow_run_id", pa.string()),
            ("code_version", pa.string()),
            ("mlflow_experiment_id", pa.string()),
            ("family", pa.string()),  # whose code version `code_version` is
            ("basis", pa.string()),  # realized (labels) or estimated (labels pending: evaluation/estimation.py)
        ]
    ),
    "metrics": pa.schema(
        [
            ("run_id", pa.string()),
            ("system", pa.string()),
            ("model_version", pa.string()),
            ("dataset_version", pa.string()),
            ("family", pa.string()),
            ("metric", pa.string()),
            ("slice", pa.string()),
            ("value", pa.float64()),
            ("ci_low", pa.float64()),
            ("ci_high", pa.float64()),
            ("n", pa.int64()),
            ("recorded_at", _TS),
            # {level: [lo, hi]}: one-sided bounds on stats.intervals.LEVELS, what the gate judges at any level.
            ("bounds", pa.string()),
        ]
    ),
    "gate_decisions": pa.schema(
        [
            ("decision_id", pa.string()),
            ("system", pa.string()),
            ("model_version", pa.string()),
            ("dataset_version", pa.string()),
            ("risk_tier", pa.string()),
            ("policy_version", pa.string()),
            ("verdict", pa.string()),
            ("reasons", pa.string()),
            ("waivers_applied", pa.string()),
            ("decided_at", _TS),
            ("evidence_digest", pa.string()),
            ("evaluation_run_ids", pa.string()),
            ("code_version", pa.string()),
            ("night_verdict", pa.string()),  # this night's evidence alone; `verdict` adds the release window
            ("alpha", pa.float64()),
            ("multiplicity", pa.string()),
            ("error_control", pa.string()),  # JSON: alpha, method, nightly level, release rule, monitoring level
            ("monitoring_alarms", pa.string()),  # JSON: checks failing at the monitoring level
            ("warehouse_snapshot", pa.int64()),  # what the decision read: `rai query --as-of` it to see the same
        ]
    ),
    # One row per check of a gate decision (the decision's reasons as facts):
    # which checks fail, how often, by family, without parsing JSON.
    "gate_checks": pa.schema(
        [
            ("decision_id", pa.string()),
            ("system", pa.string()),
            ("model_version", pa.string()),
            ("dataset_version", pa.string()),
            ("check_name", pa.string()),
            ("kind", pa.string()),
            ("family", pa.string()),
            ("metric", pa.string()),
            ("slice", pa.string()),
            ("status", pa.string()),
            ("observed", pa.float64()),
            ("op", pa.string()),
            ("threshold", pa.float64()),
            ("ci_low", pa.float64()),
            ("ci_high", pa.float64()),
            ("compared_with", pa.string()),
            ("detail", pa.string()),
            ("decided_at", _TS),
            ("n", pa.int64()),
            ("p_pass", pa.float64()),
            ("p_fail", pa.float64()),
            ("level_pass", pa.float64()),
            ("level_fail", pa.float64()),
        ]
    ),
    # An estimate (labels pending) next to the value its labels realized, once they land: the estimation's
    # error, per metric and slice, and whether the estimate's interval covered the realized value.
    "estimate_errors": pa.schema(
        [
            ("system", pa.string()),
            ("model_version", pa.string()),
            ("window_label", pa.string()),  # the window the estimate and its realization are of
            ("suite", pa.string()),
            ("family", pa.string()),
            ("metric", pa.string()),
            ("slice", pa.string()),
            ("estimated", pa.float64()),
            ("ci_low", pa.float64()),
            ("ci_high", pa.float64()),
            ("realized", pa.float64()),
            ("error", pa.float64()),  # estimated - realized
            ("covered", pa.bool_()),
            ("estimated_run_id", pa.string()),
            ("realized_run_id", pa.string()),
            ("estimated_dataset_version", pa.string()),
            ("realized_dataset_version", pa.string()),
            ("recorded_at", _TS),
        ]
    ),
    # Model versions as the registry sensor first saw them: registered_at is
    # MLflow's creation time, the start of "time to decision".
    "model_versions": pa.schema(
        [
            ("system", pa.string()),
            ("model_name", pa.string()),
            ("model_version", pa.string()),
            ("artifact_sha256", pa.string()),
            ("recipe", pa.string()),
            ("mlflow_run_id", pa.string()),
            ("registered_at", _TS),
            ("recorded_at", _TS),
        ]
    ),
    "quality_results": pa.schema(
        [
            ("check_id", pa.string()),
            ("system", pa.string()),
            ("dataset_version", pa.string()),
            ("dataset_digest", pa.string()),
            ("suite", pa.string()),
            ("suite_digest", pa.string()),
            ("expectation", pa.string()),
            ("column_name", pa.string()),
            ("success", pa.bool_()),
            ("observed", pa.string()),
            ("kwargs", pa.string()),
            ("suite_passed", pa.bool_()),
            ("checked_at", _TS),
            ("mlflow_run_id", pa.string()),
            ("dagster_run_id", pa.string()),
            ("code_version", pa.string()),
        ]
    ),
    "drift_results": pa.schema(
        [
            ("run_id", pa.string()),
            ("system", pa.string()),
            ("dataset_version", pa.string()),
            ("window", pa.string()),
            ("reference_version", pa.string()),
            ("column_name", pa.string()),
            ("kind", pa.string()),
            ("role", pa.string()),
            ("method", pa.string()),
            ("statistic", pa.float64()),
            ("threshold", pa.float64()),
            ("drifted", pa.bool_()),
            ("n_reference", pa.int64()),
            ("n_current", pa.int64()),
            ("error", pa.string()),
            ("share_drifted", pa.float64()),
            ("dataset_drift", pa.bool_()),
            ("report_matches_full_data", pa.bool_()),
            ("mlflow_run_id", pa.string()),
            ("dagster_run_id", pa.string()),
            ("recorded_at", _TS),
            ("code_version", pa.string()),
        ]
    ),
    # Append-only history of the exception process: one row per request,
    # approval or revocation; the current state is the latest row per waiver.
    "waivers": pa.schema(
        [
            ("event_id", pa.string()),
            ("waiver_id", pa.string()),
            ("system", pa.string()),
            ("check_name", pa.string()),
            ("model_version", pa.string()),
            ("scope", pa.string()),
            ("reason", pa.string()),
            ("requested_by", pa.string()),
            ("approved_by", pa.string()),
            ("action", pa.string()),
            ("actor", pa.string()),
            ("note", pa.string()),
            ("created_at", _TS),
            ("event_at", _TS),
            ("expires_at", _TS),
            ("status", pa.string()),
            ("fingerprint", pa.string()),  # of what it excuses: artifact digest, policy version, check definition
            ("signature", pa.string()),  # the approver's Ed25519 signature of the approval (governance/approvals.py)
        ]
    ),
    # Append-only history of review intake: one row per request and decision (governance/reviews.py).
    "reviews": pa.schema(
        [
            ("event_id", pa.string()),
            ("review_id", pa.string()),
            ("system", pa.string()),
            ("model_version", pa.string()),
            ("artifact_sha256", pa.string()),
            ("bundle_path", pa.string()),
            ("bundle_sha256", pa.string()),
            ("requested_by", pa.string()),
            ("reviewers", pa.string()),  # comma-separated, as triage assigned them
            ("requested_at", _TS),
            ("action", pa.string()),
            ("actor", pa.string()),
            ("status", pa.string()),
            ("decided_by", pa.string()),
            ("reasons", pa.string()),
            ("conditions", pa.string()),
            ("decided_at", _TS),
            ("signature", pa.string()),
            ("event_at", _TS),
        ]
    ),
    # Append-only history of incidents opened from production findings (governance/incidents.py): one row per
    # opening, repeat observation and transition, each carrying the incident's state after it.
    "incidents": pa.schema(
        [
            ("event_id", pa.string()),
            ("incident_id", pa.string()),
            ("system", pa.string()),
            ("finding", pa.string()),
            ("severity", pa.string()),
            ("owner", pa.string()),
            ("summary", pa.string()),
            ("details", pa.string()),
            ("dataset_version", pa.string()),
            ("arrived_at", _TS),  # the batch that showed it: MTTD runs from here
            ("opened_at", _TS),
            ("acknowledge_due", _TS),
            ("mitigate_due", _TS),
            ("report_due", _TS),
            ("action", pa.string()),
            ("actor", pa.string()),
            ("note", pa.string()),
            ("status", pa.string()),
            ("occurrences", pa.int64()),
            ("event_at", _TS),
        ]
    ),
    "evidence_bundles": pa.schema(
        [
            ("bundle_id", pa.string()),
            ("system", pa.string()),
            ("model_version", pa.string()),
            ("decision_id", pa.string()),
            ("verdict", pa.string()),
            ("path", pa.string()),
            ("sha256", pa.string()),
            ("completeness", pa.float64()),
            ("missing", pa.string()),
            ("created_at", _TS),
        ]
    ),
}

# A view shows a fact only once its evaluation's run record says ok: an errored
# or superseded run's metrics never count.
COMMITTED_BY_RUN = {"metrics"}
