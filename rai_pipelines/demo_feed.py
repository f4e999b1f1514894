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


def add_weeks(system: System, weeks: int) -> tuple[int, str]:
    """Append the next `weeks` weeks of the log (applications and their repayments) to the system's tables, creating
    them on first use. Returns (rows added, the newest day now in the feed)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    source, labels = system.data.production.source, system.data.production.labels.source
    applications, repayments = _log()
    engine = create_engine(feeds._dsn(source), poolclass=NullPool)
    try:
        with engine.begin() as con:
            for table in (source.table, labels.table):
                if "." in table:
                    con.execute(text(f'create schema if not exists "{table.split(".")[0]}"'))
            schema, name = source.table.split(".") if "." in source.table else (None, source.table)
            exists = con.execute(text("select to_regclass(:t)"), {"t": source.table}).scalar() is not None
            last = con.execute(text(f'select max("timestamp") from {feeds.quote_table(source.table)}')).scalar() if exists else None
            start = applications["timestamp"].min() if last is None else pd.Timestamp(last)
            # Whole weeks after the last logged application (the first one from the log's start).
            first_day = start.normalize() - timedelta(days=start.weekday())
            end = first_day + timedelta(weeks=weeks + (0 if last is None else 1))
            logged = applications["timestamp"]
            new = applications[((logged > start) if last is not None else logged.notna()) & (logged < end)]
            new.to_sql(name, con, schema=schema, if_exists="append", index=False)
            lschema, lname = labels.table.split(".") if "." in labels.table else (None, labels.table)
            repayments[repayments["id"].isin(new["id"])].to_sql(lname, con, schema=lschema, if_exists="append", index=False)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - no database is one line, whatever the driver raised
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DataError(f"{feeds.describe(source)}: cannot write the demo feed ({detail}); start PostgreSQL "
                        "(scripts/ensure-services)") from None
    finally:
        engine.dispose()
    return len(new), (str(new["timestamp"].max().date()) if len(new) else str(start.date()))
