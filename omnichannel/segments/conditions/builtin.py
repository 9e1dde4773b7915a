"""The condition types every installation has."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Count, Exists, OuterRef, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from omnichannel.exceptions import InvalidRule
from omnichannel.segments.conditions import checks
from omnichannel.segments.conditions.base import (
    ANY,
    ConditionType,
    Dependencies,
    Evaluation,
    Outcome,
    register,
)
from omnichannel.segments.conditions.jsonmatch import MISSING, lookup_key
from omnichannel.segments.conditions.operators import (
    LABELS,
    NO_VALUE,
    TIME_OPERATORS,
    Field,
    positive,
)
from omnichannel.segments.conditions.rules import EVERYTHING

UNITS = {
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),
    "weeks": timedelta(weeks=1),
}
UNIT_LABELS = {
    "minutes": gettext_lazy("minutes"),
    "hours": gettext_lazy("hours"),
    "days": gettext_lazy("days"),
    "weeks": gettext_lazy("weeks"),
}
MAX_WINDOW = timedelta(days=3660)
MAX_COUNT = 1_000_000
COUNT_OPERATORS = ("gte", "gt", "eq", "ne", "lt", "lte")


def format_value(value: Any) -> str:
    """Return a rule value as a reader sees it in descriptions."""
    if isinstance(value, list):
        return ", ".join(format_value(option) for option in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"“{value}”"
    return str(value)


def describe_comparison(
    label: Any, node: Mapping[str, Any], field: Field | None = None
) -> str:
    op = node["op"]
    words = f"{label} {LABELS[op]}"
    if op in NO_VALUE:
        return words
    value = node.get("value")
    if field is not None and field.kind == "choice":
        names = dict(field.choices)
        value = (
            [str(names.get(v, v)) for v in value]
            if isinstance(value, list)
            else str(names.get(value, value))
        )
    if positive(op)[0] == "between" and isinstance(value, list):
        return f"{words} {format_value(value[0])} {_('and')} {format_value(value[1])}"
    return f"{words} {format_value(value)}"


class FieldCondition(ConditionType):
    """A condition on one of several named fields: ``field``, ``op``, ``value``."""

    field_key = "field"

    def fields(self) -> dict[str, Field]:
        raise NotImplementedError

    def validate(self, node: Mapping[str, Any], path: str, context: Any) -> None:
        checks.check_keys(node, path, [self.field_key, "op"], ["value"])
        name = checks.check_choice(
            node[self.field_key], checks.child(path, self.field_key), self.fields()
        )
        self.fields()[name].check(node, path)

    def field_of(self, node: Mapping[str, Any]) -> Field:
        return self.fields()[node[self.field_key]]

    def describe(self, node: Mapping[str, Any]) -> str:
        field = self.field_of(node)
        return describe_comparison(field.label, node, field)

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "type": {"const": self.name},
                self.field_key: {"enum": list(self.fields())},
                "op": {"type": "string"},
                "value": {},
            },
            "required": ["type", self.field_key, "op"],
            "additionalProperties": False,
        }


class ProfileCondition(FieldCondition):
    """A stored field of the profile: contact points, demographics, tags, dates."""

    name = "profile"
    label = gettext_lazy("Profile field")
    category = gettext_lazy("Profile")

    @cached_property
    def _fields(self) -> dict[str, Field]:
        text = [
            ("email", gettext_lazy("Email")),
            ("phone", gettext_lazy("Phone")),
            ("first_name", gettext_lazy("First name")),
            ("last_name", gettext_lazy("Last name")),
            ("country", gettext_lazy("Country")),
            ("language", gettext_lazy("Language")),
            ("time_zone", gettext_lazy("Time zone")),
            ("currency", gettext_lazy("Currency")),
        ]
        moments = [
            ("created_at", gettext_lazy("Created")),
            ("first_order_at", gettext_lazy("First order")),
            ("last_order_at", gettext_lazy("Last order")),
            ("last_seen_at", gettext_lazy("Last seen")),
        ]
        fields = [Field(name, label, "text") for name, label in text]
        fields.append(Field("birthday", gettext_lazy("Birthday"), "day"))
        fields += [Field(name, label, "moment") for name, label in moments]
        fields.append(Field("tags", gettext_lazy("Tags"), "tags"))
        return {field.name: field for field in fields}

    def fields(self) -> dict[str, Field]:
        return self._fields

    def to_q(self, node: Mapping[str, Any], now: datetime) -> Q:
        return self.field_of(node).to_q(node, now)

    def explain(self, node: Mapping[str, Any], evaluation: Evaluation) -> Outcome:
        field = self.field_of(node)
        actual = getattr(evaluation.profile, field.column)
        result = field.matches(node, actual, evaluation.now)
        display_value = "-" if actual in (None, "", []) else actual
        return Outcome(
            result,
            _("%(field)s is %(value)s")
            % {"field": field.label, "value": display_value},
        )

    def dependencies(self, node: Mapping[str, Any]) -> Dependencies:
        return Dependencies(
            fields=frozenset({node["field"]}), time=node["op"] in TIME_OPERATORS
        )


#: Measure -> the Profile column whose age, in whole days, the measure is.
DAYS_SINCE = {
    "days_since_last_order": ("last_order_at", gettext_lazy("Days since last order")),
    "days_since_first_order": (
        "first_order_at",
        gettext_lazy("Days since first order"),
    ),
    "days_since_last_visit": ("last_seen_at", gettext_lazy("Days since last visit")),
    "days_since_signup": ("created_at", gettext_lazy("Days since sign-up")),
}


class AggregateCondition(FieldCondition):
    """Order aggregates kept on the profile, and the whole days since a moment.

    ``days_since_last_order >= 30`` holds when the last order is at least 30 times
    24 hours before now; a profile without the moment meets no comparison.
    """

    name = "aggregate"
    label = gettext_lazy("Orders and activity")
    category = gettext_lazy("Orders")
    field_key = "measure"

    @cached_property
    def _fields(self) -> dict[str, Field]:
        fields = [
            Field(
                "order_count",
                gettext_lazy("Number of orders"),
                "number",
                integer=True,
                minimum=0,
            ),
            Field(
                "total_spent", gettext_lazy("Total spent"), "number", decimal_places=2
            ),
            Field(
                "average_order_value",
                gettext_lazy("Average order value"),
                "number",
                decimal_places=2,
            ),
        ]
        for measure, (column, label) in DAYS_SINCE.items():
            fields.append(
                Field(
                    measure,
                    label,
                    "number",
                    column=column,
                    integer=True,
                    minimum=0,
                    maximum=36600,
                )
            )
        return {field.name: field for field in fields}

    def fields(self) -> dict[str, Field]:
        return self._fields

    def to_q(self, node: Mapping[str, Any], now: datetime) -> Q:
        field = self.field_of(node)
        if node["measure"] not in DAYS_SINCE:
            return field.to_q(node, now)
        op, negated = positive(node["op"])
        query = self._days_q(field.column, op, node["value"], now)
        return ~query if negated else query

    def _days_q(self, column: str, op: str, value: Any, now: datetime) -> Q:
        # days >= n  <=>  moment <= now - n days, for whole n; the rest follows.
        def at_least(days: int) -> Q:
            return Q(**{f"{column}__lte": now - timedelta(days=days)})

        def below(days: int) -> Q:
            return Q(**{f"{column}__gt": now - timedelta(days=days)})

        if op == "between":
            return at_least(value[0]) & below(value[1] + 1)
        return {
            "gte": lambda: at_least(value),
            "gt": lambda: at_least(value + 1),
            "lte": lambda: below(value + 1),
            "lt": lambda: below(value),
            "eq": lambda: at_least(value) & below(value + 1),
        }[op]()

    def explain(self, node: Mapping[str, Any], evaluation: Evaluation) -> Outcome:
        field = self.field_of(node)
        profile = evaluation.profile
        if node["measure"] not in DAYS_SINCE:
            actual = getattr(profile, field.column)
            result = field.matches(node, actual, evaluation.now)
            return Outcome(
                result,
                _("%(field)s is %(value)s") % {"field": field.label, "value": actual},
            )
        moment = getattr(profile, field.column)
        op, negated = positive(node["op"])
        if moment is None:
            return Outcome(negated, _("%(field)s: never") % {"field": field.label})
        result = _days_match(evaluation.now - moment, op, node["value"])
        days = (evaluation.now - moment).days
        return Outcome(
            result != negated,
            _("%(field)s is %(days)d") % {"field": field.label, "days": days},
        )

    def dependencies(self, node: Mapping[str, Any]) -> Dependencies:
        field = self.field_of(node)
        return Dependencies(
            fields=frozenset({field.column}), time=node["measure"] in DAYS_SINCE
        )


def _days_match(age: timedelta, op: str, value: Any) -> bool:
    def at_least(days: int) -> bool:
        return age >= timedelta(days=days)

    if op == "between":
        return at_least(value[0]) and not at_least(value[1] + 1)
    return {
        "gte": lambda: at_least(value),
        "gt": lambda: at_least(value + 1),
        "lte": lambda: not at_least(value + 1),
        "lt": lambda: not at_least(value),
        "eq": lambda: at_least(value) and not at_least(value + 1),
    }[op]()


class AttributeCondition(ConditionType):
    """A key of the profile's ``attributes``: custom and zero-party data."""

    name = "attribute"
    label = gettext_lazy("Profile attribute")
    category = gettext_lazy("Profile")

    def validate(self, node: Mapping[str, Any], path: str, context: Any) -> None:
        checks.check_keys(node, path, ["key", "op"], ["value"])
        key = checks.check_key(node["key"], checks.child(path, "key"))
        self._field(key).check(node, path)

    @staticmethod
    def _field(key: str) -> Field:
        return Field(key, key, "json", column="attributes", key=key)

    def to_q(self, node: Mapping[str, Any], now: datetime) -> Q:
        return self._field(node["key"]).to_q(node, now)

    def explain(self, node: Mapping[str, Any], evaluation: Evaluation) -> Outcome:
        actual = lookup_key(evaluation.profile.attributes, node["key"])
        result = self._field(node["key"]).matches(node, actual, evaluation.now)
        display_value = _("not set") if actual is MISSING else format_value(actual)
        return Outcome(
            result,
            _("%(key)s is %(value)s") % {"key": node["key"], "value": display_value},
        )

    def describe(self, node: Mapping[str, Any]) -> str:
        return describe_comparison(_("attribute %(key)s") % {"key": node["key"]}, node)

    def dependencies(self, node: Mapping[str, Any]) -> Dependencies:
        return Dependencies(fields=frozenset({"attributes"}))

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "type": {"const": self.name},
                "key": {"type": "string", "pattern": checks.KEY_PATTERN.pattern},
                "op": {"type": "string"},
                "value": {},
            },
            "required": ["type", "key", "op"],
            "additionalProperties": False,
        }


