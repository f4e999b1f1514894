"""Prometheus metrics (`rai metrics`): what operators graph and alert on, read from the warehouse and the run
queue at each scrape, so every worker's work counts once and a restarted exporter loses nothing.

The warehouse's counts are gauges, not counters: a fact is replaced by identity (an errored evaluation re-run
successfully moves from `error` to `ok`), so a count can go down, which a counter must never do.

| metric | type | labels |
|---|---|---|
| rai_evaluations | gauge: evaluations recorded | system, suite, status (ok, error) |
| rai_evaluation_seconds | gauge: wall time of the successful ones, summed (divide by rai_evaluations{status="ok"}) | system, suite |
| rai_gate_decisions | gauge: decisions recorded | system, verdict |
| rai_gate_latest_verdict | gauge (1 for the newest verdict of each model version) | system, model_version, verdict |
| rai_failed_checks | gauge: failed gate checks recorded | system, family, check |
| rai_queue_depth | gauge | queue (dagster_runs: runs queued by the run coordinator; celery_steps: steps waiting on the broker) |
| rai_warehouse_snapshot | gauge | |
| rai_scrape_errors_total | counter | source |
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from rai_pipelines.warehouse import Warehouse

QueueDepths = Callable[[], dict[str, int]]


class WarehouseCollector(Collector):
    def __init__(self, warehouse: Warehouse, queue_depths: QueueDepths | None = None):
        self.warehouse = warehouse
        self.queue_depths = queue_depths
        self.errors: dict[str, int] = {}

    def collect(self) -> Iterator:
        try:
            yield from self._warehouse_metrics()
        except Exception:  # noqa: BLE001 - a scrape reports what it can; the error count says what it could not
            self.errors["warehouse"] = self.errors.get("warehouse", 0) + 1
        if self.queue_depths is not None:
            try:
                depths = self.queue_depths()
            except Exception:  # noqa: BLE001
                self.errors["queue"] = self.errors.get("queue", 0) + 1
            else:
                gauge = GaugeMetricFamily("rai_queue_depth", "Work waiting to run", labels=["queue"])
                for queue, depth in sorted(depths.items()):
                    gauge.add_metric([queue], depth)
                yield gauge
        errors = CounterMetricFamily("rai_scrape_errors", "Scrapes that could not read a source", labels=["source"])
        for source in ("warehouse", "queue"):
            errors.add_metric([source], self.errors.get(source, 0))
        yield errors

    def _warehouse_metrics(self) -> Iterator:
        wh = self.warehouse.at(self.warehouse.snapshot())  # one consistent state per scrape
        runs = wh.frame("""select system, suite, status, count(*) as n,
                                  sum(epoch(finished_at) - epoch(started_at)) as seconds
                           from evaluation_runs group by all order by all""")
        total = GaugeMetricFamily("rai_evaluations", "Evaluations recorded", labels=["system", "suite", "status"])
        duration = GaugeMetricFamily("rai_evaluation_seconds", "Wall time of the successful evaluations, summed",
                                     labels=["system", "suite"])
        for r in runs.itertuples():
            total.add_metric([r.system, r.suite, r.status], r.n)
            if r.status == "ok":
                duration.add_metric([r.system, r.suite], float(r.seconds or 0.0))
        yield total
        yield duration

        decisions = GaugeMetricFamily("rai_gate_decisions", "Release decisions recorded", labels=["system", "verdict"])
        for r in wh.frame("select system, verdict, count(*) as n from gate_decisions group by all order by all").itertuples():
            decisions.add_metric([r.system, r.verdict], r.n)
        yield decisions
        latest = GaugeMetricFamily("rai_gate_latest_verdict", "The newest verdict of each model version (1)",
                                   labels=["system", "model_version", "verdict"])
        for r in wh.frame("""select system, model_version, verdict from gate_decisions
                             qualify row_number() over (partition by system, model_version order by decided_at desc) = 1
                             order by all""").itertuples():
            latest.add_metric([r.system, r.model_version, r.verdict], 1)
        yield latest

        failed = GaugeMetricFamily("rai_failed_checks", "Gate checks that failed", labels=["system", "family", "check"])
        for r in wh.frame("""select system, coalesce(family, kind) as family, check_name, count(*) as n from gate_checks
                             where status = 'fail' group by all order by all""").itertuples():
            failed.add_metric([r.system, r.family, r.check_name], r.n)
        yield failed

        snapshot = GaugeMetricFamily("rai_warehouse_snapshot", "The warehouse snapshot the scrape read")
        snapshot.add_metric([], wh.as_of)
        yield snapshot

