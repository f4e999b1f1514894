"""The declarative catalog: what is governed (assets/systems), how it is
evaluated (assets/suites) and what a release needs (assets/policies).

Onboarding a system is adding one YAML file. Every file is validated here; a
bad one is reported as one line naming the file, the field and what is expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rai_pipelines.digest import sha256_json
from rai_pipelines.errors import CatalogError, UsageError
from rai_pipelines.evaluation import metric_names
from rai_pipelines.genai import suites as genai_suites
from rai_pipelines.names import CHAMPION

_NAME = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSource(_Strict):
    """A CSV or Parquet file, either inside an installed package or on disk."""

    kind: Literal["file"] = "file"
    path: str
    package: str | None = Field(None, description="distribution that ships the file")


class FilesSource(_Strict):
    """Partitioned files: one CSV or Parquet file (or one hive-style folder of them) per period."""

    kind: Literal["files"]
    path: str = Field(description="a directory (every .csv/.parquet file under it) or a glob such as /feeds/loans/*.parquet")
    partition_key: str | None = Field(
        None, pattern=_NAME, description="hive-style folder key naming each file's window (dt for .../dt=2026-11-30/); "
                                         "default: the file name without its suffix")
    lookback: int = Field(4, ge=1, description="newest windows re-read on every sensor tick (late or corrected files "
                                               "make new dataset versions)")


_SQL_NAME = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$"


class SqlSource(_Strict):
    """A table or query over PostgreSQL or a DuckDB file, cut into windows by a time column."""

    kind: Literal["sql"]
    engine: Literal["postgres", "duckdb"]
    dsn: str | None = Field(None, description="postgres: postgresql://user@host:port/database (no password here)")
    dsn_env: str | None = Field(None, description="postgres: environment variable holding the DSN (it may hold a password)")
    path: str | None = Field(None, description="duckdb: the database file, opened read-only")
    table: str | None = Field(None, pattern=_SQL_NAME, description="a table or view, optionally schema-qualified")
    query: str | None = Field(None, description="a SELECT the windows are cut from (instead of `table`)")
    time_column: str | None = Field(None, description="production (and a bounded reference): the column that cuts windows")
    window: Literal["daily", "weekly"] = "daily"
    lookback: int = Field(4, ge=1, description="newest complete windows re-read on every sensor tick (late rows make "
                                               "new dataset versions)")
    start: datetime | None = Field(None, description="reference only: first instant read")
    end: datetime | None = Field(None, description="reference only: instant read up to (excluded)")

    @model_validator(mode="after")
    def _complete(self) -> SqlSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' and 'query'")
        if self.query is not None:
            body = self.query.strip().rstrip(";").strip()
            if ";" in body or "\x00" in body or not re.match(r"(?is)^(select|with)\b", body):
                raise ValueError("'query' must be one SELECT (or WITH ... SELECT) statement, without ';'")
        if self.engine == "postgres":
            if (self.dsn is None) == (self.dsn_env is None):
                raise ValueError("a postgres source needs exactly one of 'dsn' and 'dsn_env'")
            if self.dsn is not None and _has_password(self.dsn):
                raise ValueError("'dsn' holds a password: put the DSN in an environment variable and name it in 'dsn_env'")
        elif self.path is None:
            raise ValueError("a duckdb source needs 'path', the database file")
        if (self.start or self.end) and self.time_column is None:
            raise ValueError("'start' and 'end' bound 'time_column': name it")
        return self


def _has_password(dsn: str) -> bool:
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(dsn)
    return bool(parts.password) or "password" in parse_qs(parts.query) or "password=" in dsn


def _kind(default: str):
    """A union's discriminator: the value's `kind`, or `default` where a file leaves it out."""
    return lambda raw: raw.get("kind", default) if isinstance(raw, dict) else getattr(raw, "kind", default)


# Where a window's rows come from; a file needs no `kind` (the replayed and reference files of earlier catalogs).
AnySource = Annotated[
    Annotated[FileSource, Tag("file")] | Annotated[FilesSource, Tag("files")] | Annotated[SqlSource, Tag("sql")],
    Discriminator(_kind("file")),
]


class LabelsSource(_Strict):
    """Labels delivered apart from the features (often later), joined to them by a key."""

    source: AnySource
    join_on: str = Field(description="key column joining labels to features")


class ReferenceWindow(_Strict):
    source: AnySource = Field(description="read whole: a file, every file of a partitioned source, or a SQL source "
                                          "between its start and end")
    period: str = Field(description="readable name of the window, e.g. '2015'")


class ReplaySpec(_Strict):
    """Production traffic replayed in nightly batches, one batch per night."""

    period_column: str
    periods: list[int] = Field(min_length=1)
    batches_per_period: int = Field(ge=1, le=366)
    start_date: date


class ProductionWindow(_Strict):
    source: AnySource
    labels: LabelsSource | None = None
    replay: ReplaySpec | None = Field(None, description="a single file only: how it is replayed as nightly batches")

    @model_validator(mode="after")
    def _windows(self) -> ProductionWindow:
        if (self.source.kind == "file") != (self.replay is not None):
            raise ValueError("a single production file needs 'replay' (how it is cut into nightly batches); "
                             "partitioned files and SQL sources have their own windows and take none")
        if self.source.kind == "sql" and (self.source.start or self.source.end):
            raise ValueError("'start' and 'end' bound a reference read; production windows come from 'window'")
        if self.source.kind == "sql" and self.source.time_column is None:
            raise ValueError("a SQL production source needs 'time_column', the column its windows are cut by")
        return self


class SensitiveFeature(_Strict):
    title: str
    groups: dict[str, list[str]] = Field(
        min_length=1, description="readable group name -> raw codes it covers"
    )

    @model_validator(mode="after")
    def _codes_unique(self) -> SensitiveFeature:
        seen: dict[str, str] = {}
        for group, codes in self.groups.items():
            for code in codes:
                if code in seen:
                    raise ValueError(f"code {code!r} is in both {seen[code]!r} and {group!r}")
                seen[code] = group
        return self


class DataSpec(_Strict):
    reference: ReferenceWindow
    production: ProductionWindow
    id_column: str
    label: str
    positive_label: int = 1
    features: dict[str, Literal["numeric", "categorical"]] = Field(min_length=1)
    sensitive_features: dict[str, SensitiveFeature] = Field(min_length=1)
    min_rows: int = Field(1, ge=1)


class ModelSource(_Strict):
    """A model in the MLflow registry, of any flavor that loads through mlflow.pyfunc, registered by any code."""

    kind: Literal["mlflow"] = "mlflow"
    registered_model: str
    decision_threshold: float = Field(0.5, gt=0, lt=1)


class LoggedPredictions(_Strict):
    """Predictions the serving system logged next to the features: no model artifact is loaded.

    Each distinct model version (from `version`, or from `version_column` row by row) is registered in MLflow as a
    version of `registered_model` the first time it is seen, so that aliases, decisions and cards work as for any
    model."""

    kind: Literal["logged_predictions"]
    score_column: str | None = Field(None, description="the logged probability of the positive class")
    decision_column: str | None = Field(None, description="the logged 0/1 decision (default: score >= threshold)")
    decision_threshold: float = Field(0.5, gt=0, lt=1)
    version: str | None = Field(None, description="the model version that made every logged prediction")
    version_column: str | None = Field(None, description="the column naming the model version of each row")
    registered_model: str | None = Field(None, pattern=_NAME, description="default: the system's name")

    @model_validator(mode="after")
    def _complete(self) -> LoggedPredictions:
        if self.score_column is None and self.decision_column is None:
            raise ValueError("logged predictions need 'score_column', 'decision_column' or both")
        if (self.version is None) == (self.version_column is None):
            raise ValueError("give exactly one of 'version' (one model version) and 'version_column' (one per row)")
        return self

    @property
    def columns(self) -> list[str]:
        return [c for c in (self.score_column, self.decision_column, self.version_column) if c is not None]


AnyModel = Annotated[
    Annotated[ModelSource, Tag("mlflow")] | Annotated[LoggedPredictions, Tag("logged_predictions")],
    Discriminator(_kind("mlflow")),
]


class _SystemBase(_Strict):
    """What every governed system declares, whatever its kind: what it is, who owns it, its tier and suites."""

    name: str = Field(pattern=_NAME)
    title: str
    kind: str  # each kind of system narrows it to its own tag (the discriminator of AnySystem)
    description: str
    intended_use: str
    out_of_scope_use: str
    owner: str
    risk_tier: Literal["low", "medium", "high"]
    suites: list[str] = Field(min_length=1)
    known_limitations: list[str] = Field(default_factory=list, description="shown on the model card")

    @field_validator("suites")
    @classmethod
    def _no_duplicate_suites(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("suites must not repeat")
        return v


class System(_SystemBase):
    """A tabular binary classifier under governance: its data, its registered model and suites."""

    kind: Literal["tabular_classifier"]
    data: DataSpec
    model: AnyModel

    @property
    def registry_name(self) -> str:
        """The MLflow registered model whose versions are this system's model versions."""
        return self.model.registered_model or self.name

    @property
    def logged(self) -> bool:
        return self.model.kind == "logged_predictions"

    @model_validator(mode="after")
    def _logged_columns_apart(self) -> System:
        if self.logged:
            clash = [c for c in self.model.columns if c in (self.data.id_column, self.data.label, *self.data.features)]
            if clash:
                raise ValueError(f"logged column {clash[0]!r} is also the id, the label or a feature; name another column")
        return self


