"""MkDocs hook: `{{ repo_url }}` in a page becomes `extra.repo_url` from mkdocs.yml."""

from __future__ import annotations

from typing import Any


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return markdown.replace("{{ repo_url }}", config["extra"]["repo_url"])
