"""The trend report from warehouse facts: escaping, empty warehouses, bad --out."""

from datetime import UTC, datetime, timedelta

import pytest

from rai_pipelines.errors import UsageError
from rai_pipelines.report.trends import build
from rai_pipelines.warehouse import Warehouse
from tests.support import run_rai

HOSTILE = "</script><script>alert('x')</script><img src=x onerror=alert(1)>"
AT = datetime(2026, 11, 2, tzinfo=UTC)


def _facts(wh, label):
    key = "batch-1.abc"
    wh.write("dataset_versions", "acs_employment", key, [{
        "system": "acs_employment", "dataset_version": key, "label": label, "kind": "production", "digest": "d" * 64, "rows": 5,
        "source": "x", "schema": "{}", "registered_at": AT}])
    wh.write("gate_decisions", "acs_employment", "dec1", [{
        "decision_id": "dec1", "system": "acs_employment", "model_version": "1", "dataset_version": key, "risk_tier": "high",
        "policy_version": "p" * 64, "verdict": "fail", "reasons": "[]", "waivers_applied": "[]", "decided_at": AT + timedelta(hours=1),
        "evidence_digest": "e", "evaluation_run_ids": '["r1"]', "code_version": "c"}])
    wh.write("metrics", "acs_employment", "r1", [{
        "run_id": "r1", "system": "acs_employment", "model_version": "1", "dataset_version": key, "family": "performance",
        "metric": "accuracy", "slice": "overall", "value": 0.8, "ci_low": 0.79, "ci_high": 0.81, "n": 5, "recorded_at": AT}])
    wh.write("evaluation_runs", "acs_employment", "r1", [{
        "run_id": "r1", "system": "acs_employment", "model_name": "m", "model_version": "1", "dataset_version": key,
        "dataset_digest": "d" * 64, "suite": "performance", "suite_digest": "s", "status": "ok", "error": None, "started_at": AT,
        "finished_at": AT, "dagster_run_id": "", "dagster_partition": "", "mlflow_run_id": "0123456789abcdef",
        "mlflow_experiment_id": "7", "code_version": "c"}])


def test_labels_cannot_break_out_of_the_page(catalog, tmp_path):
    wh = Warehouse(tmp_path / "wh")
    _facts(wh, HOSTILE)
    report = build(catalog, wh, tmp_path / "out", "http://127.0.0.1:5000")
    html = report.path.read_text()
    assert report.plots == 2  # judged metrics and verdicts; no drift facts, no drift plot
    assert "<img src=x" not in html and "<script>alert" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # in the lineage table, escaped
    assert "\\u003c\\u002fscript\\u003e\\u003cscript\\u003ealert" in html  # in the plot JSON, escaped
    assert 'href="http://127.0.0.1:5000/#/experiments/7/runs/0123456789abcdef"' in html


def test_an_empty_warehouse_still_gives_a_page(catalog, tmp_path):
    report = build(catalog, Warehouse(tmp_path / "wh"), tmp_path / "out")
    assert report.plots == 0
    assert "No KPIs yet" in report.path.read_text()


def test_out_must_be_a_directory(catalog, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        build(catalog, Warehouse(tmp_path / "wh"), tmp_path / "file")
    proc = run_rai("report", "trends", "--out", str(tmp_path / "file"), home=tmp_path / "state")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "is a file; give a directory" in proc.stderr


def test_attribution_changes_table_shows_the_latest_batch_moved_features_first(catalog, tmp_path):
    from rai_pipelines.report.queries import TOP_ATTRIBUTION_CHANGES
    wh = Warehouse(tmp_path / "wh")

    def batch(key, at, changes):
        wh.write("dataset_versions", "acs_employment", key, [{
            "system": "acs_employment", "dataset_version": key, "label": key.split(".")[0], "kind": "production",
            "digest": "d" * 64, "rows": 5, "source": "x", "schema": "{}", "registered_at": at}])
        wh.write("metrics", "acs_employment", f"r-{key}", [{
            "run_id": f"r-{key}", "system": "acs_employment", "model_version": "3", "dataset_version": key,
            "family": "attributions", "metric": f"shap_share_change_vs_{against}", "slice": feature, "value": value,
            "ci_low": lo, "ci_high": hi, "n": 500, "recorded_at": at} for feature, against, value, lo, hi in changes])
        wh.write("evaluation_runs", "acs_employment", f"r-{key}", [{  # metrics show once their run is recorded
            "run_id": f"r-{key}", "system": "acs_employment", "model_name": "m", "model_version": "3", "dataset_version": key,
            "dataset_digest": "d" * 64, "suite": "attributions", "suite_digest": "s", "status": "ok", "error": None,
            "started_at": at, "finished_at": at, "dagster_run_id": "", "dagster_partition": "", "mlflow_run_id": "",
            "mlflow_experiment_id": "", "code_version": "c"}])

    batch("old-batch.a", AT, [("OLDFEATURE", "champion", 0.5, 0.4, 0.6)])
    noise = [(f"F{i}", "reference", 0.01 * i, -0.2, 0.2) for i in range(TOP_ATTRIBUTION_CHANGES + 2)]
    batch("new-batch.b", AT + timedelta(days=1), [("AGEP", "reference", -0.30, -0.6, 0.1),  # large, but straddles 0
                                                  (HOSTILE, "champion", 0.17, 0.16, 0.18), *noise])  # moved
    html = build(catalog, wh, tmp_path / "out").path.read_text()
    table = html.split('<table class="attribution-changes">')[1].split("</table>")[0]
    rows = table.split("<tr>")[2:]
    assert len(rows) == TOP_ATTRIBUTION_CHANGES
    assert "&lt;img src=x" in rows[0] and "the champion" in rows[0] and "+0.170" in rows[0] and "<td>yes</td>" in rows[0]
    assert "<td>AGEP</td>" in rows[1] and "<td>no</td>" in rows[1]
    assert "OLDFEATURE" not in table and "new-batch" in rows[0]
