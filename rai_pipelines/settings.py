"""Where things live: the state directory and the environment profile.

`RAI_HOME` (default `.rai/` under the working directory) holds the Dagster
instance, the MLflow store, the warehouse and evidence. `RAI_PROFILE` picks a
file from `resources/` (default `local`) that says which Dagster instance
config, MLflow store and executor to use; values may reference environment
variables as `${NAME}` (required) or `${NAME:-default}`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from rai_pipelines.errors import CatalogError

_PACKAGE_DIR = Path(__file__).resolve().parent
_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")  # ${NAME} or ${NAME:-default}


def project_dir() -> Path:
    """The directory holding assets/, resources/ and the Dagster YAML files."""
    env = os.environ.get("RAI_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    candidate = _PACKAGE_DIR.parent
    if (candidate / "assets").is_dir():
        return candidate
    return Path.cwd().resolve()


@dataclass(frozen=True)
class Settings:
    home: Path
    profile: str
    project: Path
    dagster_instance_template: Path
    mlflow_tracking_uri: str
    mlflow_artifact_root: str
    mlflow_ui_url: str
    executor: str
    alert_webhook_url: str = ""
    alert_file: str = ""
    # The warehouse's DuckLake (warehouse/lake.py); empty: the embedded default under home/warehouse.
    warehouse_catalog: str = ""
    warehouse_data_path: str = ""
    # What every worker reads and writes (dataset snapshots, predictions, evidence, response caches, the embedded
    # warehouse): the profile's `shared_dir`, a path every worker mounts; the embedded default is RAI_HOME itself.
    shared_dir: Path | None = None
    celery_broker: str = ""  # executor: celery: the broker workers and runs share (RabbitMQ)
    evidence_key: str = ""  # the signing key's path; empty: $RAI_HOME/keys/evidence_ed25519.pem
    create_evidence_key: bool = False  # only where no key is configured

    @property
    def catalog_dir(self) -> Path:
        return self.project / "assets"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def warehouse_dir(self) -> Path:
        return self.shared / "warehouse"

    @property
    def shared(self) -> Path:
        return self.shared_dir or self.home

    def warehouse(self):
        from rai_pipelines.warehouse import Warehouse

        return Warehouse.configured(self.shared, self.warehouse_catalog, self.warehouse_data_path)

    def signing_key(self):
        from rai_pipelines.evidence.keys import SigningKey

        return SigningKey.configured(self.home, self.evidence_key, self.create_evidence_key)

    @property
    def snapshot_dir(self) -> Path:
        return self.shared / "datasets"

    @property
    def evidence_dir(self) -> Path:
        return self.shared / "evidence"


def _expand(value: str, where: Path, env: dict[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name not in env and default is not None:
            return default
        if name not in env:
            raise CatalogError(
                f"{where}: needs environment variable {name}; set it or choose another RAI_PROFILE"
            )
        return env[name]

    return _VAR.sub(sub, value)


def cpu_cores() -> int:
    """The cores this process may use (RAI_CORES overrides): what the CPU pools and llama.cpp's threads are sized to."""
    return int(os.environ.get("RAI_CORES") or len(os.sched_getaffinity(0)))


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    home = Path(env.get("RAI_HOME") or Path.cwd() / ".rai").resolve()
    env["RAI_HOME"] = str(home)
    profile = env.get("RAI_PROFILE", "local")
    project = project_dir()
    path = project / "resources" / f"{profile}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (project / "resources").glob("*.yaml"))
        raise CatalogError(f"RAI_PROFILE={profile}: no {path}; choose one of {known}")
    raw = yaml.safe_load(path.read_text()) or {}
    try:
        mlflow = raw["mlflow"]
        return Settings(
            home=home,
            profile=profile,
            project=project,
            dagster_instance_template=project / _expand(raw["dagster_instance"], path, env),
            mlflow_tracking_uri=_expand(mlflow["tracking_uri"], path, env),
            mlflow_artifact_root=_expand(mlflow["artifact_root"], path, env),
            mlflow_ui_url=_expand(mlflow.get("ui_url", ""), path, env),
            executor=raw.get("executor", "multiprocess"),
            alert_webhook_url=_expand(raw.get("alerts", {}).get("webhook_url", ""), path, env),
            alert_file=_expand(raw.get("alerts", {}).get("file", ""), path, env),
            warehouse_catalog=_expand(raw.get("warehouse", {}).get("catalog", ""), path, env),
            warehouse_data_path=_expand(raw.get("warehouse", {}).get("data_path", ""), path, env),
            shared_dir=Path(_expand(raw["shared_dir"], path, env)).resolve() if raw.get("shared_dir") else None,
            celery_broker=_expand(raw.get("celery", {}).get("broker", ""), path, env),
            evidence_key=_expand(raw.get("evidence", {}).get("signing_key", ""), path, env),
            create_evidence_key=bool(raw.get("evidence", {}).get("create_key", False)),
        )
    except KeyError as exc:
        raise CatalogError(f"{path}: missing field {exc.args[0]!r}; see resources/local.yaml") from None


def prepare_dagster_home(settings: Settings) -> Path:
    """Install the profile's dagster.yaml into the state directory and point DAGSTER_HOME at it."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    text = settings.dagster_instance_template.read_text()
    if not target.exists() or target.read_text() != text:
        tmp = target.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(target)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["RAI_HOME"] = str(settings.home)
    return home
