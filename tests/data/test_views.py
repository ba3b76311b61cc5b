"""The binary and grey views, and the split (:mod:`rnnreport.data.views`): read_data_sets'
formulas, the same images in both views, digests that follow the pixels and the formula."""

from __future__ import annotations

import numpy as np
import pytest

from rnnreport.data import N_VALID, SPLITS, VIEWS, binarize, grey, load_mnist, views

from .fakes import fake_arrays


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


def test_grey_is_float32_level_over_255_and_refuses_other_dtypes() -> None:
    levels = np.arange(256, dtype=np.uint8)
    expected = levels.astype(np.float32) * np.float32(1 / 255)  # read_data_sets' product
    np.testing.assert_array_equal(grey(levels), expected)
    assert grey(levels).dtype == np.float32 and grey(levels)[-1] == 1.0
    np.testing.assert_array_equal(views.binary_of_grey(grey(levels)), binarize(levels))
    with pytest.raises(TypeError, match="raw uint8 pixels"):
        grey(levels.astype(np.int64))


def test_grey_is_raw_over_255_and_binarizes_to_the_binary_view(raw) -> None:
    binary = load_mnist()
    grey_view = binary.pixels("grey")
    train_x, train_y, test_x, test_y = raw
    # an independent path: the raw uint8 pixels as read_raw gives them, scaled here
    expected = {"train": train_x[N_VALID:], "valid": train_x[:N_VALID], "test": test_x}
    labels = {"train": train_y[N_VALID:], "valid": train_y[:N_VALID], "test": test_y}
    for name in SPLITS:
        g, b = getattr(grey_view, name), getattr(binary, name)
        assert g.x.dtype == np.float32 and g.x.shape == b.x.shape
        assert g.x.min() >= 0.0 and g.x.max() <= 1.0
        # read_data_sets: float32 p times float32(1/255)
        np.testing.assert_array_equal(g.x, expected[name].astype(np.float32) * np.float32(1 / 255))
        np.testing.assert_array_equal(g.y, labels[name])
        # the views' relation: binary = [p * (1/255) > 0.1] in float32, i.e. p >= 26
        np.testing.assert_array_equal(b.x, (g.x > np.float32(0.1)).astype(np.uint8))
        np.testing.assert_array_equal(b.x, np.rint(g.x * 255) >= 26)
    assert grey_view.view == "grey" and binary.view == "binary"
    assert grey_view.digest != binary.digest


def test_the_split_takes_validation_from_the_front() -> None:
    raw = fake_arrays(N_VALID + 7, 3)
    parts = views.split(raw)
    assert list(parts) == list(SPLITS)
    np.testing.assert_array_equal(parts["valid"][0], raw[0][:N_VALID])
    np.testing.assert_array_equal(parts["train"][1], raw[1][N_VALID:])
    np.testing.assert_array_equal(parts["test"][0], raw[2])
    assert views.sizes((N_VALID + 7, 3)) == {"train": 7, "valid": N_VALID, "test": 3}


@pytest.mark.parametrize("view", VIEWS)
def test_each_view_is_stored_losslessly(view: str) -> None:
    raw = fake_arrays(N_VALID + 2, 2)
    stored, digest, lines = views.prepare(view, raw)
    for name, (x, y) in views.split(raw).items():
        pixels, labels = stored[name]
        assert pixels.dtype == np.uint8 and pixels.shape == (len(x), *views.stored_shape(view))
        wanted = binarize(x) if view == "binary" else grey(x)
        np.testing.assert_array_equal(views.restore(view, pixels), wanted)
        np.testing.assert_array_equal(labels, y)
    assert digest == views.digest(view, stored) and lines[-1].endswith(digest)


@pytest.mark.parametrize("view", VIEWS)
def test_a_digest_follows_every_pixel_and_label(view: str) -> None:
    stored, before, _ = views.prepare(view, fake_arrays(N_VALID + 2, 2))
    pixels, labels = stored["test"]
    pixels[0, 0] ^= 1  # one stored byte
    assert views.digest(view, stored) != before
    pixels[0, 0] ^= 1
    assert views.digest(view, stored) == before
    labels[1] = (labels[1] + 1) % 10
    assert views.digest(view, stored) != before


def test_the_grey_digest_follows_the_formula(monkeypatch) -> None:
    """The grey view's digest enters the training cache key: a changed formula must change it,
    not only changed pixels."""
    rng = np.random.default_rng(0)
    raws = {
        name: (rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), np.arange(3)) for name in SPLITS
    }
    before = views.digest("grey", raws)
    assert views.digest("grey", raws) == before
    monkeypatch.setattr(views, "_GREY_SCALE", np.float32(1.0 / 256.0))  # raw/256, not raw/255
    assert views.digest("grey", raws) != before
    monkeypatch.undo()
    raws["test"][0][0, 0, 0] ^= 1  # one pixel
    assert views.digest("grey", raws) != before