class TargetSpec(_Strict):
    """What an LLM assistant's evaluation talks to."""

    kind: Literal["gguf", "openai", "replay"]
    path: str | None = Field(None, description="gguf: the model file (inside `package` when given); replay: the JSONL file")
    package: str | None = Field(None, description="gguf: distribution that ships the model file")
    base_url: str | None = Field(None, description="openai: e.g. http://127.0.0.1:8000/v1")
    model: str | None = Field(None, description="openai: the model name the endpoint serves")
    api_key_env: str | None = Field(None, description="openai: environment variable holding the API key (never the key)")
    timeout_seconds: float = Field(60, gt=0)
    retries: int = Field(3, ge=0)
    context_window: int = Field(2048, ge=256, description="gguf: tokens of context")

    @model_validator(mode="after")
    def _complete(self) -> TargetSpec:
        needed = {"gguf": ["path"], "openai": ["base_url", "model"], "replay": ["path"]}[self.kind]
        missing = [f for f in needed if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.kind} target needs {', '.join(missing)}")
        return self


class GenerationSpec(_Strict):
    max_tokens: int = Field(96, ge=1)
    temperature: float = Field(0.0, ge=0)
    seed: int = 0


class GroundingQuestion(_Strict):
    question: str
    passage: int = Field(ge=0, description="index of the corpus passage that answers it")


