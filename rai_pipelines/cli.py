"""`rai`: the command line. Errors are one line on stderr (traceback only with --debug)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from rai_pipelines.errors import RaiError, UsageError

GATE_EXIT = {"pass": 0, "fail": 1, "insufficient_evidence": 3, "unassessed": 3}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for every usage error
        raise UsageError(f"{self.prog}: {message}")


def _say(msg: str) -> None:
    print(msg, flush=True)


def _settings():
    from rai_pipelines.settings import load_settings

    return load_settings()


def _catalog(settings):
    from rai_pipelines.catalog import load_catalog

    return load_catalog(settings.catalog_dir)


def _dagster(settings):
    """Definitions and the persistent instance of the current profile."""
    from rai_pipelines.settings import prepare_dagster_home

    prepare_dagster_home(settings)
    import dagster as dg

    from rai_pipelines.definitions import build_defs

    return build_defs(), dg.DagsterInstance.get()


def _mlflow_client(settings):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)


def cmd_demo(args) -> int:
    from rai_pipelines.demo import run_demo
    from rai_pipelines.modeling import registry
    from rai_pipelines.warehouse import Warehouse

    settings = _settings()
    catalog = _catalog(settings)
    defs, instance = _dagster(settings)
    _say(f"rai demo: state in {settings.home}, replaying {args.nights} nights")
    summary = run_demo(settings, catalog, defs, instance, args.nights, _say)
    wh = Warehouse(settings.warehouse_dir)
    decisions = wh.frame(
        """select model_version, dataset_version, verdict, reasons from gate_decisions
           qualify row_number() over (partition by system, model_version order by decided_at desc) = 1
           order by cast(model_version as integer)"""
    )
    counts = wh.frame("select count(*) as runs, count(distinct dataset_version) as datasets from evaluation_runs where status = 'ok'")
    _say(f"\n{int(counts.runs[0])} evaluations on {int(counts.datasets[0])} dataset versions, "
         f"{summary.runs_ok + summary.runs_blocked} Dagster runs ({summary.runs_blocked} stopped by a blocking check) "
         f"in {summary.seconds:.0f} s")
    champion = registry.by_alias(_mlflow_client(settings), catalog.system("acs_employment").model.registered_model, "champion")
    _say(f"latest release decision per model version (champion: v{champion.version if champion else '-'}):")
    for row in decisions.itertuples():
        reasons = json.loads(row.reasons)
        failing = [r["check"] for r in reasons if r["status"] not in ("pass", "warning", "waived")]
        waived = [r["check"] for r in reasons if r["status"] == "waived"]
        _say(f"  v{row.model_version}  {row.verdict:<22} on {row.dataset_version}" + (f"  ({', '.join(failing)})" if failing else "")
             + (f"  waived: {', '.join(waived)}" if waived else ""))
    _say("\nnext: rai report trends --out report/; rai query \"select * from kpis\"; rai evaluate support_assistant; rai ui")
    return 0


def cmd_ui(args) -> int:
    settings = _settings()
    from rai_pipelines.settings import prepare_dagster_home

    prepare_dagster_home(settings)
    env = dict(os.environ)
    bin_dir = Path(sys.executable).parent
    procs = []
    if not args.no_mlflow:
        procs.append(subprocess.Popen(
            [str(bin_dir / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(args.mlflow_port),
             "--backend-store-uri", settings.mlflow_tracking_uri, "--default-artifact-root", settings.mlflow_artifact_root],
            env=env,
        ))
        _say(f"MLflow UI: http://127.0.0.1:{args.mlflow_port}")
    _say(f"Dagster UI: http://127.0.0.1:{args.port} (webserver + daemon, DAGSTER_HOME={settings.dagster_home})")

    def _stop(signum, frame):
        raise KeyboardInterrupt

    # On SIGTERM as on Ctrl-C: stop dagster dev (and with it the webserver and daemon) rather than orphan them.
    signal.signal(signal.SIGTERM, _stop)
    try:
        procs.append(subprocess.Popen(
            [str(bin_dir / "dagster"), "dev", "-w", str(settings.project / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(args.port)],
            env=env, cwd=settings.project,
        ))
        return procs[-1].wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()


def _resolve_model_version(settings, system, version: str):
    from rai_pipelines.modeling import registry

    return registry.get(_mlflow_client(settings), system.model.registered_model, version)


def cmd_evaluate(args) -> int:
    import datetime as dt

    import dagster as dg

    from rai_pipelines.data import versions
    from rai_pipelines.data.snapshots import DatasetStore
    from rai_pipelines.modeling import registry
    from rai_pipelines.orchestration import launch
    from rai_pipelines.orchestration.planning import nightly_dataset_version
    from rai_pipelines.warehouse import Warehouse

    settings = _settings()
    catalog = _catalog(settings)
    system = catalog.system(args.system)
    if system.kind == "llm_assistant":
        return _evaluate_assistant(settings, catalog, system, args.force)
    wh = Warehouse(settings.warehouse_dir)
    store = DatasetStore(settings.snapshot_dir)
    if args.dataset_version:
        dataset = store.load(system, args.dataset_version)[0].key
    else:  # the newest production batch; before the first night, tonight's, as the schedule would
        dataset = versions.latest_production(wh, system.name) or nightly_dataset_version(system, store, dt.date.today()).key
    if args.model_version:
        targets = [_resolve_model_version(settings, system, args.model_version).version]
    else:
        targets = [m.version for m in registry.versions(_mlflow_client(settings), system.model.registered_model)]
        if not targets:
            raise UsageError(f"{system.model.registered_model!r} has no registered versions; register one or run `rai demo`")
    defs, instance = _dagster(settings)
    launch.register_dataset_partition(instance, system, dataset)
    ingest = launch.execute(defs, instance, dg.RunRequest(partition_key=dataset), f"{system.name}__ingest_dataset_version")
    if not ingest.ok:
        raise RaiError(f"evaluate: dataset version {dataset}: {ingest.error}")
    status = 0
    for v in targets:
        launch.register_model_partition(instance, system, v)
        outcome = launch.execute(defs, instance, launch.evaluate_request(catalog, system, v, dataset, args.force))
        # A release stopped by the gate's blocking check is an answer, not a failed step.
        error = None if outcome.ok or (outcome.blocked and "release_approved" in outcome.error) else outcome.error
        verdict = wh.frame(
            "select verdict from gate_decisions where system=? and model_version=? and dataset_version=? order by decided_at desc limit 1",
            [system.name, v, dataset],
        )
        shown = verdict.verdict.iloc[0] if error is None and not verdict.empty else "unassessed"
        _say(f"{system.name} v{v} on {dataset}: {'ok' if error is None else error}; gate {shown}")
        if error is not None:
            print(f"rai: error: {system.name} v{v}: {error}", file=sys.stderr)
            status = 1
    return status


def _evaluate_assistant(settings, catalog, system, force: bool) -> int:
    """Every GenAI suite on the catalog's current target and prompts, through Dagster, then the gate."""
    from rai_pipelines.orchestration import launch
    from rai_pipelines.orchestration.assistant_assets import current_versions
    from rai_pipelines.warehouse import Warehouse

    import datetime as dt

    _, version, sets, prompts_key = current_versions(catalog, system)
    started = dt.datetime.now(dt.timezone.utc)
    defs, instance = _dagster(settings)
    launch.register_model_partition(instance, system, version)
    launch.register_dataset_partition(instance, system, prompts_key)
    outcome = launch.execute(defs, instance, launch.evaluate_request(catalog, system, version, prompts_key, force))
    wh = Warehouse(settings.warehouse_dir)
    found = wh.frame(
        "select e.suite, e.finished_at, m.family, m.metric, m.value, m.ci_low, m.ci_high, m.n "
        "from metrics m join evaluation_runs e using (run_id) "
        "where m.system = ? and m.model_version = ? and m.dataset_version = ? and m.slice = 'overall' "
        "qualify row_number() over (partition by e.suite, m.metric order by m.recorded_at desc) = 1 order by e.suite, m.metric",
        [system.name, version, prompts_key])
    cost = found[found.family == "cost"].pivot_table(index="suite", columns="metric", values="value")
    reused = set(found[found.finished_at < started].suite)
    for r in found[(found.family != "cost") & (found.metric != "errored_responses")].itertuples():
        spent = cost.loc[r.suite] if r.suite in cost.index else None
        _say(f"  {r.suite:<17} {r.metric:<21} {r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}] (n={r.n})"
             + ("  unchanged: earlier result reused, nothing generated" if r.suite in reused else
                "" if spent is None else f"  {spent.wall_seconds:.0f} s, {spent.generated_tokens:.0f} tokens generated, "
                                         f"{spent.cached_responses:.0f} cached"))
    cost = cost.drop(index=list(reused & set(cost.index)))
    if not cost.empty and cost.generated_tokens.sum() > 0:
        _say(f"  generation: {cost.generated_tokens.sum():.0f} tokens in {cost.wall_seconds.sum():.0f} s "
             f"({cost.generated_tokens.sum() / cost.wall_seconds.sum():.1f} tokens/s, prompts included)")
    verdict = wh.frame("select verdict from gate_decisions where system = ? and model_version = ? and dataset_version = ? "
                       "order by decided_at desc limit 1", [system.name, version, prompts_key])
    # A release stopped by the gate's blocking check is an answer, not a failed step.
    answered = outcome.ok or (outcome.blocked and "release_approved" in (outcome.error or ""))
    shown = verdict.verdict.iloc[0] if answered and not verdict.empty else "unassessed"
    _say(f"{system.name} {version} on {prompts_key} ({sum(len(p.cases) for p in sets.values())} prompts): "
         f"gate {shown}" + ("" if answered else f"; {outcome.error}"))
    if not answered:
        print(f"rai: error: {system.name}: {outcome.error}", file=sys.stderr)
        return 1
    return 0


