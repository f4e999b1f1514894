"""The model/system card, generated from live evidence for one release decision.

Markdown for reviewers in a repository, HTML for people. Every string that
comes from users or data (catalog text, column and group names, reasons) is
escaped in both: Jinja2 autoescaping for HTML, and HTML-escaping plus table
pipe escaping for Markdown, which is often rendered as HTML too.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import jinja2
import pandas as pd

from rai_pipelines.catalog import AssistantSystem, Catalog, System
from rai_pipelines.gate import Decision

_MD = """# Model card: {{ system.title|md }}

**System** {{ system.name|md }} · **risk tier** {{ system.risk_tier|md }} · **owner** {{ system.owner|md }}
**Model** {{ model.name|md }} v{{ model.version|md }} ({{ model.recipe|md }}, artifact sha256 {{ model.artifact_sha256|md }})
**Decision** {{ decision.verdict|upper }} · {{ decision.decision_id|md }} · policy {{ decision.policy_version|md }} · {{ decision.decided_at|md }}

## Intended use
{{ system.intended_use|md }}

## Out of scope
{{ system.out_of_scope_use|md }}

## Release decision: {{ decision.verdict|md }}
| check | status | detail |
|---|---|---|
{% for r in decision.reasons %}| {{ r.check|md }} | {{ r.status|md }} | {{ r.detail|md }} |
{% endfor %}
## Waivers applied
{% for w in decision.waivers_applied %}- {{ w.waiver_id|md }} {{ w.scope|md }}: {{ w.reason|md }} (requested by {{ w.requested_by|md }}, approved by {{ w.approved_by|md }}, expires {{ w.expires_at|md }})
{% else %}None.
{% endfor %}
## Datasheet
| | |
|---|---|
| dataset version | {{ data.key|md }} |
| digest (sha256) | {{ data.digest|md }} |
| rows | {{ data.rows|md }} |
| source | {{ data.source|md }} |
| window | {{ data.window|md }} |
| sensitive features | {{ data.sensitive|md }} |
| data quality | {{ data.quality|md }} |

## Metrics with their intervals
| family | metric | slice | value | interval | confidence | n |
|---|---|---|---|---|---|---|
{% for m in metrics %}| {{ m.family|md }} | {{ m.metric|md }} | {{ m.slice|md }} | {{ m.value|md }} | {{ m.interval|md }} | {{ m.confidence|md }} | {{ m.n|md }} |
{% endfor %}
## Robustness to input noise
{% if robustness %}| perturbation | decisions flipped | unscorable | accuracy change | most affected group |
|---|---|---|---|---|
{% for r in robustness %}| {{ r.name|md }} | {{ r.flips|md }} | {{ r.unscorable|md }} | {{ r.accuracy|md }} | {{ r.worst|md }} |
{% endfor %}{% else %}Not evaluated.
{% endif %}
## Counterfactual fairness
{% if counterfactual %}| sensitive feature | decisions flipped when only it changes | through its strongest proxies | placebo (proxies moved within the group) | excess over the placebo |
|---|---|---|---|---|
{% for r in counterfactual %}| {{ r.feature|md }} | {{ r.direct|md }} | {{ r.proxy|md }} | {{ r.placebo|md }} | {{ r.excess|md }} |
{% endfor %}{% else %}Not evaluated.
{% endif %}
## Proxies of sensitive features
{% if proxies is none %}Not evaluated.
{% elif proxies %}Features the model reads that tell a group apart with an AUC wholly above {{ proxy_auc|md }} ({{ proxy_confidence|md }} interval):

| feature | group | AUC | mutual information (nats) |
|---|---|---|---|
{% for r in proxies %}| {{ r.feature|md }} | {{ r.group|md }} | {{ r.auc|md }} | {{ r.mi|md }} |
{% endfor %}{% else %}No feature the model reads tells a group apart with an AUC wholly above {{ proxy_auc|md }}.
{% endif %}
## Explainability: what the model leans on
{% if attributions %}The features with the largest share of the mean absolute SHAP value (log-odds), with their permutation importance and how their share moved:

