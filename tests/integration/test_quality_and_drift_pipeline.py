"""Data quality blocks bad dataset versions; nightly drift finds the real 2017 drift;
alerts reach a real webhook on loopback."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from rai_pipelines.alerts import Alert, AlertChannel
from rai_pipelines.definitions import build_defs
from rai_pipelines.orchestration import launch
from rai_pipelines.warehouse import Warehouse


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(monkeypatch):
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/hooks/rai"
    monkeypatch.setenv("RAI_ALERT_WEBHOOK_URL", url)
    yield _Receiver.received
    server.shutdown()


@pytest.fixture
def instance(settings):
    with dg.DagsterInstance.get() as inst:
        yield inst


def _night(acs, index):
    return acs.data.production.replay.start_date + timedelta(days=index)


def test_webhook_gets_slack_compatible_json(webhook):
    channel = AlertChannel(webhook_url=f"http://127.0.0.1:{0}")  # unreachable: falls back
    assert channel.send(Alert("column_drift", "s", "d.1", "x")) == "nowhere"
    import os
    delivered = AlertChannel(webhook_url=os.environ["RAI_ALERT_WEBHOOK_URL"]).send(
        Alert("column_drift", "acs", "2017-b01.abc", "1 of 17 columns drifted", ["RELP: jensenshannon 0.16"], "http://mlflow/run")
    )
    assert delivered == "webhook"
    [payload] = webhook
    assert payload["text"].startswith(":rotating_light: [acs]")
    assert any("RELP" in b["text"]["text"] for b in payload["blocks"] if b["type"] == "section")


def test_unreachable_webhook_falls_back_to_the_file(tmp_path):
    channel = AlertChannel(webhook_url="http://127.0.0.1:9/nothing", file=str(tmp_path / "alerts.jsonl"), retries=1)
    assert channel.send(Alert("data_quality_failed", "s", "d.1", "2 expectations failed")) == "file"
    assert json.loads((tmp_path / "alerts.jsonl").read_text())["rai"]["kind"] == "data_quality_failed"


def test_nightly_drift_finds_the_real_2017_drift(webhook, settings, instance, acs, mlflow_client):
    defs = build_defs()
    [request] = launch.tick_schedule(defs, instance, acs, _night(acs, 4))  # 2017, first batch
    assert request.partition_key.startswith("2017-b01.")
    outcome = launch.execute(defs, instance, request, "acs_employment__ingest_dataset_version")
    assert outcome.ok, outcome.error

    wh = Warehouse(settings.warehouse_dir)
    drift = wh.frame("select * from drift_results where dataset_version = ?", [request.partition_key]).set_index("column_name")
    assert {"run_id", "system", "window", "method", "statistic", "threshold", "drifted"} <= set(drift.columns) | {"column_name"}
    assert drift.loc["RELP", "drifted"] and drift.loc["RELP", "method"] == "jensenshannon"
    assert drift.loc["RELP", "statistic"] >= 0.1
    assert drift.loc["employed", "role"] == "label"
    assert drift.loc["RELP", "window"] == "2017-b01"
    quality = wh.frame("select bool_and(success) ok, count(*) n from quality_results where dataset_version = ?", [request.partition_key])
    assert quality.ok[0] and quality.n[0] == 12

    run = mlflow_client.get_run(drift.mlflow_run_id.iloc[0])
    artifacts = {a.path for a in mlflow_client.list_artifacts(run.info.run_id)}
    assert {"drift.json", "evidently_data_drift.html"} <= artifacts
    assert {i.tags[0].value for i in run.inputs.dataset_inputs} == {"reference", "current"}

    mat = instance.fetch_materializations(dg.AssetKey(["acs_employment", "drift"]), limit=1).records[0].asset_materialization
    assert "RELP" in mat.metadata["drifted_columns"].value
    assert mat.metadata["mlflow_run"].value.endswith(run.info.run_id)
    assert any("RELP" in json.dumps(p) for p in webhook)  # the drift verdict raised an alert


@pytest.fixture
def bad_project(local_production):
    """Production data with impossible ages in 2016's first batch: valid dtype, fails the range expectation."""
    production, path, root = local_production
    production.loc[production.index[:500], "AGEP"] = 150.0
    production.to_parquet(path)
    return root


def test_version_violating_its_suite_is_blocked_and_never_evaluated(bad_project, webhook, settings, instance, register_model):
    from rai_pipelines.catalog import load_catalog

    acs = load_catalog(bad_project / "assets").system("acs_employment")
    defs = build_defs()
    register_model(rows=2000)
    [request] = launch.tick_schedule(defs, instance, acs, _night(acs, 0))
    outcome = launch.execute(defs, instance, request, "acs_employment__ingest_dataset_version")
    assert outcome.blocked_by == ("data_quality",) and not outcome.answered and "data_quality" in outcome.error

    wh = Warehouse(settings.warehouse_dir)
    failed = wh.frame("select expectation, column_name from quality_results where not success")
    assert failed.to_dict("records") == [{"expectation": "expect_column_values_to_be_between", "column_name": "AGEP"}]
    assert wh.frame("select count(*) n from drift_results").n[0] == 0  # downstream of the blocking check
    assert any(p["rai"]["kind"] == "data_quality_failed" for p in webhook)

    # The sensor does not request its evaluation, and a forced run refuses it.
    assert not [r for r in launch.tick_sensor(defs, instance, acs) if r.job_name.endswith("__evaluate")]
    forced = launch.execute(defs, instance, launch.evaluate_request(load_catalog(bad_project / "assets"), acs, "1", request.partition_key))
    assert not forced.ok and "failed its data-quality check" in forced.error
    assert wh.frame("select count(*) n from evaluation_runs").n[0] == 0


def test_champion_failing_at_the_monitoring_level_raises_one_regression_alert(webhook, settings, instance, catalog, acs,
                                                                             register_model, mlflow_client):
    """Nightly monitoring: the model in service (holding `champion`) is re-judged on each batch at the tier's
    false-alarm level; a check it fails there reaches the webhook as a champion_regression alert."""
    defs = build_defs()
    skewed = register_model("skewed_sample_gbm")  # trained without 60% of employed women: real disparities
    mlflow_client.set_registered_model_alias(skewed.name, "champion", skewed.version)
    [request] = launch.tick_schedule(defs, instance, acs, _night(acs, 0))
    [evaluated] = launch.evaluate_versions(defs, instance, catalog, acs, [skewed.version], request.partition_key,
                                           Warehouse(settings.warehouse_dir))
    # A failing decision blocks its own release (the champion stays where it is), after it has been recorded.
    assert evaluated.verdict == "fail" and evaluated.outcome.blocked_by == ("release_approved",)

    decision = Warehouse(settings.warehouse_dir).frame(
        "select verdict, monitoring_alarms from gate_decisions where model_version = ?", [skewed.version])
    alarms = json.loads(decision.monitoring_alarms[0])
    assert decision.verdict[0] == "fail" and "equal_opportunity_sex" in alarms
    [alert] = [p["rai"] for p in webhook if p["rai"]["kind"] == "champion_regression"]
    assert alert["system"] == "acs_employment" and alert["dataset_version"] == request.partition_key
    assert all(check in alert["summary"] for check in alarms)
