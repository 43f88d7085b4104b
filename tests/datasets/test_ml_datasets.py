"""The one-class CIFAR-10 and Fashion-MNIST loaders: shapes, labels and hostile IDX files."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from tests.conftest import shared_dataset

import normalcy as nc
from normalcy.datasets import cifar10, fashion_mnist


def _idx(path, payload: bytes) -> None:
    with gzip.open(path, "wb") as stream:
        stream.write(payload)


def test_idx_round_trip(tmp_path):
    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(int(n).to_bytes(4, "big") for n in data.shape)
    _idx(tmp_path / "ok.gz", header + data.tobytes())
    np.testing.assert_array_equal(fashion_mnist.read_idx(tmp_path / "ok.gz", 3), data)


@pytest.mark.parametrize(
    "payload, match",
    [
        (b"\x00\x00\x0d\x03" + b"\x00" * 12, "unsigned bytes"),
        (b"\x00\x00\x08\x01" + (10).to_bytes(4, "big"), "dimensions"),
        (b"\x00\x00\x08\x03" + (2**31).to_bytes(4, "big") * 3, "declares shape"),
        (b"\x00\x00\x08\x03\x00", "truncated"),
    ],
)
def test_crafted_idx_files_are_refused(tmp_path, payload, match):
    _idx(tmp_path / "bad.gz", payload)
    with pytest.raises(nc.InputError, match=match):
        fashion_mnist.read_idx(tmp_path / "bad.gz", 3)


def test_not_gzip_is_refused(tmp_path):
    (tmp_path / "x.gz").write_bytes(b"plain text, not gzip")
    with pytest.raises(nc.InputError, match="gzip"):
        fashion_mnist.read_idx(tmp_path / "x.gz", 3)


def test_fashion_mnist_from_debian_package():
    if not fashion_mnist.available():
        pytest.skip("Debian package dataset-fashion-mnist is not installed")
    images, labels = fashion_mnist.load("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert sorted(np.unique(labels)) == list(range(10))


def test_cifar10_one_class_task():
    root = shared_dataset("oneclass/cifar10")
    classes = cifar10.train_classes(root)
    assert classes, "no training classes in the shared copy"
    task = cifar10.one_class_task(root, classes[0])
    assert task.train.shape[1:] == (32, 32, 3) and task.test.shape[1:] == (32, 32, 3)
    assert set(np.unique(task.labels)) == {0, 1}
    assert (task.labels == 0).sum() == (task.classes == cifar10.CLASSES.index(classes[0])).sum()
    with pytest.raises(nc.InputError, match="unknown CIFAR-10 class"):
        cifar10.one_class_task(root, "unicorn")
