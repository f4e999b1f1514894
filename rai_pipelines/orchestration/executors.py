"""Where a run's steps execute, as the profile says: in the run's process, in a process per step, or as Celery
tasks that `rai worker` processes on any machine pick up (dagster-celery on RabbitMQ)."""

from __future__ import annotations

import os

import dagster as dg

from rai_pipelines.errors import CatalogError
from rai_pipelines.settings import Settings

EXECUTORS = ("in_process", "multiprocess", "celery")
BROKER_ENV = "RAI_CELERY_BROKER"
# A step's task is acknowledged only once it finished, and given back to the queue if its worker dies: a worker
# killed mid-step loses nothing, another one runs the step. One task at a time per worker process.
CELERY_CONFIG = {"task_acks_late": True, "task_reject_on_worker_lost": True, "worker_prefetch_multiplier": 1}


def broker_source(settings: Settings) -> str | dict:
    """The broker URL, or a reference to the variable it came from (a URL can carry a password: the Dagster UI
    shows config values, not environment references)."""
    if os.environ.get(BROKER_ENV) == settings.celery_broker:
        return {"env": BROKER_ENV}
    return settings.celery_broker


def executor_for(settings: Settings) -> dg.ExecutorDefinition:
    if settings.executor == "in_process":
        return dg.in_process_executor
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor
    if settings.executor == "celery":
        if not settings.celery_broker:
            raise CatalogError(f"profile {settings.profile}: executor celery needs celery.broker (e.g. "
                               "pyamqp://guest:guest@127.0.0.1:5672//)")
        from dagster_celery import celery_executor

        return celery_executor.configured({"broker": broker_source(settings), "backend": "rpc://",
                                           "config_source": CELERY_CONFIG}, name="celery")
    raise CatalogError(f"profile {settings.profile}: executor {settings.executor!r}; choose one of {', '.join(EXECUTORS)}")


def queue_depths(instance: dg.DagsterInstance, settings: Settings):
    """For `rai metrics`: runs the run coordinator holds, and, with Celery, steps waiting on the `dagster` queue."""
    def depths() -> dict[str, int]:
        out = {"dagster_runs": instance.get_runs_count(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))}
        if settings.executor == "celery":
            from kombu import Connection

            with Connection(settings.celery_broker, connect_timeout=3) as conn:
                out["celery_steps"] = conn.default_channel.queue_declare("dagster", passive=True).message_count
        return out

    return depths
