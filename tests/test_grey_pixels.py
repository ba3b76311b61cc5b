"""The grey view of MNIST: the same images as the binarized ones, checked like them."""

from __future__ import annotations

import numpy as np
import pytest

from rnnreport import data
from rnnreport.data import N_VALID, load_mnist, read_raw


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RNNREPORT_MNIST", raising=False)
    monkeypatch.setattr(data, "_MEMO", {})
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def raw():
    return read_raw()


def test_grey_is_raw_over_255_and_binarizes_to_the_binary_view(raw) -> None:
    binary = load_mnist()
    grey = binary.pixels("grey")
    train_x, train_y, test_x, test_y = raw
    # an independent path: the raw uint8 pixels as read_raw gives them, scaled here
    expected = {"train": train_x[N_VALID:], "valid": train_x[:N_VALID], "test": test_x}
    labels = {"train": train_y[N_VALID:], "valid": train_y[:N_VALID], "test": test_y}
    for name in data.SPLITS:
        g, b = getattr(grey, name), getattr(binary, name)
        assert g.x.dtype == np.float32 and g.x.shape == b.x.shape
        assert g.x.min() >= 0.0 and g.x.max() <= 1.0
        # read_data_sets: float32 p times float32(1/255)
        np.testing.assert_array_equal(g.x, expected[name].astype(np.float32) * np.float32(1 / 255))
        np.testing.assert_array_equal(g.y, labels[name])
        # data.py's relation: binary = [p * (1/255) > 0.1] in float32, i.e. p >= 26
        np.testing.assert_array_equal(b.x, (g.x > np.float32(0.1)).astype(np.uint8))
        np.testing.assert_array_equal(b.x, np.rint(g.x * 255) >= 26)
    assert grey.kind == "grey" and binary.kind == "binary"
    assert grey.digest != binary.digest


def test_the_binary_view_and_its_digest_are_untouched() -> None:
    fresh = load_mnist(cache=False)  # read from the source, no cache involved
    cached = load_mnist()
    assert fresh.digest == cached.digest
    assert cached.pixels("binary") is cached
    assert fresh.pixels("grey").digest == cached.pixels("grey").digest


def test_views_are_asked_for_by_name() -> None:
    binary = load_mnist()
    grey = binary.pixels("grey")
    assert binary.pixels("grey") is grey  # memoized in the process
    assert grey.pixels("grey") is grey
    with pytest.raises(ValueError, match="made from the binarized MNIST"):
        grey.pixels("binary")
    with pytest.raises(ValueError, match="pixels='colour' is not supported"):
        binary.pixels("colour")


def test_the_grey_file_is_reused_and_a_tampered_one_rebuilt(private_cache) -> None:
    first = load_mnist().pixels("grey")
    (path,) = (private_cache / "data").glob("*-grey.npz")
    data._MEMO.clear()
    again = load_mnist().pixels("grey")
    assert any(line.startswith(f"grey view loaded from {path}") for line in again.checks)
    np.testing.assert_array_equal(again.test.x, first.test.x)

    with np.load(path) as stored:  # flip one pixel, keep the stored digest
        fields = {name: stored[name] for name in stored.files}
    fields["test_raw"][0, 14, 14] ^= 0x01
    with path.open("wb") as file:
        np.savez(file, **fields)
    data._MEMO.clear()
    rebuilt = load_mnist().pixels("grey")
    assert any("does not match its stored digest: rebuilt" in line for line in rebuilt.checks)
    assert rebuilt.digest == first.digest
    np.testing.assert_array_equal(rebuilt.test.x, first.test.x)


def test_the_grey_digest_follows_the_formula(monkeypatch) -> None:
    """The grey view's digest enters the training cache key: a changed formula must change it,
    not only changed pixels."""
    rng = np.random.default_rng(0)
    raws = {
        name: (rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), np.arange(3))
        for name in data.SPLITS
    }
    before = data._grey_digest(raws)
    assert data._grey_digest(raws) == before
    monkeypatch.setattr(data, "_GREY_SCALE", np.float32(1.0 / 256.0))  # raw/256, not raw/255
    assert data._grey_digest(raws) != before
    monkeypatch.undo()
    raws["test"][0][0, 0, 0] ^= 1  # one pixel
    assert data._grey_digest(raws) != before
