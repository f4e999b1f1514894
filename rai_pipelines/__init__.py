"""rai-pipelines: continuous Responsible-AI evaluation, orchestrated.

Engines (catalog, data, modeling, evaluation, gate, warehouse, lineage) are plain
Python; `rai_pipelines.orchestration` wires them into Dagster, and
`rai_pipelines.definitions` is the code location Dagster loads.
"""

__version__ = "0.1.0"
