"""Plotly figures of the trend report, one function per plot, built from the report's query frames."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from rai_pipelines.report.queries import KeyMetric

VERDICT_COLOURS = {
    "pass": "#2e7d32",
    "pass (waived)": "#9ccc65",
    "insufficient_evidence": "#f9a825",
    "unassessed": "#9e9e9e",
    "fail": "#c62828",
}
_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=30, t=90, b=60), font=dict(size=12),
               legend=dict(yanchor="top", y=1, xanchor="left", x=1.01))


def _name(model_version: str) -> str:
    """'v3' for a registry version, the digest-named version of an assistant as it is."""
    return f"v{model_version}" if model_version.isdigit() else model_version


def _colour(model_version: str, versions: list[str]) -> str:
    return qualitative.Plotly[versions.index(model_version) % len(qualitative.Plotly)]


def _batches(frame: pd.DataFrame) -> list[str]:
    """Dataset version labels in arrival order: the x axis of every trend."""
    return list(dict.fromkeys(frame.sort_values("registered_at").label))


def key_metrics(keys: list[KeyMetric], trends: pd.DataFrame) -> go.Figure:
    """One panel per gate check: the judged metric per model version with its interval (at its suite's confidence), and
    the threshold."""
    cols = 2
    rows = max(1, math.ceil(len(keys) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"{k.check}: {k.metric} [{k.slice}]" for k in keys],
                        vertical_spacing=0.5 / rows, horizontal_spacing=0.08)
    trends = trends.sort_values("registered_at")
    versions = sorted(trends.model_version.unique(), key=lambda v: (len(v), v))
    batches = _batches(trends)
    for i, key in enumerate(keys):
        row, col = i // cols + 1, i % cols + 1
        mine = trends[(trends.metric == key.metric) & (trends.slice == key.slice) & (trends.family == key.family)]
        for version in versions:
            line = mine[mine.model_version == version]
            if line.empty:
                continue
            colour = _colour(version, versions)
            band = line.dropna(subset=["ci_low", "ci_high"])
            if not band.empty:
                fig.add_trace(go.Scatter(
                    x=list(band.label) + list(band.label[::-1]), y=list(band.ci_high) + list(band.ci_low[::-1]),
                    fill="toself", fillcolor=colour, opacity=0.18, line=dict(width=0), hoverinfo="skip",
                    legendgroup=_name(version), showlegend=False, name=f"{_name(version)} {key.confidence:.0%} interval"), row=row, col=col)
            fig.add_trace(go.Scatter(
                x=line.label, y=line.value, mode="lines+markers", line=dict(color=colour, width=2), marker=dict(size=5),
                name=f"model {_name(version)}", legendgroup=_name(version), showlegend=i == 0,
                customdata=line[["ci_low", "ci_high", "n"]].to_numpy(),
                hovertemplate=f"{_name(version)} %{{x}}<br>{key.metric} = %{{y:.4f}}<br>{key.confidence:.0%} interval "
                              "[%{customdata[0]:.4f}, %{customdata[1]:.4f}]<extra></extra>"), row=row, col=col)
        fig.add_hline(y=key.threshold, line=dict(color="#c62828", dash="dash", width=1), row=row, col=col,
                      annotation_text=f"required {key.op} {key.threshold}", annotation_position="top left",
                      annotation_font=dict(size=10, color="#c62828"))
        fig.update_xaxes(categoryorder="array", categoryarray=batches, row=row, col=col)
    fig.update_xaxes(title_text="nightly batch (arrival order)", row=rows)
    fig.update_layout(**_LAYOUT, height=max(360, 290 * rows),
                      title="Judged metrics per model version over nightly batches "
                            "(line: value; band: interval at its suite's confidence; dashed: policy threshold)")
    return fig


TOP_FEATURES = 6


def attributions(frame: pd.DataFrame, confidence: float) -> go.Figure:
    """One panel per model version: the SHAP share of its most-attributed features over nightly batches, with their
    intervals: a feature whose share climbs or falls is an attribution drift."""
    frame = frame.sort_values("registered_at")
    versions = sorted(frame.model_version.unique(), key=lambda v: (len(v), v))
    fig = make_subplots(rows=len(versions), cols=1, shared_xaxes=True, vertical_spacing=0.3 / max(1, len(versions)),
                        subplot_titles=[f"model {_name(v)}" for v in versions])
    batches = _batches(frame)
    features = sorted(frame.feature.unique())  # one colour per feature across the panels
    shown: set[str] = set()
    for row, version in enumerate(versions, start=1):
        mine = frame[frame.model_version == version]
        top = mine.groupby("feature").value.mean().sort_values(ascending=False).index[:TOP_FEATURES]
        for feature in top:
            line = mine[mine.feature == feature]
            colour = qualitative.Dark24[features.index(feature) % len(qualitative.Dark24)]
            fig.add_trace(go.Scatter(
                x=line.label, y=line.value, mode="lines+markers", line=dict(color=colour, width=2), marker=dict(size=5),
                error_y=dict(type="data", symmetric=False, array=line.ci_high - line.value, arrayminus=line.value - line.ci_low,
                             thickness=1, width=2),
                name=feature, legendgroup=feature, showlegend=feature not in shown,
                hovertemplate=f"{feature} %{{x}}<br>share = %{{y:.3f}}<extra>{_name(version)}</extra>"), row=row, col=1)
            shown.add(feature)
        fig.update_xaxes(categoryorder="array", categoryarray=batches, row=row, col=1)
        fig.update_yaxes(title_text="SHAP share", row=row, col=1)
    fig.update_xaxes(title_text="nightly batch (arrival order)", row=len(versions))
    fig.update_layout(**_LAYOUT, height=max(360, 260 * len(versions)),
                      title=f"What each model version leans on: SHAP share of its {TOP_FEATURES} most-attributed features "
                            f"(bars: {confidence:.0%} bootstrap interval)")
    return fig


def drift(frame: pd.DataFrame) -> go.Figure:
    """Which columns drifted in which batch, with the share of drifted columns above."""
    batches = _batches(frame)
    columns = sorted(frame.column_name.unique())
    grid = frame.pivot_table(index="column_name", columns="label", values="drifted", aggfunc="last")
    grid = grid.reindex(index=columns, columns=batches).astype(float)
    text = frame.assign(t=frame.method.fillna("not assessed") + " " + frame.statistic.map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
                        + " (threshold " + frame.threshold.map(lambda v: "" if pd.isna(v) else f"{v:g}") + ")")
    hover = text.pivot_table(index="column_name", columns="label", values="t", aggfunc="last").reindex(index=columns, columns=batches)
    share = frame.drop_duplicates(["label"]).set_index("label").share_drifted.reindex(batches)
    fig = make_subplots(rows=2, cols=1, row_heights=[0.25, 0.75], shared_xaxes=True, vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=batches, y=share, mode="lines+markers", name="share of columns drifted",
                             line=dict(color="#6a1b9a"), hovertemplate="%{x}: %{y:.0%} of columns drifted<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Heatmap(
        z=grid.to_numpy(), x=batches, y=columns, zmin=0, zmax=1, showscale=False, xgap=1, ygap=1,
        colorscale=[[0, "#e3f2fd"], [1, "#c62828"]], text=hover.fillna("not compared").to_numpy(),
        hovertemplate="%{y} in %{x}: %{text}<extra></extra>", name="drifted"), row=2, col=1)
    fig.update_yaxes(tickformat=".0%", title_text="drifted", row=1, col=1, rangemode="tozero")
    fig.update_xaxes(title_text="nightly batch (arrival order)", row=2, col=1)
    fig.update_layout(**_LAYOUT, height=260 + 22 * len(columns), showlegend=False,
                      title="Drift against the reference window per column (red: drifted; light: no drift; blank: not assessed)")
    return fig


def verdicts(frame: pd.DataFrame) -> go.Figure:
    """The gate verdict of every model version on every nightly batch."""
    batches = _batches(frame)
    shown = frame.assign(shown=frame.verdict.where(~(frame.waived & (frame.verdict == "pass")), "pass (waived)"),
                         version=frame.model_version.map(_name))
    fig = go.Figure()
    for verdict, colour in VERDICT_COLOURS.items():
        mine = shown[shown.shown == verdict]
        if mine.empty:
            continue
        fig.add_trace(go.Scatter(x=mine.label, y=mine.version, mode="markers", name=verdict,
                                 marker=dict(symbol="square", size=16, color=colour), customdata=mine[["decision_id"]].to_numpy(),
                                 hovertemplate="%{y} on %{x}: " + verdict + "<br>decision %{customdata[0]}<extra></extra>"))
    versions = sorted(shown.version.unique(), key=lambda v: (len(v), v))
    fig.update_xaxes(categoryorder="array", categoryarray=batches, title_text="nightly batch (arrival order)")
    fig.update_yaxes(categoryorder="array", categoryarray=versions, title_text="model version")
    fig.update_layout(**_LAYOUT, height=220 + 40 * len(versions), title="Release-gate verdict per model version and batch")
    return fig
