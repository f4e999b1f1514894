"""Onboarding a system with nothing but its YAML file, on real services: a PostgreSQL feed of logged predictions that
grows night by night (and takes late rows), and a partitioned directory scored by models the team logged to MLflow
with its own code (LightGBM, a custom pyfunc), loaded under the policy's loading rules."""

import uuid

import dagster as dg
import lightgbm
import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from rai_pipelines import demo_feed
from rai_pipelines.catalog import load_catalog
from rai_pipelines.data import feeds
from rai_pipelines.data.snapshots import DatasetStore
from rai_pipelines.definitions import build_defs
from rai_pipelines.errors import UsageError
from rai_pipelines.evidence.release import build as build_evidence
from rai_pipelines.modeling import loading, registry
from rai_pipelines.orchestration import launch
from rai_pipelines.warehouse import Warehouse
from tests.support import copy_project, run_rai

SYSTEM = demo_feed.SYSTEM
NUMERIC = ["car_value", "debt_to_income_ratio", "loan_length", "driver_tenure"]


def _project(tmp_path, monkeypatch, edit) -> tuple:
    root = copy_project(tmp_path / "project")
    path = root / "assets" / "systems" / f"{SYSTEM}.yaml"
    raw = yaml.safe_load(path.read_text())
    edit(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    monkeypatch.setenv("RAI_PROJECT_DIR", str(root))
    return root, load_catalog(root / "assets")


@pytest.fixture
def team_mlflow(settings, mlflow_client, monkeypatch):
    """MLflow as the team's own training code sees it: the same tracking server and registry (the state's), its own
    experiment, and the fluent API."""
    from rai_pipelines import lineage

    monkeypatch.setenv("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", settings.mlflow_tracking_uri)
    mlflow.set_experiment(experiment_id=lineage.experiment_id(mlflow_client, "team-training", settings.mlflow_artifact_root))
    return mlflow_client


def _run(defs, instance, request, job_name=None):
    outcome = launch.execute(defs, instance, request, job_name)
    assert outcome.answered, outcome.error
    return outcome


def _night(defs, instance, system) -> list:
    """A night as the daemon runs it: the feed sensor's ingests, then the registry sensor's evaluations (ticked
    twice: a run that moves the champion makes others pending). Returns the ingest requests."""
    requests = launch.tick_sensor(defs, instance, system, feed=True)
    for r in requests:
        _run(defs, instance, r, f"{SYSTEM}__ingest_dataset_version")
    for _ in range(2):
        for r in launch.tick_sensor(defs, instance, system):
            _run(defs, instance, r)
    return requests


@pytest.fixture
def postgres_feed(tmp_path, monkeypatch, settings):
    """The car-loan system on its own schema of the local PostgreSQL (dropped afterwards)."""
    schema = f"rai_test_{uuid.uuid4().hex[:8]}"

    def edit(raw):
        raw["data"]["production"]["source"]["table"] = f"{schema}.car_loan_applications"
        raw["data"]["production"]["labels"]["source"]["table"] = f"{schema}.car_loan_repayments"

    root, catalog = _project(tmp_path, monkeypatch, edit)
    system = catalog.system(SYSTEM)
    yield catalog, system
    from sqlalchemy import create_engine, text

    engine = create_engine(feeds._dsn(system.data.production.source))
    with engine.begin() as con:
        con.execute(text(f'drop schema if exists "{schema}" cascade'))
    engine.dispose()


def test_a_postgres_feed_of_logged_predictions_is_ingested_night_by_night_evaluated_gated_and_carded(
        postgres_feed, settings, mlflow_client):
    catalog, system = postgres_feed
    defs, wh = build_defs(), Warehouse(settings.warehouse_dir)
    ingest = f"{SYSTEM}__ingest_dataset_version"
    with dg.DagsterInstance.get() as instance:
        # Night 1: the serving system has logged one week; the feed sensor finds it, the registry sensor the version.
        demo_feed.add_weeks(system, weeks=1)
        [first] = launch.tick_sensor(defs, instance, system, feed=True)
        assert first.partition_key.startswith("2018-W44.")
        _run(defs, instance, first, ingest)
        assert launch.tick_sensor(defs, instance, system, feed=True) == []  # nothing new: nothing requested
        requests = launch.tick_sensor(defs, instance, system)
        [evaluate] = [r for r in requests if r.job_name.endswith("__evaluate")]
        for r in requests:
            _run(defs, instance, r)
        [mv] = registry.versions(mlflow_client, system.registry_name)
        assert mv.tags[registry.IDENTITY_TAG] == "logged:2018.10"

        # The AUC the pipeline reports is sklearn's on the rows the serving system logged to PostgreSQL.
        rows = feeds.read(system.data.production.source, feeds.window_named(system.data.production.source, "2018-W44"))
        labels = feeds.read_all(system.data.production.labels.source)
        rows = rows.merge(labels, on="id")
        auc = wh.frame("select value from metrics where system = ? and family = 'performance' and metric = 'auc' "
                       "and slice = 'overall'", [SYSTEM]).value
        assert len(auc) == 1 and auc.iloc[0] == pytest.approx(roc_auc_score(rows.repaid, rows.y_pred_proba), abs=1e-12)
        decision = wh.frame("select verdict, dataset_version from gate_decisions where system = ?", [SYSTEM])
        assert list(decision.dataset_version) == [first.partition_key] and decision.verdict.iloc[0] in (
            "pass", "fail", "insufficient_evidence")

        # Night 2: a second week lands; only it is new.
        demo_feed.add_weeks(system, weeks=1)
        [second] = launch.tick_sensor(defs, instance, system, feed=True)
        assert second.partition_key.startswith("2018-W45.")
        _run(defs, instance, second, ingest)

        # Late rows for week 45 (and their labels): a new version of that window, the evaluated one kept as it was.
        late = rows.head(50).assign(id=lambda f: f.id + 10_000_000,
                                    timestamp=pd.Timestamp("2018-11-07 12:00"))
        from sqlalchemy import create_engine

        engine = create_engine(feeds._dsn(system.data.production.source))
        schema, table = system.data.production.source.table.split(".")
        late.drop(columns="repaid").to_sql(table, engine, schema=schema, if_exists="append", index=False)
        late[["id", "repaid"]].to_sql(system.data.production.labels.source.table.split(".")[1], engine, schema=schema,
                                      if_exists="append", index=False)
        engine.dispose()
        [corrected] = launch.tick_sensor(defs, instance, system, feed=True)
        assert corrected.partition_key.startswith("2018-W45.") and corrected.partition_key != second.partition_key
        store = DatasetStore(settings.snapshot_dir)
        assert store.load(system, corrected.partition_key)[0].rows == store.load(system, second.partition_key)[0].rows + 50

        # Carded like any model: the card names what was evaluated and where its data came from.
        evidence, built = build_evidence(catalog, system, mv.version, mlflow_client, wh, settings.signing_key(),
                                         settings.home / "card.zip", lambda _: None, first.partition_key)
        assert built.path.exists() and evidence.decision.dataset_version == first.partition_key
        html = evidence.card.html
        assert system.title in html and "logged predictions of version 2018.10" in html
        assert "postgres://127.0.0.1:5432/postgres#rai_test_" in html  # where the rows came from, no credentials


class _Team(mlflow.pyfunc.PythonModel):
    """A team's custom pyfunc: a logistic score of the debt-to-income ratio and the down payment's absence."""

    def predict(self, context, model_input, params=None):
        z = 4.0 - 6.0 * model_input["debt_to_income_ratio"].to_numpy()
        return pd.DataFrame({"probability": 1 / (1 + np.exp(-z))})


def _weeks(start: str, n: int) -> list[pd.DataFrame]:
    applications, repayments = demo_feed._log()
    frame = applications.merge(repayments, on="id")
    week = (frame.timestamp - pd.Timestamp(start)).dt.days // 7
    return [frame[week == k].drop(columns=["y_pred_proba", "y_pred"]) for k in range(n)]


def test_a_partitioned_directory_scored_by_models_the_team_logged_to_mlflow(tmp_path, monkeypatch, settings, team_mlflow):
    mlflow_client = team_mlflow
    feed = tmp_path / "feed"

    def edit(raw):
        raw["data"]["production"] = {"source": {"kind": "files", "path": str(feed), "partition_key": "week"}}
        raw["model"] = {"registered_model": "team_car_loans"}  # an MLflow model, of whatever flavor
        raw["data"]["reference"]["source"] = {"path": str(tmp_path / "reference.parquet")}
        raw["suites"] = ["drift", "performance", "fairness"]

    applications, repayments = demo_feed._log()
    reference = applications.merge(repayments, on="id").drop(columns=["y_pred_proba", "y_pred", "timestamp"])
    reference.head(5000).to_parquet(tmp_path / "reference.parquet")
    root, catalog = _project(tmp_path, monkeypatch, edit)
    system = catalog.system(SYSTEM)
    weeks = _weeks("2018-11-05", 2)
    (feed / "week=2018-11-05").mkdir(parents=True)
    weeks[0].to_parquet(feed / "week=2018-11-05" / "part-0.parquet")

    # The team's own training code: a LightGBM booster on four numeric columns, logged and registered the MLflow way.
    train = reference.head(4000)
    booster = lightgbm.train({"objective": "binary", "verbose": -1, "num_leaves": 8}, lightgbm.Dataset(train[NUMERIC], train.repaid),
                             num_boost_round=30)
    with mlflow.start_run():
        mlflow.lightgbm.log_model(booster, name="model", registered_model_name="team_car_loans",
                                  input_example=train[NUMERIC].head(3))

    home = settings.home
    plan = run_rai("catalog", "plan", SYSTEM, home=home)
    assert plan.returncode == 0, plan.stderr
    assert "2018-11-05" in plan.stdout and "new" in plan.stdout and "trusted on first sight tonight" in plan.stdout

    defs, wh = build_defs(), Warehouse(settings.warehouse_dir)
    with dg.DagsterInstance.get() as instance:
        _night(defs, instance, system)
        mv = registry.get(mlflow_client, "team_car_loans", "1")
        assert mv.tags[loading.TRUST_TAG] == "first sight" and mv.tags[loading.FLAVOR_TAG] == "lightgbm/lightgbm_text"
        rows = weeks[0]
        auc = wh.frame("select value from metrics where system = ? and model_version = '1' and family = 'performance' "
                       "and metric = 'auc' and slice = 'overall'", [SYSTEM]).value.iloc[0]
        assert auc == pytest.approx(roc_auc_score(rows.repaid, booster.predict(rows[NUMERIC])), abs=1e-9)

        # The directory gains a file: only it is new.
        (feed / "week=2018-11-12").mkdir()
        weeks[1].to_parquet(feed / "week=2018-11-12" / "part-0.parquet")
        [second] = launch.tick_sensor(defs, instance, system, feed=True)
        assert second.partition_key.startswith("2018-11-12.")

        # A custom pyfunc (cloudpickled) is refused by the shipped policy, in one line naming the field to change.
        with mlflow.start_run():
            mlflow.pyfunc.log_model(name="model", python_model=_Team(), registered_model_name="team_car_loans",
                                    input_example=train[NUMERIC].head(3))
        custom = registry.get(mlflow_client, "team_car_loans", "2")
        policy = catalog.policy.model_loading
        with pytest.raises(UsageError, match="serialization 'cloudpickle' is not in the policy's model_loading.serializations"):
            loading.scorer(mlflow_client, custom, policy, NUMERIC)
        # Allowed by policy and vouched for with `rai model register` (no first-sight trust), it scores.
        strict = policy.model_copy(update={"serializations": [*policy.serializations, "cloudpickle"],
                                           "trust_on_first_sight": False})
        with pytest.raises(UsageError, match="rai model register"):
            loading.scorer(mlflow_client, custom, strict, NUMERIC)
        vouched = loading.record_digest(mlflow_client, custom, strict, "rai model register")
        scores = loading.scorer(mlflow_client, vouched, strict, NUMERIC)(rows)
        z = 4.0 - 6.0 * rows.debt_to_income_ratio.to_numpy()
        np.testing.assert_allclose(scores, 1 / (1 + np.exp(-z)))

        # Bytes changed after the digest was recorded: refused before anything is deserialized.
        [stored] = list(settings.home.rglob("model.lgb"))  # the artifact store's copy, the only LightGBM model
        stored.write_text(stored.read_text() + "\n")
        with pytest.raises(UsageError, match="does not match the one recorded"):
            loading.scorer(mlflow_client, mv, policy, NUMERIC)


def test_rai_model_register_vouches_for_a_version_and_refuses_a_flavor_the_policy_excludes(tmp_path, monkeypatch, settings,
                                                                                            team_mlflow):
    mlflow_client = team_mlflow
    def edit(raw):
        raw["model"] = {"registered_model": "team_sklearn"}

    root, catalog = _project(tmp_path, monkeypatch, edit)
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({c: np.linspace(0, 1, 40) for c in NUMERIC})
    model = LogisticRegression().fit(x, np.arange(40) % 2)
    with mlflow.start_run():  # a team that kept the pickle-based format
        mlflow.sklearn.log_model(model, name="model", registered_model_name="team_sklearn", serialization_format="cloudpickle",
                                 input_example=x.head(2))
    with mlflow.start_run():  # MLflow 3's default for scikit-learn: skops
        mlflow.sklearn.log_model(model, name="model", registered_model_name="team_sklearn", input_example=x.head(2))
    refused = run_rai("model", "register", SYSTEM, "1", home=settings.home)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "serialization 'cloudpickle'" in refused.stderr
    assert not registry.get(mlflow_client, "team_sklearn", "1").artifact_sha256
    ok = run_rai("model", "register", SYSTEM, "2", home=settings.home)
    assert ok.returncode == 0, ok.stderr
    vouched = registry.get(mlflow_client, "team_sklearn", "2")
    assert vouched.tags[loading.TRUST_TAG] == "rai model register" and vouched.artifact_sha256 in ok.stdout
    np.testing.assert_allclose(loading.scorer(mlflow_client, vouched, catalog.policy.model_loading, NUMERIC)(x),
                               model.predict_proba(x)[:, 1])


def test_labels_two_nights_late_are_estimated_then_realized_with_the_estimates_error(postgres_feed, settings, mlflow_client):
    catalog, system = postgres_feed
    defs, wh = build_defs(), Warehouse(settings.warehouse_dir)

    def night():
        return _night(defs, instance, system)

    with dg.DagsterInstance.get() as instance:
        demo_feed.add_weeks(system, weeks=1, labels_lag_weeks=3)  # nights 1 and 2: applications, no repayments yet
        [w44] = night()
        demo_feed.add_weeks(system, weeks=1, labels_lag_weeks=3)
        [w45] = night()
        runs = wh.frame("select dataset_version, suite, basis from evaluation_runs where system = ? and status = 'ok'", [SYSTEM])
        assert set(runs.basis) == {"estimated"} and set(runs.dataset_version) == {w44.partition_key, w45.partition_key}
        decision = wh.frame("select verdict, reasons from gate_decisions where system = ? and dataset_version = ?",
                            [SYSTEM, w45.partition_key])
        assert set(decision.verdict) == {"unassessed"} and "labels_pending" in decision.reasons.iloc[-1]
        estimated = wh.frame("select value, ci_low, ci_high from metrics m join evaluation_runs r using (run_id) "
                             "where r.dataset_version = ? and m.family = 'performance' and m.metric = 'accuracy' "
                             "and m.slice = 'overall'", [w44.partition_key]).iloc[0]
        assert estimated.ci_low < estimated.value < estimated.ci_high

        # Night 3: week 44's repayments land. Its window is re-read (it waits for labels), a new version is
        # ingested and evaluated on its labels, and the estimate meets its realized value.
        w44_start = feeds.window_named(system.data.production.source, "2018-W44").start
        assert demo_feed.land_labels(system, before=w44_start + pd.Timedelta(days=7)) > 500
        [landed] = night()
        assert landed.partition_key.startswith("2018-W44.") and landed.partition_key != w44.partition_key
        errors = wh.frame("select * from estimate_errors where system = ? and window_label = '2018-W44'", [SYSTEM])
        rows = feeds.read(system.data.production.source, feeds.window_named(system.data.production.source, "2018-W44"))
        rows = rows.merge(feeds.read_all(system.data.production.labels.source), on="id")
        accuracy = errors[(errors.family == "performance") & (errors.metric == "accuracy") & (errors.slice == "overall")].iloc[0]
        assert accuracy.realized == pytest.approx((rows.repaid == rows.y_pred).mean(), abs=1e-12)
        assert accuracy.estimated == pytest.approx(estimated.value) and accuracy.error == pytest.approx(
            accuracy.estimated - accuracy.realized)
        assert {"tpr", "tpr_difference"} <= set(errors.metric) and errors.covered.mean() > 0.5
        kpis = wh.frame("select kpi, value from kpis where system = ?", [SYSTEM]).set_index("kpi").value
        assert kpis["estimate_abs_error"] == pytest.approx(errors.error.abs().mean())
        realized = wh.frame("select basis from evaluation_runs where dataset_version = ?", [landed.partition_key])
        assert set(realized.basis) == {"realized"}


def test_logged_predictions_of_two_model_versions_are_two_versions_each_judged_on_its_own_rows(
        tmp_path, monkeypatch, settings, mlflow_client):
    """The serving system names the model version on each row (a canary of v2 beside v1), in a DuckDB feed."""
    import duckdb

    applications, repayments = demo_feed._log()
    week = applications[(applications.timestamp >= "2018-11-05") & (applications.timestamp < "2018-11-12")]
    week = week.merge(repayments, on="id").assign(model=np.where(np.arange(len(week)) % 4 == 0, "v2-canary", "v1"))
    db = tmp_path / "serving.duckdb"
    with duckdb.connect(str(db)) as con:
        con.register("week", week)
        con.execute("create table log as select * from week")

    def edit(raw):
        raw["data"]["production"] = {"source": {"kind": "sql", "engine": "duckdb", "path": str(db), "table": "log",
                                                "time_column": "timestamp", "window": "weekly"}}
        raw["model"] = {"kind": "logged_predictions", "score_column": "y_pred_proba", "decision_column": "y_pred",
                        "version_column": "model"}
        raw["suites"] = ["drift", "performance", "fairness"]

    root, catalog = _project(tmp_path, monkeypatch, edit)
    system = catalog.system(SYSTEM)
    defs, wh = build_defs(), Warehouse(settings.warehouse_dir)
    with dg.DagsterInstance.get() as instance:
        _night(defs, instance, system)
    by_version = {registry.versions(mlflow_client, SYSTEM)[i].tags[registry.IDENTITY_TAG]: str(i + 1) for i in range(2)}
    assert set(by_version) == {"logged:v1", "logged:v2-canary"}
    n = wh.frame("select model_version, n from metrics where system = ? and family = 'performance' and metric = 'accuracy' "
                 "and slice = 'overall'", [SYSTEM]).set_index("model_version").n
    assert n[by_version["logged:v2-canary"]] == (week.model == "v2-canary").sum()
    assert n[by_version["logged:v1"]] == (week.model == "v1").sum()


def test_lineage_tells_whether_a_reference_is_held_out_from_training(settings, mlflow_client, register_model, reference):
    """A rai recipe logs the window it trained on; a team's run may log nothing (then: unknown)."""
    from rai_pipelines import lineage

    version, _ = reference
    mv = register_model(rows=2000)
    assert lineage.held_out(mlflow_client, mv, version) is None  # this fixture's run logged no input
    mlflow_client.log_inputs(mv.run_id, datasets=[lineage.dataset_input(version, "training")])
    assert lineage.held_out(mlflow_client, mv, version) is False
    other = version.__class__(**{**version.__dict__, "digest": "0" * 64})
    assert lineage.held_out(mlflow_client, mv, other) is True