| feature | SHAP share | permutation importance (accuracy lost) | share change vs the reference window | share change vs the champion |
|---|---|---|---|---|
{% for r in attributions %}| {{ r.feature|md }} | {{ r.share|md }} | {{ r.importance|md }} | {{ r.vs_reference|md }} | {{ r.vs_champion|md }} |
{% endfor %}{% else %}Not evaluated.
{% endif %}
## Drift against the reference
{% if drift %}| column | method | statistic | threshold | drifted |
|---|---|---|---|---|
{% for d in drift %}| {{ d.column_name|md }} | {{ d.method|md }} | {{ d.statistic|md }} | {{ d.threshold|md }} | {{ d.drifted|md }} |
{% endfor %}{% else %}No drift result for this dataset version.
{% endif %}
## Known limitations
{% for l in limitations %}- {{ l|md }}
{% endfor %}"""

_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>Model card: {{ system.title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}.pass{color:#176b2c}.fail{color:#b00020}.waived{color:#8a5a00}</style></head><body>
<h1>Model card: {{ system.title }}</h1>
<p><b>System</b> <code>{{ system.name }}</code> · <b>risk tier</b> {{ system.risk_tier }} · <b>owner</b> {{ system.owner }}<br>
<b>Model</b> {{ model.name }} v{{ model.version }} (<code>{{ model.recipe }}</code>, artifact sha256 <code>{{ model.artifact_sha256 }}</code>)<br>
<b>Decision</b> <span class="{{ decision.verdict }}">{{ decision.verdict|upper }}</span> · <code>{{ decision.decision_id }}</code> · policy <code>{{ decision.policy_version }}</code> · {{ decision.decided_at }}</p>
<h2>Intended use</h2><p>{{ system.intended_use }}</p><h2>Out of scope</h2><p>{{ system.out_of_scope_use }}</p>
<h2>Release decision: {{ decision.verdict }}</h2><table><tr><th>check</th><th>status</th><th>detail</th></tr>
{% for r in decision.reasons %}<tr><td>{{ r.check }}</td><td class="{{ r.status }}">{{ r.status }}</td><td>{{ r.detail }}</td></tr>{% endfor %}</table>
<h2>Waivers applied</h2>{% if decision.waivers_applied %}<ul>{% for w in decision.waivers_applied %}<li><code>{{ w.waiver_id }}</code> {{ w.scope }}: {{ w.reason }} (requested by {{ w.requested_by }}, approved by {{ w.approved_by }}, expires {{ w.expires_at }})</li>{% endfor %}</ul>{% else %}<p>None.</p>{% endif %}
<h2>Datasheet</h2><table>
<tr><th>dataset version</th><td><code>{{ data.key }}</code></td></tr><tr><th>digest (sha256)</th><td><code>{{ data.digest }}</code></td></tr>
<tr><th>rows</th><td>{{ data.rows }}</td></tr><tr><th>source</th><td>{{ data.source }}</td></tr><tr><th>window</th><td>{{ data.window }}</td></tr>
<tr><th>sensitive features</th><td>{{ data.sensitive }}</td></tr><tr><th>data quality</th><td>{{ data.quality }}</td></tr></table>
<h2>Metrics with their intervals</h2><table><tr><th>family</th><th>metric</th><th>slice</th><th>value</th><th>interval</th><th>confidence</th><th>n</th></tr>
{% for m in metrics %}<tr><td>{{ m.family }}</td><td>{{ m.metric }}</td><td>{{ m.slice }}</td><td>{{ m.value }}</td><td>{{ m.interval }}</td><td>{{ m.confidence }}</td><td>{{ m.n }}</td></tr>{% endfor %}</table>
<h2>Robustness to input noise</h2>{% if robustness %}<table><tr><th>perturbation</th><th>decisions flipped</th><th>unscorable</th><th>accuracy change</th><th>most affected group</th></tr>
{% for r in robustness %}<tr><td>{{ r.name }}</td><td>{{ r.flips }}</td><td>{{ r.unscorable }}</td><td>{{ r.accuracy }}</td><td>{{ r.worst }}</td></tr>{% endfor %}</table>{% else %}<p>Not evaluated.</p>{% endif %}
<h2>Counterfactual fairness</h2>{% if counterfactual %}<table><tr><th>sensitive feature</th><th>decisions flipped when only it changes</th><th>through its strongest proxies</th><th>placebo (proxies moved within the group)</th><th>excess over the placebo</th></tr>
{% for r in counterfactual %}<tr><td>{{ r.feature }}</td><td>{{ r.direct }}</td><td>{{ r.proxy }}</td><td>{{ r.placebo }}</td><td>{{ r.excess }}</td></tr>{% endfor %}</table>{% else %}<p>Not evaluated.</p>{% endif %}
<h2>Proxies of sensitive features</h2>{% if proxies is none %}<p>Not evaluated.</p>{% elif proxies %}<p>Features the model reads that tell a group apart with an AUC wholly above {{ proxy_auc }} ({{ proxy_confidence }} interval):</p>
<table><tr><th>feature</th><th>group</th><th>AUC</th><th>mutual information (nats)</th></tr>{% for r in proxies %}<tr><td>{{ r.feature }}</td><td>{{ r.group }}</td><td>{{ r.auc }}</td><td>{{ r.mi }}</td></tr>{% endfor %}</table>
{% else %}<p>No feature the model reads tells a group apart with an AUC wholly above {{ proxy_auc }}.</p>{% endif %}
<h2>Explainability: what the model leans on</h2>{% if attributions %}<p>The features with the largest share of the mean absolute SHAP value (log-odds), with their permutation importance and how their share moved:</p>
<table><tr><th>feature</th><th>SHAP share</th><th>permutation importance (accuracy lost)</th><th>share change vs the reference window</th><th>share change vs the champion</th></tr>
{% for r in attributions %}<tr><td>{{ r.feature }}</td><td>{{ r.share }}</td><td>{{ r.importance }}</td><td>{{ r.vs_reference }}</td><td>{{ r.vs_champion }}</td></tr>{% endfor %}</table>{% else %}<p>Not evaluated.</p>{% endif %}
<h2>Drift against the reference</h2>{% if drift %}<table><tr><th>column</th><th>method</th><th>statistic</th><th>threshold</th><th>drifted</th></tr>
{% for d in drift %}<tr><td>{{ d.column_name }}</td><td>{{ d.method }}</td><td>{{ d.statistic }}</td><td>{{ d.threshold }}</td><td>{{ d.drifted }}</td></tr>{% endfor %}</table>{% else %}<p>No drift result for this dataset version.</p>{% endif %}
<h2>Known limitations</h2><ul>{% for l in limitations %}<li>{{ l }}</li>{% endfor %}</ul></body></html>"""


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]()|#<>!"})


