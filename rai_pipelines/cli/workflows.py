"""Governance workflows: `rai review` (intake and signed decisions), `rai incident` (production findings to
closure) and `rai controls` (coverage of the control catalog by live evidence)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from rai_pipelines.cli import common
from rai_pipelines.cli.common import Parser, say


def add_parsers(sub) -> None:
    s = sub.add_parser("review", help="review intake: request a review of a model version, decide it (signed), list")
    rsub = s.add_subparsers(dest="action", required=True, parser_class=Parser)
    r = rsub.add_parser("request", help="open a review with the version's signed evidence bundle; triage assigns reviewers")
    r.add_argument("system")
    r.add_argument("--model-version", required=True)
    r.add_argument("--by", required=True, help="the requester")
    r = rsub.add_parser("decide", help="approve, reject or approve with conditions (an assigned reviewer, signed)")
    r.add_argument("review_id")
    r.add_argument("--decision", required=True, choices=["approve", "reject", "approve_with_conditions"])
    r.add_argument("--reason", required=True)
    r.add_argument("--conditions", default="")
    r.add_argument("--by", required=True)
    r.add_argument("--key", required=True, type=Path, help="your Ed25519 private key (PEM); the policy lists its public half")
    r = rsub.add_parser("list", help="every review and its state")
    r.add_argument("system", nargs="?")
    for r in rsub.choices.values():
        r.add_argument("--json", action="store_true")
    s.set_defaults(func=review)

    s = sub.add_parser("incident", help="incidents opened from production findings: list, acknowledge, mitigate, close")
    isub = s.add_subparsers(dest="action", required=True, parser_class=Parser)
    i = isub.add_parser("list", help="incidents with their state, deadlines and what is overdue")
    i.add_argument("system", nargs="?")
    for action, text in (("ack", "acknowledge an open incident"), ("mitigate", "record its mitigation"),
                         ("report", "record its report to the authority (meets the Art. 73 clock)"),
                         ("close", "close a mitigated incident")):
        i = isub.add_parser(action, help=text)
        i.add_argument("incident_id")
        i.add_argument("--by", required=True)
        i.add_argument("--note", required=True, help="what was seen or done")
    for i in isub.choices.values():
        i.add_argument("--json", action="store_true")
    s.set_defaults(func=incident)

    s = sub.add_parser("controls", help="the control catalog (EU AI Act, NIST AI RMF, ISO/IEC 42001) against live evidence")
    csub = s.add_subparsers(dest="action", required=True, parser_class=Parser)
    c = csub.add_parser("coverage", help="per control: satisfied, partial or missing, with the evidence and what lacks")
    c.add_argument("system")
    c.add_argument("--model-version", help="the release in question (default: the latest passing version)")
    c.add_argument("--json", action="store_true")
    s.set_defaults(func=controls)


def review(args) -> int:
    from rai_pipelines.governance import reviews

    settings = common.settings()
    wh = common.warehouse(settings)
    if args.action == "list":
        found = reviews.current(wh, args.system)
        if args.json:
            print(json.dumps([r.to_json() for r in found], indent=1))
        for r in found if not args.json else []:
            say(f"{r.review_id}  {r.status:<24} {r.system} v{r.model_version}  requested by {r.requested_by}, reviewers "
                f"{', '.join(r.reviewers)}{', decided by ' + r.decided_by if r.decided_by else ''}")
        if not found and not args.json:
            say("(no reviews)")
        return 0
    catalog = common.catalog(settings)
    if args.action == "request":
        from rai_pipelines.evidence.release import build

        system = catalog.system(args.system)
        if system.kind != "llm_assistant":  # the artifact a review is bound to, recorded as the registry sensor would
            from rai_pipelines.modeling import registry

            registry.record_version(wh, system.name, common.model_version(settings, system, args.model_version))
        reviews.refuse_if_open(wh, system.name, args.model_version)
        # A bundle of its own per review: the one a reviewer reads is never rebuilt under them.
        out = settings.evidence_dir / system.name / f"v{args.model_version}-review-{datetime.now(UTC):%Y%m%dT%H%M%S}.zip"
        _, built = build(catalog, system, args.model_version, common.mlflow_client(settings), wh, settings.signing_key(), out, say)
        done = reviews.request(wh, catalog, system.name, args.model_version, args.by, built.path, built.sha256)
    else:
        done = reviews.decide(wh, catalog, args.review_id, args.decision, args.reason, args.by, args.key, args.conditions)
    if args.json:
        print(json.dumps(done.to_json(), indent=1))
    else:
        say(f"{done.review_id}: {done.status} ({done.system} v{done.model_version}; bundle {done.bundle_path}; reviewers "
            f"{', '.join(done.reviewers)})")
    return 0


def incident(args) -> int:
    from datetime import UTC, datetime

    from rai_pipelines.governance import incidents

    wh = common.warehouse(common.settings())
    if args.action == "list":
        found, now = incidents.current(wh, args.system), datetime.now(UTC)
        if args.json:
            print(json.dumps([i.to_json(now) for i in found], indent=1))
            return 0
        for i in found:
            upcoming = i.next_deadline()
            due = f"; next: {upcoming[0]} by {upcoming[1]:%Y-%m-%d %H:%M} UTC" if upcoming else ""
            late = f"; OVERDUE: {', '.join(i.overdue(now))}" if i.overdue(now) else ""
            say(f"{i.incident_id}  {i.status:<12} {i.severity:<8} {i.system} {i.finding} (x{i.occurrences}), owner {i.owner}"
                f"{due}{late}: {i.summary}")
        if not found:
            say("(no incidents)")
        return 0
    action = {"ack": "acknowledge"}.get(args.action, args.action)
    done = incidents.transition(wh, args.incident_id, action, args.by, args.note)
    if args.json:
        print(json.dumps(done.to_json(), indent=1))
    else:
        say(f"{done.incident_id}: {done.status}")
    return 0


def controls(args) -> int:
    from rai_pipelines.governance import controls as coverage

    settings = common.settings()
    catalog = common.catalog(settings)
    catalog.system(args.system)
    found = coverage.coverage(catalog, common.warehouse(settings), args.system, args.model_version)
    if args.json:
        print(json.dumps({"system": args.system, "summary": coverage.summary(found), "controls": [c.to_json() for c in found]},
                         indent=1))
        return 0
    for c in found:
        say(f"{c.status:<9} {c.control.id}  {c.control.title}")
        for source in c.satisfied_by:
            say(f"            + {source}")
        for source in c.lacking:
            say(f"            - {source}")
        if not c.satisfied_by and not c.lacking:
            say(f"            - nothing this system runs or records serves it; needs: {c.control.evidence}")
    totals = coverage.summary(found)
    say(f"{args.system}: {totals['satisfied']} satisfied, {totals['partial']} partial, {totals['missing']} missing "
        f"of {len(found)} controls")
    return 0
