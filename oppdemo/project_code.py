"""Load the project's own code (its storage package, demo scripts, demo app) into oppdemo.

A missing module gets a message that tells the truth: "restore brings it back" only when the
manifest lists that code as an asset and the snapshot holds it; otherwise what the project
lacks and what to set or run instead. A third-party package missing where oppdemo runs (boto3
in a tool-only install) is named with the fix.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from oppdemo.errors import OppdemoError


class DemoCodeMissingError(OppdemoError):
    """The project code a command needs is not in the working tree."""


class MissingPackageError(OppdemoError):
    """A package the project's code imports is not installed where oppdemo runs."""


# What oppdemo's extras hold (their packages' top-level modules): a module among them can be
# brought by installing oppdemo with that extra; any other, only by the project's environment.
_EXTRAS = {
    "boto3": "s3",
    "botocore": "s3",
    "s3transfer": "s3",
    "fastapi": "demo",
    "starlette": "demo",
    "jinja2": "demo",
    "PIL": "demo",
    "multipart": "demo",
    "python_multipart": "demo",
    "uvicorn": "demo",
}


def missing_package(name: str, project: Path | None = None, importer: str = "") -> OppdemoError:
    """The error for a module `name` that the project's code (`importer`, a path relative to
    the project, when known) imports and that cannot be found where oppdemo runs."""
    top = name.split(".")[0]
    by = f" (imported by {importer})" if importer else ""
    if project is not None and (
        _restorable(project, name.replace(".", "/")) or _restorable(project, top)
    ):
        return DemoCodeMissingError(
            f"The project's code{by} imports `{top}`, the project's own {top}/, which is "
            "missing (`oppdemo destroy` removes the demo's): `oppdemo restore` brings it back."
        )
    here = (
        "run oppdemo in the project's environment (`uv add --dev oppdemo` in the project, "
        "then `uv run oppdemo ...`)"
    )
    extra = _EXTRAS.get(top)
    if extra is not None:
        return MissingPackageError(
            f"The project's code{by} needs the package {top!r}, which is not installed where "
            f"oppdemo runs: run `uv run oppdemo ...` inside the project, or install oppdemo "
            f"with the {extra} extra (`uv tool install 'oppdemo[{extra}] @ <path or git URL>'`)."
        )
    if project is not None and _is_dependency(project, top):
        return MissingPackageError(
            f"The project's code{by} needs {top!r}, one of the project's own dependencies, "
            f"which is not installed where oppdemo runs: {here}."
        )
    return MissingPackageError(
        f"The project's code{by} needs the package {top!r}, which is not installed where "
        f"oppdemo runs: {here}, or install {top!r} into oppdemo's environment."
    )


def missing_module(error: ImportError, project: Path) -> OppdemoError:
    """`missing_package` for an ImportError raised while the project's code was loading."""
    return missing_package(error.name or "boto3", project, _importer(error, project))


def project_of(package: ModuleType) -> Path | None:
    """The project folder a package of the project's was imported from."""
    where = getattr(package, "__file__", None)
    if not where:
        return None
    depth = package.__name__.count(".") + (2 if Path(where).name == "__init__.py" else 1)
    return Path(where).resolve().parents[depth - 1]


def _importer(error: BaseException, project: Path) -> str:
    """The last file of the project's own code in the error's traceback."""
    traceback, found = error.__traceback__, ""
    while traceback is not None:
        name = traceback.tb_frame.f_code.co_filename
        if not name.startswith("<"):
            path = Path(name).resolve()
            if path.is_relative_to(project):
                found = path.relative_to(project).as_posix()
        traceback = traceback.tb_next
    return found


def _is_dependency(project: Path, module: str) -> bool:
    """Whether the project's pyproject.toml lists `module`'s distribution (by the usual
    spelling: pydantic_settings is pydantic-settings)."""
    import re
    import tomllib

    try:
        data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    project_table = data.get("project", {})
    listed = list(project_table.get("dependencies", []))
    for group in project_table.get("optional-dependencies", {}).values():
        listed.extend(group)
    for group in data.get("dependency-groups", {}).values():
        listed.extend(item for item in group if isinstance(item, str))

    def normal(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    names = {normal(re.split(r"[\s<>=!~;\[(@]", item, maxsplit=1)[0]) for item in listed}
    return normal(module) in names


def import_project_module(project: Path, name: str, instead: str) -> ModuleType:
    """Import `name` from `project`, never from wherever oppdemo itself was started.

    `instead` says what to do when the project has no such module and it is not a demo asset
    that `restore` could bring back.
    """
    project = project.resolve()
    sys.path[:] = [str(project)] + [
        entry for entry in sys.path if Path(entry or ".").resolve() != project
    ]
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        missing = error.name or name
        if not _is_project_module(project, missing, name):
            raise missing_module(error, project) from None
        raise _missing_code(project, missing, instead) from None
    if not _inside(module, project):
        # Found elsewhere on sys.path: oppdemo's own checkout (on sys.path when oppdemo is
        # installed from it in editable mode) holds demo code too, never the project's.
        for loaded in [key for key in sys.modules if key.split(".")[0] == name.split(".")[0]]:
            del sys.modules[loaded]
        raise _missing_code(project, name.split(".")[0], instead)
    return module


def _inside(module: ModuleType, project: Path) -> bool:
    where = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", [])), "")
    return bool(where) and Path(where).resolve().is_relative_to(project)


def _is_project_module(project: Path, missing: str, wanted: str) -> bool:
    """Whether the module that failed to import is the project's (not a third-party one)."""
    top = missing.split(".")[0]
    return (
        top == wanted.split(".")[0] or (project / top).is_dir() or (project / f"{top}.py").exists()
    )


def _missing_code(project: Path, name: str, instead: str) -> DemoCodeMissingError:
    folder = name.replace(".", "/")
    if _restorable(project, folder):
        return DemoCodeMissingError(
            f"The demo code is gone ({folder}/ is missing): `oppdemo restore` brings it back."
        )
    return DemoCodeMissingError(f"This project has no {folder}/: {instead}")


def _restorable(project: Path, folder: str) -> bool:
    """Whether the manifest lists `folder` (or a folder holding it) and the snapshot has it."""
    from oppdemo.assets.manifest import PYPROJECT, load_manifest

    if not (project / PYPROJECT).is_file():
        return False
    try:
        manifest = load_manifest(project)
    except OppdemoError:
        return False
    for asset in manifest.assets:
        if folder == asset.path or folder.startswith(f"{asset.path}/"):
            saved = project / manifest.saved_path(asset) / folder[len(asset.path) :].lstrip("/")
            return saved.exists() or saved.with_suffix(".py").exists()
    return False