def _md_escape(value) -> str:
    # HTML-escape (Markdown is often rendered as HTML), then neutralise code spans, links and tables.
    return html.escape(str(value), quote=True).replace("\n", " ").translate(_MD_SPECIAL)


MD_ENV = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, trim_blocks=False)
MD_ENV.filters["md"] = _md_escape
HTML_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


@dataclass(frozen=True)
class Card:
    markdown: str
    html: str


def _fmt(x) -> str:
    return "undefined" if x is None or x != x else f"{x:.4f}"


def _estimate(row) -> str:
    """'value [low, high]', or 'not measured'."""
    if row is None:
        return "not measured"
    interval = "" if row.ci_low is None or row.ci_low != row.ci_low else f" [{_fmt(row.ci_low)}, {_fmt(row.ci_high)}]"
    return f"{_fmt(row.value)}{interval}"


def _pick(metrics: pd.DataFrame, family: str, metric: str, slice_: str):
    found = metrics[(metrics.family == family) & (metrics.metric == metric) & (metrics.slice == slice_)]
    return next(found.itertuples(), None)


def _robustness(metrics: pd.DataFrame) -> list[dict]:
    flips = metrics[(metrics.family == "robustness") & metrics.metric.str.endswith("_flip_rate")]
    out = []
    for metric in sorted(flips.metric.unique()):
        name = metric.removesuffix("_flip_rate")
        groups = flips[(flips.metric == metric) & (flips.slice != "overall")]
        worst = groups.loc[groups.value.idxmax()] if not groups.empty else None
        out.append({"name": name, "flips": _estimate(_pick(metrics, "robustness", metric, "overall")),
                    "unscorable": _estimate(_pick(metrics, "robustness", f"{name}_unscorable_rate", "overall")),
                    "accuracy": _estimate(_pick(metrics, "robustness", f"{name}_accuracy_change", "overall")),
                    "worst": "" if worst is None else f"{worst.slice}: {_fmt(worst.value)} flipped"})
    return out


def _counterfactual(system: System, metrics: pd.DataFrame) -> list[dict]:
    if metrics[metrics.family == "counterfactual"].empty:
        return []
    return [{"feature": f, **{key: _estimate(_pick(metrics, "counterfactual", metric, f)) for key, metric in
                              [("direct", "flip_rate"), ("proxy", "proxy_flip_rate"), ("placebo", "proxy_placebo_flip_rate"),
                               ("excess", "proxy_flip_excess")]}}
            for f in system.data.sensitive_features]


def _proxies(metrics: pd.DataFrame, threshold: float) -> list[dict] | None:
    rows = metrics[metrics.family == "proxies"]
    if rows.empty:
        return None
    mi = {r.slice: r.value for r in rows[rows.metric == "mutual_information"].itertuples()}
    found = rows[(rows.metric == "proxy_auc") & (rows.ci_low > threshold)].sort_values("value", ascending=False)
    return [{"feature": r.slice.split("|")[0], "group": r.slice.split("|")[1], "auc": _estimate(r),
             "mi": _fmt(mi.get(f"{r.slice.split('|')[0]}|{r.slice.split('|')[1].split('=')[0]}"))} for r in found.itertuples()]


TOP_ATTRIBUTIONS = 8


