"""The minimal app `destroy` leaves in place of the upload demo: a page on how to restore it."""

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>oppdemo</title></head>
<body style="font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 40rem">
<h1>The upload demo was removed</h1>
<p id="removed">This project runs its minimal app: <code>oppdemo.py destroy</code> took the
demo out. Bring it back with:</p>
<pre>uv run python oppdemo.py restore</pre>
</body></html>
"""


def create_app() -> FastAPI:
    app = FastAPI(title="oppdemo (minimal)", docs_url=None, redoc_url=None)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE

    return app
