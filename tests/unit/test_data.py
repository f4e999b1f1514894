"""Reading, validating and snapshotting dataset versions on the real ACS data."""

import numpy as np
import pandas as pd
import pytest

from rai_pipelines.data.snapshots import DatasetStore, split_key
from rai_pipelines.data.sources import production_windows, read_window, window_for_night
from rai_pipelines.data.validation import group_labels, normalize
from rai_pipelines.digest import frame_digest
from rai_pipelines.errors import DataError


def test_replay_covers_2016_to_2018_in_12_nightly_batches(acs):
    windows = production_windows(acs)
    assert len(windows) == 12
    assert windows[0].label == "2016-b01" and windows[-1].label == "2018-b04"
    start = acs.data.production.replay.start_date
    assert window_for_night(acs, start).label == "2016-b01"
    assert window_for_night(acs, start + pd.Timedelta(days=12).to_pytimedelta()).label == "2016-b01"  # wraps


def test_batches_partition_each_year_without_overlap(acs):
    frames = [read_window(acs, w) for w in production_windows(acs)[:4]]
    ids = np.concatenate([f.id.to_numpy() for f in frames])
    assert len(ids) == len(set(ids))
    assert all(f.year.eq(2016).all() for f in frames)
    assert all(f.employed.isin([0, 1]).all() for f in frames)  # labels joined for every row


def test_snapshot_is_content_addressed(acs, tmp_path):
    store = DatasetStore(tmp_path)
    window = production_windows(acs)[0]
    v1, frame = store.snapshot(acs, window)
    v2, _ = store.snapshot(acs, window)
    assert v1.key == v2.key and v1.digest == frame_digest(frame)
    label, digest12 = split_key(v1.key)
    assert label == "2016-b01" and v1.digest.startswith(digest12)
    changed = frame.copy()
    changed.loc[0, "AGEP"] += 1
    assert frame_digest(changed) != v1.digest


def test_tampered_snapshot_is_refused(acs, tmp_path):
    store = DatasetStore(tmp_path)
    version, frame = store.snapshot(acs, production_windows(acs)[1])
    tampered = frame.copy()
    tampered.loc[3, "employed"] = 1 - tampered.loc[3, "employed"]
    tampered.to_parquet(version.path, index=False)
    with pytest.raises(DataError, match="does not match its digest"):
        store.load(acs, version.key)


def test_group_labels_are_readable(acs, reference):
    _, frame = reference
    groups = group_labels(acs, frame)
    assert set(groups.SEX.unique()) == {"Male", "Female"}
    assert set(groups.RAC1P.unique()) == {"White", "Black", "Asian", "Other or multiple"}
    assert groups.notna().all().all()


@pytest.fixture
def raw(acs):
    return read_window(acs, production_windows(acs)[0])


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda f: f.drop(columns=["SCHL"]), "column 'SCHL' is missing"),
        (lambda f: f.drop(columns=["employed"]), "column 'employed' is missing"),
        (lambda f: f.assign(AGEP=f.AGEP.astype(str)), "column 'AGEP' has dtype object, expected numeric"),
        (lambda f: f.assign(SCHL=np.linspace(0, 1, len(f))), "column 'SCHL' has dtype float64, expected categorical"),
        (lambda f: f.iloc[0:0], "the dataset is empty"),
        (lambda f: f.iloc[:10], "10 rows, fewer than data.min_rows=500"),
        (lambda f: f.assign(employed=f.employed.where(f.index > 5)), "has 6 missing values"),
        (lambda f: f.assign(employed=f.employed * 2), "must be binary 0/1"),
        (lambda f: f.assign(employed=f.AGEP % 3), "multiclass and regression targets are not supported"),
        (lambda f: f.assign(employed=f.AGEP / 7), "multiclass and regression targets are not supported"),
        (lambda f: f.assign(SEX=f.SEX.astype(str).replace("2", "7")), "sensitive feature 'SEX' has code '7' in no group"),
    ],
)
def test_bad_data_is_one_clear_line(acs, raw, corrupt, message):
    with pytest.raises(DataError) as err:
        normalize(acs, corrupt(raw), "batch.parquet")
    assert message in str(err.value)
    assert str(err.value).startswith("batch.parquet: ")
    assert "\n" not in str(err.value)
