"""`rai gate` fails closed: a model version with no evaluation is unassessed (exit 3), and recorded."""

import json

from rai_pipelines.cli import main
from rai_pipelines.warehouse import Warehouse


def test_never_evaluated_version_is_unassessed_exit_3(settings, register_model, capsys):
    mv = register_model(rows=2000)
    code = main(["gate", "acs_employment", "--model-version", mv.version, "--json"])
    assert code == 3
    decision = json.loads(capsys.readouterr().out)
    assert decision["verdict"] == "unassessed"
    assert {r["check"] for r in decision["reasons"]} >= {"suite:performance", "suite:fairness"}
    recorded = Warehouse(settings.warehouse_dir).frame("select model_version, verdict from gate_decisions")
    assert recorded.to_dict("records") == [{"model_version": mv.version, "verdict": "unassessed"}]


def test_usage_error_is_exit_2_one_line(settings, capsys):
    assert main(["gate", "acs_employment"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--model-version" in err


def test_query_as_of_answers_as_the_warehouse_stood_and_refuses_a_bad_moment_in_one_line(settings, capsys):
    wh = settings.warehouse()
    row = {"system": "s", "dataset_version": "d1", "label": "2016-Q1", "kind": "production", "digest": "x", "rows": 10,
           "source": "replay", "schema": "{}", "registered_at": None}
    wh.write("dataset_versions", "s", "d1", [row])
    first = wh.snapshot()
    wh.write("dataset_versions", "s", "d2", [{**row, "dataset_version": "d2"}])
    assert main(["query", "select count(*) as n from dataset_versions", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 2}]
    assert main(["query", "select count(*) as n from dataset_versions", "--format", "json", "--as-of", str(first)]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 1}]
    assert main(["query", "--snapshots", "--format", "json"]) == 0
    assert first in [s["snapshot_id"] for s in json.loads(capsys.readouterr().out)]
    assert main(["query", "select 1", "--as-of", "last tuesday"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--as-of" in err
