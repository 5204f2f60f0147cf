"""The scan: what it records of ignored folders, and that it never looks inside them."""

from __future__ import annotations

from pathlib import Path

from oppdemo.assets.ignore import ignore_rules
from oppdemo.assets.scan import scan_tree

from .projects import write_tree


def test_an_ignored_folder_is_one_entry_and_never_looked_into(tmp_path: Path) -> None:
    files = {f"node_modules/pkg{i}/index.js": "x" for i in range(50)}
    write_tree(tmp_path, {**files, "app.js": "y", "lib/__pycache__/a.pyc": "z", "lib/b.py": ""})
    tree = scan_tree(tmp_path, ignore_rules())
    assert sorted(tree.ignored) == ["lib/__pycache__", "node_modules"]
    assert sorted(tree.entries) == ["", "app.js", "lib", "lib/b.py"]
    assert tree.occupied == {"", "lib"}, "the folders that hold ignored entries must stay"
