"""What a probing family questions, gathered for one evaluation: the model (digest-verified), and for the
attributions the champion and the reference window, for membership inference the training sample.

Gathered only when the evaluation really runs (`evaluate` checks its cache first): loading models and scoring a
training sample costs seconds, and a version without a recorded split would fail a result that is already stored.
"""

from __future__ import annotations

from collections.abc import Callable

from rai_pipelines.catalog import Catalog, Suite, System
from rai_pipelines.data.snapshots import DatasetStore, DatasetVersion
from rai_pipelines.data.sources import reference_window
from rai_pipelines.data.validation import group_labels
from rai_pipelines.errors import DataError
from rai_pipelines.evaluation.probes import Probe, Probing, TrainingRows, Window
from rai_pipelines.modeling import loading, registry, splits
from rai_pipelines.modeling.predictions import rows_of
from rai_pipelines.modeling.registry import ModelVersion
from rai_pipelines.names import CHAMPION


def probing_inputs(catalog: Catalog, system: System, suite: Suite, mv: ModelVersion, version: DatasetVersion,
                   datasets: DatasetStore, client) -> tuple[Callable[[], Probing], ModelVersion | None]:
    """(a builder of what the family questions, the champion it compares with: part of the evaluation's identity).
    The attributions compare with the version holding the champion alias now and with the reference window, when
    those are not this version and this window."""
    champion = (compared_champion(registry.by_alias(client, system.registry_name, CHAMPION), mv)
                if suite.family == "attributions" else None)

    def build() -> Probing:
        probe = _probe(catalog, system, mv, client)
        if suite.family == "membership":
            return Probing(probe, training=_training_rows(system, probe, mv, datasets, client))
        if suite.family != "attributions":
            return Probing(probe)
        ref_version, ref_frame = datasets.snapshot(system, reference_window(system))
        reference = None
        if ref_version.digest != version.digest:  # only its features are explained: no labels, no groups needed
            ref_rows = rows_of(system, mv, ref_frame)
            reference = Window(ref_rows[[f for f in system.data.features if f in ref_rows.columns]], None, {})
        return Probing(probe, champion and _probe(catalog, system, champion, client), reference)

    return build, champion


def compared_champion(champion: ModelVersion | None, mv: ModelVersion) -> ModelVersion | None:
    """The version the attributions compare `mv` with: the one holding the champion alias now, unless it is `mv`."""
    return champion if champion is not None and champion.version != mv.version else None


def _probe(catalog: Catalog, system: System, mv: ModelVersion, client) -> Probe:
    score = loading.scorer(client, mv, catalog.policy.model_loading, list(system.data.features))
    return Probe(score, system.model.decision_threshold, dict(system.data.features), score.estimator)


def _training_rows(system: System, probe: Probe, mv: ModelVersion, datasets: DatasetStore, client) -> TrainingRows:
    """The version's training sample (its recorded split, over the catalog's reference window: the training
    snapshot), scored by the version."""
    split = splits.read_split(client, mv, system.data.id_column)
    _, reference = datasets.snapshot(system, reference_window(system))
    rows = reference.merge(split, on=system.data.id_column, how="inner", validate="one_to_one")
    if len(rows) < len(split):
        raise DataError(f"model {mv.name} version {mv.version}: {len(split) - len(rows)} rows of its training split are "
                        f"not in the reference window {system.data.reference.period}; it was trained elsewhere")
    return TrainingRows(probe.score(rows), rows[system.data.label].to_numpy(), rows.member.to_numpy(),
                        {c: g.to_numpy() for c, g in group_labels(system, rows).items()})
