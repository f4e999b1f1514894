"""Run a data-quality suite (assets/suites/, family data_quality) with Great Expectations 1.x.

Each expectation in the suite is `{expect_snake_case_name: {kwargs}}`, the
names and arguments of GX's own expectation classes, so a GX user reads the
suite as GX. Validation runs in an ephemeral context: nothing is written to a
GX project directory, and GX's usage analytics are off (no network).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import pandas as pd

from rai_pipelines.errors import CatalogError

if TYPE_CHECKING:  # the suite's content is in its digest; its class is no part of this family's code
    from rai_pipelines.catalog import Suite


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    observed: str  # JSON of GX's observed value / unexpected counts
    kwargs: str


@dataclass(frozen=True)
class QualityResult:
    suite: str
    success: bool
    outcomes: list[ExpectationOutcome]

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def to_json(self) -> dict:
        return {"suite": self.suite, "success": self.success, "expectations": [asdict(o) for o in self.outcomes]}

    def markdown(self) -> str:
        lines = ["| expectation | column | result | observed |", "|---|---|---|---|"]
        for o in self.outcomes:
            lines.append(f"| {o.expectation} | {o.column or ''} | {'pass' if o.success else '**FAIL**'} | {o.observed[:120]} |")
        return "\n".join(lines)


def _class_name(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def validate(frame: pd.DataFrame, suite: Suite, where: str) -> QualityResult:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    expectations = []
    for item in suite.expectations:
        (name, kwargs), = item.items()
        cls = getattr(gx.expectations, _class_name(name), None)
        if cls is None:
            raise CatalogError(f"assets/suites/{suite.name}.yaml: {name!r} is not a Great Expectations expectation; see gx.expectations")
        try:
            expectations.append(cls(**kwargs))
        except Exception as exc:  # noqa: BLE001 - pydantic errors from GX: one line for the suite author
            first = str(exc).splitlines()
            raise CatalogError(f"assets/suites/{suite.name}.yaml: {name}: {first[1].strip() if len(first) > 1 else first[0]}") from None

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    source = context.data_sources.add_pandas("rai")
    batch = source.add_dataframe_asset(where).add_batch_definition_whole_dataframe("all").get_batch(
        batch_parameters={"dataframe": frame}
    )
    result = batch.validate(gx.ExpectationSuite(name=suite.name, expectations=expectations))
    outcomes = []
    for r in result.results:
        config = r.expectation_config
        kwargs = {k: v for k, v in config.kwargs.items() if k not in {"batch_id"}}
        unexpected = {k: v for k, v in r.result.items() if k.startswith("unexpected_") and k != "unexpected_list"}
        observed = r.result.get("observed_value", unexpected)
        if r.exception_info and r.exception_info.get("raised_exception"):
            observed = {"error": r.exception_info.get("exception_message")}
        outcomes.append(
            ExpectationOutcome(
                expectation=config.type,
                column=kwargs.get("column"),
                success=bool(r.success),
                observed=json.dumps(observed, default=str),
                kwargs=json.dumps(kwargs, default=str, sort_keys=True),
            )
        )
    return QualityResult(suite.name, bool(result.success), outcomes)
