"""Governance commands: `rai waiver` (the exception process), `rai evidence` (signed bundles),
`rai report` (trends) and `rai query` (read-only SQL)."""

from __future__ import annotations

import json
import sys
from datetime import UTC
from pathlib import Path

from rai_pipelines.cli import common
from rai_pipelines.cli.common import Parser, say
from rai_pipelines.errors import UsageError


def add_parsers(sub) -> None:
    s = sub.add_parser("waiver", help="the exception process: request, approve, revoke, list (1 when refused)")
    wsub = s.add_subparsers(dest="action", required=True, parser_class=Parser)
    w = wsub.add_parser("request", help="ask for a check to be waived for one model version")
    w.add_argument("system")
    w.add_argument("--check", required=True, help="a check name from the system's policy tier")
    w.add_argument("--model-version", required=True)
    w.add_argument("--reason", required=True)
    w.add_argument("--by", required=True, help="the requester")
    w.add_argument("--expires", required=True, help="YYYY-MM-DD (UTC)")
    w = wsub.add_parser("approve", help="approve a requested waiver (not by its requester; only by a policy approver, "
                                        "signed with their own key)")
    w.add_argument("waiver_id")
    w.add_argument("--by", required=True)
    w.add_argument("--key", required=True, type=Path, help="your Ed25519 private key (PEM); the policy lists its public half")
    w = wsub.add_parser("revoke", help="revoke a waiver")
    w.add_argument("waiver_id")
    w.add_argument("--by", required=True)
    w.add_argument("--reason", required=True)
    w = wsub.add_parser("list", help="every waiver and its current state")
    w.add_argument("system", nargs="?")
    for w in wsub.choices.values():
        w.add_argument("--json", action="store_true")
    s.set_defaults(func=waiver)

    s = sub.add_parser("evidence", help="signed evidence bundles: build one, or verify one (1 when tampered or incomplete)")
    esub = s.add_subparsers(dest="action", required=True, parser_class=Parser)
    e = esub.add_parser("bundle", help="card, decision, metrics, quality, drift, policy and waivers in a signed zip")
    e.add_argument("system")
    e.add_argument("--model-version", required=True)
    e.add_argument("--out", required=True, type=Path)
    e.add_argument("--json", action="store_true")
    e = esub.add_parser("verify", help="check every file against the signed manifest")
    e.add_argument("bundle", type=Path)
    e.add_argument("--public-key", required=True, type=Path,
                   help="the publisher's PEM public key, obtained from them (never from the producer's state)")
    e.add_argument("--json", action="store_true")
    s.set_defaults(func=evidence)

    s = sub.add_parser("report", help="governance reports from the warehouse")
    rsub = s.add_subparsers(dest="kind", required=True, parser_class=Parser)
    r = rsub.add_parser("trends", help="self-contained HTML: KPI tiles, metric trends with intervals, drift, verdicts, lineage")
    r.add_argument("--out", required=True, type=Path, help="directory to write index.html into")
    r.add_argument("--json", action="store_true")
    s.set_defaults(func=report)

    s = sub.add_parser("query", help="read-only SQL over the warehouse views")
    s.add_argument("sql", nargs="?", help="one SELECT over the views (omit with --snapshots)")
    s.add_argument("--format", choices=["table", "csv", "json"], default="table")
    s.add_argument("--as-of", metavar="SNAPSHOT|TIMESTAMP",
                   help="answer as the warehouse stood at a snapshot id (gate_decisions.warehouse_snapshot) or a time")
    s.add_argument("--snapshots", action="store_true", help="list the warehouse's snapshots instead of querying")
    s.set_defaults(func=query)


def query(args) -> int:
    from rai_pipelines.warehouse.store import parse_as_of

    warehouse = common.warehouse(common.settings())
    if args.snapshots:
        frame = warehouse.snapshots()
        columns, rows = list(frame.columns), list(frame.itertuples(index=False, name=None))
    elif not args.sql:
        raise UsageError("rai query: give one SELECT, e.g. rai query \"select * from kpis\", or --snapshots")
    else:
        columns, rows = warehouse.at(parse_as_of(args.as_of) if args.as_of else None).query_rows(args.sql)
    if args.format == "csv":
        import csv

        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(columns)
        out.writerows(["" if v is None else v for v in map(_plain, row)] for row in rows)
    elif args.format == "json":
        print(json.dumps([dict(zip(columns, map(_plain, row))) for row in rows]))
    else:
        print(_text_table(columns, rows) if rows else "(no rows)")
    return 0


def _plain(value):
    """A warehouse value as JSON and CSV carry it: times in ISO 8601, decimals as numbers, NaN as null."""
    import datetime as dt
    import math
    from decimal import Decimal

    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # UUIDs, intervals, blobs


