"""`rai catalog validate FILE`: one system, suite or policy file checked in the context of the project's catalog
(the suites it names, the policy tier it needs), and a classifier's feeds checked against the columns it declares,
before anything runs. Every problem is one line naming the file, the field and the fix.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from rai_pipelines.catalog import Catalog, System, load_catalog, read_yaml
from rai_pipelines.errors import CatalogError, DataError

# Which catalog folder a file belongs in, told by a field only that kind of file has.
_KINDS = (("kind", "systems"), ("family", "suites"), ("tiers", "policies"))


def validate_file(root: Path, path: Path) -> tuple[str, str]:
    """(folder, name) of the file once the catalog at `root` loads with it in place of its own file of that name
    (a policy replaces the policy); raises CatalogError naming `path`."""
    raw = read_yaml(path)
    folder = next((f for field, f in _KINDS if field in raw), None)
    if folder is None:
        raise CatalogError(f"{path}: not a system (field 'kind'), a suite (field 'family') or a policy (field 'tiers'); "
                           "add the field its kind needs")
    with tempfile.TemporaryDirectory() as tmp:
        assets = Path(tmp) / "assets"
        shutil.copytree(root, assets)
        if folder == "policies":
            for old in (assets / "policies").glob("*.yaml"):
                old.unlink()
        placed = assets / folder / path.name
        shutil.copy(path, placed)
        try:
            catalog = load_catalog(assets)
        except CatalogError as exc:  # name the user's file, not the copy
            raise CatalogError(str(exc).replace(str(placed), str(path)).replace(str(assets), str(root))) from None
        if folder == "systems":
            system = catalog.system(path.stem)
            if isinstance(system, System):
                _check_feeds(catalog, system, path)
    return folder, path.stem


def _check_feeds(catalog: Catalog, system: System, path: Path) -> None:
    """Every column the system declares is in the file it is read from (their headers only are read): the features,
    sensitive features and id in both windows, the period column in production, the label in the reference and in
    the production labels (or in production when labels come with it)."""
    data = system.data
    both = {data.id_column: "data.id_column", **{c: "data.features" for c in data.features},
            **{c: "data.sensitive_features" for c in data.sensitive_features}}
    labels = data.production.labels
    expected = [("data.reference.source", data.reference.source, {**both, data.label: "data.label"}),
                ("data.production.source", data.production.source,
                 {**both, data.production.replay.period_column: "data.production.replay.period_column",
                  **({} if labels else {data.label: "data.label"})})]
    if labels:
        expected.append(("data.production.labels", labels, {labels.join_on: "data.production.labels.join_on",
                                                             data.label: "data.label"}))
    for where, source, needed in expected:
        columns = _columns(source, where, path)
        for column, field in needed.items():
            if column not in columns:
                raise CatalogError(f"{path}: field '{field}' names column {column!r}, which {where} does not have "
                                   f"(its columns: {', '.join(sorted(columns)[:8])}{', ...' if len(columns) > 8 else ''}); "
                                   "fix the name or the feed")
    # The label, read alone from the reference: a binary 0/1 target is the only kind evaluated.
    from rai_pipelines.data.sources import read_table, resolve
    from rai_pipelines.data.validation import label_problem

    reference = resolve(data.reference.source)
    labels_read = _read_column(reference, data.label) if reference.suffix in (".parquet", ".pq") else read_table(reference)[data.label]
    if (problem := label_problem(labels_read)) is not None:
        raise CatalogError(f"{path}: field 'data.label': column {data.label!r} of data.reference.source {problem}")


def _columns(source, where: str, path: Path) -> set[str]:
    from rai_pipelines.data.sources import resolve

    try:
        file = resolve(source)
    except DataError as exc:
        raise CatalogError(f"{path}: field '{where}': {exc}") from None
    if not file.is_file():
        raise CatalogError(f"{path}: field '{where}': {file} does not exist; fix the path")
    if file.suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return set(pq.read_schema(file).names)
    import pandas as pd

    return set(pd.read_csv(file, nrows=0).columns)


def _read_column(file: Path, column: str):
    import pyarrow.parquet as pq

    return pq.read_table(file, columns=[column]).column(0).to_pandas()
