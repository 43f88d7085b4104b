"""Categorical events: input policy, encoder, and the behaviour of APE and AVF."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import normalcy as nc
from normalcy.core import get_class
from normalcy.events.encoding import MISSING, UNSEEN, EventEncoder, one_hot
from normalcy.events.input import MAX_VALUE_CHARS
from normalcy.events.synthetic import make_events


@pytest.fixture(scope="module")
def events():
    return make_events(n_train=1000, n_test=200, n_anomalies=6, seed=1)


@pytest.fixture(scope="module")
def ape(events):
    return nc.create("ape", seed=0).fit(events.train)


@pytest.fixture(scope="module")
def avf(events):
    return nc.create("avf").fit(events.train)


# -- behaviour --------------------------------------------------------------------------
def test_a_planted_rare_pair_ranks_first_and_is_localised_to_that_pair():
    data = make_events(n_train=1000, n_test=150, n_anomalies=1, seed=2)  # one "pair" event
    (row,) = np.flatnonzero(data.labels)
    assert data.kinds[row] == "pair"
    # each value of the pair is common on its own
    assert (data.train["user"] == data.test.at[row, "user"]).sum() >= 10
    assert (data.train["host"] == data.test.at[row, "host"]).sum() >= 10
    det = nc.create("ape", seed=0).fit(data.train)
    res = det.score(data.test)
    assert int(np.argmax(res.scores)) == row
    cols = list(data.test.columns)
    assert sorted(res.extras["pair"][row].tolist()) == [cols.index("user"), cols.index("host")]
    assert res.maps.shape == (len(data.test), len(cols)) and res.maps.dtype == np.float32
    assert set(np.argsort(res.maps[row])[-2:].tolist()) == {cols.index("user"), cols.index("host")}


def test_ape_sees_pairs_that_the_independence_model_cannot(events, ape, avf):
    from normalcy.metrics import auroc

    pair = (events.kinds == "pair") | (events.kinds == "normal")
    y = events.labels[pair]
    assert auroc(y, ape.score(events.test).scores[pair]) > 0.95
    assert auroc(y, avf.score(events.test).scores[pair]) < auroc(
        y, ape.score(events.test).scores[pair]
    )


def test_avf_localises_a_rare_value_to_its_field(events, avf):
    test = events.test.iloc[:30].copy()
    test.loc[5, "action"] = "format-disk"  # never seen in fit
    res = avf.score(test)
    assert res.extras["field"][5] == list(test.columns).index("action")
    assert int(np.argmax(res.scores)) == 5


@pytest.mark.parametrize("name", ["ape", "avf"])
def test_unseen_categories_and_out_of_range_numbers_score_high_and_finite(events, name, request):
    det = request.getfixturevalue(name)
    normal = events.train.iloc[:50].reset_index(drop=True)
    odd = normal.copy()
    odd["user"] = "never-seen-user"
    odd["bytes"] = 1e30
    base = det.score(normal).scores
    res = det.score(odd)
    assert np.isfinite(res.scores).all()
    assert np.mean(res.scores > base) > 0.9
    codes = det.encoder_.transform(odd)
    assert (codes[:, 0] == UNSEEN).all()


@pytest.mark.parametrize("name", ["ape", "avf"])
def test_missing_values_are_their_own_entity(events, name):
    train = events.train.copy()
    train.loc[::10, "port"] = None
    train.loc[::7, "bytes"] = np.nan
    det = nc.create(name, **get_class(name).quick_params).fit(train)
    test = events.test.copy()
    test.loc[::3, "action"] = np.nan
    test.loc[::4, "bytes"] = None
    res = det.score(test)
    assert np.isfinite(res.scores).all()
    codes = det.encoder_.transform(test)
    assert (codes[::3, 2] == MISSING).all() and (codes[::4, 4] == MISSING).all()


def test_containers_give_the_same_scores(events, avf):
    test = events.test.iloc[:20]
    want = avf.score(test).scores
    records = test.to_dict(orient="records")
    np.testing.assert_array_equal(avf.score(records).scores, want)
    np.testing.assert_array_equal(avf.score(test.to_dict(orient="list")).scores, want)
    np.testing.assert_array_equal(avf.score(test[test.columns[::-1]]).scores, want)
    pa = pytest.importorskip("pyarrow")
    np.testing.assert_array_equal(avf.score(pa.Table.from_pandas(test)).scores, want)


# -- bad input --------------------------------------------------------------------------
def test_wrong_columns_empty_frames_and_bad_cells_are_input_errors(events, avf):
    test = events.test
    with pytest.raises(nc.InputError, match="lacks the columns"):
        avf.score(test.drop(columns=["host"]))
    with pytest.raises(nc.InputError, match="not seen in fit"):
        avf.score(test.assign(extra=1))
    with pytest.raises(nc.InputError, match="0 event"):
        avf.score(test.iloc[:0])
    with pytest.raises(nc.InputError):
        nc.create("avf").fit(pd.DataFrame())
    with pytest.raises(nc.InputError, match="at least 2"):
        nc.create("avf").fit(events.train.iloc[:1])
    nested = test.astype({"user": object}).copy()
    nested.at[0, "user"] = {"a": 1}
    with pytest.raises(nc.InputError, match="'user'"):
        avf.score(nested)
    with pytest.raises(nc.InputError, match="numeric in fit"):
        avf.score(test.assign(bytes="lots"))
    with pytest.raises(nc.InputError, match="DataFrame"):
        avf.score(test.to_numpy())
    with pytest.raises(nc.InputError, match="dates"):
        nc.create("avf").fit(events.train.assign(when=pd.Timestamp("2024-01-01")))
    with pytest.raises(nc.InputError, match="duplicated"):
        nc.create("avf").fit(events.train.set_axis(["a", "a", "b", "c", "d"], axis=1))


def test_huge_strings_are_kept_short_and_distinct(events):
    train = events.train.copy()
    train["note"] = ["x" * 5000 + str(i % 3) for i in range(len(train))]
    enc = EventEncoder.fit(train)
    vocab = enc.vocabularies[list(train.columns).index("note")]
    assert len(vocab) == 3 and all(len(v) <= MAX_VALUE_CHARS for v in vocab)


# -- model files ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ape", "avf"])
def test_save_load_identity(events, name, request, tmp_path):
    det = request.getfixturevalue(name)
    res = det.score(events.test)
    loaded = nc.load(det.save(tmp_path / "m.normalcy"))
    again = loaded.score(events.test)
    np.testing.assert_array_equal(again.scores, res.scores)
    np.testing.assert_array_equal(again.maps, res.maps)
    for key in res.extras:
        np.testing.assert_array_equal(again.extras[key], res.extras[key])


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.update(columns=s["columns"][:-1]),
        lambda s: s.update(kinds=["text"] * len(s["kinds"])),
        lambda s: s["vocabularies"][0].append(s["vocabularies"][0][0]),
        lambda s: s["vocabularies"][0].append("x" * (MAX_VALUE_CHARS + 1)),
        lambda s: s["edges"][4].reverse(),
        lambda s: s["edges"][4].append(float("nan")),
        lambda s: s["points"].__setitem__(4, [1] * len(s["edges"][4])),
        lambda s: s["ranges"].__setitem__(4, [5.0, 1.0]),
        lambda s: s.update(vocabularies=None),
    ],
)
def test_a_tampered_encoder_is_a_model_file_error(events, change):
    import json

    spec = json.loads(json.dumps(EventEncoder.fit(events.train).to_json()))
    change(spec)
    with pytest.raises(nc.ModelFileError):
        EventEncoder.from_json(spec)


def test_one_hot_has_one_column_per_code_and_scaled_numbers(events):
    train, test = one_hot(events.train, events.test)
    enc = EventEncoder.fit(events.train, n_bins=1)
    n_cat = sum(int(c) for c, k in zip(enc.cardinalities, enc.kinds, strict=True) if k != "numeric")
    assert train.shape == (len(events.train), n_cat + 2) and test.shape[1] == train.shape[1]
    assert np.isfinite(test).all()
    assert abs(train[:, n_cat].mean()) < 1e-9
