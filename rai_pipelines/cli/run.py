"""`rai demo`, `rai ui` and `rai evaluate`: commands that run the Dagster definitions."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from rai_pipelines.cli import common
from rai_pipelines.cli.common import say
from rai_pipelines.errors import UsageError


def add_parsers(sub) -> None:
    s = sub.add_parser("demo", help="run the embedded default end to end on real data")
    s.add_argument("--nights", type=int, default=12, help="production nights to replay (default 12: 2016-2018)")
    s.set_defaults(func=demo)

    s = sub.add_parser("ui", help="Dagster webserver + daemon (and the MLflow UI) on this state")
    s.add_argument("--port", type=int, default=3000)
    s.add_argument("--mlflow-port", type=int, default=5000)
    s.add_argument("--no-mlflow", action="store_true")
    s.set_defaults(func=ui)

    s = sub.add_parser("worker", help="a Celery worker that runs Dagster steps (profiles whose executor is celery)")
    s.add_argument("--name", default="rai", help="worker name; the host is appended (NAME@host)")
    s.add_argument("--concurrency", type=int, default=1, help="steps at once (default 1: one per worker process)")
    s.set_defaults(func=worker)

    s = sub.add_parser("metrics", help="serve Prometheus metrics (evaluations, durations, verdicts, failed checks, queues)")
    s.add_argument("--port", type=int, default=9464)
    s.add_argument("--host", default="127.0.0.1")
    s.set_defaults(func=metrics)

    s = sub.add_parser("evaluate", help="evaluate one system through Dagster (exit 0 ok, 1 a step failed)")
    s.add_argument("system")
    s.add_argument("--model-version", help="default: every registered version")
    s.add_argument("--dataset-version", help="dataset version key (default: newest production batch)")
    s.add_argument("--force", action="store_true", help="recompute even if this exact evaluation exists")
    s.set_defaults(func=evaluate)


def demo(args) -> int:
    from rai_pipelines.modeling import registry
    from rai_pipelines.names import CHAMPION
    from rai_pipelines.orchestration.demo import run_demo
    from rai_pipelines.warehouse import reads

    settings = common.settings()
    catalog = common.catalog(settings)
    defs, instance = common.dagster(settings)
    say(f"rai demo: state in {settings.home}, replaying {args.nights} nights")
    summary = run_demo(settings, catalog, defs, instance, args.nights, say)
    wh = common.warehouse(settings)
    runs, datasets = reads.evaluation_counts(wh)
    say(f"\n{runs} evaluations on {datasets} dataset versions, "
        f"{summary.runs_ok + summary.runs_blocked} Dagster runs ({summary.runs_blocked} stopped by a blocking check) "
        f"in {summary.seconds:.0f} s")
    system = catalog.system("acs_employment")
    champion = registry.by_alias(common.mlflow_client(settings), system.registry_name, CHAMPION)
    say(f"latest release decision per model version (champion: v{champion.version if champion else '-'}):")
    for row in reads.latest_decisions(wh, system.name).itertuples():
        reasons = json.loads(row.reasons)
        failing = [r["check"] for r in reasons if r["status"] not in ("pass", "warning", "waived")]
        waived = [r["check"] for r in reasons if r["status"] == "waived"]
        say(f"  v{row.model_version}  {row.verdict:<22} on {row.dataset_version}" + (f"  ({', '.join(failing)})" if failing else "")
            + (f"  waived: {', '.join(waived)}" if waived else ""))
    from rai_pipelines.genai import extras

    assistant = "rai evaluate support_assistant" if not extras.missing() else "make genai, then rai evaluate support_assistant"
    say(f"\nnext: rai report trends --out report/; rai query \"select * from kpis\"; {assistant}; rai ui")
    return 0


def ui(args) -> int:
    from rai_pipelines.cli.services import Services

    settings = common.settings()
    common.instance(settings).dispose()  # installs DAGSTER_HOME's dagster.yaml and sizes the pools
    env = dict(os.environ)
    bin_dir = Path(sys.executable).parent
    services = Services()
    if not args.no_mlflow:
        services.start(
            [str(bin_dir / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(args.mlflow_port),
             "--backend-store-uri", settings.mlflow_tracking_uri, "--default-artifact-root", settings.mlflow_artifact_root],
            env=env,
        )
        say(f"MLflow UI: http://127.0.0.1:{args.mlflow_port}")
    say(f"Dagster UI: http://127.0.0.1:{args.port} (webserver + daemon, DAGSTER_HOME={settings.dagster_home})")
    dagster = services.start(
        [str(bin_dir / "dagster"), "dev", "-w", str(settings.project / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(args.port)],
        env=env, cwd=settings.project,
    )
    return services.run_until_stopped(dagster)


def worker(args) -> int:
    from rai_pipelines.cli.services import Services

    settings = common.settings()
    if settings.executor != "celery":
        raise UsageError(f"rai worker: profile {settings.profile} runs steps with the {settings.executor} executor; "
                         "workers serve a profile whose executor is celery (RAI_PROFILE=production)")
    common.instance(settings).dispose()
    services = Services()
    say(f"rai worker {args.name}: taking Dagster steps from the profile's broker (queue dagster), {args.concurrency} at a time")
    celery = services.start(
        [str(Path(sys.executable).parent / "celery"), "-A", "rai_pipelines.orchestration.celery_app", "worker",
         "-n", f"{args.name}@%h", "-Q", "dagster", "-c", str(args.concurrency), "-l", "INFO", "--without-gossip",
         "--without-mingle"],
        env=dict(os.environ), cwd=settings.project,
    )
    return services.run_until_stopped(celery)


def metrics(args) -> int:
    import signal
    import threading

    from prometheus_client import CollectorRegistry, start_http_server

    from rai_pipelines.metrics import WarehouseCollector
    from rai_pipelines.orchestration.executors import queue_depths

    settings = common.settings()
    instance = common.instance(settings)
    registry = CollectorRegistry()
    registry.register(WarehouseCollector(settings.warehouse(), queue_depths(instance, settings)))
    server, _ = start_http_server(args.port, addr=args.host, registry=registry)
    say(f"Prometheus metrics: http://{args.host}:{args.port}/metrics")
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    server.shutdown()
    instance.dispose()
    return 0


def evaluate(args) -> int:
    import datetime as dt

    from rai_pipelines.data import versions
    from rai_pipelines.data.snapshots import DatasetStore
    from rai_pipelines.evaluation import pending
    from rai_pipelines.modeling import registry
    from rai_pipelines.orchestration import launch

    settings = common.settings()
    catalog = common.catalog(settings)
    system = catalog.system(args.system)
    if system.kind == "llm_assistant":
        return _evaluate_assistant(settings, catalog, system, args.force)
    wh = common.warehouse(settings)
    store = DatasetStore(settings.snapshot_dir)
    if args.dataset_version:
        dataset = store.load(system, args.dataset_version)[0].key
    else:  # the newest production batch; before the first night, tonight's, as the schedule would
        dataset = versions.latest_production(wh, system.name) or versions.nightly_version(system, store, dt.date.today()).key
    if args.model_version:
        targets = [common.model_version(settings, system, args.model_version).version]
    else:
        targets = [m.version for m in registry.versions(common.mlflow_client(settings), system.registry_name)]
        if not targets:
            raise UsageError(f"{system.registry_name!r} has no registered versions; register one or run `rai demo`")
    decided = {}
    if not args.force and pending.ingested(catalog, system, wh, dataset):  # seen before: what is left to do?
        decided = pending.decided_versions(catalog, system, common.mlflow_client(settings), store, wh, dataset, targets)
    defs, instance = common.dagster(settings)
    status = 0
    for done in launch.evaluate_versions(defs, instance, catalog, system, targets, dataset, wh, args.force, decided):
        # A release stopped by the gate's blocking check is an answer, not a failed step.
        error = None if done.outcome.answered else done.outcome.error
        state = "up to date, nothing run" if done.model_version in decided else "ok" if error is None else error
        say(f"{system.name} v{done.model_version} on {done.dataset_version}: {state}; gate {done.verdict}")
        if error is not None:
            print(f"rai: error: {system.name} v{done.model_version}: {error}", file=sys.stderr)
            status = 1
    return status


def _evaluate_assistant(settings, catalog, system, force: bool) -> int:
    from rai_pipelines import lineage
    from rai_pipelines.genai import extras
    from rai_pipelines.names import SystemNames
    from rai_pipelines.orchestration import launch
    from rai_pipelines.warehouse import reads

    extras.require(f"{system.name}'s evaluation")  # before Dagster or MLflow is touched
    defs, instance = common.dagster(settings)
    wh = common.warehouse(settings)
    client = common.mlflow_client(settings)
    experiment = lineage.system_experiment(client, system.name, settings.mlflow_artifact_root)
    current, done = launch.evaluate_assistant(defs, instance, catalog, system, wh, client, experiment, force)
    found = reads.latest_overall_metrics(wh, system.name, current.version, current.prompts_key)
    cost = found[found.family == "cost"].pivot_table(index="suite", columns="metric", values="value")
    def asset(suite: str) -> str:
        return SystemNames.evaluation_asset(suite)

    reused = {s.name for s in catalog.suites_for(system) if asset(s.name) in done.outcome.reused}
    # A suite whose step failed this run (its target down): what the warehouse holds is an earlier run's result.
    stale = {s.name for s in catalog.suites_for(system) if asset(s.name) not in done.outcome.materialized}
    rates = found[~found.family.isin(["cost", "regression"]) & (found.metric != "errored_responses")]
    for r in rates.itertuples():
        spent = cost.loc[r.suite] if r.suite in cost.index else None
        say(f"  {r.suite:<17} {r.metric:<21} {r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] (n={r.n})"
            + ("  unchanged: earlier result reused, nothing generated" if r.suite in reused else
               "  not evaluated in this run: an earlier result" if r.suite in stale else
               "" if spent is None else f"  {spent.wall_seconds:.0f} s, {spent.generated_tokens:.0f} tokens generated, "
                                        f"{spent.cached_responses:.0f} cached"))
    cost = cost.drop(index=list((reused | stale) & set(cost.index)))
    if not cost.empty and cost.generated_tokens.sum() > 0:
        say(f"  generation: {cost.generated_tokens.sum():.0f} tokens in {cost.wall_seconds.sum():.0f} s "
            f"({cost.generated_tokens.sum() / cost.wall_seconds.sum():.1f} tokens/s, prompts included)")
    compared = found[(found.family == "regression")].set_index("metric")
    if "baseline_version" in compared.index and compared.value["baseline_version"] == compared.value["baseline_version"]:
        champion = int(compared.value["baseline_version"])
        changes = compared[compared.index.str.endswith("_change")]
        say(f"  vs champion v{champion} on the same prompts" + (" (this version)" if str(champion) == current.version else ":"))
        for metric, r in changes.iterrows():
            say(f"    {metric:<28} {r.value:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}] (n={r.n}; McNemar p "
                f"{compared.value.get(metric.replace('_change', '_mcnemar_p'), float('nan')):.3g})")
    answered = done.outcome.answered
    say(f"{system.name} v{current.version} ({current.target.identity[:19]}) on {current.prompts_key} "
        f"({sum(len(p.cases) for p in current.sets.values())} prompts): "
        f"gate {done.verdict}" + ("" if answered else f"; {done.outcome.error}"))
    if not answered:
        print(f"rai: error: {system.name}: {done.outcome.error}", file=sys.stderr)
        return 1
    return 0
