"""OutRank: cardinality-adjusted MI puts a planted column above noise of the same cardinality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import normalcy as nc
from normalcy.explain import OutRankOneHot, explain_anomalies, rank_columns, rank_features


def planted_frame(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Anomalies carried by a column of 300 values (a few of its values only); a pure-noise
    column of the same cardinality; a low-cardinality noise column; a numeric one."""
    rng = np.random.default_rng(seed)
    card = 300
    flags = rng.random(n) < 0.1
    informative = rng.integers(10, card, size=n)
    informative[flags] = rng.integers(0, 10, size=flags.sum())  # anomalies: values 0..9
    return (
        pd.DataFrame(
            {
                "noise_wide": rng.integers(0, card, size=n).astype(str),
                "planted": informative.astype(str),
                "noise_narrow": rng.choice(["a", "b", "c"], size=n),
                "amount": rng.normal(size=n),
            }
        ),
        flags,
    )


def test_adjustment_fixes_plain_mi_bias_for_high_cardinality():
    frame, flags = planted_frame()
    # A weaker planted signal: only a third of the anomalies are carried by the column.
    rng = np.random.default_rng(1)
    weak = frame.copy()
    carried = flags & (rng.random(len(flags)) < 0.35)
    col = rng.integers(10, 300, size=len(flags))
    col[carried] = rng.integers(0, 10, size=carried.sum())
    weak["planted"] = col.astype(str)
    weak["noise_wide"] = rng.integers(0, 2000, size=len(flags)).astype(str)
    ranking = rank_features(weak, flags, seed=0).set_index("feature")
    # Plain MI puts the wide noise column first ...
    assert ranking.loc["noise_wide", "mi"] > ranking.loc["planted", "mi"]
    # ... the cardinality adjustment puts the planted column first.
    assert ranking["adjusted_mi"].idxmax() == "planted"
    assert ranking.loc["planted", "adjusted_mi"] > ranking.loc["noise_wide", "adjusted_mi"]
    assert abs(ranking.loc["noise_wide", "adjusted_mi"]) < 0.1 * ranking.loc["planted", "mi"]


def test_planted_column_beats_noise_of_same_cardinality():
    frame, flags = planted_frame()
    ranking = explain_anomalies(frame, flags, seed=0)
    assert list(ranking["feature"])[0] == "planted"
    row = ranking.set_index("feature").loc["planted"]
    wide = ranking.set_index("feature").loc["noise_wide"]
    assert row["cardinality"] == wide["cardinality"] == 300
    assert row["adjusted_mi"] > 5 * max(wide["adjusted_mi"], 1e-6)
    assert int(row["top_value"]) < 10 and row["lift"] > 5


def test_scores_and_contamination_give_the_same_winner():
    frame, flags = planted_frame()
    scores = flags.astype(float) + np.random.default_rng(2).random(len(flags)) * 0.5
    by_share = explain_anomalies(frame, scores, contamination=0.1)
    binned = explain_anomalies(frame, scores)
    as_scores = explain_anomalies(frame, nc.Scores(scores=scores))
    assert by_share["feature"][0] == binned["feature"][0] == as_scores["feature"][0] == "planted"
    assert "top_value" in by_share.columns and "top_value" not in binned.columns


def test_deterministic():
    frame, flags = planted_frame()
    a = rank_features(frame, flags, seed=3)
    b = rank_features(frame, flags, seed=3)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(rank_columns(frame, seed=1), rank_columns(frame, seed=1))


def structured_wide_table(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Three related columns (service -> port -> flag), an identifier, noise columns."""
    rng = np.random.default_rng(seed)
    service = rng.choice(["http", "ftp", "smtp", "dns", "ssh"], size=n)
    port = np.where(
        rng.random(n) < 0.95,
        pd.Series(service).map({"http": "80", "ftp": "21", "smtp": "25", "dns": "53", "ssh": "22"}),
        "9999",
    )
    flag = np.where(pd.Series(service).isin(["dns"]), "SF", rng.choice(["SF", "REJ"], size=n))
    cols = {"service": service, "port": port, "flag": flag, "id": np.arange(n).astype(str)}
    for i in range(6):
        cols[f"noise{i}"] = rng.integers(0, 50, size=n).astype(str)
    return pd.DataFrame(cols)


def test_label_free_ranking_keeps_structure_and_drops_identifiers():
    table = structured_wide_table()
    ranking = rank_columns(table, seed=0).set_index("feature")
    top3 = set(ranking.index[:3])
    assert top3 == {"service", "port", "flag"}
    # The identifier has the largest plain MI with everything, and adjusts to ~0.
    assert ranking["mi"].idxmax() == "id"
    assert ranking.loc["id", "adjusted_mi"] < 0.05 * ranking.loc["service", "adjusted_mi"]


def test_one_hot_preselection_feeds_auto():
    table = structured_wide_table()
    enc = OutRankOneHot(k=3, seed=0).fit(table)
    assert set(enc.selected_) == {"service", "port", "flag"}
    Z = enc.transform(table)
    assert Z.shape == (len(table), len(enc.get_feature_names_out()))
    assert set(np.unique(Z)) <= {0.0, 1.0}
    det = nc.create("auto").fit(Z)
    odd = table.iloc[:1].copy()
    odd["port"] = "21"  # an http connection on the ftp port: a broken relation
    odd["service"] = "http"
    normal = table.iloc[1:200]
    s_odd = det.score(enc.transform(odd)).scores[0]
    assert s_odd > np.quantile(det.score(enc.transform(normal)).scores, 0.95)


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.zeros(5), np.zeros(5), "2-D"),
        (pd.DataFrame({"a": [1.0, np.nan, 2.0]}), [0, 1, 0], "NaN"),
        (pd.DataFrame({"a": ["x", "y", "z"]}), [0, 1], "one value per row"),
        (pd.DataFrame({"a": ["x"]}), [0], "at least 2 row"),
        ("not a table", [0, 1], "table"),
    ],
)
def test_bad_input_raises_input_error(X, y, match):
    with pytest.raises(nc.InputError, match=match):
        rank_features(X, y)


def test_bad_parameters_and_unfitted_encoder():
    frame, flags = planted_frame(n=100)
    with pytest.raises(nc.InputError, match="n_permutations"):
        rank_features(frame, flags, n_permutations=0)
    with pytest.raises(nc.InputError, match="contamination"):
        explain_anomalies(frame, flags.astype(float), contamination=1.5)
    with pytest.raises(nc.InputError, match="categorical"):
        rank_features(frame, flags, categorical=["nope"])
    with pytest.raises(nc.NotFittedError):
        OutRankOneHot().transform(frame)
    enc = OutRankOneHot(k=2).fit(frame)
    with pytest.raises(nc.InputError, match="lacks"):
        enc.transform(frame.drop(columns=enc.selected_[0]))