def check_window(value: Any, path: str) -> timedelta:
    if not isinstance(value, Mapping):
        raise InvalidRule(
            path, 'must be an object such as {"value": 7, "unit": "days"}.'
        )
    checks.check_keys(value, path, ["value", "unit"])
    unit = checks.check_choice(value["unit"], checks.child(path, "unit"), UNITS)
    amount = checks.check_number(
        value["value"], checks.child(path, "value"), integer=True, minimum=1
    )
    span = UNITS[unit] * amount
    if span > MAX_WINDOW:
        raise InvalidRule(path, "must be at most 3660 days.")
    return span


def window_span(value: Mapping[str, Any] | None) -> timedelta | None:
    if value is None:
        return None
    return UNITS[value["unit"]] * int(value["value"])


class EventCondition(ConditionType):
    """How often the profile did something, in a window relative to now.

    ``{"type": "event", "event": "category_viewed",
    "where": [{"property": "category", "op": "eq", "value": "Winter Jackets"}],
    "count": {"op": "gte", "value": 2}, "within": {"value": 7, "unit": "days"}}``
    reads "viewed the category Winter Jackets at least twice in the last 7 days".
    ``count`` defaults to at least once. Without ``within`` every event counts.
    ``excluding_last`` leaves out the most recent span, as in "a cart updated more
    than an hour ago".
    """

    name = "event"
    label = gettext_lazy("Event count")
    category = gettext_lazy("Behaviour")
    MAX_FILTERS = 10

    def validate(self, node: Mapping[str, Any], path: str, context: Any) -> None:
        from omnichannel.profiles.events import known_event_types

        checks.check_keys(
            node, path, ["event"], ["where", "count", "within", "excluding_last"]
        )
        checks.check_choice(
            node["event"], checks.child(path, "event"), sorted(known_event_types())
        )
        where_path = checks.child(path, "where")
        where = node.get("where", [])
        if not isinstance(where, list):
            raise InvalidRule(where_path, "must be a list of property filters.")
        if len(where) > self.MAX_FILTERS:
            raise InvalidRule(
                where_path, f"must have at most {self.MAX_FILTERS} filters."
            )
        for index, entry in enumerate(where):
            self._check_filter(entry, checks.item(where_path, index))
        if "count" in node:
            self._check_count(node["count"], checks.child(path, "count"))
        within = excluding = None
        if "within" in node:
            within = check_window(node["within"], checks.child(path, "within"))
        if "excluding_last" in node:
            excluding = check_window(
                node["excluding_last"], checks.child(path, "excluding_last")
            )
            if within is not None and excluding >= within:
                raise InvalidRule(
                    checks.child(path, "excluding_last"),
                    "must be shorter than 'within', or no event can count.",
                )

    @staticmethod
    def _check_filter(entry: Any, path: str) -> None:
        if not isinstance(entry, Mapping):
            raise InvalidRule(
                path,
                'must be an object such as {"property": "category", "op": "eq", '
                '"value": "Shoes"}.',
            )
        checks.check_keys(entry, path, ["property", "op"], ["value"])
        key = checks.check_key(entry["property"], checks.child(path, "property"))
        _property_field(key).check(entry, path)

    @staticmethod
    def _check_count(value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise InvalidRule(
                path, 'must be an object such as {"op": "gte", "value": 2}.'
            )
        checks.check_keys(value, path, ["op", "value"])
        checks.check_choice(value["op"], checks.child(path, "op"), COUNT_OPERATORS)
        checks.check_number(
            value["value"],
            checks.child(path, "value"),
            integer=True,
            minimum=0,
            maximum=MAX_COUNT,
        )

    @staticmethod
    def _count(node: Mapping[str, Any]) -> tuple[str, int]:
        count = node.get("count") or {"op": "gte", "value": 1}
        return count["op"], int(count["value"])

    @staticmethod
    def _bounds(
        node: Mapping[str, Any], now: datetime
    ) -> tuple[datetime | None, datetime]:
        within = window_span(node.get("within"))
        excluding = window_span(node.get("excluding_last"))
        since = now - within if within is not None else None
        until = now - excluding if excluding is not None else now
        return since, until

    def events(self, node: Mapping[str, Any], now: datetime) -> models.QuerySet[Any]:
        """Return the Event rows that count towards ``node``, for every profile."""
        from omnichannel.profiles.models import Event

        since, until = self._bounds(node, now)
        rows = Event.objects.filter(name=node["event"], occurred_at__lte=until)
        if since is not None:
            rows = rows.filter(occurred_at__gte=since)
        for entry in node.get("where") or []:
            rows = rows.filter(_property_field(entry["property"]).filter_q(entry, now))
        return rows.order_by()

    def to_q(self, node: Mapping[str, Any], now: datetime) -> Q:
        rows = self.events(node, now)
        op, value = self._count(node)

        def at_least(count: int) -> Q:
            if count <= 0:
                return EVERYTHING
            if count == 1:
                return Q(Exists(rows.filter(profile=OuterRef("pk"))))
            # count(*) rather than count(id): the sort before the grouping then
            # carries the profile id alone, which kept it in memory where the wider
            # rows spilled to disk at 100,000 profiles (EXPLAIN ANALYZE).
            counted = (
                rows.values("profile_id")
                .annotate(matched=Count("*"))
                .filter(matched__gte=count)
                .values("profile_id")
            )
            return Q(pk__in=counted)

        return {
            "gte": lambda: at_least(value),
            "gt": lambda: at_least(value + 1),
            "lte": lambda: ~at_least(value + 1),
            "lt": lambda: ~at_least(value),
            "eq": lambda: at_least(value) & ~at_least(value + 1),
            "ne": lambda: ~(at_least(value) & ~at_least(value + 1)),
        }[op]()

    def count_for(self, node: Mapping[str, Any], evaluation: Evaluation) -> int:
        """Count the profile's events that meet ``node``, filtering in Python."""
        since, until = self._bounds(node, evaluation.now)
        filters = [
            (entry, _property_field(entry["property"]))
            for entry in node.get("where") or []
        ]
        matched = 0
        for event in evaluation.events(node["event"], since):
            if event.occurred_at > until:
                continue
            if all(
                field.matches(
                    entry,
                    lookup_key(event.properties, entry["property"]),
                    evaluation.now,
                )
                for entry, field in filters
            ):
                matched += 1
        return matched

    def explain(self, node: Mapping[str, Any], evaluation: Evaluation) -> Outcome:
        matched = self.count_for(node, evaluation)
        op, value = self._count(node)
        result = {
            "gte": matched >= value,
            "gt": matched > value,
            "lte": matched <= value,
            "lt": matched < value,
            "eq": matched == value,
            "ne": matched != value,
        }[op]
        return Outcome(result, _("%(count)d matching events") % {"count": matched})

    def describe(self, node: Mapping[str, Any]) -> str:
        op, value = self._count(node)
        text = node["event"]
        filters = [
            describe_comparison(entry["property"], entry)
            for entry in node.get("where") or []
        ]
        if filters:
            text += " " + _("where") + " " + _(" and ").join(filters)
        text += ": " + _("count %(op)s %(value)d") % {"op": LABELS[op], "value": value}
        if node.get("within"):
            text += " " + _("in the last %(value)s %(unit)s") % {
                "value": node["within"]["value"],
                "unit": UNIT_LABELS[node["within"]["unit"]],
            }
        if node.get("excluding_last"):
            text += " " + _("except the last %(value)s %(unit)s") % {
                "value": node["excluding_last"]["value"],
                "unit": UNIT_LABELS[node["excluding_last"]["unit"]],
            }
        return text

    def dependencies(self, node: Mapping[str, Any]) -> Dependencies:
        return Dependencies(
            events=frozenset({node["event"]}),
            time="within" in node or "excluding_last" in node,
        )

    def windows(
        self, node: Mapping[str, Any], now: datetime
    ) -> tuple[str, datetime | None]:
        """Return the event name and the earliest time ``node`` reads."""
        return node["event"], self._bounds(node, now)[0]

    def schema(self) -> dict[str, Any]:
        window = {
            "type": "object",
            "properties": {
                "value": {"type": "integer", "minimum": 1},
                "unit": {"enum": list(UNITS)},
            },
            "required": ["value", "unit"],
            "additionalProperties": False,
        }
        return {
            "type": "object",
            "properties": {
                "type": {"const": self.name},
                "event": {"type": "string"},
                "where": {
                    "type": "array",
                    "maxItems": self.MAX_FILTERS,
                    "items": {
                        "type": "object",
                        "properties": {
                            "property": {
                                "type": "string",
                                "pattern": checks.KEY_PATTERN.pattern,
                            },
                            "op": {"type": "string"},
                            "value": {},
                        },
                        "required": ["property", "op"],
                        "additionalProperties": False,
                    },
                },
                "count": {
                    "type": "object",
                    "properties": {
                        "op": {"enum": list(COUNT_OPERATORS)},
                        "value": {"type": "integer", "minimum": 0},
                    },
                    "required": ["op", "value"],
                    "additionalProperties": False,
                },
                "within": window,
                "excluding_last": window,
            },
            "required": ["type", "event"],
            "additionalProperties": False,
        }


def _property_field(key: str) -> Field:
    return Field(key, key, "json", column="properties", key=key)


class RelatedRecordCondition(FieldCondition):
    """A field of a one-to-one row computed for the profile (scores, predictions).

    A profile without the row meets no positive comparison.
    """

    model_name = ""
    related_name = ""
    source = ""

    def model(self) -> type[models.Model] | None:
        try:
            return apps.get_model("omnichannel", self.model_name)
        except LookupError:
            return None

    def is_available(self) -> bool:
        return self.model() is not None

    def to_q(self, node: Mapping[str, Any], now: datetime) -> Q:
        field = self.field_of(node)
        op, negated = positive(node["op"])
        rows = self.model()._default_manager.filter(  # type: ignore[union-attr]
            field.positive_q(op, node.get("value"), now), profile=OuterRef("pk")
        )
        query = Q(Exists(rows))
        return ~query if negated else query

    def explain(self, node: Mapping[str, Any], evaluation: Evaluation) -> Outcome:
        field = self.field_of(node)
        row = evaluation.related(self.related_name)
        op, negated = positive(node["op"])
        if row is None:
            return Outcome(
                negated, _("no %(what)s for this profile") % {"what": self.label}
            )
        actual = getattr(row, field.column)
        result = field.positive_match(op, node.get("value"), actual, evaluation.now)
        if field.kind == "choice":
            actual = dict(field.choices).get(actual, actual)
        return Outcome(
            result != negated,
            _("%(field)s is %(value)s") % {"field": field.label, "value": actual},
        )

    def dependencies(self, node: Mapping[str, Any]) -> Dependencies:
        return Dependencies(sources=frozenset({self.source}))


class RFMCondition(RelatedRecordCondition):
    """The profile's RFM group or one of its three scores."""

    name = "rfm"
    label = gettext_lazy("RFM")
    category = gettext_lazy("Scores")
    model_name = "RFMScore"
    related_name = "rfm"
    source = "rfm"

    @cached_property
    def _fields(self) -> dict[str, Field]:
        from omnichannel.predictions.models import RFMGroup

        score = {"integer": True, "minimum": 1, "maximum": 5}
        fields = [
            Field(
                "group", gettext_lazy("RFM group"), "choice", choices=RFMGroup.choices
            ),
            Field("recency_score", gettext_lazy("Recency score"), "number", **score),
            Field(
                "frequency_score", gettext_lazy("Frequency score"), "number", **score
            ),
            Field("monetary_score", gettext_lazy("Monetary score"), "number", **score),
        ]
        return {field.name: field for field in fields}

    def fields(self) -> dict[str, Field]:
        return self._fields


class PredictionCondition(RelatedRecordCondition):
    """A predicted score of the profile, such as churn risk or 12-month value.

    The fields are read from the ``CustomerPrediction`` model: every numeric field,
    and every text field with choices.
    """

    name = "prediction"
    label = gettext_lazy("Prediction")
    category = gettext_lazy("Scores")
    model_name = "CustomerPrediction"
    related_name = "prediction"
    source = "prediction"

    def fields(self) -> dict[str, Field]:
        model = self.model()
        if model is None:
            return {}
        fields = {}
        for model_field in model._meta.concrete_fields:
            if model_field.primary_key or model_field.is_relation:
                continue
            label = str(model_field.verbose_name).capitalize()
            if isinstance(model_field, models.DecimalField):
                fields[model_field.name] = Field(
                    model_field.name,
                    label,
                    "number",
                    decimal_places=model_field.decimal_places,
                )
            elif isinstance(model_field, models.IntegerField | models.FloatField):
                integer = isinstance(model_field, models.IntegerField)
                fields[model_field.name] = Field(
                    model_field.name, label, "number", integer=integer
                )
            elif isinstance(model_field, models.CharField) and model_field.choices:
                fields[model_field.name] = Field(
                    model_field.name, label, "choice", choices=model_field.choices
                )
        return fields


CONSENT_STATES = {
    "granted": gettext_lazy("granted"),
    "withdrawn": gettext_lazy("withdrawn"),
    "unknown": gettext_lazy("never asked"),
}


class ConsentCondition(ConditionType):
    """The consent state of a channel and purpose: the latest ledger row up to now.

    ``granted``: the latest row grants; ``withdrawn``: the latest row withdraws;
    ``unknown``: there is no row.
    """

    name = "consent"
    label = gettext_lazy("Consent")
    category = gettext_lazy("Consent")

    def _model(self) -> type[models.Model]:
        return apps.get_model("omnichannel", "ConsentRecord")

    def _choices(self, field: str) -> list[tuple[str, Any]]:
        return list(self._model()._meta.get_field(field).choices or [])

    def validate(self, node: Mapping[str, Any], path: str, context: Any) -> None:
        checks.check_keys(node, path, ["channel", "state"], ["purpose"])
        checks.check_choice(
            node["channel"],
            checks.child(path, "channel"),
            dict(self._choices("channel")),
        )
        if "purpose" in node:
            checks.check_choice(
                node["purpose"],
                checks.child(path, "purpose"),
                dict(self._choices("purpose")),
            )
        checks.check_choice(node["state"], checks.child(path, "state"), CONSENT_STATES)

    @staticmethod
    def _purpose(node: Mapping[str, Any]) -> str:
        return node.get("purpose", "marketing")

    def to_q(self, node: Mapping[str, Any], now: datetime) -> Q:
        record = self._model()
        rows = record.objects.filter(
            profile=OuterRef("pk"),
            channel=node["channel"],
            purpose=self._purpose(node),
            recorded_at__lte=now,
        )
        if node["state"] == "unknown":
            return ~Q(Exists(rows))
        later = record.objects.filter(
            profile=OuterRef("profile"),
            channel=node["channel"],
            purpose=self._purpose(node),
            recorded_at__lte=now,
        ).filter(
            Q(recorded_at__gt=OuterRef("recorded_at"))
            | Q(recorded_at=OuterRef("recorded_at"), pk__gt=OuterRef("pk"))
        )
        latest = rows.filter(granted=node["state"] == "granted").exclude(Exists(later))
        return Q(Exists(latest))

    def explain(self, node: Mapping[str, Any], evaluation: Evaluation) -> Outcome:
        rows = [
            row
            for row in evaluation.consent_records
            if row.channel == node["channel"] and row.purpose == self._purpose(node)
        ]
        if not rows:
            state = "unknown"
        else:
            latest = max(rows, key=lambda row: (row.recorded_at, row.pk))
            state = "granted" if latest.granted else "withdrawn"
        return Outcome(
            state == node["state"],
            _("consent is %(state)s") % {"state": CONSENT_STATES[state]},
        )

    def describe(self, node: Mapping[str, Any]) -> str:
        return _("%(channel)s consent for %(purpose)s is %(state)s") % {
            "channel": dict(self._choices("channel")).get(
                node["channel"], node["channel"]
            ),
            "purpose": dict(self._choices("purpose")).get(
                self._purpose(node), self._purpose(node)
            ),
            "state": CONSENT_STATES[node["state"]],
        }

    def dependencies(self, node: Mapping[str, Any]) -> Dependencies:
        return Dependencies(sources=frozenset({"consent"}))

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "type": {"const": self.name},
                "channel": {"type": "string"},
                "purpose": {"type": "string"},
                "state": {"enum": list(CONSENT_STATES)},
            },
            "required": ["type", "channel", "state"],
            "additionalProperties": False,
        }


