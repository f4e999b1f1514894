"""A technical-documentation draft per system and release, structured by the EU AI Act's Annex IV.

Filled from the same live evidence as the card (the decision, its metrics, the datasheet, the policy) and from
the governance record (waivers, reviews, incidents, the model versions' lineage). Points the pipeline cannot
evidence (harmonised standards applied, the declaration of conformity) say so, for the provider to complete.
One list of sections renders to Markdown and to HTML, every user or data string escaped as on the card.
"""

from __future__ import annotations

import pandas as pd

from rai_pipelines.catalog import Catalog
from rai_pipelines.evidence.card import HTML_ENV, MD_ENV, Card
from rai_pipelines.governance import incidents, reviews
from rai_pipelines.warehouse import Warehouse

_MD = """# Technical documentation (draft): {{ title|md }}

Drawn up from live evidence under EU AI Act Art. 11 and Annex IV for {{ subject|md }}.
Generated {{ generated|md }}; a draft for the provider to complete and sign.
{% for s in sections %}
## {{ s.title|md }}
{% for p in s.paragraphs %}
{{ p|md }}
{% endfor %}{% if s.head %}
| {% for h in s.head %}{{ h|md }} | {% endfor %}
|{% for h in s.head %}---|{% endfor %}
{% for row in s.rows %}| {% for c in row %}{{ c|md }} | {% endfor %}
{% endfor %}{% endif %}{% endfor %}"""

_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>Technical documentation (draft): {{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}</style></head><body>
<h1>Technical documentation (draft): {{ title }}</h1>
<p>Drawn up from live evidence under EU AI Act Art. 11 and Annex IV for {{ subject }}.
Generated {{ generated }}; a draft for the provider to complete and sign.</p>
{% for s in sections %}<h2>{{ s.title }}</h2>{% for p in s.paragraphs %}<p>{{ p }}</p>{% endfor %}
{% if s.head %}<table><tr>{% for h in s.head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in s.rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>{% endif %}{% endfor %}
</body></html>"""


def _section(title: str, *paragraphs: str, head: list[str] | None = None, rows: list[list] | None = None) -> dict:
    return {"title": title, "paragraphs": [p for p in paragraphs if p], "head": head or [], "rows": rows or []}


def sections(catalog: Catalog, system, context: dict, warehouse: Warehouse) -> list[dict]:
    """Annex IV's points, filled from the card's context and the governance record."""
    tier = catalog.policy.tier_for(system)
    decision, model, data = context["decision"], context["model"], context["data"]
    versions = warehouse.frame("select model_version, artifact_sha256, recipe, registered_at from model_versions "
                               "where system = ? qualify row_number() over (partition by model_version order by recorded_at desc) = 1 "
                               "order by registered_at", [system.name])
    found = [i for i in incidents.current(warehouse, system.name)]
    decided = [r for r in reviews.current(warehouse, system.name) if r.model_version == str(model["version"])]
    checks = [[r["check"], r["status"], r["detail"]] for r in decision["reasons"]]
    rules = catalog.policy.incidents
    return [
        _section("1. General description of the AI system",
                 f"{system.title}: {system.description}", f"Intended purpose: {system.intended_use}",
                 f"Out of scope: {system.out_of_scope_use}", f"Provider's owner: {system.owner}. Risk tier: {system.risk_tier}.",
                 f"Version documented: {model['name']} v{model['version']} ({model['recipe']}), artifact sha256 "
                 f"{model['artifact_sha256']}."),
        _section("2. Elements of the system and the process of its development",
                 f"(d) Data: dataset version {data['key']} (sha256 {data['digest']}), {data['rows']} rows from {data['source']}, "
                 f"window {data['window']}. Sensitive features: {data['sensitive']}. Data quality: {data['quality']}.",
                 "(g) Validation and testing: the suites below were run on that dataset version, with the metrics and "
                 "intervals of the card (metrics.csv); each check is judged on its interval at the tier's error control "
                 f"(alpha {decision['error_control'].get('alpha')}, {decision['error_control'].get('multiplicity')}).",
                 head=["check", "status", "detail"], rows=checks),
        _section("3. Monitoring, functioning and control",
                 "Capabilities and limitations in performance, including for the groups the system is used on, are the "
                 "card's metrics per group; its known limitations:", *[f"- {x}" for x in context["limitations"]],
                 *(f"Robustness: {r['name']} flips {r['flips']} of decisions (most affected {r['worst'] or 'n/a'})."
                   for r in context["robustness"])),
        _section("4. Appropriateness of the performance metrics",
                 f"The '{system.risk_tier}' tier judges {len(tier.checks)} checks and {len(tier.regression)} regressions "
                 f"against the model in service; a release needs {tier.release.consecutive_passes} passing nights in a row, "
                 f"each at level {decision['error_control'].get('night_alpha', 0):.3g}, so that a violating version is "
                 f"released with probability at most {tier.alpha} over {tier.release.horizon_nights} nights.",
                 head=["check", "metric", "slice", "requirement"],
                 rows=[[c.name, c.metric + (f" ({c.disparity})" if c.disparity else ""), c.slice, f"{c.op} {c.threshold}"]
                       for c in tier.checks]),
        _section("5. Risk management system (Art. 9)",
                 f"Policy version {decision['policy_version']}. Decision {decision['decision_id']}: {decision['verdict']}.",
                 f"Waivers accepting residual risk: {len(decision['waivers_applied'])} applied"
                 + "".join(f"; {w['waiver_id']} ({w['scope']}) approved by {w['approved_by']} until {w['expires_at']}"
                           for w in decision["waivers_applied"]) + ".",
                 f"Reviews of this version: {len(decided)}" + "".join(
                     f"; {r.review_id} {r.status} by {r.decided_by or 'pending'}" for r in decided) + "."),
        _section("6. Changes through the lifecycle",
                 head=["model version", "artifact sha256", "recipe", "registered"],
                 rows=[[r.model_version, r.artifact_sha256, r.recipe,
                        f"{r.registered_at:%Y-%m-%d %H:%M}" if pd.notna(r.registered_at) else ""] for r in versions.itertuples()]),
        _section("7. Harmonised standards and other specifications applied",
                 "To be completed by the provider. Control frameworks evidenced by this pipeline: "
                 + "; ".join(sorted(set(catalog.frameworks.values()))) + " (`rai controls coverage`)."),
        _section("8. EU declaration of conformity", "To be completed by the provider (Art. 47)."),
        _section("9. Post-market monitoring (Art. 72)",
                 "The model in service is evaluated on every production batch and monitored at the tier's false-alarm "
                 f"level ({tier.monitoring.false_alarms_per_year} a year); drift is checked on every batch. Findings that open "
                 "incidents: " + (", ".join(f"{k} ({v})" for k, v in rules.rules.items()) or "none") + ".",
                 head=["incident", "finding", "severity", "status", "opened", "summary"],
                 rows=[[i.incident_id, i.finding, i.severity, i.status, f"{i.opened_at:%Y-%m-%d %H:%M}", i.summary] for i in found]),
    ]


def render(catalog: Catalog, system, context: dict, warehouse: Warehouse, generated: str) -> Card:
    values = {"title": system.title, "subject": f"{system.name} v{context['model']['version']}", "generated": generated,
              "sections": sections(catalog, system, context, warehouse)}
    return Card(MD_ENV.from_string(_MD).render(**values), HTML_ENV.from_string(_HTML).render(**values))