def cmd_gate(args) -> int:
    from rai_pipelines import gate
    from rai_pipelines.warehouse import Warehouse

    settings = _settings()
    catalog = _catalog(settings)
    system = catalog.system(args.system)
    # An assistant's version is its target's content digest (rai evaluate prints it); a classifier's, its MLflow version.
    version = args.model_version if system.kind == "llm_assistant" else _resolve_model_version(settings, system, args.model_version).version
    wh = Warehouse(settings.warehouse_dir)
    decision = gate.decide_from_warehouse(system, catalog.policy, version, wh, suite_digests=catalog.suite_digests)
    gate.record(decision, wh)  # every decision CI asked for is kept, unassessed ones included
    if args.json:
        print(json.dumps(decision.to_dict(), indent=2))
    else:
        control = decision.error_control
        _say(f"{system.name} v{version}: {decision.verdict.upper()} (tier {decision.risk_tier}, policy {decision.policy_version}, "
             f"dataset {decision.dataset_version or 'none'}; this night {decision.night_verdict}; alpha {control.get('alpha')} "
             f"{control.get('multiplicity')}, release after {control.get('consecutive_passes')} passing night(s))")
        for r in decision.reasons:
            _say(f"  [{r.status}] {r.check}: {r.detail}")
    return GATE_EXIT[decision.verdict]


