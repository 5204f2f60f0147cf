"""The manifest in pyproject.toml: defaults and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from oppdemo import ManifestError, load_manifest
from oppdemo.assets.manifest import parse_manifest


def test_a_project_without_a_manifest_gets_fastopps_2025_layout(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    manifest = load_manifest(tmp_path)
    assert [(a.path, manifest.saved_path(a)) for a in manifest.assets] == [
        ("services/storage", "demo_assets/services/storage"),
        ("demo_scripts", "demo_assets/scripts"),
    ]
    assert (manifest.snapshot, manifest.backups) == ("demo_assets", "backups")
    assert manifest.ignore.matches("x.pyc", "a/x.pyc", False)
    assert manifest.ignore.matches("__pycache__", "a/__pycache__", True)
    assert not manifest.ignore.matches("__pycache__", "a/__pycache__", False)


def test_saved_place_and_extra_ignores_are_read(tmp_path: Path) -> None:
    manifest = parse_manifest(
        tmp_path,
        {
            "snapshot": "saved",
            "ignore": ["*.log", "tmp/"],
            "assets": [{"path": "demo_scripts", "saved": "scripts"}],
        },
    )
    assert manifest.saved_path(manifest.assets[0]) == "saved/scripts"
    assert manifest.ignore.matches("run.log", "x/run.log", False)
    assert manifest.ignore.matches("tmp", "tmp", True)


def test_missing_pyproject_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="No pyproject.toml .* pass -C/--project-dir"):
        load_manifest(tmp_path)


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.oppdemo\n")
    with pytest.raises(ManifestError, match="not valid TOML"):
        load_manifest(tmp_path)


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"assets": [{"path": "/etc"}]}, r"assets\[0\]\.path .* is absolute"),
        ({"assets": [{"path": "../elsewhere"}]}, r"assets\[0\]\.path .* contains '\.\.'"),
        ({"assets": [{"path": "a\\b"}]}, r"assets\[0\]\.path"),
        ({"assets": [{"path": "."}]}, r"assets\[0\]\.path .* project root"),
        ({"assets": [{"path": "services"}, {"path": "services/storage"}]}, r"assets\[1\]\.path"),
        ({"assets": [{"path": "a", "saved": "x"}, {"path": "b", "saved": "x/y"}]}, r"\.saved"),
        ({"assets": [{"path": "demo_assets/x"}]}, r"overlaps the snapshot folder"),
        ({"assets": [{"path": "backups"}]}, r"overlaps the backups folder"),
        ({"assets": [{"path": "a", "sved": "b"}]}, r"assets\[0\]\.sved is not a known key"),
        ({"asets": []}, r"tool\.oppdemo\.asets is not a known key"),
        ({"assets": [{"path": 3}]}, r"assets\[0\]\.path must be a string, not int"),
        ({"assets": "services"}, r"assets must be a non-empty array"),
        ({"assets": [{"saved": "x"}]}, r"assets\[0\]\.path is missing"),
        ({"ignore": "*.log"}, r"ignore must be a list"),
        ({"snapshot": "demo", "backups": "demo/backups"}, r"backups .* overlaps the snapshot"),
        ({"snapshot": 1}, r"snapshot must be a string"),
    ],
)
def test_bad_manifests_name_the_key(tmp_path: Path, section: dict[str, object], named: str) -> None:
    with pytest.raises(ManifestError, match=named):
        parse_manifest(tmp_path, section)


def test_data_folders_and_destroy_semantics_are_read(tmp_path: Path) -> None:
    manifest = parse_manifest(
        tmp_path,
        {
            "assets": [
                {"path": "static"},
                {"path": "blog", "destroy": "keep"},
                {"path": "dependencies", "keep": ["auth.py"]},
                {"path": "routes", "base": "base_assets/routes"},
            ],
            "data": [{"path": "static/uploads", "demo": ["sample_photos", ".gitkeep"]}],
        },
    )
    assert [(a.path, a.on_destroy, a.keep) for a in manifest.assets] == [
        ("static", "remove", ()),
        ("blog", "keep", ()),
        ("dependencies", "remove", ("auth.py",)),
        ("routes", "base", ()),
    ]
    static = manifest.rules_for(manifest.assets[0])
    assert static.matches("a.jpg", "uploads/photos/a.jpg", False)
    assert static.matches("photos", "uploads/photos", True)
    assert not static.matches("a.jpg", "uploads/sample_photos/a.jpg", False)
    assert not static.matches(".gitkeep", "uploads/.gitkeep", False)
    assert not static.matches("uploads", "uploads", True)
    assert not manifest.rules_for(manifest.assets[1]).matches("photos", "uploads/photos", True)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (
            [{"path": "../uploads"}],
            r"^tool\.oppdemo\.data\[0\]\.path \('\.\./uploads'\) contains '\.\.': it must stay "
            r"inside the project\.$",
        ),
        ([{"path": "/srv/uploads"}], r"data\[0\]\.path .* is absolute"),
        ([{"path": "static"}], r"data\[0\]\.path \('static'\) contains the asset 'static'"),
        ([{"path": "services"}], r"contains the asset 'services/storage'"),
        ([{"path": "demo_assets/uploads"}], r"overlaps the snapshot folder"),
        (
            [{"path": "static/uploads"}, {"path": "static/uploads/photos"}],
            r"data\[1\]\.path .* overlaps the data folder 'static/uploads'",
        ),
        ([{"path": "static/uploads", "demo": "sample_photos"}], r"data\[0\]\.demo must be a list"),
        ([{"path": "static/uploads", "demo": ["../x"]}], r"data\[0\]\.demo .* contains '\.\.'"),
        ([{"demo": []}], r"data\[0\] must be a table with a 'path' key"),
        ([{"path": "static/uploads", "keep": []}], r"data\[0\]\.keep is not a known key"),
        ({"path": "static/uploads"}, r"data must be an array of tables"),
    ],
)
def test_bad_data_tables_get_one_sentence(tmp_path: Path, data: object, named: str) -> None:
    section = {"assets": [{"path": "static"}, {"path": "services/storage"}], "data": data}
    with pytest.raises(ManifestError, match=named):
        parse_manifest(tmp_path, section)


@pytest.mark.parametrize(
    ("asset", "named"),
    [
        (
            {"path": "blog", "destroy": "delete"},
            r"assets\[0\]\.destroy \('delete'\) must be one of",
        ),
        ({"path": "blog", "destroy": "base"}, r"destroy is 'base' but the asset has no 'base'"),
        ({"path": "blog", "keep": "auth.py"}, r"assets\[0\]\.keep must be a list"),
        ({"path": "blog", "keep": ["/etc"]}, r"assets\[0\]\.keep .* is absolute"),
    ],
)
def test_bad_destroy_settings_name_the_key(
    tmp_path: Path, asset: dict[str, object], named: str
) -> None:
    with pytest.raises(ManifestError, match=named):
        parse_manifest(tmp_path, {"assets": [asset]})
