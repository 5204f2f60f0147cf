"""Where sample photos come from: a JSON catalog of URLs, or a folder of image files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_CATALOG = Path(__file__).with_name("sample_photos.json")
IMAGE_SIGNATURES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}


class PhotoConfigError(Exception):
    """The catalog or the source folder cannot be used; nothing has been downloaded."""


@dataclass(frozen=True)
class PhotoSource:
    """One photo to seed: its file name and either a URL or a local file."""

    name: str
    url: str | None = None
    file: Path | None = None
    description: str = ""


def image_type(data: bytes) -> str | None:
    """The MIME type that the file's first bytes prove (JPEG, PNG or WebP), or None."""
    for signature, mime in IMAGE_SIGNATURES.items():
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def load_catalog(path: Path = DEFAULT_CATALOG) -> list[PhotoSource]:
    """Read a catalog: {"photos": [{"name", "url", "description"}, ...]}."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PhotoConfigError(f"Catalog {path} does not exist: check --catalog.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PhotoConfigError(f"Cannot read catalog {path}: {error}.") from None
    except json.JSONDecodeError as error:
        raise PhotoConfigError(f"Catalog {path} is not valid JSON ({error}).") from None
    entries = document.get("photos") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise PhotoConfigError(f'Catalog {path} needs a non-empty "photos" list.')
    photos = [_catalog_entry(entry, index, path) for index, entry in enumerate(entries)]
    names = [photo.name for photo in photos]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PhotoConfigError(f"Catalog {path} lists {duplicates[0]!r} more than once.")
    return photos


def photos_in_folder(folder: Path) -> list[PhotoSource]:
    """Every JPEG, PNG or WebP file directly inside `folder`, by name."""
    if not folder.is_dir():
        raise PhotoConfigError(f"Source folder {folder} does not exist: check --source.")
    try:
        files = sorted(path for path in folder.iterdir() if path.is_file())
    except OSError as error:
        raise PhotoConfigError(f"Cannot read source folder {folder}: {error.strerror}.") from None
    photos = [
        PhotoSource(path.name, file=path)
        for path in files
        if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
    ]
    if not photos:
        raise PhotoConfigError(f"Source folder {folder} holds no .jpg, .png or .webp files.")
    return photos


def _catalog_entry(entry: object, index: int, path: Path) -> PhotoSource:
    where = f"Catalog {path}, photo {index + 1}"
    if not isinstance(entry, dict):
        raise PhotoConfigError(f"{where} must be an object with name, url and description.")
    name, url = entry.get("name"), entry.get("url")
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise PhotoConfigError(f"{where} needs a plain file name such as 'headshot.jpg'.")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise PhotoConfigError(f"{where} ({name}) needs an http(s) url.")
    description = entry.get("description", "")
    return PhotoSource(name, url=url, description=str(description))
