"""No request gets a 500: every route's query, path and form fields, fuzzed with Hypothesis."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo_app import create_app
from services.storage import FilesystemStorage

from .test_demo_app import OPERATOR
from .test_demo_app import settings as demo_settings

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
ROUTES = ["/", "/api/photos", "/signin", "/admin", "/upload", "/signout", "/admin/check"]


def _client(folder: Path, operator: bool) -> TestClient:
    app = create_app(FilesystemStorage(folder, "/static/uploads"), demo_settings())
    headers = OPERATOR if operator else {}
    return TestClient(app, raise_server_exceptions=False, headers=headers, follow_redirects=False)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=st.sampled_from(ROUTES),
    method=st.sampled_from(["GET", "POST", "DELETE"]),
    query=st.lists(st.tuples(text, text), max_size=4),
    form=st.dictionaries(text, text, max_size=3),
    operator=st.booleans(),
)
def test_no_route_answers_500(
    tmp_path: Path, route: str, method: str, query: list[tuple[str, str]],
    form: dict[str, str], operator: bool,
) -> None:  # fmt: skip
    with _client(tmp_path / "uploads", operator) as client:
        answer = client.request(method, route, params=query, data=form or None)
    assert answer.status_code < 500, (method, route, query, form, answer.text[:200])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=text, operator=st.booleans())
def test_no_photo_path_answers_500(tmp_path: Path, key: str, operator: bool) -> None:
    path = quote(key, safe="/")  # what a client sends: the server decodes it back
    with _client(tmp_path / "uploads", operator) as client:
        for method in ("DELETE", "GET"):
            answer = client.request(method, "/api/photos/" + path)
            assert answer.status_code < 500, (method, key, answer.text[:200])
        served = client.get("/static/uploads/" + path)
        assert served.status_code < 500, (key, served.text[:200])