def _text_table(columns: list[str], rows: list[tuple]) -> str:
    """Columns right-aligned under their names, as a terminal shows them; numbers to six significant digits."""
    import datetime as dt

    def cell(v) -> str:
        if isinstance(v, dt.datetime):
            return str(v)  # ISO 8601 with a space: easier on the eye than _plain's "T"
        v = _plain(v)
        if v is None:
            return "NULL"
        return f"{v:.6g}" if isinstance(v, float) else str(v)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(str(c)), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    return "\n".join("  ".join(str(v).rjust(w) for v, w in zip(line, widths)) for line in [columns, *cells])


def waiver(args) -> int:
    from datetime import datetime

    from rai_pipelines import waivers
    settings = common.settings()
    wh = common.warehouse(settings)
    if args.action == "request":
        catalog = common.catalog(settings)
        try:
            expires = datetime.fromisoformat(args.expires)
        except ValueError:
            raise UsageError(f"waiver: --expires {args.expires!r} is not a date; use YYYY-MM-DD") from None
        if len(args.expires) == 10:  # a date alone: the waiver lasts through that day (UTC)
            expires = expires.replace(hour=23, minute=59, second=59)
        system = catalog.system(args.system)
        if system.kind != "llm_assistant":  # the artifact a waiver is bound to, recorded as the registry sensor would
            from rai_pipelines.modeling import registry

            registry.record_version(wh, system.name, common.model_version(settings, system, args.model_version))
        done = waivers.request(wh, catalog, args.system, args.check, args.model_version, args.reason, args.by,
                               expires if expires.tzinfo else expires.replace(tzinfo=UTC))
    elif args.action == "approve":
        done = waivers.approve(wh, common.catalog(settings), args.waiver_id, args.by, args.key)
    elif args.action == "revoke":
        done = waivers.revoke(wh, args.waiver_id, args.by, args.reason)
    else:
        found = waivers.current(wh, args.system, catalog=common.catalog(settings))
        if args.json:
            print(json.dumps([w.to_json() for w in found], indent=1))
        else:
            for w in found:
                say(f"{w.waiver_id}  {w.status:<9} {w.scope}  by {w.requested_by}"
                     f"{', approved by ' + w.approved_by if w.approved_by else ''}, expires {w.expires_at:%Y-%m-%d}: {w.reason}"
                     f"{' (lapsed: ' + w.lapsed_because + ')' if w.lapsed_because else ''}")
            if not found:
                say("(no waivers)")
        return 0
    if args.json:
        print(json.dumps(done.to_json(), indent=1))
    else:
        say(f"{done.waiver_id}: {done.status} ({done.scope}, expires {done.expires_at:%Y-%m-%d})")
    return 0


def evidence(args) -> int:
    from rai_pipelines.evidence import keys
    from rai_pipelines.evidence.bundle import verify

    if args.action == "verify":
        # The verifier's own copy of the publisher's key: a key read from the producer's state would verify whatever
        # that state's owner re-signed.
        public = keys.load_public(args.public_key)
        problems = verify(args.bundle, public)
        if args.json:
            print(json.dumps({"bundle": str(args.bundle), "intact": not problems, "problems": problems}, indent=1))
        elif problems:
            for p in problems:
                print(f"{args.bundle}: {p}", file=sys.stderr)
        else:
            say(f"{args.bundle}: intact, signed by {keys.fingerprint(public)}")
        return 1 if problems else 0
    from rai_pipelines.evidence.release import build
    settings = common.settings()
    catalog = common.catalog(settings)
    system = catalog.system(args.system)
    if system.kind != "llm_assistant":
        common.model_version(settings, system, args.model_version)
    evidence, built = build(catalog, system, args.model_version, common.mlflow_client(settings), common.warehouse(settings),
                            settings.signing_key(), args.out, say)
    if args.json:
        print(json.dumps({"path": str(built.path), "sha256": built.sha256, "completeness": built.completeness,
                          "missing": built.missing, "verdict": evidence.decision.verdict}, indent=1))
    else:
        say(f"{built.path}: {len(built.manifest['files'])} files, verdict {evidence.decision.verdict}, "
             f"evidence completeness {built.completeness:.0%}{' (missing ' + ', '.join(built.missing) + ')' if built.missing else ''}")
    return 0


def report(args) -> int:
    from rai_pipelines.report.trends import build
    settings = common.settings()
    report = build(common.catalog(settings), common.warehouse(settings), args.out, settings.mlflow_ui_url)
    if args.json:
        print(json.dumps({"path": str(report.path), "plots": report.plots, "seconds": report.seconds}, indent=1))
    else:
        say(f"{report.path}: {report.plots} plots, built in {report.seconds['total']:.1f} s; open it in a browser (no network needed)")
    return 0