class SegmentCondition(ConditionType):
    """Current membership of another segment, by its slug."""

    name = "segment"
    label = gettext_lazy("Segment membership")
    category = gettext_lazy("Segments")

    def validate(self, node: Mapping[str, Any], path: str, context: Any) -> None:
        from omnichannel.segments.models import Segment

        checks.check_keys(node, path, ["segment"])
        slug_path = checks.child(path, "segment")
        slug = checks.check_text(node["segment"], slug_path)
        own = getattr(context, "segment", None)
        if own is not None and own.slug == slug:
            raise InvalidRule(slug_path, "a segment cannot refer to itself.")
        if not Segment.objects.filter(slug=slug).exists():
            raise InvalidRule(
                slug_path,
                f"no segment has the slug {slug!r}; it may have been deleted or "
                "renamed.",
            )

    def to_q(self, node: Mapping[str, Any], now: datetime) -> Q:
        from omnichannel.segments.models import SegmentMembership

        members = SegmentMembership.objects.filter(
            profile=OuterRef("pk"),
            segment__slug=node["segment"],
            exited_at__isnull=True,
        )
        return Q(Exists(members))

    def explain(self, node: Mapping[str, Any], evaluation: Evaluation) -> Outcome:
        member = node["segment"] in evaluation.memberships
        reason = _("is a member") if member else _("is not a member")
        return Outcome(member, reason)

    def describe(self, node: Mapping[str, Any]) -> str:
        return _("member of segment %(slug)s") % {"slug": node["segment"]}

    def dependencies(self, node: Mapping[str, Any]) -> Dependencies:
        return Dependencies(segments=frozenset({node["segment"]}))

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"type": {"const": self.name}, "segment": {"type": "string"}},
            "required": ["type", "segment"],
            "additionalProperties": False,
        }


