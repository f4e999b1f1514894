"""The Dagster code location (workspace.yaml points here): one asset family per governed system."""

from __future__ import annotations

import dagster as dg

from rai_pipelines.catalog import AssistantSystem, Catalog, System, load_catalog
from rai_pipelines.data.sources import replayed
from rai_pipelines.orchestration.assets import system_assets
from rai_pipelines.orchestration.assistant_assets import assistant_assets
from rai_pipelines.orchestration.checks import data_quality_check, release_approved_check
from rai_pipelines.orchestration.executors import executor_for
from rai_pipelines.orchestration.jobs import assistant_job, system_jobs
from rai_pipelines.orchestration.resources import resources_for
from rai_pipelines.orchestration.schedules import (
    incident_deadlines,
    nightly_schedule,
    warehouse_maintenance_job,
    warehouse_maintenance_schedule,
)
from rai_pipelines.orchestration.sensors import feed_sensor, registry_sensor
from rai_pipelines.settings import load_settings


def system_defs(catalog: Catalog, system: System) -> dg.Definitions:
    ingest, register, evaluate = system_jobs(system.name)
    checks = [c for c in (data_quality_check(catalog, system), release_approved_check(system)) if c is not None]
    replay = replayed(system)  # a replayed file is cut into a batch per night; a feed's windows are found as they land
    return dg.Definitions(
        assets=system_assets(catalog, system),
        asset_checks=checks,
        jobs=[ingest, register, evaluate],
        sensors=[registry_sensor(catalog, system, register, evaluate), *([] if replay else [feed_sensor(system, ingest)])],
        schedules=[nightly_schedule(system, ingest)] if replay else [],
    )


def assistant_defs(catalog: Catalog, system: AssistantSystem) -> dg.Definitions:
    return dg.Definitions(assets=assistant_assets(catalog, system), asset_checks=[release_approved_check(system)],
                          jobs=[assistant_job(system.name)])


def build_defs() -> dg.Definitions:
    settings = load_settings()
    catalog = load_catalog(settings.catalog_dir)
    per_system = [system_defs(catalog, s) for s in catalog.tabular_systems]
    per_system += [assistant_defs(catalog, s) for s in catalog.assistant_systems]
    deadlines_job, deadlines_schedule = incident_deadlines(catalog)
    return dg.Definitions.merge(*per_system, dg.Definitions(
        jobs=[warehouse_maintenance_job, deadlines_job], schedules=[warehouse_maintenance_schedule, deadlines_schedule],
        resources=resources_for(settings), executor=executor_for(settings)))


@dg.definitions
def defs() -> dg.Definitions:
    return build_defs()
