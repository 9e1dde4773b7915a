"""The admin's dashboard machinery: the period form, sections, caching, CSV export.

A dashboard is a list of sections, each a chart over the table it was drawn from.
Every table can be downloaded as CSV with ``?export=<table name>`` added to the
dashboard's address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from omnichannel.analytics.tables import Table, display_cell
from omnichannel.conf import app_settings

MAX_PERIOD_DAYS = 400
DEFAULT_PERIOD_DAYS = 28


@dataclass
class Section:
    """One chart with the table behind it."""

    title: str
    table: Table
    chart: SafeString | None = None
    note: str = ""


class PeriodForm(forms.Form):
    """The reporting period, in whole days of the current time zone."""

    start = forms.DateField(label=_("From"), required=False)
    end = forms.DateField(label=_("To (inclusive)"), required=False)
    window_days = forms.IntegerField(
        label=_("Window (days)"),
        required=False,
        min_value=1,
        max_value=90,
        help_text=_("Attribution or recovery window; empty uses the setting."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        end = data.get("end") or default_end()
        start = data.get("start") or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
        if start > end:
            raise forms.ValidationError(
                _("The start date must be on or before the end date.")
            )
        if (end - start).days >= MAX_PERIOD_DAYS:
            raise forms.ValidationError(
                _("Choose a period of at most %(days)d days.")
                % {"days": MAX_PERIOD_DAYS}
            )
        data["start"], data["end"] = start, end
        return data

    def period(self) -> tuple[datetime, datetime]:
        """Return [start, end) as aware datetimes at local midnight."""
        return _midnight(self.cleaned_data["start"]), _midnight(
            self.cleaned_data["end"] + timedelta(days=1)
        )

    def window(self) -> timedelta | None:
        days = self.cleaned_data.get("window_days")
        return timedelta(days=days) if days else None


def default_end() -> date:
    """Return today, or the day of the latest order when there was none since the
    default period began, such as in a shop whose history was only imported."""
    from django.db.models import Max

    from omnichannel.profiles.models import Event

    today = timezone.localdate()
    # The (name, occurred_at) index serves this query without reading the events.
    latest = Event.objects.filter(name="order_placed").aggregate(
        latest=Max("occurred_at")
    )["latest"]
    if latest is None:
        return today
    latest_day = timezone.localdate(latest)
    if latest_day < today - timedelta(days=DEFAULT_PERIOD_DAYS - 1):
        return latest_day
    return today


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class DashboardAdmin(admin.ModelAdmin):
    """A read-only admin entry whose list page is a dashboard."""

    form_class: type[PeriodForm] = PeriodForm
    dashboard_title: Any = ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.dashboard_view), name=name)]

    def build(self, form: PeriodForm) -> tuple[list[Section], list[tuple[Any, Any]]]:
        """Return the sections and the summary figures for a valid form."""
        raise NotImplementedError

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = self.form_class(request.GET)
        sections: list[Section] = []
        summary: list[tuple[Any, Any]] = []
        if form.is_valid():
            sections, summary = self._cached_build(form)
        export = request.GET.get("export")
        if export:
            return export_csv(form, sections, export, self.opts.model_name)
        return render_dashboard(
            request,
            self.admin_site,
            self.opts,
            title=self.dashboard_title or self.opts.verbose_name_plural,
            form=form,
            sections=sections,
            summary=summary,
        )

    def _cached_build(
        self, form: PeriodForm
    ) -> tuple[list[Section], list[tuple[Any, Any]]]:
        seconds = app_settings.ANALYTICS_CACHE_SECONDS
        if not seconds:
            return self.build(form)
        fingerprint = repr(sorted(form.cleaned_data.items()))
        digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
        key = f"omnichannel:dashboard:{self.opts.model_name}:{digest}"
        cached = cache.get(key)
        if cached is None:
            cached = self.build(form)
            cache.set(key, cached, seconds)
        return cached


def export_csv(
    form: forms.Form, sections: list[Section], name: str, prefix: str
) -> HttpResponse:
    """Return the named table of the sections as a CSV download."""
    if not form.is_valid():
        errors = "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in form.errors.items()
        )
        return HttpResponseBadRequest(
            f"Invalid filter: {errors}", content_type="text/plain; charset=utf-8"
        )
    tables = {section.table.name: section.table for section in sections}
    if name not in tables:
        raise Http404(
            f"No table {name!r} here; export one of: {', '.join(sorted(tables))}."
        )
    response = HttpResponse(
        tables[name].to_csv(), content_type="text/csv; charset=utf-8"
    )
    period = ""
    if "start" in form.cleaned_data and "end" in form.cleaned_data:
        period = f"-{form.cleaned_data['start']}-{form.cleaned_data['end']}"
    response["Content-Disposition"] = (
        f'attachment; filename="{prefix}-{name}{period}.csv"'
    )
    return response


def render_dashboard(
    request: HttpRequest,
    site: admin.AdminSite,
    opts: Any,
    *,
    title: Any,
    form: forms.Form | None,
    sections: list[Section],
    summary: list[tuple[Any, Any]],
    extra: dict[str, Any] | None = None,
    template: str = "omnichannel/admin/dashboard.html",
) -> TemplateResponse:
    """Render sections with their CSV links under the admin's header."""
    rendered = []
    for section in sections:
        query = request.GET.copy()
        query["export"] = section.table.name
        rendered.append(
            {
                "title": section.title,
                "chart": section.chart,
                "note": section.note,
                "headings": section.table.headings(),
                "rows": section.table.display_rows(),
                "csv_url": f"?{query.urlencode()}",
            }
        )
    context = {
        **site.each_context(request),
        "title": title,
        "opts": opts,
        "form": form,
        "sections": rendered,
        "summary": [
            (label, display_cell(str(label), value)) for label, value in summary
        ],
        **(extra or {}),
    }
    return TemplateResponse(request, template, context)
