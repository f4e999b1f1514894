"""`rai`: the command line. One module per command group, each a thin adapter over plain functions.

Errors are one line on stderr (a traceback only with --debug); exit codes are
the contract CI reads (README, "Command line"): 0 pass/ok, 1 fail, 2 usage, 3
insufficient evidence or unassessed, 130 interrupted, 141 broken pipe.
"""

from __future__ import annotations

import logging
import os
import sys

from rai_pipelines.cli import engines, gate, governance, run, workflows
from rai_pipelines.cli.common import Parser
from rai_pipelines.errors import RaiError

GROUPS = (run, gate, engines, governance, workflows)  # the order `rai --help` lists them in

def build_parser() -> Parser:
    p = Parser(prog="rai", description="Continuous Responsible-AI evaluation, orchestrated by Dagster.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in GROUPS:
        group.add_parsers(sub)
    return p

def _quiet_libraries() -> None:
    # Progress bars and INFO chatter from MLflow drown the one-line results.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("DAGSTER_TELEMETRY_DISABLED", "1")
    # Logging a model notes that torch's version carries a local label (+cpu): nothing a user can act on.
    logging.getLogger("mlflow.utils.requirements_utils").setLevel(logging.ERROR)

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

