"""What the tabular and the assistant asset factories share: run options, partition keys, metadata, evidence."""


import dagster as dg

from rai_pipelines import gate
from rai_pipelines.alerts import Alert, AlertChannel
from rai_pipelines.catalog import Catalog
from rai_pipelines.code_version import code_version
from rai_pipelines.errors import DataError
from rai_pipelines.evaluation.record import Outcome
from rai_pipelines.evidence.release import build as build_evidence
from rai_pipelines.governance import incidents
from rai_pipelines.modeling import registry
from rai_pipelines.names import CHAMPION, SystemNames
from rai_pipelines.orchestration.partitions import DATASET_DIM, MODEL_DIM, SystemPartitions
from rai_pipelines.orchestration.resources import MlflowResource, StateResource
from rai_pipelines.warehouse import reads


class EvaluationConfig(dg.Config):
    """Launchpad options for an evaluation run."""

    force: bool = False  # recompute even when this exact evaluation already exists


def monitor_champion(catalog: Catalog, system, decision: gate.Decision, client, warehouse, channel: AlertChannel) -> None:
    """Nightly monitoring of the model in service, at the tier's false-alarm level (not the release level): a check
    the champion fails there is a production finding, alerted and, where the policy says, an incident."""
    champion = registry.by_alias(client, system.registry_name, CHAMPION)
    if not decision.monitoring_alarms or champion is None or str(champion.version) != str(decision.model_version):
        return
    alarms = [r for r in decision.reasons if r.check in decision.monitoring_alarms]
    safety = system.kind == "llm_assistant" and any(r.family in ("safety", "privacy") for r in alarms)
    incidents.report(channel, warehouse, catalog, Alert(
        "assistant_safety" if safety else "champion_regression", system.name, decision.dataset_version,
        f"champion v{decision.model_version} fails {', '.join(decision.monitoring_alarms)} at the monitoring level "
        f"{decision.error_control['monitoring_alpha']:.4g}", [r.detail for r in alarms], ""))


def partition_dims(context: dg.AssetExecutionContext) -> tuple[str, str]:
    key = context.partition_key
    return key.keys_by_dimension[MODEL_DIM], key.keys_by_dimension[DATASET_DIM]


def _cell(r) -> str:
    if not r.defined:
        return "undefined"
    if r.ci_low is None or r.ci_low != r.ci_low:
        return f"{r.value:.3f}"
    return f"{r.value:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]"