def cmd_policy(args) -> int:
    from rai_pipelines.sample_size import needs
    from rai_pipelines.warehouse import Warehouse

    settings = _settings()
    catalog = _catalog(settings)
    system = catalog.system(args.system)
    wh = Warehouse(settings.warehouse_dir)

    def latest(check):
        metric = f"{check.metric}_{check.disparity}" if check.disparity else check.metric
        found = wh.frame("select n, ci_low, ci_high from metrics where system = ? and family = ? and metric = ? and slice = ? "
                         "order by recorded_at desc limit 1", [system.name, check.family, metric, check.slice])
        return None if found.empty else (int(found.n[0]), float(found.ci_low[0]), float(found.ci_high[0]))

    rows = needs(system, catalog.policy, catalog.suites_for(system), catalog.judges, latest)
    tier = catalog.policy.tier_for(system)
    if args.json:
        print(json.dumps({"system": system.name, "risk_tier": system.risk_tier, "policy_version": catalog.policy.version,
                          "alpha": tier.alpha, "multiplicity": tier.multiplicity, "night_alpha": tier.night_alpha,
                          "release": tier.release.model_dump(), "monitoring_alpha": tier.monitoring.alpha,
                          "checks": [r.to_json() for r in rows]}, indent=2))
        return 0
    _say(f"{system.name}: tier {system.risk_tier}, policy {catalog.policy.version}; alpha {tier.alpha} shared by "
         f"{tier.multiplicity} across the checks a decision can fail; each check passes at level {tier.night_alpha:.3g}; "
         f"release after {tier.release.consecutive_passes} consecutive passing night(s) "
         f"(false release <= {tier.alpha} over {tier.release.horizon_nights} night(s)); champion monitored at "
         f"{tier.monitoring.alpha:.3g} a night")
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    header = ["check", "required", "pass / fail level", "n", "smallest n to pass", "passes 80% at", "basis"]
    table = [[r.check, f"{r.metric}[{r.slice}] {r.op} {r.threshold}", f"{r.level_pass:.3g} / {r.level_fail_min:.3g}-{tier.alpha:g}",
              f"{fmt(r.n, 'd')} ({r.n_source})", fmt(r.min_n_to_pass, "d"), fmt(r.detectable, ".4f"), r.basis] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    for line in [header, *table]:
        _say("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())
    return 0


def cmd_query(args) -> int:
    from rai_pipelines.warehouse import Warehouse

    frame = Warehouse(_settings().warehouse_dir).query(args.sql)
    if args.format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    elif args.format == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso") + "\n")
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 200):
            print(frame.to_string(index=False) if not frame.empty else "(no rows)")
    return 0


def _fmt(e) -> str:
    if e.value != e.value:  # NaN
        return "undefined"
    return f"{e.value:.3f}" if e.ci_low != e.ci_low else f"{e.value:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}]"


def cmd_fairness(args) -> int:
    from rai_pipelines.data.sources import read_table
    from rai_pipelines.evaluation.engine import frame_inputs
    from rai_pipelines.evaluation.fairness import fairness_report

    reference = {}
    for item in args.reference or []:
        feature, sep, group = item.partition("=")
        if not sep:
            raise UsageError(f"--reference {item!r}: expected FEATURE=GROUP, e.g. --reference SEX=Male")
        reference[feature] = group
    frame = read_table(args.data)
    y, p, groups, score = frame_inputs(frame, args.label, args.pred, args.sensitive, args.score, str(args.data))
    report = fairness_report(
        y, p, groups, score, resamples=args.boot, seed=args.seed, confidence=args.confidence, reference_groups=reference
    )
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
        return 0
    ci = (f"{report.confidence:.0%} intervals: exact (Clopper-Pearson) for rates, simultaneous for their disparities"
          + (f", bootstrap for AUC and ECE ({report.resamples} resamples, seed {report.seed})" if report.resamples else ""))
    _say(f"{args.data}: {report.n} rows; {ci}")
    for part in report.partitions:
        _say(f"\n{part.name}")
        width = max(len(g.slice) for g in part.groups)
        for g in part.groups:
            _say(f"  {g.slice:<{width}}  n={g.n:<8} " + "  ".join(f"{m}={_fmt(e)}" for m, e in g.metrics.items()))
        for m, kinds in part.disparities.items():
            _say(f"  {m} difference {_fmt(kinds['difference'])}  ratio {_fmt(kinds['ratio'])}")
    return 0


def cmd_drift(args) -> int:
    from rai_pipelines.data.sources import read_table
    from rai_pipelines.drift.engine import dataset_drift
    from rai_pipelines.errors import DataError

    reference, current = read_table(args.reference), read_table(args.current)
    try:
        report = dataset_drift(reference, current, label=args.label, prediction=args.prediction)
    except DataError as exc:
        raise DataError(f"{args.current}: {exc}") from None
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
        return 0
    _say(f"reference {args.reference} ({report.n_reference} rows) vs current {args.current} ({report.n_current} rows)")
    width = max(len(c.column) for c in report.columns)
    for c in report.columns:
        if c.drifted is None:
            _say(f"  {c.column:<{width}}  {c.kind:<11} not assessed: {c.error}")
        else:
            _say(f"  {c.column:<{width}}  {c.kind:<11} {c.method:<13} {c.statistic:.4g} (threshold {c.threshold})"
                 f"  {'DRIFT' if c.drifted else 'ok'}{'  [' + c.role + ']' if c.role != 'feature' else ''}")
    verdict = "DRIFT" if report.dataset_drift else "no drift"
    _say(f"dataset: {len(report.drifted_columns)}/{len(report.assessed)} columns drifted "
         f"(share {report.share:.2f}, threshold {report.drift_share_threshold}): {verdict}")
    return 0


def cmd_waiver(args) -> int:
    from datetime import datetime, timezone

    from rai_pipelines import waivers
    from rai_pipelines.warehouse import Warehouse

    settings = _settings()
    wh = Warehouse(settings.warehouse_dir)
    if args.action == "request":
        catalog = _catalog(settings)
        try:
            expires = datetime.fromisoformat(args.expires)
        except ValueError:
            raise UsageError(f"waiver: --expires {args.expires!r} is not a date; use YYYY-MM-DD") from None
        if len(args.expires) == 10:  # a date alone: the waiver lasts through that day (UTC)
            expires = expires.replace(hour=23, minute=59, second=59)
        _resolve_model_version(settings, catalog.system(args.system), args.model_version)
        done = waivers.request(wh, catalog, args.system, args.check, args.model_version, args.reason, args.by,
                               expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc))
    elif args.action == "approve":
        done = waivers.approve(wh, _catalog(settings), args.waiver_id, args.by)
    elif args.action == "revoke":
        done = waivers.revoke(wh, args.waiver_id, args.by, args.reason)
    else:
        found = waivers.current(wh, args.system)
        if args.json:
            print(json.dumps([w.to_json() for w in found], indent=1))
        else:
            for w in found:
                _say(f"{w.waiver_id}  {w.status:<9} {w.scope}  by {w.requested_by}"
                     f"{', approved by ' + w.approved_by if w.approved_by else ''}, expires {w.expires_at:%Y-%m-%d}: {w.reason}")
            if not found:
                _say("(no waivers)")
        return 0
    if args.json:
        print(json.dumps(done.to_json(), indent=1))
    else:
        _say(f"{done.waiver_id}: {done.status} ({done.scope}, expires {done.expires_at:%Y-%m-%d})")
    return 0


