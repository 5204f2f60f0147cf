"""The content compare: agreement with filecmp, both halves of a forked compare, read errors."""

from __future__ import annotations

import filecmp
import os
from pathlib import Path

import pytest

from oppdemo import PlanError
from oppdemo.assets.compare import _CHUNK, compare_trees, same_content
from oppdemo.assets.ignore import ignore_rules
from oppdemo.assets.scan import scan_tree


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (b"", b""),
        (b"", b"x"),
        (b"abc", b"abd"),
        (b"abc", b"abcd"),
        (b"x" * _CHUNK, b"x" * _CHUNK),
        (b"x" * _CHUNK + b"a", b"x" * _CHUNK + b"b"),
        (b"x" * _CHUNK, b"x" * (_CHUNK + 1)),
        (b"x" * (2 * _CHUNK + 5), b"x" * (2 * _CHUNK + 5)),
    ],
)
def test_same_content_agrees_with_filecmp(tmp_path: Path, first: bytes, second: bytes) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(first)
    b.write_bytes(second)
    expected = filecmp.cmp(a, b, shallow=False)
    assert same_content(a, b) is expected
    assert same_content(b, a) is expected


def _trees(tmp_path: Path, count: int) -> tuple[Path, Path]:
    working, saved = tmp_path / "working", tmp_path / "saved"
    for root in (working, saved):
        for index in range(count):
            path = root / f"d{index % 7}" / f"f{index:04d}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"file {index}\n" * 20)
    return working, saved


def test_changes_in_both_halves_of_a_large_tree_are_found(tmp_path: Path) -> None:
    working, saved = _trees(tmp_path, 400)
    changed = sorted(f"d{i % 7}/f{i:04d}.txt" for i in (3, 150, 210, 399))
    for key in changed:
        path = working / key
        text = path.read_text()
        path.write_text(text[:-2] + "X\n")  # same size, other content
    rules = ignore_rules()
    changes = compare_trees(scan_tree(working, rules), scan_tree(saved, rules))
    assert list(changes.modified) == changed
    assert changes.added == changes.deleted == ()


def test_a_file_that_cannot_be_read_is_a_clear_error(tmp_path: Path) -> None:
    working, saved = _trees(tmp_path, 400)
    rules = ignore_rules()
    first, second = scan_tree(working, rules), scan_tree(saved, rules)
    for key in ("d0/f0000.txt", "d0/f0399.txt"):
        os.remove(saved / key)
        with pytest.raises(PlanError, match=f"Cannot read .*{key}"):
            compare_trees(first, second)
        (saved / key).write_text("back")
