"""One GenAI suite evaluation, recorded like every other: an MLflow run (prompt files as dataset inputs with
their digests) and warehouse facts, skipped when the same target, prompts, parameters and code were evaluated.

A target that is down makes the run `error`, which the gate reads as
`unassessed`; responses are stored with planted secrets and personal data
redacted.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import NamedTuple

from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param

from rai_pipelines import lineage
from rai_pipelines.catalog import AssistantSystem, GenerationSpec, GuardSpec, Suite, TargetSpec
from rai_pipelines.code_version import code_version
from rai_pipelines.digest import sha256_json
from rai_pipelines.errors import DataError
from rai_pipelines.evaluation.record import Outcome, existing, store, store_error
from rai_pipelines.evaluation.rows import BASELINE_METRIC, MetricRow
from rai_pipelines.genai import extras, suites
from rai_pipelines.genai.cache import ResponseCache
from rai_pipelines.genai.judges import redact
from rai_pipelines.genai.judging import Judge, Panel
from rai_pipelines.genai.suites import execution
from rai_pipelines.genai.targets import GenerationParams, Guarded, Target, TargetUnavailable, from_spec
from rai_pipelines.genai.validation import suite_digest
from rai_pipelines.lineage import Provenance
from rai_pipelines.modeling import registry
from rai_pipelines.modeling.registry import ModelVersion
from rai_pipelines.settings import project_dir
from rai_pipelines.stats.judged import Validation
from rai_pipelines.warehouse import Warehouse


def assistant(system: AssistantSystem) -> suites.Assistant:
    return suites.Assistant.of(system)


def params(system: AssistantSystem) -> GenerationParams:
    return GenerationParams(system.generation.max_tokens, system.generation.temperature, system.generation.seed)


def prompt_sets(catalog_suites: list[Suite], system: AssistantSystem) -> dict[str, suites.PromptSet]:
    return {s.name: suites.build(s.genai, assistant(system), s.size, s.seed) for s in catalog_suites if s.genai}


def prompts_version(sets: dict[str, suites.PromptSet]) -> str:
    """The dataset version of an assistant's evaluation: every suite's prompt set, by content."""
    return "prompts-" + sha256_json(sorted((name, p.digest) for name, p in sets.items()))[:12]


class Current(NamedTuple):
    """What an assistant evaluation runs on now: the target and its registered version, the prompt sets and theirs."""

    target: Target
    version: str  # the MLflow registered model version of this target
    sets: dict[str, suites.PromptSet]
    prompts_key: str


def spec(system: AssistantSystem) -> dict:
    """What an assistant version is, as registered: its target and guard, and what it is told (system prompt, corpus)
    and how it generates. The registry keeps each version's whole definition, as a prompt registry does, so that a
    champion can be asked again as it ran; evidence bundles and cards keep the system prompt and corpus out."""
    return {"target": system.target.model_dump(mode="json"), "guard": system.guard.model_dump(mode="json") if system.guard else None,
            "assistant": {"system_prompt": system.system_prompt, "corpus": list(system.corpus),
                          "generation": system.generation.model_dump(mode="json")}}


def as_registered(system: AssistantSystem, registered: dict) -> AssistantSystem:
    """The system as a registered version ran it: its target, guard, system prompt, corpus and generation."""
    told = registered.get("assistant")
    if told is None:
        raise DataError(f"{system.registry_name}: this version was registered before versions kept their system prompt, "
                        "corpus and generation settings; it cannot be asked again as it ran, so move the champion alias "
                        "to a version registered since")
    return system.model_copy(update={
        "target": TargetSpec.model_validate(registered["target"]),
        "guard": GuardSpec.model_validate(registered["guard"]) if registered.get("guard") else None,
        "system_prompt": told["system_prompt"], "corpus": list(told["corpus"]),
        "generation": GenerationSpec.model_validate(told["generation"])})


def target_of(system: AssistantSystem) -> Target:
    """The target of the system as described (by the catalog, or by a registered version: `as_registered`)."""
    target = from_spec(system.target, project_dir())
    guard = system.guard
    return target if not guard else Guarded(target, tuple(guard.output), guard.message, system.planted_secrets)


def version_identity(system: AssistantSystem, target: Target) -> str:
    """What makes an assistant version: its target (model, guard) and what it is told and how it generates. A
    hardened system prompt is a new version of the same model."""
    told = spec(system)["assistant"]
    return f"{target.identity}+told:{sha256_json(told)[:16]}"


def current_versions(catalog_suites: list[Suite], system: AssistantSystem, client: MlflowClient, experiment_id: str) -> Current:
    """The (assistant version, prompt sets) partition the catalog describes today, the version registered on first
    sight (in `experiment_id`, the system's experiment)."""
    extras.require(f"{system.name}'s evaluation")
    target = target_of(system)
    mv = registry.register_identity(client, system.registry_name, experiment_id, version_identity(system, target), spec(system),
                                    registry.ASSISTANT_SPEC)
    sets = prompt_sets(catalog_suites, system)
    return Current(target, mv.version, sets, prompts_version(sets))


def record_prompts_version(warehouse: Warehouse, system: AssistantSystem, key: str, sets: dict[str, suites.PromptSet]) -> None:
    """The prompt sets as a dataset version in the warehouse register (once), so trends and lineage can join on it."""
    if warehouse.exists("dataset_versions", system.name, key):
        return
    files = sorted({s.uri: s.sha256 for p in sets.values() for s in p.sources}.items())
    warehouse.write("dataset_versions", system.name, key, [{
        "system": system.name, "dataset_version": key, "label": key, "kind": "prompts",
        "digest": sha256_json(sorted((n, p.digest) for n, p in sets.items())), "rows": sum(len(p.cases) for p in sets.values()),
        "source": "prompt sets: " + ", ".join(sorted(sets)), "schema": json.dumps(dict(files)),
        "registered_at": datetime.now(UTC)}])


def _inputs(prompt_set: suites.PromptSet) -> list[DatasetInput]:
    return [DatasetInput(
        dataset=Dataset(name=s.uri, digest=s.sha256[:36], source_type="python_package",
                        source=json.dumps({"package": s.package, "path": s.path, "sha256": s.sha256}),
                        profile=json.dumps({"prompts_in_suite": len(prompt_set.cases)})),
        tags=[InputTag("mlflow.data.context", "evaluation")]) for s in prompt_set.sources]


def panel(system: AssistantSystem, measured: dict[str, Validation], cache: ResponseCache) -> Panel:
    """The judges of an assistant's evaluations: built-in, or the endpoints its catalog entry names."""
    return Panel(measured, system.judges, cache, project_dir())


def _judge_rows(family: str, judge: Judge) -> list[MetricRow]:
    """The judge's agreement with its held-out labels, stored with every result it decided (audit, trends)."""
    v = judge.validation
    return [MetricRow(family, "judge_kappa", "overall", v.kappa, v.n),
            MetricRow(family, "judge_sensitivity", "overall", v.sensitivity, v.true_pos + v.false_neg),
            MetricRow(family, "judge_specificity", "overall", v.specificity, v.true_neg + v.false_pos)]


def rejected(judge: Judge, min_agreement: float) -> str | None:
    """Why a judge may not decide (its agreement with the held-out labels below the tier's minimum), or None."""
    v = judge.validation
    if v.kappa >= min_agreement:
        return None
    return (f"judge {judge.name!r} ({judge.source}) failed validation: Cohen's kappa {v.kappa:.3f} on {v.n} held-out "
            f"items is below the tier's minimum {min_agreement:.2f}; its suites are unassessed until a judge passes")


def screened(target: Target, judge: Judge) -> str | None:
    """Why a guarded version's suite cannot be scored by `judge`: the guard replaces every answer that same built-in
    judge flags, so all that remains of what it is meant to find is what it misses, and its measured errors do not
    hold on those answers. An independent judge (an endpoint, `judges:` in the catalog entry) can score them."""
    if isinstance(target, Guarded) and judge.name in target.checks and judge.source == "built-in":
        return (f"the output guard screens answers with the built-in {judge.name!r} judge that would score this suite, "
                f"so its measured errors do not hold on what passes the guard; name an independent {judge.name!r} judge "
                f"(an endpoint under `judges:` in the system's catalog entry) to assess it")
    return None


def evaluate(*, system: AssistantSystem, suite: Suite, target: Target, prompt_set: suites.PromptSet, dataset_key: str,
             version: str, cache: ResponseCache, client: MlflowClient, experiment_id: str, warehouse: Warehouse,
             judges: Panel, min_agreement: float, provenance: Provenance = Provenance(), force: bool = False) -> Outcome:
    """One suite on one target version. Its judge is validated first (an endpoint: on the held-out set, through the
    cache); a judge whose Cohen's kappa is below `min_agreement` decides nothing: the run is an `error` naming it,
    which the gate reads as unassessed."""
    generation = params(system)
    judge_name = suites.get(suite.genai).judge
    # The suite's definition with its judge (a re-validated judge corrects rates differently: a new evaluation).
    definition = suite_digest(suite, judges.measured, system.judges, judges.assets)
    run_id = sha256_json([system.name, target.identity, prompt_set.digest, suite.name, definition,
                          generation.as_dict(), code_version(suite.family), min_agreement])[:24]
    if not force and (done := existing(warehouse, run_id)) is not None:
        return done
    tags = provenance.run_tags(system.name, suite, **{"rai.evaluation_id": run_id, "rai.model_version": version,
                                                      "rai.target": target.identity, "rai.dataset_version": dataset_key,
                                                      "rai.prompt_set_digest": prompt_set.digest})
    run = lineage.start_run(client, experiment_id, f"{suite.name} {version}", tags)
    started = datetime.now(UTC)
    base = {"run_id": run_id, "system": system.name, "model_name": system.registry_name, "model_version": version,
            "dataset_version": dataset_key, "dataset_digest": prompt_set.digest, "suite": suite.name,
            "suite_digest": definition, "started_at": started, "dagster_run_id": provenance.dagster_run_id,
            "dagster_partition": provenance.partition, "mlflow_run_id": run.run_id, "mlflow_experiment_id": experiment_id,
            "code_version": code_version(suite.family), "family": suite.family}
    try:
        judge = judges[judge_name]
        v = judge.validation
        client.log_batch(run.run_id, params=[Param(k, str(x)) for k, x in {
            "judge": judge_name, "judge_source": judge.source, "judge_kappa": round(v.kappa, 4),
            "judge_sensitivity": round(v.sensitivity, 4), "judge_specificity": round(v.specificity, 4),
            "judge_validation_counts": json.dumps(asdict(v))}.items()])
        if (error := rejected(judge, min_agreement) or screened(target, judge)) is not None:
            store_error(warehouse, base, error)
            lineage.finish_run(client, run, ok=False, error=error)
            return Outcome(run_id, "error", run.run_id, [], skipped=False, error=error)
        client.log_inputs(run.run_id, datasets=_inputs(prompt_set))
        done = execution.run(prompt_set, target, cache, assistant(system), generation, judge,
                             seed=suite.seed, confidence=suite.confidence)
    except TargetUnavailable as exc:
        error = f"target unavailable: {exc}"
        store_error(warehouse, base, error)
        lineage.finish_run(client, run, ok=False, error=error)
        raise
    cost = [MetricRow("cost", "wall_seconds", "overall", done.seconds, len(prompt_set.cases)),
            MetricRow("cost", "generated_tokens", "overall", float(done.generated_tokens), len(prompt_set.cases)),
            MetricRow("cost", "tokens_per_second", "overall", done.tokens_per_second, len(prompt_set.cases)),
            MetricRow("cost", "cached_responses", "overall", float(done.cached), len(prompt_set.cases))]
    rows = done.rows + _judge_rows(suite.family, judge) + cost
    now_ms = int(time.time() * 1000)
    client.log_batch(run.run_id, metrics=[Metric(r.mlflow_key, r.value, now_ms, 0) for r in rows if r.defined],
                     params=[Param(k, str(v)) for k, v in {**generation.as_dict(), "prompts": len(prompt_set.cases),
                                                          "target": target.identity}.items()])
    client.log_text(run.run_id, "\n".join(
        json.dumps({"prompt_id": c.prompt.id, "slice": c.slice, "response": redact(r.text, system.planted_secrets),
                    "error": r.error}) for c, r in zip(prompt_set.cases, done.responses)), "responses.jsonl")
    store(warehouse, base, rows)
    lineage.finish_run(client, run, ok=True)
    return Outcome(run_id, "ok", run.run_id, rows, skipped=False)


def compare(*, system: AssistantSystem, suite: Suite, genai_suites: list[Suite], current: Current, champion: ModelVersion | None,
            champion_system: AssistantSystem | None, cache: ResponseCache, client: MlflowClient, experiment_id: str,
            warehouse: Warehouse, judges: Panel, min_agreement: float, provenance: Provenance = Provenance(),
            force: bool = False) -> Outcome:
    """The regression family of an assistant: for each GenAI suite whose rate `suite` names, the paired change of
    the corrected rate from the champion version to this one on the same prompts (`comparison.py`), after a marker
    row naming the champion (NaN: none holds the alias; the candidate itself: nothing to compare).

    The champion is asked as it was registered (`champion_system`: its target, guard, system prompt, corpus and
    generation). The comparison is unassessed when the two were not asked the same prompts, when the champion could
    not answer one (an error would count against it and flatter the candidate), or when a judge may not decide."""
    from rai_pipelines.genai.comparison import paired_change

    compared = champion is not None and champion.version != current.version and champion_system is not None
    champion_target = target_of(champion_system) if compared else None
    # Compared suites changed (prompts, judges) are a new comparison, under the same suite definition the gate reads.
    definition = sha256_json([suite.digest, *(suite_digest(s, judges.measured, system.judges, judges.assets) for s in genai_suites)])
    run_id = sha256_json([system.name, version_identity(system, current.target), current.prompts_key, suite.name, definition,
                          version_identity(champion_system, champion_target) if compared else None,
                          code_version("regression"), min_agreement])[:24]
    if not force and (done := existing(warehouse, run_id)) is not None:
        return done
    tags = provenance.run_tags(system.name, suite, **{"rai.evaluation_id": run_id, "rai.model_version": current.version,
                                                      "rai.dataset_version": current.prompts_key,
                                                      **({"rai.baseline_version": champion.version} if compared else {})})
    run = lineage.start_run(client, experiment_id, f"{suite.name} v{current.version}", tags)
    base = {"run_id": run_id, "system": system.name, "model_name": system.registry_name, "model_version": current.version,
            "dataset_version": current.prompts_key, "dataset_digest": current.prompts_key, "suite": suite.name,
            "suite_digest": suite_digest(suite, judges.measured, system.judges, judges.assets), "started_at": datetime.now(UTC),
            "dagster_run_id": provenance.dagster_run_id, "dagster_partition": provenance.partition,
            "mlflow_run_id": run.run_id, "mlflow_experiment_id": experiment_id,
            "code_version": code_version("regression"), "family": suite.family}

    def unassessed(error: str) -> Outcome:
        store_error(warehouse, base, error)
        lineage.finish_run(client, run, ok=False, error=error)
        return Outcome(run_id, "error", run.run_id, [], skipped=False, error=error)

    n = sum(len(current.sets[s.name].cases) for s in genai_suites)
    rows = [MetricRow("regression", BASELINE_METRIC, "overall", float(champion.version) if champion else float("nan"), n)]
    try:
        for s in genai_suites if compared else []:
            registered = suites.get(s.genai)
            if registered.metric not in suite.metrics:
                continue
            asked = current.sets[s.name]
            asked_champion = prompt_sets([s], champion_system)[s.name]
            if [c.prompt.id for c in asked.cases] != [c.prompt.id for c in asked_champion.cases]:
                return unassessed(f"champion v{champion.version} is asked other prompts in suite {s.name!r} (its corpus or "
                                  "grounding questions differ): the versions cannot be paired")
            answers = [cache.generate(current.target, c.prompt, params(system)) for c in asked.cases]
            answers_champion = [cache.generate(champion_target, c.prompt, params(champion_system)) for c in asked_champion.cases]
            if failed := [r.error for r in answers_champion if r.error is not None]:
                return unassessed(f"champion v{champion.version} did not answer {len(failed)} prompts of suite {s.name!r} "
                                  f"(first: {failed[0]}); an error would count against it and flatter this version")
            judge = judges[registered.judge]
            if (error := rejected(judge, min_agreement) or screened(current.target, judge)
                    or screened(champion_target, judge)) is not None:
                return unassessed(error)
            texts = [r.text if r.error is None else "" for r in answers]
            change = paired_change(registered.outcomes(asked, texts, assistant(system), judge),
                                   registered.outcomes(asked_champion, [r.text for r in answers_champion],
                                                       assistant(champion_system), judge),
                                   {judge.name: judge.validation},
                                   resamples=suite.bootstrap_resamples, confidence=suite.confidence, seed=suite.seed)
            rows += [MetricRow("regression", f"{registered.metric}_change", "overall", change.value, change.n,
                               change.ci_low, change.ci_high, change.bounds),
                     MetricRow("regression", f"{registered.metric}_mcnemar_p", "overall", change.mcnemar_p, sum(change.discordant))]
    except TargetUnavailable as exc:
        unassessed(f"target unavailable: {exc}")
        raise
    now_ms = int(time.time() * 1000)
    client.log_batch(run.run_id, metrics=[Metric(r.mlflow_key, r.value, now_ms, 0) for r in rows if r.defined],
                     params=[Param("champion", f"v{champion.version}" if champion else "none"), Param("prompts", str(n))])
    store(warehouse, base, rows)
    lineage.finish_run(client, run, ok=True)
    return Outcome(run_id, "ok", run.run_id, rows, skipped=False)
