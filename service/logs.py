"""JSON logs with the request id; nothing from bodies, keys or query strings is logged."""

from __future__ import annotations

import logging
import sys

from flask import g, has_request_context
from pythonjsonlogger.json import JsonFormatter


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(g, "request_id", None) if has_request_context() else None
        return True


def configure(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(getattr(h, "_ledger", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._ledger = True
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic announces each of its plugins at INFO whenever it is imported.
    logging.getLogger("alembic").setLevel(logging.WARNING)
