"""The nightly schedule (each night ingests the next replayed production batch), the daily warehouse upkeep and
the hourly watch on incident deadlines."""


import dagster as dg

from rai_pipelines.catalog import Catalog, System
from rai_pipelines.data.versions import nightly_version
from rai_pipelines.governance import incidents
from rai_pipelines.names import SystemNames
from rai_pipelines.orchestration.partitions import SystemPartitions
from rai_pipelines.orchestration.resources import AlertResource, StateResource


def nightly_schedule(system: System, ingest_job, cron: str = "0 2 * * *") -> dg.ScheduleDefinition:
    parts = SystemPartitions(system.name)

    @dg.schedule(
        name=SystemNames(system.name).nightly_schedule,
        cron_schedule=cron,
        execution_timezone="UTC",
        job=ingest_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            "Runs nightly at 02:00 UTC: snapshots the production batch replayed for that night, registers it as a "
            "dataset version (keyed by content digest) and materializes it. The registry sensor then requests "
            "the evaluation of every model version on it."
        ),
    )
    def _schedule(context: dg.ScheduleEvaluationContext, state: StateResource):
        night = context.scheduled_execution_time.date()
        version = nightly_version(system, state.datasets(), night)
        # Schedules cannot return partition requests, so the partition is added
        # here; adding an existing key is a no-op.
        if not context.instance.has_dynamic_partition(parts.dataset.name, version.key):
            context.instance.add_dynamic_partitions(parts.dataset.name, [version.key])
        return dg.RunRequest(partition_key=version.key, run_key=f"ingest:{version.key}", tags={"rai/system": system.name})

    return _schedule


@dg.op(description="Flush the warehouse's inlined facts into Parquet and merge small files (Warehouse.maintain); "
                   "snapshots are kept, so past decisions stay re-derivable.")
def maintain_warehouse(context: dg.OpExecutionContext, state: StateResource) -> None:
    state.warehouse().maintain()
    context.log.info("warehouse maintained")


@dg.job(name="rai_warehouse_maintenance", description="Daily warehouse upkeep: DuckLake's flush and file merge.")
def warehouse_maintenance_job():
    maintain_warehouse()


warehouse_maintenance_schedule = dg.ScheduleDefinition(
    name="rai_warehouse_maintenance_daily", job=warehouse_maintenance_job, cron_schedule="30 4 * * *",
    execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily at 04:30 UTC, after the nightly evaluations: keeps scans fast as facts accumulate.",
)


def incident_deadlines(catalog: Catalog) -> tuple[dg.JobDefinition, dg.ScheduleDefinition]:
    """Hourly: an alert for each incident deadline that is near or missed, once per deadline."""

    @dg.op(description="Alert on incident deadlines (acknowledge, mitigate, report) within the policy's warning time")
    def warn_incident_deadlines(context: dg.OpExecutionContext, state: StateResource, alerts: AlertResource) -> None:
        sent = incidents.warn_deadlines(alerts.channel(), state.warehouse(), catalog)
        context.log.info(f"{len(sent)} incident deadline alerts")

    @dg.job(name="rai_incident_deadlines", description="Alerts on incident deadlines that are near or missed.")
    def job():
        warn_incident_deadlines()

    return job, dg.ScheduleDefinition(
        name="rai_incident_deadlines_hourly", job=job, cron_schedule="15 * * * *", execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Hourly: an incident's acknowledge, mitigate or Art. 73 report deadline is alerted once when near.")
