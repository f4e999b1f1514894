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
        _require_genai_for_assistants(catalog, folder, path)
    return folder, path.stem


def _require_genai_for_assistants(catalog: Catalog, folder: str, path: Path) -> None:
    """Whether an assistant's suites can pass its tier is checked by counting their prompts, which needs the GenAI
    layer's data packages; without them (load_catalog skips that check) a file touching an assistant cannot be
    called valid."""
    from rai_pipelines.genai import extras

    touches = (folder == "policies" and any(s.kind == "llm_assistant" for s in catalog.systems.values())
               or folder == "systems" and catalog.system(path.stem).kind == "llm_assistant"
               or folder == "suites" and getattr(catalog.suites.get(path.stem), "genai", None))
    if touches and (absent := extras.missing()):
        raise CatalogError(f"{path}: the assistants' suites cannot be checked against their tier without the GenAI "
                           f"packages ({', '.join(absent)} not installed); run `make genai`, then validate again")


def _check_feeds(catalog: Catalog, system: System, path: Path) -> None:
    """Every column the system declares is in the source it is read from (headers only, or an empty query): the
    features, sensitive features and id in both windows; the period or time column, and logged predictions, in
    production; the label in the reference and in the labels source (or in production when labels come with it)."""
    data, prod = system.data, system.data.production
    both = {data.id_column: "data.id_column", **{c: "data.features" for c in data.features},
            **{c: "data.sensitive_features" for c in data.sensitive_features}}
    production = dict(both)
    if prod.replay is not None:
        production[prod.replay.period_column] = "data.production.replay.period_column"
    if prod.source.kind == "sql":
        production[prod.source.time_column] = "data.production.source.time_column"
    logged = {c: "model" for c in system.model.columns} if system.logged else {}
    production.update(logged)
    if prod.labels is None:
        production[data.label] = "data.label"
    expected = [("data.reference.source", data.reference.source, {**both, data.label: "data.label"}),
                ("data.production.source", prod.source, production)]
    if prod.labels:
        expected.append(("data.production.labels.source", prod.labels.source,
                         {prod.labels.join_on: "data.production.labels.join_on", data.label: "data.label"}))
    from rai_pipelines.data import feeds
    from rai_pipelines.data.validation import label_problem

    for where, source, needed in expected:
        try:
            columns = feeds.columns(source)
        except DataError as exc:
            raise CatalogError(f"{path}: field '{where}': {exc}") from None
        for column, field in needed.items():
            if column not in columns:
                raise CatalogError(f"{path}: field '{field}' names column {column!r}, which {where} does not have "
                                   f"(its columns: {', '.join(sorted(columns)[:8])}{', ...' if len(columns) > 8 else ''}); "
                                   "fix the name or the feed")
    # The label, read alone from the reference: a binary 0/1 target is the only kind evaluated.
    reference = data.reference.source
    if reference.kind == "file" and feeds.resolve(reference).suffix in (".parquet", ".pq"):
        labels_read = _read_column(feeds.resolve(reference), data.label)
    else:
        labels_read = feeds.read_all(reference)[data.label]
    if (problem := label_problem(labels_read)) is not None:
        raise CatalogError(f"{path}: field 'data.label': column {data.label!r} of data.reference.source {problem}")


def _read_column(file: Path, column: str):
    import pyarrow.parquet as pq

    return pq.read_table(file, columns=[column]).column(0).to_pandas()
