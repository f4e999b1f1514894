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
