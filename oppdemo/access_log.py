"""The access log of `serve`: each client as the proxy reports it."""

from __future__ import annotations

import logging
from copy import copy

from uvicorn.logging import AccessFormatter


class ClientAccessFormatter(AccessFormatter):
    """uvicorn's access line without the port 0 it gives a client named by X-Forwarded-For
    (which carries no port): `203.0.113.5 - "GET / HTTP/1.1" 200`, not `203.0.113.5:0`."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        args = record.args
        if isinstance(args, tuple) and args and str(args[0]).endswith(":0"):
            record = copy(record)
            record.args = (str(args[0])[:-2], *args[1:])
        return super().formatMessage(record)


def log_config() -> dict[str, object]:
    """uvicorn's own logging configuration, with the access lines written as above."""
    from uvicorn.config import LOGGING_CONFIG

    config = {**LOGGING_CONFIG, "formatters": dict(LOGGING_CONFIG["formatters"])}
    access = {**config["formatters"]["access"], "()": f"{__name__}.ClientAccessFormatter"}  # type: ignore[index]
    config["formatters"]["access"] = access  # type: ignore[index]
    return config
