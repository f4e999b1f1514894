"""`rai report trends`: one self-contained HTML page (plotly.js inlined, no network) for governance.

Per system: KPI tiles, the judged metrics over nightly batches with their
intervals, drift per column, gate verdicts, and a lineage table from each
decision to its dataset digest, model artifact, code, policy and MLflow runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pandas as pd
import plotly.io as pio
from plotly.offline import get_plotlyjs

from rai_pipelines.atomic import atomic_path
from rai_pipelines.catalog import Catalog
from rai_pipelines.errors import UsageError
from rai_pipelines.governance import controls, incidents
from rai_pipelines.lineage import RunRef, run_url
from rai_pipelines.report import figures, queries
from rai_pipelines.warehouse import Warehouse

_HOURS = {"time_to_decision_hours": "versions", "mttd_hours": "incidents", "mttm_hours": "incidents",
          "review_cycle_hours": "reviews"}  # KPIs in hours, and what their denominator counts


@dataclass
class Report:
    path: Path
    plots: int
    seconds: dict[str, float] = field(default_factory=dict)  # per query, and "total"


def _figure_html(fig, div_id: str) -> str:
    # The JSON goes inside <script>; plotly's encoder writes '<', '>' and '/' as \u escapes, so no label can
    # close the tag (tests/integration/test_report.py holds it to that).
    payload = pio.to_json(fig, validate=False)
    return (f'<div class="plot" id="{div_id}"></div><script>(function(){{var f={payload};'
            f'Plotly.newPlot("{div_id}", f.data, f.layout, {{displaylogo: false, responsive: true}});}})();</script>')


def _tile(row) -> dict:
    basis = f"{row.numerator:g} / {row.denominator:g}"
    if row.kpi in _HOURS:
        shown = f"{row.value * 60:.1f} min" if row.value < 1 else f"{row.value:.1f} h"
        basis = f"{row.numerator:.2f} h / {row.denominator:g} {_HOURS[row.kpi]}"
    else:
        shown = "n/a" if pd.isna(row.value) else f"{row.value:.0%}" if abs(row.value) <= 1 else f"{row.value:.3g}"
    return {"kpi": row.kpi.replace("_", " "), "value": shown, "period": row.period, "basis": basis}


_AGAINST = {"reference": "the reference window", "champion": "the champion"}


def _changes(frame: pd.DataFrame) -> list[dict]:
    """The attribution changes table: rows of the latest batch, those whose interval lies wholly off zero first."""
    return [{"model_version": r.model_version, "label": r.label, "feature": r.feature,
             "against": _AGAINST.get(r.against, r.against), "change": f"{r.value:+.3f}",
             "interval": "" if pd.isna(r.ci_low) else f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]",
             "moved": "yes" if r.moved else "no"} for r in frame.itertuples()]


def _controls(catalog: Catalog, warehouse: Warehouse, system: str) -> list[dict]:
    """The control coverage table: each control with its status, the evidence found and what lacks."""
    if system not in catalog.systems or not catalog.controls:
        return []
    return [{"id": c.control.id, "title": c.control.title, "status": c.status,
             "evidence": "; ".join(str(x) for x in c.satisfied_by),
             "missing": "; ".join(str(x) for x in c.lacking) or ("nothing serves it" if c.status == "missing" else "")}
            for c in controls.coverage(catalog, warehouse, system)]


def _incidents(warehouse: Warehouse, system: str) -> list[dict]:
    now = datetime.now(UTC)
    return [{"id": i.incident_id, "finding": i.finding, "severity": i.severity, "status": i.status,
             "opened": f"{i.opened_at:%Y-%m-%d %H:%M}", "occurrences": i.occurrences, "owner": i.owner,
             "overdue": ", ".join(i.overdue(now)), "summary": i.summary}
            for i in incidents.current(warehouse, system)]


def build(catalog: Catalog, warehouse: Warehouse, out: Path, mlflow_ui_url: str = "") -> Report:
    started = time.perf_counter()
    if out.exists() and not out.is_dir():
        raise UsageError(f"report: --out {out} is a file; give a directory")
    keys = queries.key_metrics(catalog)
    timed: dict[str, float] = {}
    with warehouse.connect() as con:
        def run(name: str, sql: str, params: list | None = None) -> pd.DataFrame:
            t = time.perf_counter()
            frame = con.execute(sql, params or []).df()
            timed[name] = time.perf_counter() - t
            return frame

        kpis = run("kpis", queries.KPIS)
        trends = run("metric_trends", *queries.metric_trends(keys))
        drift = run("drift", queries.DRIFT)
        attributions = run("attributions", queries.ATTRIBUTIONS)
        changes = run("attribution_changes", queries.ATTRIBUTION_CHANGES)
        verdicts = run("verdicts", queries.VERDICTS)
        lineage = run("lineage", queries.LINEAGE)
        counts = run("counts", queries.COUNTS).iloc[0].to_dict()

    sections, plots = [], 0
    systems = sorted(set(trends.system) | set(verdicts.system) | set(drift.system) | set(lineage.system)) or sorted(catalog.systems)
    for system in systems:
        mine = [k for k in keys if k.system == system]
        parts = {"name": system, "tiles": [], "plots": [], "lineage": [], "changes": _changes(changes[changes.system == system]),
                 "controls": _controls(catalog, warehouse, system), "incidents": _incidents(warehouse, system)}
        explained = catalog.systems[system] if system in catalog.systems else None
        attributions_suite = catalog.dataset_suite(explained, "attributions") if explained else None
        # The latest period per KPI; where a KPI has the system's own row and the all-systems one, the system's.
        mine_kpis = kpis[kpis.system.isin([system, "*"])]
        mine_kpis = mine_kpis.assign(own=mine_kpis.system == system)
        latest = mine_kpis.sort_values(["period", "own"], kind="stable").groupby("kpi", sort=True).tail(1)
        parts["tiles"] = [_tile(r) for r in latest.itertuples()]
        for title, fig in (
            ("Judged metrics", figures.key_metrics(mine, trends[trends.system == system]) if mine and (trends.system == system).any() else None),
            ("Gate verdicts", figures.verdicts(verdicts[verdicts.system == system]) if (verdicts.system == system).any() else None),
            ("Drift", figures.drift(drift[drift.system == system]) if (drift.system == system).any() else None),
            ("Attributions", figures.attributions(attributions[attributions.system == system],
                                                  attributions_suite.confidence if attributions_suite else 0.95)
             if (attributions.system == system).any() else None),
        ):
            if fig is not None:
                plots += 1
                parts["plots"].append({"title": title, "html": _figure_html(fig, f"plot-{plots}")})
        for r in lineage[lineage.system == system].itertuples():
            runs = [x for x in (r.mlflow_runs if r.mlflow_runs is not None else []) if x and x.get("run")]
            parts["lineage"].append({
                "decided_at": f"{r.decided_at:%Y-%m-%d %H:%M}", "verdict": r.verdict + (" (waived)" if r.waived else ""),
                "model_version": r.model_version, "artifact": (r.artifact_sha256 or "")[:12], "label": r.label or r.dataset_version,
                "dataset_digest": (r.dataset_digest or "")[:12], "policy": r.policy_version[:12], "code": r.code_version,
                "decision_id": r.decision_id,
                "runs": [{"suite": x["suite"], "id": x["run"][:8],
                          "url": run_url(mlflow_ui_url, RunRef(x["experiment"], x["run"])) if mlflow_ui_url and x.get("experiment") else ""}
                         for x in runs],
            })
        sections.append(parts)

    html = _PAGE.render(
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), sections=sections, counts=counts,
        lineage_rows=queries.LINEAGE_ROWS, plotly_js=get_plotlyjs(), verdict_colours=figures.VERDICT_COLOURS,
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    with atomic_path(path) as tmp:
        Path(tmp).write_text(html, encoding="utf-8")
    timed["total"] = time.perf_counter() - started
    (out / "timings.json").write_text(json.dumps(timed, indent=2))
    return Report(path, plots, timed)


_PAGE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rai-pipelines: governance trends</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { font-family: system-ui, sans-serif; margin: 0 2rem 3rem; color: #212121; }
 h1 { margin-bottom: .2rem; } .sub { color: #616161; margin-top: 0; }
 .tiles { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
 .tile { border: 1px solid #e0e0e0; border-radius: 8px; padding: .7rem 1rem; min-width: 11rem; background: #fafafa; }
 .tile .v { font-size: 1.6rem; font-weight: 600; } .tile .k { color: #424242; } .tile .b { color: #757575; font-size: .8rem; }
 .plot { width: 100%; min-height: 360px; }
 table { border-collapse: collapse; font-size: .82rem; } th, td { border-bottom: 1px solid #eee; padding: .3rem .5rem; text-align: left; }
 code { font-size: .8rem; }
</style>
<script>{{ plotly_js | safe }}</script></head>
<body>
<h1>Governance trends</h1>
<p class="sub">Generated {{ generated }} from the warehouse: {{ '%d' % counts.evaluations }} evaluations,
{{ '%d' % counts.metric_rows }} metric rows, {{ '%d' % counts.decisions }} gate decisions.
Every number here can be recomputed with <code>rai query</code>; KPI tiles show the latest period with numerator / denominator.</p>
{% for s in sections %}
<section class="system" id="system-{{ s.name }}">
<h2>{{ s.name }}</h2>
<div class="tiles">
{% for t in s.tiles %}<div class="tile kpi" data-kpi="{{ t.kpi }}"><div class="k">{{ t.kpi }}</div><div class="v">{{ t.value }}</div>
<div class="b">{{ t.basis }} &middot; {{ t.period }}</div></div>
{% else %}<p>No KPIs yet: no gate decision or evidence has been recorded.</p>{% endfor %}
</div>
{% for p in s.plots %}<h3>{{ p.title }}</h3>{{ p.html | safe }}{% endfor %}
{% if s.changes %}<h3>Attribution changes on the latest batch</h3>
<p class="sub">How each feature's SHAP share moved; "moved" when its interval lies wholly off zero.</p>
<table class="attribution-changes"><thead><tr><th>model</th><th>batch</th><th>feature</th><th>against</th><th>change in share</th>
<th>interval</th><th>moved</th></tr></thead><tbody>
{% for r in s.changes %}<tr><td>v{{ r.model_version }}</td><td>{{ r.label }}</td><td>{{ r.feature }}</td><td>{{ r.against }}</td>
<td>{{ r.change }}</td><td>{{ r.interval }}</td><td>{{ r.moved }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
{% if s.incidents %}<h3>Incidents</h3>
<table class="incidents"><thead><tr><th>incident</th><th>finding</th><th>severity</th><th>status</th><th>opened</th>
<th>seen</th><th>owner</th><th>overdue</th><th>summary</th></tr></thead><tbody>
{% for i in s.incidents %}<tr><td><code>{{ i.id }}</code></td><td>{{ i.finding }}</td><td>{{ i.severity }}</td><td>{{ i.status }}</td>
<td>{{ i.opened }}</td><td>{{ i.occurrences }}</td><td>{{ i.owner }}</td><td>{{ i.overdue }}</td><td>{{ i.summary }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
{% if s.controls %}<h3>Control coverage</h3>
<table class="controls"><thead><tr><th>control</th><th>status</th><th>evidence</th><th>missing</th></tr></thead><tbody>
{% for c in s.controls %}<tr><td><code>{{ c.id }}</code> {{ c.title }}</td><td>{{ c.status }}</td><td>{{ c.evidence }}</td>
<td>{{ c.missing }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
<h3>Lineage (latest {{ lineage_rows }} decisions)</h3>
<table class="lineage"><thead><tr><th>decided</th><th>verdict</th><th>model</th><th>artifact</th><th>batch</th><th>dataset digest</th>
<th>policy</th><th>code</th><th>MLflow runs</th><th>decision</th></tr></thead><tbody>
{% for r in s.lineage %}<tr><td>{{ r.decided_at }}</td><td>{{ r.verdict }}</td><td>v{{ r.model_version }}</td><td><code>{{ r.artifact }}</code></td>
<td>{{ r.label }}</td><td><code>{{ r.dataset_digest }}</code></td><td><code>{{ r.policy }}</code></td><td><code>{{ r.code }}</code></td>
<td>{% for x in r.runs %}{% if x.url %}<a href="{{ x.url }}">{{ x.suite }}</a>{% else %}{{ x.suite }} <code>{{ x.id }}</code>{% endif %}{% if not loop.last %}, {% endif %}{% endfor %}</td>
<td><code>{{ r.decision_id }}</code></td></tr>
{% endfor %}</tbody></table>
</section>
{% endfor %}
</body></html>
""")
