"""What is verified about a source: each check refuses what it must, naming the file and the
fault (:mod:`rnnreport.data.checks`)."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from rnnreport.data import checks, read_raw
from rnnreport.data.checks import DataError

from .fakes import SMALL, fake_arrays, write_idx_dir


def test_wrong_image_counts_are_a_clear_error(small) -> None:
    directory, _, _ = small
    with pytest.raises(DataError, match="training set holds 12 images, expected 60,000"):
        read_raw(directory)
    with pytest.raises(DataError, match="test set holds 3 images, expected 4"):
        read_raw(directory, counts=(12, 4))


def test_the_count_check_says_what_it_verified() -> None:
    raw = fake_arrays(*SMALL)
    line = checks.counts(raw, SMALL, "a source")
    assert line.startswith("12 training and 3 test images of 28x28 uint8")


@pytest.mark.parametrize(
    ("labels", "n_images", "says"),
    [
        (np.array([1.0, 2.0]), 2, r"labels are float64 \(2,\), expected integer"),
        (np.zeros((2, 1), np.int64), 2, r"labels are int64 \(2, 1\), expected integer \(N,\)"),
        (np.array([1, 2, 3]), 2, "3 labels for 2 images"),
        (np.array([3, -1, 12]), 3, r"label -1 at index 1 is not a digit 0..9 \(2 such labels\)"),
    ],
    ids=["float", "2-D", "one too many", "out of range"],
)
def test_labels_must_be_one_digit_per_image(labels, n_images: int, says: str) -> None:
    with pytest.raises(DataError, match=f"^somewhere: {says}"):
        checks.labels(labels, n_images, "somewhere")
    checks.labels(np.arange(10), 10, "somewhere")  # every digit once: fine


def _relabel(value: int):
    def transform(content: bytes) -> bytes:
        return content[:-1] + bytes([value])

    return transform


CORRUPTIONS = {
    # name: (file role, gzip it first?, transform of its bytes, what the message says)
    "bad magic": ("train_images", False, lambda b: b"\x00\x00\x08\x04" + b[4:], "0x00000804"),
    "labels as images": ("test_labels", False, lambda b: b"\x00\x00\x08\x03" + b[4:], "magic"),
    "truncated body": ("test_images", False, lambda b: b[:-10], "truncated"),
    "truncated header": ("train_labels", False, lambda b: b[:6], "truncated"),
    "extra bytes": ("test_images", False, lambda b: b + b"\x00", "extra bytes"),
    "not 28x28": ("test_images", False, lambda b: b[:8] + struct.pack(">I", 27) + b[12:], "28x28"),
    "label 10": ("train_labels", False, _relabel(10), "label 10 at index 11"),
    "label count": (
        "test_labels",
        False,
        lambda b: b[:4] + struct.pack(">I", 2) + b[8:-1],
        "2 lab",
    ),
    "truncated gzip": ("train_images", True, lambda b: b[: len(b) // 2], "it is truncated"),
    "bad gzip": ("test_labels", True, lambda b: b"this is not gzip" + b, "not gzip data .*'this'"),
    "bad gzip crc": ("test_labels", True, lambda b: b[:-8] + bytes(8), "corrupt: CRC check failed"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupt_idx_files_raise_data_error_naming_the_file(tmp_path: Path, corruption) -> None:
    role, gz, transform, says = CORRUPTIONS[corruption]
    paths = write_idx_dir(tmp_path, fake_arrays(*SMALL))
    path = paths[role]
    if gz:
        gz_path = path.with_name(path.name + ".gz")
        gz_path.write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
        path = gz_path
    path.write_bytes(transform(path.read_bytes()))
    with pytest.raises(DataError, match=says) as caught:
        read_raw(tmp_path, counts=SMALL)
    assert str(path) in str(caught.value)
    if gz:  # the low-level error is chained, not lost, and not what the user sees first
        assert caught.value.__cause__ is not None


def test_an_empty_gz_file_is_truncated(small) -> None:
    directory, paths, _ = small
    path = paths["test_labels"].with_name(paths["test_labels"].name + ".gz")
    paths["test_labels"].unlink()
    path.write_bytes(b"")  # gzip.decompress(b"") is b"": the IDX header is what is missing
    with pytest.raises(DataError) as caught:
        read_raw(directory, counts=SMALL)
    message = str(caught.value)
    assert message.startswith(f"{path}: 0 bytes once decompressed")  # what was found
    assert "shorter than the 8-byte IDX labels header" in message  # 4 magic + 4 for N
    assert message.endswith("the file is truncated, download it again")


@pytest.mark.parametrize(
    "value",
    [0.3, 1.0, -1 / 256, float("nan")],
    ids=["76.8/256", "256/256", "-1/256", "nan"],
)
def test_pixels_that_are_not_raw_over_256_are_refused(fake_hub, value: float) -> None:
    train_x, train_y, test_x, test_y = fake_arrays(*SMALL)
    parts = [
        [(x.reshape(len(x), 784) / np.float32(256)).astype(np.float32), y.astype(np.int64)]
        for x, y in ((train_x[:7], train_y[:7]), (train_x[7:], train_y[7:]), (test_x, test_y))
    ]
    parts[2][0][1, 5] = np.float32(value)  # not p / 256 for any level p in 0..255
    fake_hub.write_bytes(gzip.compress(pickle.dumps(tuple(map(tuple, parts)), 3)))
    with pytest.raises(DataError, match="pixel 5 of image 1 is"):
        read_raw(counts=SMALL)


def test_raw_levels_recovers_every_level_exactly() -> None:
    levels = np.arange(256, dtype=np.uint8).repeat(4).reshape(1, 1024)[:, :784]
    stored = (levels.astype(np.float32) / np.float32(256)).astype(np.float32)
    np.testing.assert_array_equal(checks.raw_levels(stored, "x", "fix").reshape(1, 784), levels)
    with pytest.raises(DataError, match=r"images are float64 \(1, 784\), expected float32"):
        checks.raw_levels(stored.astype(np.float64), "x", "fix")


def test_gzip_problems_are_named_by_layer() -> None:
    good = gzip.compress(b"content" * 100)
    assert checks.gzip_problem(good) is None
    assert "is empty" in checks.gzip_problem(b"")
    assert "truncated" in checks.gzip_problem(good[: len(good) // 2])