class GuardSpec(_Strict):
    """An output guard in front of the assistant: an answer a validated judge flags is replaced by `message`."""

    output: list[Literal["leakage", "toxicity"]] = Field(min_length=1, description="the judges that screen each answer")
    message: str = "I'm sorry, but I can't help with that."


class AssistantSystem(_SystemBase):
    """An LLM assistant under governance: its target, prompt, corpus, planted secrets and suites.

    Each distinct target (model file, endpoint or recording, with its guard) is a version of the MLflow registered
    model `registered_model` (the system's name by default), registered the first time it is evaluated."""

    kind: Literal["llm_assistant"]
    target: TargetSpec
    guard: GuardSpec | None = None
    registered_model: str | None = Field(None, pattern=_NAME)
    system_prompt: str
    generation: GenerationSpec = GenerationSpec()
    corpus: list[str] = Field(default_factory=list, description="retrieval corpus (RAG): one passage per item")
    planted_secrets: list[str] = Field(
        default_factory=list, description="canaries in the system prompt or corpus; must never leak")
    grounding_questions: list[GroundingQuestion] = Field(default_factory=list)
    judges: dict[str, TargetSpec] = Field(
        default_factory=dict, description="judge -> the OpenAI-compatible endpoint (or GGUF file) that decides it instead "
                                          "of the built-in judge; validated on the held-out labelled set before use")

    @field_validator("judges")
    @classmethod
    def _judge_endpoints(cls, v: dict[str, TargetSpec]) -> dict[str, TargetSpec]:
        known = sorted({suite.judge for suite in genai_suites.REGISTRY.values()})
        for name, spec in v.items():
            if name not in known:
                raise ValueError(f"unknown judge {name!r}; known: {known}")
            if spec.kind == "replay":
                raise ValueError(f"judge {name!r}: a judge must answer new questions; use kind 'openai' or 'gguf'")
        return v

    @property
    def registry_name(self) -> str:
        return self.registered_model or self.name

    @model_validator(mode="after")
    def _questions_point_into_the_corpus(self) -> AssistantSystem:
        for q in self.grounding_questions:
            if q.passage >= len(self.corpus):
                raise ValueError(
                    f"grounding question {q.question!r} names passage {q.passage}; the corpus has {len(self.corpus)}")
        return self


# A system file is read once, as whichever kind its `kind` names.
AnySystem = Annotated[System | AssistantSystem, Field(discriminator="kind")]
SYSTEM_KINDS = tuple(get_args(cls.model_fields["kind"].annotation)[0] for cls in (System, AssistantSystem))
_SYSTEM = TypeAdapter(AnySystem)

# Families that ask the model itself: they need it loadable, not only its logs.
PROBE_FAMILIES = ("robustness", "counterfactual", "proxies", "attributions", "membership")
TABULAR_FAMILIES = ("performance", "fairness", "regression", *PROBE_FAMILIES)  # per model x dataset version
DATASET_FAMILIES = ("data_quality", "drift")  # judged per dataset version, not per model version
GENAI_FAMILIES = genai_suites.families()  # those of the registered GenAI suites (genai/suites/)
CHECK_FAMILIES = ("performance", "fairness", "robustness", "counterfactual", "membership", *GENAI_FAMILIES)  # what threshold checks read


class Perturbation(_Strict):
    """Plausible input noise a robustness suite feeds the model (evaluation/perturbations.py)."""

    name: str = Field(pattern=_NAME, description="names its metrics: <name>_flip_rate, <name>_accuracy_change, ...")
    kind: Literal["noise", "swap", "missing"]
    scale: float = Field(0.1, gt=0, le=2, description="noise: standard deviation as a share of each feature's spread")
    share: float = Field(0.1, gt=0, le=1, description="swap, missing: share of the values changed")
    to: Literal["frequent", "neighbour"] = Field("frequent", description="swap: a value drawn from the feature's own "
                                                 "distribution, or the next code up or down (ordinal codes)")
    features: list[str] = Field(default_factory=list, description="default: every feature of the kind the perturbation "
                                                                  "applies to, the sensitive ones excepted")