def cmd_evidence(args) -> int:
    from rai_pipelines.evidence import keys
    from rai_pipelines.evidence.bundle import verify

    settings = _settings()
    if args.action == "verify":
        public = keys.load_public(args.public_key or keys.public_path(settings.home))
        problems = verify(args.bundle, public)
        if args.json:
            print(json.dumps({"bundle": str(args.bundle), "intact": not problems, "problems": problems}, indent=1))
        elif problems:
            for p in problems:
                print(f"{args.bundle}: {p}", file=sys.stderr)
        else:
            _say(f"{args.bundle}: intact, signed by {keys.fingerprint(public)}")
        return 1 if problems else 0
    from rai_pipelines.evidence.release import build
    from rai_pipelines.warehouse import Warehouse

    catalog = _catalog(settings)
    system = catalog.system(args.system)
    if system.kind != "llm_assistant":
        _resolve_model_version(settings, system, args.model_version)
    evidence, built = build(catalog, system, args.model_version, _mlflow_client(settings), Warehouse(settings.warehouse_dir),
                            settings.home, args.out, _say)
    if args.json:
        print(json.dumps({"path": str(built.path), "sha256": built.sha256, "completeness": built.completeness,
                          "missing": built.missing, "verdict": evidence.decision.verdict}, indent=1))
    else:
        _say(f"{built.path}: {len(built.manifest['files'])} files, verdict {evidence.decision.verdict}, "
             f"evidence completeness {built.completeness:.0%}{' (missing ' + ', '.join(built.missing) + ')' if built.missing else ''}")
    return 0


