"""What the probing families question, gathered for one evaluation step: the model (digest-verified), and for the
attributions the champion and the reference window, for membership inference the training sample."""

from __future__ import annotations

from rai_pipelines.catalog import Catalog, Suite, System
from rai_pipelines.data.sources import reference_window
from rai_pipelines.data.validation import group_labels
from rai_pipelines.errors import DataError
from rai_pipelines.evaluation.attributions import Window
from rai_pipelines.evaluation.families import Probing, TrainingRows
from rai_pipelines.evaluation.probes import Probe
from rai_pipelines.modeling import loading, registry, splits
from rai_pipelines.modeling.predictions import rows_of
from rai_pipelines.names import CHAMPION
from rai_pipelines.orchestration.resources import StateResource


def _probe(catalog: Catalog, system: System, mv, client) -> Probe:
    score = loading.scorer(client, mv, catalog.policy.model_loading, list(system.data.features))
    return Probe(score, system.model.decision_threshold, dict(system.data.features), score.estimator)


def probing_inputs(catalog: Catalog, system: System, suite: Suite, mv, version, state: StateResource, client):
    """(what a probing family questions, the champion it compares with or None). The attributions compare with the
    version holding the champion alias now and with the reference window, when those are not this version and
    this window."""
    probe = _probe(catalog, system, mv, client)
    if suite.family == "membership":
        return Probing(probe, training=_training_rows(system, probe, mv, state, client)), None
    if suite.family != "attributions":
        return Probing(probe), None
    champion = registry.by_alias(client, system.registry_name, CHAMPION)
    champion = champion if champion is not None and champion.version != mv.version else None
    ref_version, ref_frame = state.datasets().snapshot(system, reference_window(system))
    reference = None
    if ref_version.digest != version.digest:
        ref_rows = rows_of(system, mv, ref_frame)
        labels = ref_rows[system.data.label]
        reference = Window(ref_rows[[f for f in system.data.features if f in ref_rows.columns]],
                           None if labels.isna().any() else labels.to_numpy(dtype=int),
                           {c: g.to_numpy() for c, g in group_labels(system, ref_rows).items()})
    return Probing(probe, champion and _probe(catalog, system, champion, client), reference), champion


def _training_rows(system: System, probe: Probe, mv, state: StateResource, client) -> TrainingRows:
    """The version's training sample (its recorded split, over the catalog's reference window: the training
    snapshot), scored by the version."""
    split = splits.read_split(client, mv, system.data.id_column)
    _, reference = state.datasets().snapshot(system, reference_window(system))
    rows = reference.merge(split, on=system.data.id_column, how="inner", validate="one_to_one")
    if len(rows) < len(split):
        raise DataError(f"model {mv.name} version {mv.version}: {len(split) - len(rows)} rows of its training split are "
                        f"not in the reference window {system.data.reference.period}; it was trained elsewhere")
    return TrainingRows(probe.score(rows), rows[system.data.label].to_numpy(), rows.member.to_numpy(),
                        {c: g.to_numpy() for c, g in group_labels(system, rows).items()})