class Suite(_Strict):
    name: str = Field(pattern=_NAME)
    family: Literal[(*TABULAR_FAMILIES, *DATASET_FAMILIES, *GENAI_FAMILIES)]  # type: ignore[valid-type]
    description: str
    genai: str | None = Field(None, description="GenAI families: the registered suite that builds the prompts and "
                                                "judges the answers (genai/suites/)")
    size: int = Field(20, ge=1, description="GenAI families: prompts per source")
    metrics: list[str] = Field(default_factory=list)
    calibration_bins: int = Field(10, ge=2)
    intersections: bool = True
    bootstrap_resamples: int = Field(1000, ge=0, description="0 disables intervals")
    confidence: float = Field(0.95, gt=0.5, lt=1)
    seed: int = 0
    reference_groups: dict[str, str] = Field(default_factory=dict, description="sensitive feature -> group compared against")
    baseline_alias: str = Field(CHAMPION, description="regression family: the MLflow alias of the model compared against")
    expectations: list[dict[str, dict]] = Field(
        default_factory=list, description="data_quality family: [{expect_..._name: {kwargs}}], Great Expectations' own names"
    )
    drift_share: float = Field(0.5, gt=0, le=1, description="drift family: dataset drift when this share of columns drifts")
    report_sample_rows: int = Field(20000, ge=1000, description="drift family: rows per window in Evidently's HTML report")
    perturbations: list[Perturbation] = Field(default_factory=list, description="robustness family: the noise fed the model")
    proxy_count: int = Field(3, ge=1, description="counterfactual family: the strongest proxies moved to the other group")
    proxy_bins: int = Field(10, ge=2, le=50, description="proxies, counterfactual: quantile bins of a numeric feature")
    repeats: int = Field(3, ge=1, description="attributions: shuffles per feature for the permutation importance")
    importance_rows: int = Field(5000, ge=100, description="attributions: rows sampled for the permutation importance")
    explained_rows: int = Field(500, ge=50, description="attributions: rows whose SHAP values are computed")
    background_rows: int = Field(100, ge=10, description="attributions: rows SHAP values are computed against")
    controls: list[str] = Field(default_factory=list, description="ids of the controls (assets/controls/) it evidences")

    @property
    def per_dataset(self) -> bool:
        return self.family in DATASET_FAMILIES

    @field_validator("genai")
    @classmethod
    def _registered(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        if v not in genai_suites.REGISTRY:
            raise ValueError(f"unknown GenAI suite {v!r}; known: {sorted(genai_suites.REGISTRY)}")
        registered, family = genai_suites.get(v), info.data.get("family")  # family: None when itself invalid
        if family in GENAI_FAMILIES and family != registered.family:
            raise ValueError(f"GenAI suite {v!r} reports {registered.metric}, a {registered.family} rate: the suite's "
                             f"family must be {registered.family!r}, not {family!r}")
        return v

    @model_validator(mode="after")
    def _family_fields(self) -> Suite:
        if (self.family in GENAI_FAMILIES) != (self.genai is not None):
            raise ValueError(f"field 'genai' names the prompt set of a {'/'.join(GENAI_FAMILIES)} suite, and only of one")
        if not self.per_dataset and self.genai is None and self.family not in PROBE_FAMILIES and not self.metrics:
            raise ValueError(f"a {self.family} suite needs at least one metric")
        if self.family in PROBE_FAMILIES and self.metrics:
            raise ValueError(f"a {self.family} suite reports its own metrics; remove field 'metrics'")
        if (self.family == "robustness") != bool(self.perturbations):
            raise ValueError("field 'perturbations' lists the noise of a robustness suite, and a robustness suite needs one")
        names = [p.name for p in self.perturbations]
        if len(set(names)) != len(names):
            raise ValueError(f"perturbation names must be unique; {next(n for n in names if names.count(n) > 1)!r} repeats")
        if self.family == "data_quality":
            if not self.expectations:
                raise ValueError("a data_quality suite needs at least one expectation")
            for item in self.expectations:
                if len(item) != 1 or not next(iter(item)).startswith("expect_"):
                    raise ValueError(f"each expectation is one {{expect_name: {{arguments}}}} mapping, got {item!r}")
        return self

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, v: list[str]) -> list[str]:
        # Every family computing tabular metrics (regression too) computes all of these; an assistant's regression
        # suite names the GenAI rates it compares (which system may use which: load_catalog).
        known = [*metric_names.ALL_METRICS, *metric_names.GENAI_METRICS]
        unknown = [m for m in v if m not in known]
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r}; known: {known}")
        return v

    @property
    def digest(self) -> str:
        # What the suite computes: the controls it is declared to serve change no result.
        return sha256_json(self.model_dump(mode="json", exclude={"controls"}))


class Check(_Strict):
    """One release criterion: a metric (or a disparity of a metric) against a bound."""

    name: str = Field(pattern=_NAME)
    family: Literal[CHECK_FAMILIES]  # type: ignore[valid-type]
    metric: str
    slice: str = Field("overall", description="'overall', or a sensitive feature (or 'A&B') for disparities")
    disparity: Literal["difference", "ratio"] | None = None
    op: Literal[">=", "<="]
    threshold: float
    bound: Literal["interval"] = Field(
        "interval",
        description="pass only if the whole interval at the check's level meets the threshold, fail only if it lies "
        "wholly beyond it, otherwise insufficient_evidence (a point estimate has no error control: not offered)",
    )
    min_n: int | None = Field(None, ge=1, description="smallest sample the check is judged on; default: the tier's min_n")
    controls: list[str] = Field(default_factory=list, description="ids of the controls (assets/controls/) it evidences")


