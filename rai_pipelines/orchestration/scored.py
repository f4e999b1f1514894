"""What the predictions asset hands every evaluation: a handle to its stored scores.

The scores themselves are Parquet in the PredictionStore; Dagster passes a small
JSON handle (the model version and the dataset version with its digest), written
by `ScoredIOManager`, so an evaluation takes predictions as its input instead of
querying the registry and rescoring. The handle holds no path: the store under
the current state directory locates the file, so a moved state still works.
JSON, not pickle: nothing loaded here can execute code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg

from rai_pipelines.atomic import atomic_path
from rai_pipelines.errors import DataError
from rai_pipelines.modeling.registry import ModelVersion


@dataclass(frozen=True)
class Scored:
    model: ModelVersion
    dataset_key: str
    dataset_digest: str

    def to_json(self) -> dict:
        model = {**asdict(self.model), "aliases": list(self.model.aliases), "registered_at": self.model.registered_at.isoformat()}
        return {"model": model, "dataset_key": self.dataset_key, "dataset_digest": self.dataset_digest}

    @classmethod
    def from_json(cls, raw: dict) -> Scored:
        m = raw["model"]
        model = ModelVersion(**{**m, "aliases": tuple(m["aliases"]), "registered_at": datetime.fromisoformat(m["registered_at"])})
        return cls(model, raw["dataset_key"], raw["dataset_digest"])


class ScoredIOManager(dg.ConfigurableIOManager):
    """Stores each predictions partition's handle as `<root>/<asset path>/<partition>.json`."""

    root: str

    def _path(self, context) -> Path:
        return Path(self.root, *context.asset_key.path, f"{context.asset_partition_key}.json")

    def handle_output(self, context: dg.OutputContext, obj: Scored) -> None:
        with atomic_path(self._path(context)) as tmp:
            Path(tmp).write_text(json.dumps(obj.to_json()))

    def load_input(self, context: dg.InputContext) -> Scored:
        path = self._path(context)
        where = f"{'/'.join(context.asset_key.path)} for partition {context.asset_partition_key}"
        if not path.exists():
            raise DataError(f"no predictions for partition {context.asset_partition_key} of "
                            f"{'/'.join(context.asset_key.path)}; materialize that asset for this partition first")
        try:
            return Scored.from_json(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError):  # written by another version of this handle
            raise DataError(f"{path}: not a predictions handle this version reads; rematerialize {where}") from None
