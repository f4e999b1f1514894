"""`rai metrics` scraped by Debian's real Prometheus server: the counts it serves are the warehouse's."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import requests

from rai_pipelines.warehouse import Fact
from tests.support import RAI, free_port, wait_until_serving

NOW = datetime(2026, 12, 1, 2, tzinfo=UTC)


def _facts(wh) -> None:
    for i, (suite, status) in enumerate([("fairness", "ok"), ("fairness", "ok"), ("fairness", "error"), ("performance", "ok")]):
        wh.write("evaluation_runs", "acs_employment", f"run{i}", [{
            "run_id": f"run{i}", "system": "acs_employment", "model_name": "m", "model_version": "1",
            "dataset_version": "d", "dataset_digest": "x", "suite": suite, "suite_digest": "x", "status": status,
            "error": None, "started_at": NOW, "finished_at": NOW + timedelta(seconds=10 * (i + 1)), "dagster_run_id": "",
            "dagster_partition": "", "mlflow_run_id": "", "code_version": "c"}])
    for i, verdict in enumerate(["pass", "fail"]):
        decision = {"decision_id": f"dec{i}", "system": "acs_employment", "model_version": str(i + 1), "dataset_version": "d",
                    "risk_tier": "high", "policy_version": "p", "verdict": verdict, "reasons": "[]", "waivers_applied": "[]",
                    "decided_at": NOW, "evidence_digest": "e", "evaluation_run_ids": "[]", "code_version": "c"}
        check = {"decision_id": f"dec{i}", "system": "acs_employment", "model_version": str(i + 1), "dataset_version": "d",
                 "check_name": "tpr_difference_SEX", "kind": "threshold", "family": "fairness", "metric": "tpr_difference",
                 "slice": "SEX", "status": verdict, "decided_at": NOW}
        wh.write_all([Fact("gate_decisions", "acs_employment", f"dec{i}", [decision]),
                      Fact("gate_checks", "acs_employment", f"dec{i}", [check])])


def _query(prometheus: str, expr: str) -> dict[str, float]:
    found = requests.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()["data"]["result"]
    return {",".join(f"{k}={v}" for k, v in sorted(r["metric"].items()) if k not in ("__name__", "instance", "job")):
            float(r["value"][1]) for r in found}


def test_prometheus_scrapes_evaluation_counts_durations_verdicts_failed_checks_and_queue_depth(settings, tmp_path):
    _facts(settings.warehouse())
    port, prom_port = free_port(), free_port()
    env = {**os.environ, "RAI_HOME": str(settings.home), "RAI_PROFILE": "local"}
    log = tmp_path / "metrics.log"
    exporter = subprocess.Popen([RAI, "metrics", "--port", str(port)], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                                start_new_session=True)
    config = tmp_path / "prometheus.yml"
    config.write_text(f"global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: rai\n"
                      f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")
    prom_log = tmp_path / "prometheus.log"
    prometheus = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                   f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=prom_log.open("w"),
                                  stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{prom_port}"
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/metrics", exporter, log)
        wait_until_serving(f"{url}/-/ready", prometheus, prom_log)
        deadline = time.monotonic() + 60
        while not _query(url, "rai_evaluations"):
            assert time.monotonic() < deadline, prom_log.read_text()[-2000:]
            time.sleep(1)
        assert _query(url, "rai_evaluations") == {
            "status=error,suite=fairness,system=acs_employment": 1, "status=ok,suite=fairness,system=acs_employment": 2,
            "status=ok,suite=performance,system=acs_employment": 1}
        # Successful fairness runs took 10 s and 20 s; the errored one does not count towards durations.
        assert _query(url, 'rai_evaluation_seconds{suite="fairness"}') == {"suite=fairness,system=acs_employment": 30}
        assert _query(url, "rai_gate_decisions") == {"system=acs_employment,verdict=fail": 1,
                                                           "system=acs_employment,verdict=pass": 1}
        assert _query(url, "rai_failed_checks") == {"check=tpr_difference_SEX,family=fairness,system=acs_employment": 1}
        assert _query(url, "rai_gate_latest_verdict") == {"model_version=1,system=acs_employment,verdict=pass": 1,
                                                          "model_version=2,system=acs_employment,verdict=fail": 1}
        assert _query(url, "rai_queue_depth") == {"queue=dagster_runs": 0}
        assert _query(url, "rai_scrape_errors_total") == {"source=warehouse": 0, "source=queue": 0}
    finally:
        for proc in (exporter, prometheus):
            os.killpg(proc.pid, signal.SIGTERM)
        assert exporter.wait(timeout=10) == 0
        prometheus.wait(timeout=30)
