"""Analytics dashboards in the admin: journeys, the lifecycle map, cart recovery."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from omnichannel.admin.dashboards import DashboardAdmin, PeriodForm, Section
from omnichannel.analytics import charts
from omnichannel.analytics.attribution import attribute_orders, revenue_by_journey
from omnichannel.analytics.journeys import (
    journey_funnel,
    journey_lift,
    journey_overview,
    journey_steps,
)
from omnichannel.analytics.lifecycle import (
    STAGES,
    combine_channels,
    lifecycle_map,
    stage_summary,
)
from omnichannel.analytics.models import (
    CartRecoveryReport,
    JourneyReport,
    LifecycleReport,
)
from omnichannel.analytics.recovery import cart_recovery
from omnichannel.analytics.tables import Table

Summary = list[tuple[Any, Any]]


def journey_names(ids: list[int]) -> dict[int, str]:
    """Return journey names by id when the journeys domain is installed."""
    try:
        model = apps.get_model("omnichannel", "Journey")
    except LookupError:
        return {}
    return {
        journey.pk: str(journey)
        for journey in model._default_manager.filter(pk__in=ids)
    }


def _label(journey_id: int | None, names: dict[int, str]) -> str:
    if journey_id is None:
        return str(_("no journey"))
    return names.get(journey_id) or f"Journey {journey_id}"


class JourneyForm(PeriodForm):
    journey = forms.IntegerField(
        label=_("Journey id"),
        required=False,
        min_value=1,
        help_text=_("Show the funnel and holdout lift of one journey."),
    )


class LifecycleForm(PeriodForm):
    channel = forms.CharField(
        label=_("Acquisition channel"),
        required=False,
        max_length=64,
        help_text=_("Empty shows all channels together."),
    )


@admin.register(JourneyReport)
class JourneyReportAdmin(DashboardAdmin):
    form_class = JourneyForm
    dashboard_title = _("Journey analytics")

    def build(self, form: PeriodForm) -> tuple[list[Section], Summary]:
        start, end = form.period()
        window = form.window()
        attributions = attribute_orders(start, end, window=window)
        overview = journey_overview(start, end, attributions=attributions)
        names = journey_names([row["journey_id"] for row in overview])
        for row in overview:
            row["journey"] = _label(row["journey_id"], names)
        sections = [self._overview(overview)]
        by_step = revenue_by_journey(attributions)
        for row in by_step:
            row["journey"] = _label(row["journey_id"], names)
        sections.append(self._attribution(by_step))

        journey_id = form.cleaned_data.get("journey")
        if journey_id:
            sections += self._journey(journey_id, start, end, attributions, names)

        attributed = [order for order in attributions if order.touch is not None]
        summary: Summary = [
            (_("orders"), len(attributions)),
            (_("attributed orders"), len(attributed)),
            (
                _("attributed revenue"),
                sum((order.revenue for order in attributed), Decimal("0")),
            ),
            (
                _("attributed share"),
                len(attributed) / len(attributions) if attributions else None,
            ),
        ]
        return sections, summary

    def _overview(self, rows: list[dict[str, Any]]) -> Section:
        table = Table(
            "journeys",
            _("Journeys"),
            [
                ("journey_id", _("id")),
                ("journey", _("journey")),
                ("entrants", _("entrants")),
                ("holdout", _("holdout")),
                ("sent", _("sent")),
                ("clicked", _("clicked")),
                ("attributed_orders", _("attributed orders")),
                ("attributed_revenue", _("attributed revenue")),
                ("treated_rate", _("conversion rate")),
                ("holdout_rate", _("holdout conversion rate")),
                ("relative_lift", _("lift")),
                ("p_value", _("p-value")),
                ("incremental_revenue", _("incremental revenue")),
            ],
            rows,
        )
        chart = (
            charts.bar_chart(
                [row["journey"] for row in rows],
                [
                    (
                        str(_("attributed revenue")),
                        [float(r["attributed_revenue"]) for r in rows],
                    ),
                    (
                        str(_("incremental revenue")),
                        [
                            max(0.0, float(r["incremental_revenue"]))
                            if r["incremental_revenue"] is not None
                            else None
                            for r in rows
                        ],
                    ),
                ],
                title=str(_("Revenue per journey")),
            )
            if rows
            else None
        )
        return Section(
            str(_("Journeys")),
            table,
            chart,
            str(
                _(
                    "Attributed: last click within the window. Incremental: entrants "
                    "against the holdout group, any order within the conversion "
                    "window (negative values are drawn as 0)."
                )
            ),
        )

    def _attribution(self, rows: list[dict[str, Any]]) -> Section:
        table = Table(
            "attribution",
            _("Attributed revenue by step"),
            [
                ("journey_id", _("journey id")),
                ("journey", _("journey")),
                ("step_key", _("step")),
                ("orders", _("orders")),
                ("customers", _("customers")),
                ("revenue", _("revenue")),
            ],
            rows,
        )
        top = rows[:20]
        chart = (
            charts.bar_chart(
                [f"{r['journey']} {r['step_key']}".strip() for r in top],
                [(str(_("revenue")), [float(r["revenue"]) for r in top])],
                title=str(_("Attributed revenue by journey step (top 20)")),
            )
            if top
            else None
        )
        return Section(str(_("Attributed revenue by step")), table, chart)

    def _journey(
        self,
        journey_id: int,
        start: Any,
        end: Any,
        attributions: list[Any],
        names: dict[int, str],
    ) -> list[Section]:
        label = _label(journey_id, names or journey_names([journey_id]))
        funnel = journey_funnel(journey_id, start, end, attributions=attributions)
        funnel_table = Table(
            "funnel",
            _("Funnel"),
            [
                ("stage", _("stage")),
                ("profiles", _("profiles")),
                ("share", _("share of entrants")),
                ("step_share", _("share of previous")),
            ],
            funnel,
        )
        steps = journey_steps(journey_id, start, end, attributions=attributions)
        steps_table = Table(
            "steps",
            _("Steps"),
            [
                ("step_key", _("step")),
                ("sent", _("sent")),
                ("delivered", _("delivered")),
                ("opened", _("opened")),
                ("clicked", _("clicked")),
                ("open_rate", _("open rate")),
                ("click_rate", _("click-through rate")),
                ("orders", _("attributed orders")),
                ("revenue", _("attributed revenue")),
            ],
            steps,
        )
        lift = journey_lift(journey_id, start, end)
        lift_table = Table(
            "lift",
            _("Lift over holdout"),
            [(key, key.replace("_", " ")) for key in lift if key != "journey_id"],
            [lift],
        )
        return [
            Section(
                str(_("Funnel of %(journey)s") % {"journey": label}),
                funnel_table,
                charts.funnel_chart(
                    [(row["stage"], row["profiles"]) for row in funnel],
                    title=str(_("Funnel of %(journey)s") % {"journey": label}),
                ),
            ),
            Section(
                str(_("Steps of %(journey)s") % {"journey": label}),
                steps_table,
                charts.bar_chart(
                    [step["step_key"] for step in steps],
                    [
                        (column, [step[column] for step in steps])
                        for column in ("sent", "delivered", "opened", "clicked")
                    ],
                    title=str(_("Messages per step")),
                )
                if steps
                else None,
            ),
            Section(
                str(
                    _("Lift of %(journey)s over its holdout group") % {"journey": label}
                ),
                lift_table,
                charts.bar_chart(
                    [str(_("treated")), str(_("holdout"))],
                    [
                        (
                            str(_("conversion rate")),
                            [lift["treated_rate"], lift["holdout_rate"]],
                        )
                    ],
                    title=str(_("Conversion rate, treated and holdout")),
                    percent=True,
                ),
                lift["note"],
            ),
        ]


@admin.register(LifecycleReport)
class LifecycleReportAdmin(DashboardAdmin):
    form_class = LifecycleForm
    dashboard_title = _("Lifecycle map")

    def build(self, form: PeriodForm) -> tuple[list[Section], Summary]:
        start, end = form.period()
        rows = lifecycle_map(start, end)
        channel = form.cleaned_data.get("channel")
        selected = (
            [row for row in rows if row["channel"] == channel]
            if channel
            else combine_channels(rows)
        )
        weeks = sorted({row["week"] for row in selected})
        by_key = {(row["week"], row["stage"]): row for row in selected}
        weekly = Table(
            "weekly",
            _("Customers per stage each week"),
            [
                ("week", _("week")),
                ("channel", _("channel")),
                ("stage", _("stage")),
                ("at_start", _("at start")),
                ("entered", _("entered")),
                ("moved_on", _("moved on")),
                ("dropped_off", _("dropped off")),
                ("at_end", _("at end")),
            ],
            selected,
        )
        weekly_chart = (
            charts.bar_chart(
                [week.isoformat() for week in weeks],
                [
                    (
                        stage,
                        [
                            by_key.get((week, stage), {}).get("at_end", 0)
                            for week in weeks
                        ],
                    )
                    for stage in STAGES
                ],
                title=str(_("Customers at each stage, end of week")),
                stacked=True,
            )
            if weeks
            else None
        )

        stages = stage_summary(selected)
        stage_table = Table(
            "stages",
            _("Moves and drop-offs per stage"),
            [
                ("stage", _("stage")),
                ("at_start", _("at start")),
                ("entered", _("entered")),
                ("moved_on", _("moved on")),
                ("dropped_off", _("dropped off")),
                ("at_end", _("at end")),
                ("move_on_rate", _("move-on rate")),
                ("drop_off_rate", _("drop-off rate")),
            ],
            stages,
        )
        stage_chart = (
            charts.bar_chart(
                [row["stage"] for row in stages],
                [
                    (str(_("moved on")), [row["moved_on"] for row in stages]),
                    (str(_("dropped off")), [row["dropped_off"] for row in stages]),
                ],
                title=str(_("Moved on and dropped off over the period")),
            )
            if stages
            else None
        )

        channels = stage_summary(rows)
        channel_names = sorted({row["channel"] for row in channels})
        rates = {
            (row["channel"], row["stage"]): row["drop_off_rate"] for row in channels
        }
        channel_table = Table(
            "channels",
            _("Drop-off by acquisition channel"),
            [
                ("channel", _("channel")),
                ("stage", _("stage")),
                ("at_start", _("at start")),
                ("entered", _("entered")),
                ("moved_on", _("moved on")),
                ("dropped_off", _("dropped off")),
                ("move_on_rate", _("move-on rate")),
                ("drop_off_rate", _("drop-off rate")),
            ],
            channels,
        )
        channel_chart = (
            charts.bar_chart(
                list(STAGES),
                [
                    (name, [rates.get((name, stage)) for stage in STAGES])
                    for name in channel_names[: len(charts.PALETTE)]
                ],
                title=str(_("Drop-off rate per stage, by acquisition channel")),
                percent=True,
            )
            if channel_names
            else None
        )

        last_week = weeks[-1] if weeks else None
        summary: Summary = [
            (stage, by_key.get((last_week, stage), {}).get("at_end", 0))
            for stage in STAGES
        ]
        note = str(
            _("Channel %(channel)s.") % {"channel": channel}
            if channel
            else _("All acquisition channels together.")
        )
        return [
            Section(
                str(_("Customers per stage each week")), weekly, weekly_chart, note
            ),
            Section(
                str(_("Moves and drop-offs per stage")), stage_table, stage_chart, note
            ),
            Section(
                str(_("Drop-off by acquisition channel")),
                channel_table,
                channel_chart,
                str(
                    _("The chart shows the first %(count)d channels by name.")
                    % {"count": len(charts.PALETTE)}
                ),
            ),
        ], summary


@admin.register(CartRecoveryReport)
class CartRecoveryReportAdmin(DashboardAdmin):
    dashboard_title = _("Abandoned-cart recovery")

    def build(self, form: PeriodForm) -> tuple[list[Section], Summary]:
        start, end = form.period()
        result = cart_recovery(start, end, window=form.window())
        weeks = result["weeks"]
        table = Table(
            "weekly",
            _("Recovery per week"),
            [
                ("week", _("week of abandonment")),
                ("abandoned", _("abandoned")),
                ("recovered", _("recovered")),
                ("by_message", _("recovered after a message click")),
                ("recovery_rate", _("recovery rate")),
                ("revenue", _("recovered revenue")),
            ],
            weeks,
        )
        labels = [week["week"].isoformat() for week in weeks]
        counts_chart = (
            charts.bar_chart(
                labels,
                [
                    (str(_("abandoned")), [w["abandoned"] for w in weeks]),
                    (str(_("recovered")), [w["recovered"] for w in weeks]),
                    (str(_("after a message click")), [w["by_message"] for w in weeks]),
                ],
                title=str(_("Abandoned and recovered carts per week")),
            )
            if weeks
            else None
        )
        rate_chart = (
            charts.bar_chart(
                labels,
                [(str(_("recovery rate")), [w["recovery_rate"] for w in weeks])],
                title=str(_("Recovery rate per week")),
                percent=True,
            )
            if weeks
            else None
        )
        summary: Summary = [
            (_("abandoned"), result["abandoned"]),
            (_("recovered"), result["recovered"]),
            (_("recovery_rate"), result["recovery_rate"]),
            (_("message recovery_rate"), result["message_recovery_rate"]),
            (_("recovered revenue"), result["recovered_revenue"]),
        ]
        rate_table = Table("rates", _("Recovery rate per week"), table.columns, weeks)
        return [
            Section(str(_("Abandoned and recovered carts")), table, counts_chart),
            Section(str(_("Recovery rate")), rate_table, rate_chart),
        ], summary
