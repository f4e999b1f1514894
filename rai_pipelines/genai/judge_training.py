"""Training the judge heads on their development sets, and where each judge's sets are.

Each trained judge has development sets (`assets/genai/judges/train/`: what
its features and head were built and fitted on) and one held-out set
(`assets/genai/judges/heldout/`: written blind to the judge, used only to
measure it, never to choose a feature, a threshold or a label). Retrain:

    python -m rai_pipelines.genai.judge_training assets/
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rai_pipelines.digest import sha256_file
from rai_pipelines.genai import heads, judges

TRAIN = Path("genai/judges/train")
HELDOUT = Path("genai/judges/heldout")


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass(frozen=True)
class TrainedJudge:
    name: str
    train: tuple[str, ...]  # development files under TRAIN
    heldout: str  # the held-out file under HELDOUT
    signals: list[str]  # the hand-made feature names after the embedding (if any)
    embedded: bool
    label: Callable[[dict], bool]  # the event the judge flags, from a labelled row
    features: Callable[[list[dict]], np.ndarray]  # the feature matrix of labelled rows


SPECS = {
    "refusal": TrainedJudge(
        "refusal", ("refusal_patterns.jsonl", "refusal_v1.jsonl"), "refusal.jsonl", judges.REFUSAL_SIGNALS, True,
        lambda r: bool(r["refusal"]), lambda rs: judges.refusal_features([r["response"] for r in rs])),
    "toxicity": TrainedJudge(
        "toxicity", ("toxicity_v1.jsonl", "toxicity.jsonl"), "toxicity.jsonl", judges.TOXICITY_SIGNALS, True,
        lambda r: bool(r["toxic"]), lambda rs: judges.toxicity_features([r["text"] for r in rs])),
    "grounding": TrainedJudge(
        "grounding", ("grounding.jsonl",), "grounding.jsonl", judges.GROUNDING_SIGNALS, False,
        # The held-out set labels supported / unsupported / contradicted; the development set grounded or not.
        lambda r: bool(r["grounded"]) if "grounded" in r else r["label"] == "supported",
        lambda rs: judges.grounding_features([r["answer"] for r in rs], [r["context"] for r in rs], [r["question"] for r in rs])),
}


def train(assets: Path, name: str) -> heads.Head:
    spec = SPECS[name]
    files = [assets / TRAIN / f for f in spec.train]
    data = [r for f in files for r in rows(f)]
    sources = {f"{TRAIN / f.name}": sha256_file(f) for f in files}
    names = [*(f"minilm_{i}" for i in range(384) if spec.embedded), *spec.signals]
    return heads.fit(name, names, spec.features(data), np.array([spec.label(r) for r in data]), sources)


def write(assets: Path, directory: Path = heads.HEADS_DIR) -> dict[str, heads.Head]:
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in SPECS:
        head = out[name] = train(assets, name)
        (directory / f"{name}.json").write_text(head.to_json())
    heads.load.cache_clear()
    return out


if __name__ == "__main__":
    for name, head in write(Path(sys.argv[1] if len(sys.argv) > 1 else "assets")).items():
        print(f"{name}: C {head.regularization}, {len(head.weights)} features, trained on {', '.join(head.trained_on)}")
