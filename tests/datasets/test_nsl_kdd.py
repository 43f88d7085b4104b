"""The NSL-KDD loader (real data; skipped when ../shared is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_dataset
from normalcy.datasets import nsl_kdd


@pytest.fixture(scope="module")
def data():
    return nsl_kdd.load(shared_dataset("events/nsl_kdd"))


def test_the_one_class_split_holds_normal_training_rows_and_every_test_row(data):
    assert data.train.shape == (13449, 41)
    assert data.test.shape == (22544, 41)
    assert len(data.labels) == len(data.attacks) == len(data.test)
    assert int((data.labels == 0).sum()) == 9711
    assert set(np.unique(data.labels)) == {0, 1}
    assert ((data.attacks == "normal") == (data.labels == 0)).all()


def test_labels_and_attack_names_are_never_features(data):
    for col in nsl_kdd.NOT_FEATURES:
        assert col not in data.train.columns and col not in data.test.columns
    assert list(data.train.columns) == list(data.test.columns)
    from normalcy.events.input import column_kind

    kinds = {c: column_kind(data.train[c], c) for c in data.train.columns}
    assert {c for c, k in kinds.items() if k == "categorical"} == set(nsl_kdd.CATEGORICAL)


def test_attack_types_unseen_in_training_are_flagged(data):
    unseen = set(data.attacks[data.unseen_attack])
    assert len(unseen) == 18 and "normal" not in unseen
    assert "neptune" not in unseen  # a training attack


def test_a_capped_test_split_is_a_seeded_subsample(data):
    small = nsl_kdd.load(shared_dataset("events/nsl_kdd"), max_test=500, seed=1)
    again = nsl_kdd.load(shared_dataset("events/nsl_kdd"), max_test=500, seed=1)
    assert len(small.test) == 500
    np.testing.assert_array_equal(small.labels, again.labels)
    assert small.train.shape == data.train.shape


def test_a_missing_folder_is_an_input_error(tmp_path):
    import normalcy as nc

    with pytest.raises(nc.InputError, match="does not exist"):
        nsl_kdd.load(tmp_path)