def cmd_report(args) -> int:
    from rai_pipelines.report.trends import build
    from rai_pipelines.warehouse import Warehouse

    settings = _settings()
    report = build(_catalog(settings), Warehouse(settings.warehouse_dir), args.out, settings.mlflow_ui_url)
    if args.json:
        print(json.dumps({"path": str(report.path), "plots": report.plots, "seconds": report.seconds}, indent=1))
    else:
        _say(f"{report.path}: {report.plots} plots, built in {report.seconds['total']:.1f} s; open it in a browser (no network needed)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rai", description="Continuous Responsible-AI evaluation, orchestrated by Dagster.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("demo", help="run the embedded default end to end on real data")
    s.add_argument("--nights", type=int, default=12, help="production nights to replay (default 12: 2016-2018)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("ui", help="Dagster webserver + daemon (and the MLflow UI) on this state")
    s.add_argument("--port", type=int, default=3000)
    s.add_argument("--mlflow-port", type=int, default=5000)
    s.add_argument("--no-mlflow", action="store_true")
    s.set_defaults(func=cmd_ui)

    s = sub.add_parser("evaluate", help="evaluate one system through Dagster (exit 0 ok, 1 a step failed)")
    s.add_argument("system")
    s.add_argument("--model-version", help="default: every registered version")
    s.add_argument("--dataset-version", help="dataset version key (default: newest production batch)")
    s.add_argument("--force", action="store_true", help="recompute even if this exact evaluation exists")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("gate", help="release decision for CI (0 pass, 1 fail, 3 insufficient/unassessed, 2 usage)")
    s.add_argument("system")
    s.add_argument("--model-version", required=True)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_gate)

    s = sub.add_parser("fairness", help="group metrics with exact (rates) and bootstrap (AUC, ECE) intervals on any CSV or Parquet file")
    s.add_argument("--data", required=True, type=Path)
    s.add_argument("--label", required=True, help="binary 0/1 label column")
    s.add_argument("--pred", required=True, help="binary 0/1 prediction column")
    s.add_argument("--score", help="probability column (adds auc and ece)")
    s.add_argument("--sensitive", required=True, action="append", help="sensitive feature column (repeat for an intersection)")
    s.add_argument("--reference", action="append", help="FEATURE=GROUP to compare every group against")
    s.add_argument("--boot", type=int, default=1000, help="bootstrap resamples for AUC and ECE intervals (default 1000, 0 for none)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--confidence", type=float, default=0.95)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_fairness)

    s = sub.add_parser("drift", help="Evidently-compatible drift verdicts between two CSV or Parquet files")
    s.add_argument("--reference", required=True, type=Path)
    s.add_argument("--current", required=True, type=Path)
    s.add_argument("--label", help="label column (reported as label drift)")
    s.add_argument("--prediction", help="prediction column (reported as prediction drift)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_drift)

    s = sub.add_parser("waiver", help="the exception process: request, approve, revoke, list (1 when refused)")
    wsub = s.add_subparsers(dest="action", required=True, parser_class=_Parser)
    w = wsub.add_parser("request", help="ask for a check to be waived for one model version")
    w.add_argument("system")
    w.add_argument("--check", required=True, help="a check name from the system's policy tier")
    w.add_argument("--model-version", required=True)
    w.add_argument("--reason", required=True)
    w.add_argument("--by", required=True, help="the requester")
    w.add_argument("--expires", required=True, help="YYYY-MM-DD (UTC)")
    w = wsub.add_parser("approve", help="approve a requested waiver (not by its requester; only by a policy approver)")
    w.add_argument("waiver_id")
    w.add_argument("--by", required=True)
    w = wsub.add_parser("revoke", help="revoke a waiver")
    w.add_argument("waiver_id")
    w.add_argument("--by", required=True)
    w.add_argument("--reason", required=True)
    w = wsub.add_parser("list", help="every waiver and its current state")
    w.add_argument("system", nargs="?")
    for w in wsub.choices.values():
        w.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_waiver)

    s = sub.add_parser("evidence", help="signed evidence bundles: build one, or verify one (1 when tampered or incomplete)")
    esub = s.add_subparsers(dest="action", required=True, parser_class=_Parser)
    e = esub.add_parser("bundle", help="card, decision, metrics, quality, drift, policy and waivers in a signed zip")
    e.add_argument("system")
    e.add_argument("--model-version", required=True)
    e.add_argument("--out", required=True, type=Path)
    e.add_argument("--json", action="store_true")
    e = esub.add_parser("verify", help="check every file against the signed manifest")
    e.add_argument("bundle", type=Path)
    e.add_argument("--public-key", type=Path, help="the signer's PEM public key (default: this state's key)")
    e.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_evidence)

    s = sub.add_parser("report", help="governance reports from the warehouse")
    rsub = s.add_subparsers(dest="kind", required=True, parser_class=_Parser)
    r = rsub.add_parser("trends", help="self-contained HTML: KPI tiles, metric trends with intervals, drift, verdicts, lineage")
    r.add_argument("--out", required=True, type=Path, help="directory to write index.html into")
    r.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("policy", help="what the policy asks of a system: levels, samples, what they can show")
    psub = s.add_subparsers(dest="action", required=True, parser_class=_Parser)
    e = psub.add_parser("explain", help="per check: threshold, levels, current n, smallest n that could pass, "
                                         "smallest effect detected with 80%% power")
    e.add_argument("system")
    e.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_policy)

    s = sub.add_parser("query", help="read-only SQL over the warehouse views")
    s.add_argument("sql")
    s.add_argument("--format", choices=["table", "csv", "json"], default="table")
    s.set_defaults(func=cmd_query)
    return p


def _quiet_libraries() -> None:
    # Progress bars and INFO chatter from MLflow drown the one-line results.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("DAGSTER_TELEMETRY_DISABLED", "1")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _quiet_libraries()
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except RaiError as exc:
        if debug:
            raise
        print(f"rai: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `rai query ... | head`: the reader stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141  # as a shell reports SIGPIPE; never 0, so a piped `rai gate` cannot read as a pass
    except Exception as exc:  # noqa: BLE001 - unexpected: still one line unless --debug
        if debug:
            raise
        print(f"rai: error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