class ExperimentCondition(ConditionType):
    """The arm of an A/B test the profile is assigned to.

    ``{"type": "experiment", "experiment": "hero-test", "variant": "b"}`` holds for
    profiles with a stored assignment to variant ``b``; ``"variant": null`` means the
    holdout group. A profile that was never assigned meets no such condition.
    """

    name = "experiment"
    label = gettext_lazy("A/B test variant")
    category = gettext_lazy("Experiments")

    def _models(self) -> tuple[type[models.Model], type[models.Model]]:
        return (
            apps.get_model("omnichannel", "Experiment"),
            apps.get_model("omnichannel", "Assignment"),
        )

    def is_available(self) -> bool:
        try:
            self._models()
        except LookupError:
            return False
        return True

    def validate(self, node: Mapping[str, Any], path: str, context: Any) -> None:
        checks.check_keys(node, path, ["experiment", "variant"])
        key_path = checks.child(path, "experiment")
        key = checks.check_text(node["experiment"], key_path)
        experiment_model, _assignment = self._models()
        experiment = experiment_model._default_manager.filter(key=key).first()
        if experiment is None:
            raise InvalidRule(
                key_path, f"no experiment has the key {key!r}; check its spelling."
            )
        variant = node["variant"]
        if variant is None:
            return
        variant_path = checks.child(path, "variant")
        checks.check_text(variant, variant_path)
        keys = list(experiment.variants.values_list("key", flat=True))
        if variant not in keys:
            raise InvalidRule(
                variant_path,
                f"experiment {key!r} has no variant {variant!r}; use one of "
                f"{', '.join(sorted(keys)) or 'its variants'}, or null for the "
                "holdout group.",
            )

    def _rows(self, node: Mapping[str, Any]) -> Any:
        _experiment, assignment = self._models()
        rows = assignment._default_manager.filter(experiment__key=node["experiment"])
        if node["variant"] is None:
            return rows.filter(variant__isnull=True)
        return rows.filter(variant__key=node["variant"])

    def to_q(self, node: Mapping[str, Any], now: datetime) -> Q:
        return Q(Exists(self._rows(node).filter(profile=OuterRef("pk"))))

    def explain(self, node: Mapping[str, Any], evaluation: Evaluation) -> Outcome:
        if evaluation.profile.pk is None:
            return Outcome(False, _("not assigned"))
        assigned = self._rows(node).filter(profile_id=evaluation.profile.pk).exists()
        reason = _("is assigned to it") if assigned else _("is not assigned to it")
        return Outcome(assigned, reason)

    def describe(self, node: Mapping[str, Any]) -> str:
        if node["variant"] is None:
            return _("in the holdout group of experiment %(key)s") % {
                "key": node["experiment"]
            }
        return _("in variant %(variant)s of experiment %(key)s") % {
            "variant": node["variant"],
            "key": node["experiment"],
        }

    def dependencies(self, node: Mapping[str, Any]) -> Dependencies:
        return Dependencies(sources=frozenset({"experiment"}))

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "type": {"const": self.name},
                "experiment": {"type": "string"},
                "variant": {"type": ["string", "null"]},
            },
            "required": ["type", "experiment", "variant"],
            "additionalProperties": False,
        }


BUILTIN_TYPES = (
    ProfileCondition(),
    AggregateCondition(),
    AttributeCondition(),
    EventCondition(),
    RFMCondition(),
    PredictionCondition(),
    ConsentCondition(),
    SegmentCondition(),
    ExperimentCondition(),
)

for _type in BUILTIN_TYPES:
    register(_type, replace=True)

__all__ = ["ANY", "BUILTIN_TYPES", "EventCondition"]