class RegressionCheck(_Strict):
    """No significant worsening against the baseline (champion) on the same rows."""

    name: str = Field(pattern=_NAME)
    family: Literal[("performance", "fairness", *GENAI_FAMILIES)] = Field(  # type: ignore[valid-type]
        description="what the check protects; counted in that family's regression-rate KPI")
    metric: str = Field(description="a confusion metric ('accuracy'), a disparity ('tpr_difference') or, for an assistant, "
                                    "a GenAI rate ('attack_success_rate')")
    slice: str = Field("overall", description="'overall', a group ('SEX=Female') or, for a disparity, the feature ('SEX')")
    tolerance: float = Field(ge=0, description="non-inferiority margin: pass only when the whole interval of the change "
                             "is within it, fail only when the whole interval is worse, otherwise insufficient_evidence")
    min_n: int | None = Field(None, ge=1, description="smallest sample the check is judged on; default: the tier's min_n")
    controls: list[str] = Field(default_factory=list, description="ids of the controls (assets/controls/) it evidences")

    @field_validator("metric")
    @classmethod
    def _has_direction(cls, v: str) -> str:
        if not metric_names.has_harmful_direction(v):
            raise ValueError(f"metric {v!r} has no harmful direction; regression cannot be judged on it")
        return v


EVIDENCE_FIELDS = ("card", "decision", "evaluation_report", "metrics", "quality_results", "drift_report", "policy",
                   "waivers", "dataset_digest", "model_artifact_digest", "mlflow_runs", "technical_documentation")


WORKFLOWS = ("incidents", "reviews", "waivers", "monitoring")
FINDINGS = ("champion_regression", "dataset_drift", "data_quality_failed", "assistant_safety")


class ControlMap(_Strict):
    """Which controls the evidence fields of a bundle and the governance workflows serve."""

    evidence: dict[Literal[EVIDENCE_FIELDS], list[str]] = Field(default_factory=dict)  # type: ignore[valid-type]
    workflows: dict[Literal[WORKFLOWS], list[str]] = Field(default_factory=dict)  # type: ignore[valid-type]


class Severity(_Strict):
    """Deadlines of an incident of this severity, in hours from its opening."""

    acknowledge_hours: float = Field(gt=0)
    mitigate_hours: float = Field(gt=0)
    report_hours: float | None = Field(None, gt=0, description="a regulator's reporting clock (EU AI Act Art. 73: 15 "
                                                               "days, 2 for a widespread infringement, 10 after a death)")


class IncidentPolicy(_Strict):
    """Which production findings open an incident, and how severe it is."""

    rules: dict[Literal[FINDINGS], str] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="finding -> severity; dataset_drift only where the tier blocks on drift")
    severities: dict[str, Severity] = Field(default_factory=dict)
    warn_before_hours: float = Field(24, gt=0, description="an alert when a deadline is this close")

    @model_validator(mode="after")
    def _known_severities(self) -> IncidentPolicy:
        for finding, severity in self.rules.items():
            if severity not in self.severities:
                raise ValueError(f"rule {finding!r} names severity {severity!r}, which 'severities' does not define; "
                                 f"defined: {sorted(self.severities)}")
        return self


class ReviewRule(_Strict):
    """Review intake: who triage assigns, and whether a release waits for an approved review."""

    required: bool = Field(False, description="a release needs an approved review of its model version")
    reviewers: list[str] = Field(default_factory=list, description="assigned by triage; each must have a key in "
                                                                   "the policy's approvers")


class ReleaseRule(_Strict):
    """When repeated nightly decisions may release a model version (move `champion`, answer `rai gate`).

    A version is released after `consecutive_passes` passing nightly decisions on distinct dataset versions in a
    row. Each night is judged at alpha_night = (alpha / horizon_nights) ** (1 / consecutive_passes), so that a
    version truly violating a check is released with probability <= alpha over `horizon_nights` nights (at most
    horizon_nights windows, each all-pass with probability <= alpha_night ** K on independent batches). An
    evaluation that repeats deterministically on the same data (an assistant on a fixed prompt set) is one
    chance, not many: horizon_nights 1.
    """

    consecutive_passes: int = Field(1, ge=1, le=30)
    horizon_nights: int = Field(365, ge=1, description="nights the false-release guarantee covers (a year of nightly runs)")

    def night_alpha(self, alpha: float) -> float:
        return (alpha / self.horizon_nights) ** (1 / self.consecutive_passes)


class MonitoringRule(_Strict):
    """Nightly monitoring of the champion: a regression alert when a check fails at the monitoring level.

    Each night's fail decisions are Holm-controlled at false_alarms_per_year / nights_per_year, so a champion that
    still meets every check raises at most that many false alarms a year on average."""

    false_alarms_per_year: float = Field(1.0, gt=0)
    nights_per_year: int = Field(365, ge=1)

    @property
    def alpha(self) -> float:
        return min(self.false_alarms_per_year / self.nights_per_year, 0.5)


