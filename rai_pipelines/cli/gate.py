"""`rai gate` (the release decision CI asks for), `rai policy explain` (what the policy asks of a system) and `rai
catalog validate` (a catalog file checked before it is used)."""

from __future__ import annotations

import json
from pathlib import Path

from rai_pipelines.cli import common
from rai_pipelines.cli.common import Parser, say
from rai_pipelines.errors import UsageError

GATE_EXIT = {"pass": 0, "fail": 1, "insufficient_evidence": 3, "unassessed": 3}


def add_parsers(sub) -> None:
    s = sub.add_parser("gate", help="release decision for CI (0 pass, 1 fail, 3 insufficient/unassessed, 2 usage)")
    s.add_argument("system")
    s.add_argument("--model-version", required=True)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=gate)

    s = sub.add_parser("policy", help="what the policy asks of a system: levels, samples, what they can show")
    psub = s.add_subparsers(dest="action", required=True, parser_class=Parser)
    e = psub.add_parser("explain", help="per check: threshold, levels, current n, smallest n that could pass, "
                                         "smallest effect detected with 80%% power")
    e.add_argument("system")
    e.add_argument("--json", action="store_true")
    s.set_defaults(func=policy)

    s = sub.add_parser("catalog", help="check a catalog file before it is used (1 with one line naming file, field, fix), "
                                       "or plan what tonight would run")
    csub = s.add_subparsers(dest="action", required=True, parser_class=Parser)
    v = csub.add_parser("validate", help="a system, suite or policy file against the project's catalog; a classifier's "
                                         "feeds against the columns it declares")
    v.add_argument("file", type=Path)
    v = csub.add_parser("plan", help="what tonight's run of a classifier would ingest and evaluate, and what is fresh")
    v.add_argument("system")
    s.set_defaults(func=catalog)

    s = sub.add_parser("model", help="model versions registered by a team's own code")
    msub = s.add_subparsers(dest="action", required=True, parser_class=Parser)
    m = msub.add_parser("register", help="vouch for an MLflow model version: record its artifact digest (checked on "
                                         "every load) after checking its flavor against the policy")
    m.add_argument("system")
    m.add_argument("version")
    s.set_defaults(func=model)


def gate(args) -> int:
    from rai_pipelines import gate as decide

    settings = common.settings()
    catalog = common.catalog(settings)
    system = catalog.system(args.system)
    # An assistant's version is its registered MLflow version as given (rai evaluate prints it); a classifier's is
    # resolved (a version number, an alias, or the latest).
    version = args.model_version if system.kind == "llm_assistant" else common.model_version(settings, system, args.model_version).version
    wh = common.warehouse(settings)
    decision = decide.decide_from_warehouse(system, catalog.policy, version, wh, suite_digests=catalog.suite_digests(system))
    decide.record(decision, wh)  # every decision CI asked for is kept, unassessed ones included
    if args.json:
        print(json.dumps(decision.to_dict(), indent=2))
    else:
        control = decision.error_control
        say(f"{system.name} v{version}: {decision.verdict.upper()} (tier {decision.risk_tier}, policy {decision.policy_version}, "
            f"dataset {decision.dataset_version or 'none'}; this night {decision.night_verdict}; alpha {control.get('alpha')} "
            f"{control.get('multiplicity')}, release after {control.get('consecutive_passes')} passing night(s))")
        for r in decision.reasons:
            say(f"  [{r.status}] {r.check}: {r.detail}")
    return GATE_EXIT[decision.verdict]


def catalog(args) -> int:
    if args.action == "plan":
        return _plan(args.system)
    from rai_pipelines.catalog_validation import validate_file

    root = common.settings().catalog_dir
    folder, name = validate_file(root, args.file)
    kind = {"systems": "system", "suites": "suite", "policies": "policy"}[folder]
    say(f"{args.file}: a valid {kind} {name!r} with the catalog in {root}")
    return 0


