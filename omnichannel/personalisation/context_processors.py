"""Template context processor: ``omnichannel`` in every template rendered for a request.

Add ``"omnichannel.personalisation.context_processors.omnichannel"`` to the
template engine's ``context_processors``. Nothing is read until a template uses it,
and then from the same per-request load as the template tags.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import cached_property

from omnichannel.personalisation.visitor import page_context


class Personalisation:
    """The visitor as templates see it: ``{{ omnichannel.profile.first_name }}``,
    ``{% if "vip" in omnichannel.segments %}``."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    @cached_property
    def profile(self) -> Any:
        context = page_context(self._request)
        context.load()
        return context.profile

    @cached_property
    def segments(self) -> frozenset[str]:
        context = page_context(self._request)
        context.load()
        return context.memberships

    @property
    def visitor_id(self) -> str:
        return getattr(self._request, "omnichannel_visitor_id", "") or ""


def omnichannel(request: HttpRequest) -> dict[str, Any]:
    return {"omnichannel": Personalisation(request)}