class Tier(_Strict):
    alpha: float = Field(0.05, gt=0, lt=0.5, description="error rate the tier's decisions are controlled at")
    multiplicity: Literal["holm", "bonferroni"] = Field(
        "holm", description="how alpha is shared by the checks a decision could fail")
    min_n: int = Field(1, ge=1, description="smallest sample any check is judged on (checks may ask for more)")
    min_judge_agreement: float = Field(
        0.2, gt=0, lt=1, description="Cohen's kappa an automatic judge must reach on its held-out labelled set before "
                                     "the suites it decides count; below it they are unassessed")
    release: ReleaseRule = ReleaseRule()
    monitoring: MonitoringRule = MonitoringRule()
    required_suites: list[str] = Field(min_length=1)
    evidence_fields: list[Literal[EVIDENCE_FIELDS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(EVIDENCE_FIELDS), description="what a release's evidence bundle must contain"
    )
    min_group_size: int = Field(ge=1)
    checks: list[Check]
    regression: list[RegressionCheck] = Field(default_factory=list)
    drift: Literal["ignore", "warn", "block"] = Field(
        "warn", description="what dataset drift on the evaluated dataset version does to the verdict"
    )
    estimated_results: Literal["ignore", "monitoring", "release"] = Field(
        "monitoring", description="what results estimated while labels are pending may do: nothing, raise monitoring "
                                  "alerts (the verdict stays unassessed), or decide releases too")
    waiver_approvers: list[str] = Field(default_factory=list)
    max_waiver_days: int = Field(90, ge=1, description="longest a waiver may last from its request")
    review: ReviewRule = ReviewRule()
    proxy_auc: float = Field(0.7, gt=0.5, lt=1, description="a feature whose proxy AUC for a sensitive group lies "
                             "wholly above this (interval at the proxies suite's confidence) is listed as a proxy on the card")

    @property
    def night_alpha(self) -> float:
        """The level each nightly decision passes a check at (see ReleaseRule)."""
        return self.release.night_alpha(self.alpha)


FLAVORS = ("sklearn", "xgboost", "lightgbm", "python_function")
SERIALIZATIONS = ("skops", "cloudpickle", "pickle", "xgboost_json", "xgboost_ubj", "xgboost_legacy", "lightgbm_text")


class ModelLoading(_Strict):
    """Which MLflow models may be loaded, and how: enforced before any artifact is deserialized.

    A model's artifact digest is always checked before loading; a version registered by the team's own code has none
    until the pipeline records it (`rai model register`, or here on first sight when trust_on_first_sight is on)."""

    flavors: list[Literal[FLAVORS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(FLAVORS), min_length=1,
        description="the flavor a model is loaded through; a model with none of these is refused")
    serializations: list[Literal[SERIALIZATIONS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["skops", "xgboost_json", "xgboost_ubj", "lightgbm_text"], min_length=1,
        description="formats that may be deserialized; pickle and cloudpickle execute code on load")
    trust_on_first_sight: bool = Field(
        True, description="record the digest of a version without one when the pipeline first sees it, then load it")


class Policy(_Strict):
    name: str
    description: str
    model_loading: ModelLoading = ModelLoading()
    tiers: dict[Literal["low", "medium", "high"], Tier]
    assistant_tiers: dict[Literal["low", "medium", "high"], Tier] = Field(
        default_factory=dict, description="the tiers for LLM assistants")
    approvers: dict[str, str] = Field(
        default_factory=dict, description="approver -> Ed25519 public key (PEM): waiver and review approvals must be "
                                          "signed with it")
    controls: ControlMap = ControlMap()
    incidents: IncidentPolicy = IncidentPolicy()

    @field_validator("approvers")
    @classmethod
    def _ed25519_public_keys(cls, v: dict[str, str]) -> dict[str, str]:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        for name, pem in v.items():
            try:
                key = serialization.load_pem_public_key(pem.encode())
            except (ValueError, UnsupportedAlgorithm):
                key = None
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError(f"approver {name!r}: not an Ed25519 public key in PEM form")
        return v

    @model_validator(mode="after")
    def _approvers_have_keys(self) -> Policy:
        for field, tiers in (("tiers", self.tiers), ("assistant_tiers", self.assistant_tiers)):
            for name, tier in tiers.items():
                for role, people in (("waiver_approvers", tier.waiver_approvers), ("review.reviewers", tier.review.reviewers)):
                    if missing := [p for p in people if p not in self.approvers]:
                        raise ValueError(f"{field}.{name}.{role} names {missing[0]!r}, who has no public key in 'approvers'")
        return self

    def tier_for(self, system: AnySystem) -> Tier:
        return (self.assistant_tiers if system.kind == "llm_assistant" else self.tiers)[system.risk_tier]

    @property
    def version(self) -> str:
        """Content hash: the exact rules a decision applied. Governance bookkeeping that changes no verdict (approvers'
        keys, which controls things serve, incident deadlines) is left out, so editing it neither restarts release
        windows nor lapses waivers (a rotated key lapses the approvals it signed by itself)."""
        checks = {"__all__": {"checks": {"__all__": {"controls"}}, "regression": {"__all__": {"controls"}}}}
        return sha256_json(self.model_dump(mode="json", exclude={
            "approvers": True, "controls": True, "incidents": True, "tiers": checks, "assistant_tiers": checks}))[:16]


class Control(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+:[a-z0-9.-]+$")
    title: str
    evidence: str = Field(description="what evidence satisfies it")


class ControlFramework(_Strict):
    """One file of assets/controls/: a regulation or standard's provisions an evaluation pipeline can evidence."""

    framework: str = Field(pattern=_NAME)
    title: str
    source: str
    controls: list[Control] = Field(min_length=1)


class Catalog(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    root: Path
    systems: dict[str, System | AssistantSystem]
    suites: dict[str, Suite]
    policy: Policy
    judges: dict = Field(default_factory=dict, description="judge -> stats.judged.Validation, measured on labelled sets")
    controls: dict[str, Control] = Field(default_factory=dict, description="id -> control, from assets/controls/")
    frameworks: dict[str, str] = Field(default_factory=dict, description="control id -> its framework's title")

    @property
    def tabular_systems(self) -> list[System]:
        return [s for s in self.systems.values() if s.kind == "tabular_classifier"]

    @property
    def assistant_systems(self) -> list[AssistantSystem]:
        return [s for s in self.systems.values() if s.kind == "llm_assistant"]

    def system(self, name: str) -> AnySystem:
        if name not in self.systems:
            raise UsageError(
                f"unknown system {name!r}; the catalog in {self.root / 'systems'} has {sorted(self.systems)}"
            )
        return self.systems[name]

    def suites_for(self, system: AnySystem) -> list[Suite]:
        return [self.suites[s] for s in system.suites]

    def suite_digests(self, system: AnySystem) -> dict[str, str]:
        """Current definition of every suite as `system` runs it (with its judges): evaluations run with another
        are stale."""
        # Imported here, as in load_catalog: the judges' validation module needs the statistics stack (scipy),
        # which importing the schema should not pay for.
        from rai_pipelines.genai.validation import suite_digest

        endpoints = getattr(system, "judges", None)
        return {name: suite_digest(suite, self.judges, endpoints, self.root) for name, suite in self.suites.items()}

    def evaluation_suites(self, system: AnySystem) -> list[Suite]:
        """Suites run per model version x dataset version."""
        return [s for s in self.suites_for(system) if not s.per_dataset]

    def dataset_suite(self, system: System, family: str) -> Suite | None:
        return next((s for s in self.suites_for(system) if s.family == family), None)


def _suite_fits(system: AnySystem, suite: Suite, suites_: list[Suite]) -> str | None:
    """Why a suite does not fit a system's kind (None when it does): an assistant runs GenAI suites and at most a
    regression suite comparing their rates; a classifier runs the tabular and dataset families on tabular metrics."""
    if system.kind == "llm_assistant":
        rates = {genai_suites.get(s.genai).metric for s in suites_ if s.genai}
        if suite.family == "regression":
            extra = sorted(set(suite.metrics) - rates)
            return None if not extra else f"compares {extra}, rates none of the system's GenAI suites report"
        return None if suite.genai else f"is a {suite.family} suite; an assistant runs GenAI suites and a regression suite"
    if suite.genai:
        return "is a GenAI suite; a tabular classifier runs the tabular and dataset families"
    if suite.family == "regression" and system.logged:
        return ("compares with the champion's scores on the same rows, which logged predictions do not have (each row "
                "was scored by one version); remove it")
    if suite.family in PROBE_FAMILIES and system.logged:
        return "asks the model itself for new decisions, and a system of logged predictions has no model to ask; remove it"
    unknown = [f for p in suite.perturbations for f in p.features if f not in system.data.features]
    if unknown:
        return f"perturbs {unknown[0]!r}, which is not among data.features"
    extra = [m for m in suite.metrics if m not in metric_names.ALL_METRICS]
    return None if not extra else f"names {extra}, which are not tabular metrics"


# The tags of the catalog's unions: pydantic puts the chosen one in an error's path, where the file has no such field.
_UNION_TAGS = {*SYSTEM_KINDS, "file", "files", "sql", "mlflow", "logged_predictions"}


def _unknown_slice(system: System, tier: Tier) -> str | None:
    """Why a tier's checks cannot be judged on a classifier (a slice naming a feature it does not declare), or None."""
    for check in [*tier.checks, *tier.regression]:
        if check.slice == "overall":
            continue
        features = [part.split("=", 1)[0] for part in check.slice.split("&")]
        missing = [f for f in features if f not in system.data.sensitive_features]
        if missing:
            return f"check {check.name!r} reads slice {check.slice!r}, and {missing[0]!r} is not among data.sensitive_features"
    return None


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = [p for p in err["loc"] if p not in _UNION_TAGS]
    if err["type"] in {"union_tag_not_found", "union_tag_invalid"}:  # a `kind` that names no known kind
        field = ".".join(str(p) for p in [*loc, "kind"])
        expected = err.get("ctx", {}).get("expected_tags") or ", ".join(repr(k) for k in SYSTEM_KINDS)
        if err["type"] == "union_tag_not_found":
            return f"field {field!r} is required: {expected}"
        return f"field {field!r} is {err['ctx'].get('tag')!r}; expected {expected}"
    field = ".".join(str(p) for p in loc) or "(top level)"
    msg = err["msg"]
    if err["type"] == "missing":
        msg = "is required"
    elif err["type"] == "extra_forbidden":
        msg = "is not a known field (check its spelling)"
    return f"field {field!r} {msg}" if err["type"] in {"missing", "extra_forbidden"} else f"field {field!r}: {msg}"


def read_yaml(path: Path) -> dict:
    """A catalog file's fields; one line naming the file when it is not a YAML mapping."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise CatalogError(f"{path}: cannot be read ({exc.strerror or exc}); check the path") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise CatalogError(f"{path}: not valid YAML{where}; fix the syntax") from None
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
    return raw


def _load(path: Path, validate: Callable[[dict], BaseModel]) -> BaseModel:
    raw = read_yaml(path)
    try:
        return validate(raw)
    except ValidationError as exc:
        raise CatalogError(f"{path}: {_describe(exc)}") from None


def load_catalog(root: str | Path) -> Catalog:
    """Load and cross-check the whole catalog under `root` (the assets/ folder)."""
    root = Path(root)
    controls, frameworks = _load_controls(root / "controls")
    suites = {}
    for path in sorted((root / "suites").glob("*.yaml")):
        suite = _load(path, Suite.model_validate)
        if suite.name != path.stem:
            raise CatalogError(f"{path}: field 'name' is {suite.name!r}; it must match the file name {path.stem!r}")
        _known_controls(path, "controls", suite.controls, controls)
        suites[suite.name] = suite
    policy_files = sorted((root / "policies").glob("*.yaml"))
    if len(policy_files) != 1:
        raise CatalogError(f"{root / 'policies'}: expected exactly one policy file, found {len(policy_files)}")
    policy = _load(policy_files[0], Policy.model_validate)
    for field, declared in _policy_controls(policy):
        _known_controls(policy_files[0], field, declared, controls)
    for field, tiers in (("tiers", policy.tiers), ("assistant_tiers", policy.assistant_tiers)):
        for tier_name, tier in tiers.items():
            for s in tier.required_suites:
                if s not in suites:
                    raise CatalogError(f"{policy_files[0]}: field '{field}.{tier_name}.required_suites' names unknown "
                                       f"suite {s!r}; known: {sorted(suites)}")
    systems = {}
    for path in sorted((root / "systems").glob("*.yaml")):
        system = _load(path, _SYSTEM.validate_python)
        if system.name != path.stem:
            raise CatalogError(f"{path}: field 'name' is {system.name!r}; it must match the file name {path.stem!r}")
        for s in system.suites:
            if s not in suites:
                raise CatalogError(f"{path}: field 'suites' names unknown suite {s!r}; known: {sorted(suites)}")
        for s in system.suites:
            if (why := _suite_fits(system, suites[s], [suites[x] for x in system.suites])) is not None:
                raise CatalogError(f"{path}: field 'suites' names suite {s!r}, which {why}")
        if system.risk_tier not in (policy.assistant_tiers if system.kind == "llm_assistant" else policy.tiers):
            raise CatalogError(f"{path}: field 'risk_tier' is {system.risk_tier!r}, which {policy_files[0].name} does not "
                               f"define for a {system.kind}")
        if system.kind == "tabular_classifier" and (why := _unknown_slice(system, policy.tier_for(system))):
            raise CatalogError(f"{path}: field 'risk_tier' is {system.risk_tier!r}, whose {why}; choose a tier whose "
                               "checks name this system's sensitive features, or declare them")
        systems[system.name] = system
    # Last step of loading: with the judges' measured errors, refuse an assistant whose suites could never pass its
    # tier (too few prompts for a threshold at the nightly level) now rather than every night. Imported here, not
    # at the top: both modules need the statistics stack (scipy), which validating the files does not, and
    # sample_size imports this module's types.
    # Counting prompts builds the prompt sets from the GenAI layer's data packages: without that layer (`make genai`
    # not run) no assistant can be evaluated at all, and its evaluation says so (genai/extras.py).
    from rai_pipelines.genai import extras
    from rai_pipelines.genai.validation import load as load_judges
    from rai_pipelines.sample_size import refuse_infeasible

    judges = load_judges(root)
    assistants_buildable = not extras.missing()
    for name, system in systems.items():
        suites_ = [suites[s] for s in system.suites]
        if system.kind == "llm_assistant" and assistants_buildable and (why := refuse_infeasible(system, policy, suites_, judges)):
            raise CatalogError(f"{policy_files[0]}: {why} (system {name!r}, {root / 'systems' / (name + '.yaml')})")
    return Catalog(root=root, systems=systems, suites=suites, policy=policy, judges=judges, controls=controls,
                   frameworks=frameworks)


def _load_controls(folder: Path) -> tuple[dict[str, Control], dict[str, str]]:
    controls: dict[str, Control] = {}
    frameworks: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        framework = _load(path, ControlFramework.model_validate)
        for i, control in enumerate(framework.controls):
            if control.id in controls:
                raise CatalogError(f"{path}: field 'controls.{i}.id' repeats control {control.id!r}; ids are unique")
            controls[control.id] = control
            frameworks[control.id] = framework.title
    return controls, frameworks


def _known_controls(path: Path, field: str, declared: list[str], controls: dict[str, Control]) -> None:
    """One line naming the file, the field and the id a declaration names that the control catalog lacks."""
    for control_id in declared:
        if control_id not in controls:
            raise CatalogError(f"{path}: field {field!r} names unknown control {control_id!r}; the control catalog "
                               f"(assets/controls/) has {len(controls)} controls, e.g. {sorted(controls)[:3]}")


def _policy_controls(policy: Policy):
    """(field, control ids) for every declaration in the policy: checks, evidence fields and workflows."""
    for field, tiers in (("tiers", policy.tiers), ("assistant_tiers", policy.assistant_tiers)):
        for name, tier in tiers.items():
            for kind, checks in (("checks", tier.checks), ("regression", tier.regression)):
                for i, check in enumerate(checks):
                    yield f"{field}.{name}.{kind}.{i}.controls", check.controls
    for kind, mapping in (("evidence", policy.controls.evidence), ("workflows", policy.controls.workflows)):
        for key, declared in mapping.items():
            yield f"controls.{kind}.{key}", declared
