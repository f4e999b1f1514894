"""`rai fairness` and `rai drift`: the engines on any CSV or Parquet file, no state needed."""

from __future__ import annotations

import json
from pathlib import Path

from rai_pipelines.cli.common import Stopwatch, say
from rai_pipelines.errors import UsageError


def add_parsers(sub) -> None:
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
    s.add_argument("--timings", action="store_true", help="print where the time went (import, read, compute, write) to stderr")
    s.set_defaults(func=fairness)

    s = sub.add_parser("drift", help="Evidently-compatible drift verdicts between two CSV or Parquet files")
    s.add_argument("--reference", required=True, type=Path)
    s.add_argument("--current", required=True, type=Path)
    s.add_argument("--label", help="label column (reported as label drift)")
    s.add_argument("--prediction", help="prediction column (reported as prediction drift)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--timings", action="store_true", help="print where the time went (import, read, compute, write) to stderr")
    s.set_defaults(func=drift)


def _fmt(e) -> str:
    if e.value != e.value:  # NaN
        return "undefined"
    return f"{e.value:.3f}" if e.ci_low != e.ci_low else f"{e.value:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}]"


def fairness(args) -> int:
    clock = Stopwatch(args.timings)
    from rai_pipelines.data.files import read_table
    from rai_pipelines.evaluation.engine import frame_inputs
    from rai_pipelines.evaluation.fairness import fairness_report

    clock.lap("import")
    reference = {}
    for item in args.reference or []:
        feature, sep, group = item.partition("=")
        if not sep:
            raise UsageError(f"--reference {item!r}: expected FEATURE=GROUP, e.g. --reference SEX=Male")
        reference[feature] = group
    needed = list(dict.fromkeys([args.label, args.pred, *args.sensitive, *([args.score] if args.score else [])]))
    frame = read_table(args.data, needed, categories=True)
    y, p, groups, score = frame_inputs(frame, args.label, args.pred, args.sensitive, args.score, str(args.data))
    clock.lap("read")
    report = fairness_report(
        y, p, groups, score, resamples=args.boot, seed=args.seed, confidence=args.confidence, reference_groups=reference
    )
    clock.lap("compute")
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        _print_fairness(args, report)
    clock.lap("write")
    clock.report()
    return 0


def _print_fairness(args, report) -> None:
    ci = (f"{report.confidence:.0%} intervals: exact (Clopper-Pearson) for rates, simultaneous for their disparities"
          + (f", bootstrap for AUC and ECE ({report.resamples} resamples, seed {report.seed})" if report.resamples else ""))
    say(f"{args.data}: {report.n} rows; {ci}")
    for part in report.partitions:
        say(f"\n{part.name}")
        width = max(len(g.slice) for g in part.groups)
        for g in part.groups:
            say(f"  {g.slice:<{width}}  n={g.n:<8} " + "  ".join(f"{m}={_fmt(e)}" for m, e in g.metrics.items()))
        for m, kinds in part.disparities.items():
            say(f"  {m} difference {_fmt(kinds['difference'])}  ratio {_fmt(kinds['ratio'])}")


def drift(args) -> int:
    clock = Stopwatch(args.timings)
    from rai_pipelines.data.files import read_table
    from rai_pipelines.drift.engine import dataset_drift
    from rai_pipelines.errors import DataError

    clock.lap("import")
    reference, current = read_table(args.reference, categories=True), read_table(args.current, categories=True)
    clock.lap("read")
    try:
        report = dataset_drift(reference, current, label=args.label, prediction=args.prediction)
    except DataError as exc:
        raise DataError(f"{args.current}: {exc}") from None
    clock.lap("compute")
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        _print_drift(args, report)
    clock.lap("write")
    clock.report()
    return 0


def _print_drift(args, report) -> None:
    say(f"reference {args.reference} ({report.n_reference} rows) vs current {args.current} ({report.n_current} rows)")
    width = max(len(c.column) for c in report.columns)
    for c in report.columns:
        if c.drifted is None:
            say(f"  {c.column:<{width}}  {c.kind:<11} not assessed: {c.error}")
        else:
            say(f"  {c.column:<{width}}  {c.kind:<11} {c.method:<13} {c.statistic:.4g} (threshold {c.threshold})"
                 f"  {'DRIFT' if c.drifted else 'ok'}{'  [' + c.role + ']' if c.role != 'feature' else ''}")
    verdict = "DRIFT" if report.dataset_drift else "no drift"
    say(f"dataset: {len(report.drifted_columns)}/{len(report.assessed)} columns drifted "
         f"(share {report.share:.2f}, threshold {report.drift_share_threshold}): {verdict}")