def _attributions(metrics: pd.DataFrame) -> list[dict]:
    """The features with the largest SHAP shares, and those whose share moved most (wholly away from 0)."""
    rows = metrics[metrics.family == "attributions"]
    shares = rows[rows.metric == "shap_share"].sort_values("value", ascending=False)
    moved = rows[rows.metric.str.startswith("shap_share_change") & ((rows.ci_low > 0) | (rows.ci_high < 0))]
    top = list(dict.fromkeys([*shares.slice[:TOP_ATTRIBUTIONS],
                              *moved.assign(size=moved.value.abs()).sort_values("size", ascending=False).slice]))
    return [{"feature": f, "share": _estimate(_pick(metrics, "attributions", "shap_share", f)),
             "importance": _estimate(_pick(metrics, "attributions", "permutation_importance", f)),
             "vs_reference": _estimate(_pick(metrics, "attributions", "shap_share_change_vs_reference", f)),
             "vs_champion": _estimate(_pick(metrics, "attributions", "shap_share_change_vs_champion", f))} for f in top]


def card_context(
    catalog: Catalog, system: System | AssistantSystem, decision: Decision, model: dict, dataset: dict, metrics: pd.DataFrame,
    quality: pd.DataFrame, drift: pd.DataFrame,
) -> dict:
    sensitive = ("; ".join(f"{f} ({spec.title}): {', '.join(spec.groups)}" for f, spec in system.data.sensitive_features.items())
                 if system.kind == "tabular_classifier" else "not applicable (an LLM assistant: see safety, privacy and grounding)")
    if quality.empty:
        q = "not checked"
    else:
        failed = quality[~quality.success.astype(bool)]
        q = f"{len(quality) - len(failed)}/{len(quality)} expectations met" + (
            f"; failed: {', '.join(failed.expectation + '(' + failed.column_name.fillna('') + ')')}" if len(failed) else "")
    # The probing families have sections of their own below.
    tabled = metrics[~metrics.family.isin(["robustness", "counterfactual", "proxies", "attributions"])]
    shown = tabled[(tabled.slice == "overall") | (~tabled.metric.str.endswith("_vs_reference") & tabled.metric.isin(
        ["selection_rate", "tpr", "fpr", "accuracy", "auc", "ece", "tpr_difference", "selection_rate_difference",
         "tpr_difference_change", "selection_rate_difference_change", "accuracy_change"]))]
    # Each suite sets its own confidence: the card states the one each interval was computed at.
    confidence = {suite.family: f"{suite.confidence:.0%}" for suite in catalog.suites_for(system)}
    rows = [
        {"family": r.family, "metric": r.metric, "slice": r.slice, "value": _fmt(r.value),
         "interval": "" if r.ci_low is None or r.ci_low != r.ci_low else f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]",
         "confidence": confidence.get(r.family, "") if r.ci_low == r.ci_low and r.ci_low is not None else "", "n": int(r.n)}
        for r in shown.sort_values(["family", "metric", "slice"]).itertuples()
    ]
    limitations = list(system.known_limitations)
    small = metrics[(metrics.family == "fairness") & (metrics.slice.str.contains("=")) &
                    (metrics.n < catalog.policy.tier_for(system).min_group_size)].slice.unique()
    if len(small):
        limitations.append(f"Groups below the policy's minimum size on this batch: {', '.join(sorted(small))}.")
    drifted = drift[drift.drifted.fillna(False).astype(bool)].column_name.tolist() if not drift.empty else []
    if drifted:
        limitations.append(f"Columns drifting against the reference on this batch: {', '.join(drifted)}.")
    d = decision.to_dict()
    return {
        # An assistant's system prompt and corpus hold the planted secrets and personal data: never in evidence.
        "system": system.model_dump(exclude={"system_prompt", "planted_secrets", "corpus"}), "model": model, "decision": d, "data": dataset, "metrics": rows,
        "drift": [
            {"column_name": r.column_name, "method": r.method or "not assessed", "statistic": _fmt(r.statistic),
             "threshold": r.threshold, "drifted": r.drifted} for r in drift.itertuples()
        ],
        "limitations": limitations,
        "quality": q,
        "robustness": _robustness(metrics),
        "attributions": _attributions(metrics),
        "counterfactual": _counterfactual(system, metrics) if system.kind == "tabular_classifier" else [],
        "proxies": _proxies(metrics, catalog.policy.tier_for(system).proxy_auc) if system.kind == "tabular_classifier" else None,
        "proxy_auc": catalog.policy.tier_for(system).proxy_auc,
        "proxy_confidence": confidence.get("proxies", ""),
        **{"data": {**dataset, "sensitive": sensitive, "quality": q}},
    }


def render(context: dict) -> Card:
    return Card(MD_ENV.from_string(_MD).render(**context), HTML_ENV.from_string(_HTML).render(**context))
