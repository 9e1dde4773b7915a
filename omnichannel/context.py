"""The request being served, for code that runs inside it without a reference to it.

Shop adapters use it to link a cart saved during a request to the visitor's cookie.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_request: ContextVar[Any] = ContextVar("omnichannel_request", default=None)


def current_request() -> Any:
    """Return the request the middleware is serving in this context, or None."""
    return _request.get()


def set_request(request: Any) -> Any:
    return _request.set(request)


def reset_request(token: Any) -> None:
    _request.reset(token)
