"""Ids of the profile, journey, enrollment and delivery at hand, on every log record.

The engine and the outbox wrap their work in ``log_ids(...)``. ``LogIdsFilter`` copies
the ids of the innermost block onto each record as the attributes ``profile_id``,
``journey_id``, ``enrollment_id``, ``delivery_id`` and ``step``, so any formatter can
print them. ``JSONFormatter`` writes one JSON object per line with them. A value
passed in ``extra=`` wins over the block's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

FIELDS = ("profile_id", "journey_id", "enrollment_id", "delivery_id", "step")

_NO_IDS: dict[str, Any] = {}
_ids: ContextVar[dict[str, Any]] = ContextVar("omnichannel_log_ids", default=_NO_IDS)


@contextmanager
def log_ids(**ids: Any) -> Iterator[None]:
    """Attach ``ids`` to every record logged inside the block; None values are
    left out."""
    unknown = set(ids) - set(FIELDS)
    if unknown:
        raise TypeError(f"log_ids() got unknown ids {sorted(unknown)}; use {FIELDS}.")
    merged = {**_ids.get(), **{k: v for k, v in ids.items() if v is not None}}
    token = _ids.set(merged)
    try:
        yield
    finally:
        _ids.reset(token)


def bind_log_ids(**ids: Any) -> None:
    """Add ``ids`` to the innermost ``log_ids`` block, for ids learnt inside it.

    Outside any block it does nothing, so no id leaks into unrelated records.
    """
    unknown = set(ids) - set(FIELDS)
    if unknown:
        raise TypeError(
            f"bind_log_ids() got unknown ids {sorted(unknown)}; use {FIELDS}."
        )
    current = _ids.get()
    if current is _NO_IDS:
        return
    current.update({k: v for k, v in ids.items() if v is not None})


def current_ids() -> dict[str, Any]:
    """Return the ids of the innermost ``log_ids`` block."""
    return dict(_ids.get())


class LogIdsFilter(logging.Filter):
    """Set each of ``FIELDS`` on the record: from ``extra=``, else the block, else
    None. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _ids.get()
        for name in FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, ids.get(name))
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, the ids
    that are set, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ids = _ids.get()
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is None:
                value = ids.get(name)
            if value is not None:
                payload[name] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)
