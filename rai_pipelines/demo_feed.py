"""The demo's onboarded system's feed: NannyML's synthetic car-loan log, written to PostgreSQL as a serving system
would, a few weeks of applications (with the score and decision it logged) and their repayments at a time.

The system itself is only its YAML file (assets/systems/car_loan_repayment.yaml); this module plays the team's
serving system, so that the feed the pipeline reads is a real table that grows.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from rai_pipelines.catalog import System
from rai_pipelines.data import feeds
from rai_pipelines.errors import DataError

SYSTEM = "car_loan_repayment"
_DATA = "nannyml/datasets/data/synthetic_car_loan_analysis"


def _log() -> tuple[pd.DataFrame, pd.DataFrame]:
    from rai_pipelines.catalog import FileSource

    applications = feeds.read_table(feeds.resolve(FileSource(package="nannyml", path=f"{_DATA}.csv")))
    applications["timestamp"] = pd.to_datetime(applications["timestamp"])
    repayments = feeds.read_table(feeds.resolve(FileSource(package="nannyml", path=f"{_DATA}_target.csv")))
    return applications, repayments


def _engine(system: System):
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine(feeds._dsn(system.data.production.source), poolclass=NullPool)


def _split(table: str) -> tuple[str | None, str]:
    return tuple(table.split(".")) if "." in table else (None, table)


def _one_line(system: System, exc: Exception) -> DataError:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return DataError(f"{feeds.describe(system.data.production.source)}: cannot write the demo feed ({detail}); start "
                     "PostgreSQL (scripts/ensure-services)")


def add_weeks(system: System, weeks: int, labels_lag_weeks: int = 0, restart: bool = False) -> tuple[int, str]:
    """Append the next `weeks` weeks of the log to the system's applications table (creating it on first use; from
    the log's start again with `restart`), and the repayments of every application logged more than
    `labels_lag_weeks` weeks before the newest: labels land late. Returns (applications added, the newest day now in
    the feed)."""
    from sqlalchemy import text

    source = system.data.production.source
    applications, _ = _log()
    engine = _engine(system)
    try:
        with engine.begin() as con:
            for table in (source.table, system.data.production.labels.source.table):
                if "." in table:
                    con.execute(text(f'create schema if not exists "{table.split(".")[0]}"'))
                if restart:
                    con.execute(text(f"drop table if exists {feeds.quote_table(table)}"))
            exists = con.execute(text("select to_regclass(:t)"), {"t": source.table}).scalar() is not None
            last = con.execute(text(f'select max("timestamp") from {feeds.quote_table(source.table)}')).scalar() if exists else None
            start = applications["timestamp"].min() if last is None else pd.Timestamp(last)
            # Whole weeks after the last logged application (the first one from the log's start).
            first_day = start.normalize() - timedelta(days=start.weekday())
            end = first_day + timedelta(weeks=weeks + (0 if last is None else 1))
            logged = applications["timestamp"]
            new = applications[((logged > start) if last is not None else logged.notna()) & (logged < end)]
            schema, name = _split(source.table)
            new.to_sql(name, con, schema=schema, if_exists="append", index=False)
    except Exception as exc:  # noqa: BLE001 - no database is one line, whatever the driver raised
        raise _one_line(system, exc) from None
    finally:
        engine.dispose()
    land_labels(system, before=end - timedelta(weeks=labels_lag_weeks))
    return len(new), (str(new["timestamp"].max().date()) if len(new) else str(start.date()))


def land_labels(system: System, before) -> int:
    """The repayments of every logged application before `before` that has none yet. Returns how many landed."""
    from sqlalchemy import text

    source, labels = system.data.production.source, system.data.production.labels.source
    applications, repayments = _log()
    engine = _engine(system)
    try:
        with engine.begin() as con:
            logged = set(con.execute(text(f'select id from {feeds.quote_table(source.table)} where "timestamp" < :b'),
                                     {"b": pd.Timestamp(before).to_pydatetime()}).scalars())
            exists = con.execute(text("select to_regclass(:t)"), {"t": labels.table}).scalar() is not None
            known = set(con.execute(text(f"select id from {feeds.quote_table(labels.table)}")).scalars()) if exists else set()
            landing = repayments[repayments["id"].isin(logged - known)]
            schema, name = _split(labels.table)
            landing.to_sql(name, con, schema=schema, if_exists="append", index=False)
    except Exception as exc:  # noqa: BLE001
        raise _one_line(system, exc) from None
    finally:
        engine.dispose()
    return len(landing)


def reload_newest_day(system: System) -> tuple[int, str]:
    """A load job's retry gone wrong: the newest day's applications appended a second time (the duplicate ids a
    data-quality check exists to catch). Returns (rows appended, that day)."""
    from sqlalchemy import text

    table = feeds.quote_table(system.data.production.source.table)
    engine = _engine(system)
    try:
        with engine.begin() as con:
            day = con.execute(text(f'select max("timestamp")::date from {table}')).scalar()
            added = con.execute(text(f'insert into {table} select * from {table} where "timestamp"::date = :d'),
                                {"d": day}).rowcount
    except Exception as exc:  # noqa: BLE001
        raise _one_line(system, exc) from None
    finally:
        engine.dispose()
    return added, str(day)


def remove_duplicates(system: System) -> int:
    """The serving team's fix: each application once again. Returns the rows removed."""
    from sqlalchemy import text

    table = feeds.quote_table(system.data.production.source.table)
    engine = _engine(system)
    try:
        with engine.begin() as con:
            removed = con.execute(text(f"delete from {table} a using {table} b where a.id = b.id and a.ctid > b.ctid")).rowcount
    except Exception as exc:  # noqa: BLE001
        raise _one_line(system, exc) from None
    finally:
        engine.dispose()
    return removed
