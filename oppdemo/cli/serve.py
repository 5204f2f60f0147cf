"""`serve`: the project's upload demo, with uvicorn."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from oppdemo.cli.common import (
    app,
    fail,
    run_core,
)

if TYPE_CHECKING:
    pass


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: $HOST, or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port to listen on (default: $PORT, or 8000)."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            "--proxy-headers",
            help="Behind a proxy: the client's address and the scheme from X-Forwarded-For and "
            "X-Forwarded-Proto, when the proxies of --forwarded-allow-ips send them.",
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            metavar="ADDRESSES",
            help="Proxies whose forwarding headers count, comma-separated addresses or networks "
            "(default: $FORWARDED_ALLOW_IPS, or 127.0.0.1; '*' with --uds).",
        ),
    ] = None,
    uds: Annotated[
        str | None,
        typer.Option(
            "--uds", metavar="PATH", help="Listen on this unix socket instead of HOST:PORT."
        ),
    ] = None,
    open_access: Annotated[
        bool,
        typer.Option(
            "--open", help="Let ANYONE upload and delete, with no password (a public demo)."
        ),
    ] = False,
) -> None:
    """Run the file-upload demo (demo_app/) with uvicorn: http://HOST:PORT."""
    import os

    from oppdemo.project_code import import_project_module

    host = host or os.environ.get("HOST") or "127.0.0.1"
    if uds and os.name == "nt":
        fail("serve --uds needs unix sockets, which Windows lacks: use --host and --port.")
    port = port or _port_from_environment()
    project = Path(ctx.obj).resolve()
    # As if run from the project: .env and a relative UPLOAD_DIR are found there.
    os.chdir(project)
    demo = run_core(
        lambda: import_project_module(
            project,
            "demo_app",
            "serve runs oppdemo's upload demo from there; start this project's own app with its "
            "own command (such as `uv run uvicorn main:app`).",
        )
    )
    if open_access:
        os.environ["DEMO_OPEN"] = "1"  # read by every worker's app
    import secrets

    if not _configured("DEMO_SECRET_KEY") and not _configured("DEMO_PASSWORD"):
        # One key for every worker, or a session signed by one is refused by the others
        # (with a password, the app derives the key from it).
        os.environ["DEMO_SECRET_KEY"] = secrets.token_hex(32)
    # No password: the operator signs in by a one-time link, a new one each start (read by
    # every worker's app; printed once below, never logged).
    link_token = secrets.token_urlsafe(32)
    os.environ["DEMO_SIGNIN_TOKEN"] = link_token
    # The demo's settings errors (STORAGE_TYPE, UPLOAD_MAX_MB, ...), found before listening;
    # the minimal app left by `destroy` has no storage package or settings to raise them.
    storage = sys.modules.get("services.storage")
    settings_errors = (ValueError, *([storage.StorageError] if storage else []))
    try:
        web_app = demo.create_app()
        settings = getattr(demo, "read_settings", None)
        password = settings().password if settings else None
    except settings_errors as error:
        fail(str(error))
    # A unix socket is reached only through the proxy that forwards to it.
    if not uds and not _is_loopback(host) and password is None and settings and not open_access:
        fail(
            f"serve --host {host} needs DEMO_PASSWORD (and DEMO_SECRET_KEY) for the operator "
            "to sign in from the network, or --open to let ANYONE upload and delete."
        )
    if password is None and settings and not open_access:
        where = f"[{host}]" if ":" in host else host
        typer.echo(
            f"Sign in (the link is good once): http://{where}:{port}/signin?token={link_token}",
            err=True,
        )
    import uvicorn

    from oppdemo.access_log import log_config

    options: dict[str, Any] = {
        "log_level": "info",
        "log_config": log_config(),
        "proxy_headers": proxy_headers,
        # Only the proxies named are believed: anyone else could claim any client or scheme.
        # On a unix socket no peer has an address: the socket's own proxy is the one trusted.
        "forwarded_allow_ips": forwarded_allow_ips
        or os.environ.get("FORWARDED_ALLOW_IPS")
        or ("*" if uds else "127.0.0.1"),
    }
    options.update({"uds": uds} if uds else {"host": host, "port": port})
    if workers > 1:
        # Each worker builds its own app from the same settings (sessions shared through
        # DEMO_SECRET_KEY, photos through the storage).
        uvicorn.run("demo_app.app:create_app", factory=True, workers=workers, **options)
    else:
        uvicorn.run(web_app, **options)


def _port_from_environment() -> int:
    import os

    raw = os.environ.get("PORT", "").strip()
    if not raw:
        return 8000
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        fail(f"PORT={raw!r} is not a port number: set it to a whole number from 1 to 65535.")
    return int(raw)


def _configured(name: str) -> bool:
    """Whether the environment or the project's .env gives `name` a value."""
    import os

    if os.environ.get(name):
        return True
    if not os.path.isfile(".env"):
        return False
    from dotenv import dotenv_values

    return bool(dotenv_values(".env").get(name))


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