def _plan(name: str) -> int:
    from rai_pipelines.data.snapshots import DatasetStore
    from rai_pipelines.plan import plan

    settings = common.settings()
    catalog = common.catalog(settings)
    system = _classifier(catalog, name, "plan")
    found = plan(catalog, system, common.mlflow_client(settings), DatasetStore(settings.snapshot_dir), common.warehouse(settings))
    for line in found.lines():
        say(line)
    return 0


def _classifier(catalog, name: str, what: str):
    system = catalog.system(name)
    if system.kind != "tabular_classifier":
        raise UsageError(f"{what}: {name!r} is an {system.kind}; `rai evaluate {name}` registers its versions itself")
    return system


def model(args) -> int:
    from rai_pipelines.modeling import loading, registry

    settings = common.settings()
    catalog = common.catalog(settings)
    system = _classifier(catalog, args.system, "model register")
    if system.logged:
        raise UsageError(f"model register: {system.name!r} evaluates logged predictions; its versions are registered "
                         "when their predictions are ingested")
    client = common.mlflow_client(settings)
    mv = registry.get(client, system.registry_name, args.version)
    if mv.artifact_sha256:
        say(f"{mv.name} v{mv.version}: digest {mv.artifact_sha256} already recorded "
            f"({mv.tags.get(loading.TRUST_TAG, 'registered by rai')}); nothing changed")
        return 0
    mv = loading.record_digest(client, mv, catalog.policy.model_loading, "rai model register")
    say(f"{mv.name} v{mv.version}: {mv.tags.get(loading.FLAVOR_TAG)} digest {mv.artifact_sha256} recorded; "
        "it is loaded only while its artifact still matches")
    return 0


def policy(args) -> int:
    from rai_pipelines.sample_size import needs
    from rai_pipelines.warehouse import reads

    settings = common.settings()
    catalog = common.catalog(settings)
    system = catalog.system(args.system)
    wh = common.warehouse(settings)

    def latest(family, metric, slice_):
        found = reads.latest_measurement(wh, system.name, family, metric, slice_)
        return None if found is None else (found.n, found.ci_low, found.ci_high)

    rows = needs(system, catalog.policy, catalog.suites_for(system), catalog.judges, latest)
    tier = catalog.policy.tier_for(system)
    if args.json:
        print(json.dumps({"system": system.name, "risk_tier": system.risk_tier, "policy_version": catalog.policy.version,
                          "alpha": tier.alpha, "multiplicity": tier.multiplicity, "night_alpha": tier.night_alpha,
                          "release": tier.release.model_dump(), "monitoring_alpha": tier.monitoring.alpha,
                          "checks": [r.to_json() for r in rows]}, indent=2))
        return 0
    # Only a classifier's champion is re-judged every night on new data; an assistant's prompt set is fixed.
    monitored = "" if system.kind == "llm_assistant" else f"; champion monitored at {tier.monitoring.alpha:.3g} a night"
    say(f"{system.name}: tier {system.risk_tier}, policy {catalog.policy.version}; alpha {tier.alpha} shared by "
        f"{tier.multiplicity} across the checks a decision can fail; each check passes at level {rows[0].level_pass:.3g} "
        f"(the nightly {tier.night_alpha:.3g} on the bounds grid); release after {tier.release.consecutive_passes} "
        f"consecutive passing night(s) (false release <= {tier.alpha} over {tier.release.horizon_nights} night(s)){monitored}")
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    header = ["check", "required", "pass / fail level", "n", "smallest n to pass", "passes 80% at (effect)", "basis"]
    table = [[r.check, f"{r.metric}[{r.slice}] {r.op} {r.threshold:g}", f"{r.level_pass:.3g} / {r.level_fail_min:.3g}-{tier.alpha:g}",
              f"{fmt(r.n, 'd')} ({r.n_source})", fmt(r.min_n_to_pass, "d"),
              "-" if r.detectable is None else f"{r.detectable:.4f} ({r.effect:.4f})", r.basis] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    for line in [header, *table]:
        say("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())
    return 0