def metrics_markdown(outcome: Outcome) -> str:
    """Group metrics as a slice x metric table with intervals, then disparities; the rest is in MLflow."""
    groups = [r for r in outcome.rows if ("=" in r.slice or r.slice == "overall") and not r.metric.endswith("_vs_reference")]
    spread = [r for r in outcome.rows if "=" not in r.slice and r.slice != "overall"]
    parts = []
    for title, rows in (("groups", groups), ("between groups", spread)):
        if not rows:
            continue
        metrics = list(dict.fromkeys(r.metric for r in rows))
        slices = list(dict.fromkeys(r.slice for r in rows))
        cell = {(r.slice, r.metric): r for r in rows}
        n = {r.slice: r.n for r in rows}
        lines = [f"**{title}** (value [95% interval])", "", "| slice | n | " + " | ".join(metrics) + " |",
                 "|---" * (len(metrics) + 2) + "|"]
        for sl in slices:
            lines.append(f"| {sl} | {n[sl]} | " + " | ".join(_cell(cell[(sl, m)]) if (sl, m) in cell else "" for m in metrics) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def decision_metadata(decision: gate.Decision) -> dict:
    """What a release gate's materialization shows: the verdict, check counts, and every check with its numbers."""
    statuses = [r.status for r in decision.reasons]
    control = decision.error_control
    return {
        "verdict": decision.verdict,
        "night_verdict": decision.night_verdict or "",
        "error_control": (f"alpha {control.get('alpha')} ({control.get('multiplicity')} across checks); each night passes at "
                          f"{control.get('night_alpha', 0):.3g}; release after {control.get('consecutive_passes')} consecutive "
                          "passing night(s)") if control else "",
        "monitoring_alarms": ", ".join(decision.monitoring_alarms) or "none",
        "checks_failed": dg.MetadataValue.int(statuses.count(gate.FAIL)),
        "checks_passed": dg.MetadataValue.int(statuses.count(gate.PASS)),
        "checks_not_decided": dg.MetadataValue.int(statuses.count(gate.INSUFFICIENT) + statuses.count(gate.UNASSESSED)),
        "decision_id": decision.decision_id,
        "policy_version": decision.policy_version,
        "risk_tier": decision.risk_tier,
        "reasons": dg.MetadataValue.md(gate.reasons_markdown(decision.reasons)),
        "evidence_digest": decision.evidence_digest,
        "waivers_applied": ", ".join(w["waiver_id"] for w in decision.waivers_applied) or "none",
    }


def release_evidence_asset(catalog: Catalog, system, release_gate) -> dg.AssetsDefinition:
    """Signed evidence of a released version (classifier or assistant), behind the blocking release_approved check."""

    @dg.asset(
        key=SystemNames(system.name).asset("release_evidence"),
        partitions_def=SystemPartitions(system.name).evaluation,
        deps=[release_gate],
        group_name=system.name,
        code_version=code_version("evidence"),
        kinds={"mlflow"},
        description="Signed evidence bundle (card, decision, metrics, policy, waivers and, for classifiers, quality and "
                    "drift) of a released version. Materializes only when the blocking release_approved check passes.",
    )
    def release_evidence(context: dg.AssetExecutionContext, state: StateResource, mlflow: MlflowResource) -> dg.MaterializeResult:
        model_version_, dataset_key = partition_dims(context)
        out = state.evidence_dir() / system.name / f"v{model_version_}" / f"{dataset_key}.zip"
        evidence, built = build_evidence(catalog, system, model_version_, mlflow.client(), state.warehouse(),
                                         state.signing_key(), out, context.log.info, dataset_key)
        return dg.MaterializeResult(
            metadata={
                "bundle": dg.MetadataValue.path(str(built.path)),
                "sha256": built.sha256,
                "completeness": dg.MetadataValue.float(built.completeness),
                "missing_evidence": ", ".join(built.missing) or "none",
                "decision_id": evidence.decision.decision_id,
                "card": dg.MetadataValue.md(evidence.card.markdown[:20000]),
            },
            data_version=dg.DataVersion(built.sha256[:16]),
        )

    return release_evidence


def champion_asset(system, registered_model: str, release_gate) -> dg.AssetsDefinition:
    """Moves the champion alias of a system's registered model (classifier or assistant) to a released version."""

    @dg.asset(
        key=SystemNames(system.name).asset(CHAMPION),
        partitions_def=SystemPartitions(system.name).evaluation,
        deps=[release_gate],
        group_name=system.name,
        code_version=code_version("model"),
        kinds={"mlflow"},
        description=f"Moves the '{CHAMPION}' alias of {registered_model} to a released version: runs after "
                    "the blocking release_approved check in an evaluation run, and refuses on its own (a backfill, a "
                    "Launchpad selection) unless this partition's latest release decision is pass.",
    )
    def champion(context: dg.AssetExecutionContext, state: StateResource, mlflow: MlflowResource) -> dg.MaterializeResult:
        model_version_, dataset_key = partition_dims(context)
        # A blocking check stops only the run it ran in: materialized alone, this asset must check the verdict itself.
        verdict = reads.latest_verdict(state.warehouse(), system.name, model_version_, dataset_key)
        if verdict != gate.PASS:
            raise DataError(f"v{model_version_} on {dataset_key}: the latest release decision is {verdict or 'none'}, "
                            f"not pass; the '{CHAMPION}' alias stays where it is")
        client = mlflow.client()
        mv = registry.get(client, registered_model, model_version_)
        return dg.MaterializeResult(metadata={"champion_alias_moved_here": registry.promote(client, mv, CHAMPION),
                                              "champion": f"v{mv.version}"})

    return champion
