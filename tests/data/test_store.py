"""The compact store (:mod:`rnnreport.data.store`): each view kept once, reused without reading
the source, keyed by the source's content, and rebuilt, never trusted, when damaged."""

from __future__ import annotations

import gzip
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from rnnreport.data import SPLITS, load_mnist, mnist, store
from rnnreport.data.sources import IDX_FILES

from .fakes import SMALL, cache_files, count_source_reads, fake_arrays, hub_pickle, idx_bytes


def test_the_compact_cache_is_reused_without_reading_the_source(
    full_idx, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, _ = full_idx
    first = load_mnist(directory)
    (cached,) = cache_files()  # one .npz, no temporary left behind
    assert cached.suffix == ".npz"
    assert cached.stat().st_size < 8_000_000  # packed: 70,000 x 98 bytes plus labels

    mnist._MEMO.clear()
    calls = count_source_reads(monkeypatch)
    second = load_mnist(directory)
    assert calls == []
    assert second.digest == first.digest and second.source == first.source
    for name in SPLITS:
        np.testing.assert_array_equal(getattr(second, name).x, getattr(first, name).x)
        np.testing.assert_array_equal(getattr(second, name).y, getattr(first, name).y)
        assert getattr(second, name).y.dtype == np.int64
    assert any("loaded from the compact cache" in line for line in second.checks)


def _tamper(path: Path, field: str = "valid_x") -> None:
    """Flip one stored pixel byte but keep the stored digest: only the recomputation can tell."""
    with np.load(path) as stored:
        fields = {name: stored[name] for name in stored.files}
    fields[field].reshape(-1)[0] ^= 0x01
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
    (cached,) = cache_files()
    make, says = CACHE_DAMAGE[damage]
    make(cached)

    mnist._MEMO.clear()
    calls = count_source_reads(monkeypatch)
    rebuilt = load_mnist(directory)
    assert calls == [1]
    assert rebuilt.digest == first.digest
    np.testing.assert_array_equal(rebuilt.valid.x, first.valid.x)
    (about,) = [line for line in rebuilt.checks if line.startswith(f"compact cache {cached}")]
    assert re.search(says, about) and about.endswith(": rebuilt")

    mnist._MEMO.clear()
    assert load_mnist(directory).digest == first.digest  # the rewritten file is good
    assert calls == [1] and cache_files() == [cached]


def test_the_grey_file_is_reused_and_a_tampered_one_rebuilt(
    full_idx, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, _ = full_idx
    first = load_mnist(directory).pixels("grey")
    (path,) = [file for file in cache_files() if file.name.endswith("-grey.npz")]
    mnist._MEMO.clear()
    calls = count_source_reads(monkeypatch)
    again = load_mnist(directory).pixels("grey")
    assert calls == []
    assert any(line.startswith(f"loaded from the compact cache {path}") for line in again.checks)
    np.testing.assert_array_equal(again.test.x, first.test.x)

    _tamper(path, "test_x")
    mnist._MEMO.clear()
    rebuilt = load_mnist(directory).pixels("grey")
    assert calls == [1]
    assert any("does not match its stored digest: rebuilt" in line for line in rebuilt.checks)
    assert rebuilt.digest == first.digest
    np.testing.assert_array_equal(rebuilt.test.x, first.test.x)


def test_a_file_of_another_view_is_not_taken_for_this_one(small, small_counts) -> None:
    directory, _, _ = small
    binary = load_mnist(directory)
    (binary_file,) = cache_files()
    key = binary.origin.key  # type: ignore[union-attr]
    shutil.copy(binary_file, store.path(key, "grey"))  # a binary file where the grey one goes
    grey = binary.pixels("grey")
    assert any("holds malformed train arrays: rebuilt" in line for line in grey.checks)
    assert grey.view == "grey" and grey.test.x.dtype == np.float32


def test_a_directory_in_place_of_the_cache_file_is_one_line_and_the_source_is_read(
    small, small_counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, _, _ = small
    first = load_mnist(directory)
    (cached,) = cache_files()
    cached.unlink()
    cached.mkdir()
    mnist._MEMO.clear()
    calls = count_source_reads(monkeypatch)
    second = load_mnist(directory)
    assert calls == [1] and second.digest == first.digest
    (about,) = [line for line in second.checks if str(cached) in line]
    assert about.startswith(f"compact cache {cached} is a directory, not a file: not written")
    assert about.endswith(f"remove it (`rm -r {cached}`)")

    cached.rmdir()  # the fix the line gives: the next load writes the file again
    mnist._MEMO.clear()
    load_mnist(directory)
    assert calls == [1, 1] and cached.is_file()


def test_a_changed_source_file_is_read_again(full_idx, tmp_path: Path, monkeypatch) -> None:
    source, arrays = full_idx
    directory = tmp_path / "idx"
    shutil.copytree(source, directory)
    first = load_mnist(directory)
    mnist._MEMO.clear()
    path = directory / IDX_FILES["test_labels"]
    labels = (arrays[3] + 1) % 10
    path.write_bytes(idx_bytes(labels))  # same size, new content
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    calls = count_source_reads(monkeypatch)
    second = load_mnist(directory)
    assert calls == [1]
    np.testing.assert_array_equal(second.test.y, labels)
    assert second.digest != first.digest


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
    _replace_keeping_size_and_mtime(paths["test_labels"], idx_bytes(labels))
    calls = count_source_reads(monkeypatch)
    second = load_mnist(directory)  # neither the memo nor the compact cache may answer
    assert calls == [1]
    np.testing.assert_array_equal(second.test.y, labels)
    assert second.digest != first.digest
    assert len(cache_files()) == 2  # one compact file per content


def test_a_new_pickle_with_the_same_size_and_mtime_is_read_again(
    fake_hub, small_counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrays = fake_arrays(*SMALL)
    # Stored (level 0) gzip: its length depends only on the pickle's, which labels do not change.
    fake_hub.write_bytes(gzip.compress(hub_pickle(arrays, split_at=7), 0, mtime=0))
    first = load_mnist()
    relabelled = (*arrays[:3], (arrays[3] + 1) % 10)
    new = gzip.compress(hub_pickle(relabelled, split_at=7), 0, mtime=0)
    _replace_keeping_size_and_mtime(fake_hub, new)
    calls = count_source_reads(monkeypatch)
    second = load_mnist()
    assert calls == [1]
    np.testing.assert_array_equal(second.test.y, relabelled[3])
    assert second.digest != first.digest
