"""What every command shares: the parser that turns usage errors into one line, printing, and the state it opens.

Heavy modules (Dagster, MLflow, pandas) are imported inside the functions that
need them, so `rai --help` and `rai query` start fast.
"""

from __future__ import annotations

import argparse
import sys
import time

from rai_pipelines.errors import UsageError


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for every usage error
        raise UsageError(f"{self.prog}: {message}")


def say(msg: str) -> None:
    print(msg, flush=True)


class Stopwatch:
    """Where a command's time goes (`--timings`): each lap is named by what ran since the previous one. Interpreter
    start-up and argument parsing come before the first lap: a caller timing the whole process sees them as the rest."""

    def __init__(self, shown: bool) -> None:
        self.shown, self.laps, self._last = shown, {}, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now

    def report(self) -> None:
        if self.shown:
            print("timings: " + ", ".join(f"{k} {v:.3f} s" for k, v in self.laps.items()), file=sys.stderr)


def settings():
    from rai_pipelines.settings import load_settings

    return load_settings()


def catalog(s):
    from rai_pipelines.catalog import load_catalog

    return load_catalog(s.catalog_dir)


def warehouse(s):
    return s.warehouse()


def instance(s):
    """The persistent Dagster instance of the current profile, its CPU pools sized to this machine."""
    from rai_pipelines.settings import prepare_dagster_home

    prepare_dagster_home(s)
    import dagster as dg

    from rai_pipelines.orchestration import pools

    found = _racing_schema_creation(dg.DagsterInstance.get)
    pools.size(found)
    return found


def _racing_schema_creation(open_instance):
    """Opens the instance; on a fresh PostgreSQL database two processes starting at once (two `rai worker`s) both
    create its tables, and the slower one fails with "already exists": it opens again and finds them made."""
    import time

    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(3):
        try:
            return open_instance()
        except SQLAlchemyError as exc:
            if "already exists" not in str(exc) or attempt == 2:
                raise
            time.sleep(1 + attempt)


def dagster(s):
    """Definitions and the persistent instance of the current profile."""
    from rai_pipelines.definitions import build_defs

    found = instance(s)
    return build_defs(), found


def mlflow_client(s):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=s.mlflow_tracking_uri, registry_uri=s.mlflow_tracking_uri)


def model_version(s, system, version: str):
    """A registered version of a classifier's model (a usage error naming the versions there are, if not)."""
    from rai_pipelines.modeling import registry

    return registry.get(mlflow_client(s), system.registry_name, version)
