"""Hypothesis strategies for random profiles, events and rules over shared pools of
values, so that generated conditions both hit and miss the generated data."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from omnichannel.segments.conditions.operators import KIND_OPERATORS, NEGATIONS

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
EVENT_NAMES = ["product_viewed", "category_viewed", "cart_updated"]
PROPERTY_KEYS = ["category", "price"]
ATTRIBUTE_KEYS = ["size", "score"]
TEXTS = ["", "DE", "de", "Zoë", "ZOË", "ab", "Ab", "b%_", "Winter Jackets"]
NUMBERS = [0, 1, 2.5, -1, 10]
# Values that the databases could confuse: 1, 1.0, true and "1"; 0, false and "".
SCALARS = [1, 1.0, True, False, 0, "1", "true", "", "ab", "Zoë", 2.5, "Winter Jackets"]
JSON_VALUES = [*SCALARS, None, ["ab", 1], ["Winter Jackets"], {"ab": 1}]
DAY_OFFSETS = [0, 1, 6, 7, 8, 29, 30, 31, 400]
EMAILS = ["", "anna@example.com", "ben@example.org", "zoe@EXAMPLE.com"]
DECIMALS = [
    Decimal("0"),
    Decimal("9.99"),
    Decimal("10.00"),
    Decimal("100.50"),
    Decimal("500"),
]
SEGMENT_SLUGS = ["seg-a", "seg-b"]


def moments():
    """Times around the boundaries of the windows the rules use."""
    exact = st.sampled_from(DAY_OFFSETS).map(lambda days: NOW - timedelta(days=days))
    jitter = st.tuples(st.sampled_from(DAY_OFFSETS), st.sampled_from([-1, 0, 1])).map(
        lambda pair: NOW - timedelta(days=pair[0], seconds=pair[1])
    )
    return st.one_of(exact, jitter)


def optional_moments():
    return st.one_of(st.none(), moments())


def json_objects(keys):
    return st.dictionaries(
        st.sampled_from(keys), st.sampled_from(JSON_VALUES), max_size=4
    )


profile_data = st.fixed_dictionaries(
    {
        "email": st.sampled_from(EMAILS),
        "country": st.sampled_from(["", "DE", "de", "FR"]),
        "first_name": st.sampled_from(TEXTS),
        "order_count": st.integers(0, 5),
        "total_spent": st.sampled_from(DECIMALS),
        "average_order_value": st.sampled_from(DECIMALS),
        "last_order_at": optional_moments(),
        "first_order_at": optional_moments(),
        "last_seen_at": optional_moments(),
        "created_at": moments(),
        "birthday": st.one_of(
            st.none(), st.dates(date(1950, 1, 1), date(2010, 12, 31))
        ),
        "tags": st.lists(st.sampled_from(["vip", "wholesale", "Zoë"]), max_size=2),
        "attributes": json_objects(ATTRIBUTE_KEYS),
    }
)

event_data = st.fixed_dictionaries(
    {
        "name": st.sampled_from(EVENT_NAMES),
        "occurred_at": moments(),
        "properties": json_objects(PROPERTY_KEYS),
    }
)

rfm_data = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "recency_score": st.integers(1, 5),
            "frequency_score": st.integers(1, 5),
            "monetary_score": st.integers(1, 5),
            "group": st.sampled_from(["champions", "loyal", "lost"]),
        }
    ),
)

prediction_data = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "churn_risk": st.sampled_from([None, 0.0, 0.25, 0.5, 0.7, 1.0]),
            "clv_12m": st.sampled_from([None, *DECIMALS]),
            "lifecycle_stage": st.sampled_from(["", "active", "at_risk", "churning"]),
            "best_send_hour_of_day": st.sampled_from([None, 0, 9, 18]),
        }
    ),
)

consent_data = st.fixed_dictionaries(
    {
        "channel": st.sampled_from(["email", "sms"]),
        "purpose": st.sampled_from(["marketing", "profiling"]),
        "granted": st.booleans(),
        # Some rows share a time (the later id wins) and some lie after NOW.
        "recorded_at": st.sampled_from(DAY_OFFSETS[:4] + [-1]).map(
            lambda days: NOW - timedelta(days=days)
        ),
    }
)

world = st.lists(
    st.fixed_dictionaries(
        {
            "profile": profile_data,
            "events": st.lists(event_data, max_size=8),
            "rfm": rfm_data,
            "prediction": prediction_data,
            "consent": st.lists(consent_data, max_size=3),
            "segments": st.lists(st.sampled_from(SEGMENT_SLUGS), unique=True),
        }
    ),
    min_size=2,
    max_size=8,
)


def _comparison(kind):
    """Operator and value pairs for a field kind, every operator equally likely."""
    text = st.sampled_from([t for t in TEXTS if t])
    number = st.sampled_from(NUMBERS)
    values = {
        "eq": st.sampled_from(TEXTS if kind == "text" else SCALARS),
        "in": st.lists(
            text if kind == "text" else st.sampled_from(SCALARS), min_size=1, max_size=3
        ),
        "contains": text,
        "starts_with": text,
        "ends_with": text,
        "includes": text,
        "gt": number,
        "gte": number,
        "lt": number,
        "lte": number,
        "between": st.tuples(number, number).map(sorted).map(list),
        "is_set": st.none(),
    }
    operators = {
        "text": KIND_OPERATORS["text"],
        "number": KIND_OPERATORS["number"],
        "json": KIND_OPERATORS["json"],
    }[kind]

    def pair(op):
        value = values[NEGATIONS.get(op, op)]
        return value.map(lambda v: {"op": op} if v is None else {"op": op, "value": v})

    return st.sampled_from(operators).flatmap(pair)


def _merge(base):
    return lambda extra: {**base, **extra}


def profile_leaves():
    text_fields = st.sampled_from(["country", "first_name", "first_name", "email"])
    text = st.tuples(text_fields, _comparison("text")).map(
        lambda pair: {"type": "profile", "field": pair[0], **pair[1]}
    )
    day = st.sampled_from(["2026-06-08", "2026-05-16T12:00:00+00:00", "2025-01-01"])
    moment_fields = st.sampled_from(
        ["last_order_at", "first_order_at", "last_seen_at", "created_at"]
    )
    moment = st.tuples(
        moment_fields,
        st.one_of(
            st.tuples(st.sampled_from(["before", "after"]), day),
            st.tuples(
                st.sampled_from(["between", "not_between"]),
                st.just(["2026-05-16", "2026-06-08T12:00:00+00:00"]),
            ),
            st.tuples(st.sampled_from(["is_set", "is_not_set"]), st.none()),
        ),
    ).map(
        lambda item: (
            {"type": "profile", "field": item[0], "op": item[1][0]}
            | ({} if item[1][1] is None else {"value": item[1][1]})
        )
    )
    birthday = st.one_of(
        st.integers(1, 12).map(lambda m: {"op": "month_is", "value": m}),
        st.sampled_from(
            [
                {"op": "this_month"},
                {"op": "is_set"},
                {"op": "is_not_set"},
                {"op": "before", "value": "1980-06-15"},
                {"op": "not_between", "value": ["1970-01-01", "1990-12-31"]},
            ]
        ),
    ).map(_merge({"type": "profile", "field": "birthday"}))
    tags = st.tuples(
        st.sampled_from(["includes", "excludes"]), st.sampled_from(["vip", "Zoë", "x"])
    ).map(
        lambda pair: {
            "type": "profile",
            "field": "tags",
            "op": pair[0],
            "value": pair[1],
        }
    )
    return st.one_of(text, text, moment, birthday, tags)


def aggregate_leaves():
    orders = st.one_of(
        st.tuples(
            st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]), st.integers(0, 5)
        ),
        st.tuples(st.sampled_from(["between", "not_between"]), st.just([1, 3])),
    ).map(
        lambda pair: {
            "type": "aggregate",
            "measure": "order_count",
            "op": pair[0],
            "value": pair[1],
        }
    )
    money = st.tuples(
        st.sampled_from(["total_spent", "average_order_value"]),
        st.one_of(
            st.tuples(
                st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
                st.sampled_from([0, 1, 2, 9.99, 10, 100.5, 500]),
            ),
            st.tuples(
                st.sampled_from(["between", "not_between"]), st.just([9.99, 100.5])
            ),
        ),
    ).map(
        lambda item: {
            "type": "aggregate",
            "measure": item[0],
            "op": item[1][0],
            "value": item[1][1],
        }
    )
    days = st.tuples(
        st.sampled_from(
            [
                "days_since_last_order",
                "days_since_first_order",
                "days_since_last_visit",
                "days_since_signup",
            ]
        ),
        st.one_of(
            st.tuples(
                st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
                st.sampled_from(DAY_OFFSETS),
            ),
            st.tuples(st.sampled_from(["between", "not_between"]), st.just([7, 30])),
        ),
    ).map(
        lambda item: {
            "type": "aggregate",
            "measure": item[0],
            "op": item[1][0],
            "value": item[1][1],
        }
    )
    return orders | money | days


def attribute_leaves():
    return st.tuples(st.sampled_from(ATTRIBUTE_KEYS), _comparison("json")).map(
        lambda pair: {"type": "attribute", "key": pair[0], **pair[1]}
    )


def window():
    return st.tuples(
        st.sampled_from([1, 7, 30]), st.sampled_from(["days", "weeks", "hours"])
    ).map(lambda pair: {"value": pair[0], "unit": pair[1]})


def event_leaves():
    where = st.tuples(st.sampled_from(PROPERTY_KEYS), _comparison("json")).map(
        lambda pair: {"property": pair[0], **pair[1]}
    )
    return st.fixed_dictionaries(
        {"type": st.just("event"), "event": st.sampled_from(EVENT_NAMES)},
        optional={
            "where": st.lists(where, max_size=1),
            "count": st.fixed_dictionaries(
                {
                    "op": st.sampled_from(["gte", "gt", "eq", "ne", "lt", "lte"]),
                    "value": st.integers(0, 3),
                }
            ),
            "within": window(),
        },
    ).flatmap(
        lambda leaf: (
            st.just(leaf)
            if "within" not in leaf or leaf["within"]["unit"] == "hours"
            else st.one_of(
                st.just(leaf),
                st.just({**leaf, "excluding_last": {"value": 1, "unit": "hours"}}),
            )
        )
    )


def rfm_leaves():
    group = st.tuples(
        st.sampled_from(["eq", "ne"]), st.sampled_from(["champions", "loyal", "new"])
    ).map(lambda pair: {"op": pair[0], "value": pair[1]})
    groups = st.tuples(
        st.sampled_from(["in", "not_in"]),
        st.lists(
            st.sampled_from(["champions", "loyal", "lost"]), min_size=1, max_size=2
        ),
    ).map(lambda pair: {"op": pair[0], "value": pair[1]})
    score = st.tuples(
        st.sampled_from(["recency_score", "frequency_score", "monetary_score"]),
        st.sampled_from(["eq", "ne", "gte", "lt"]),
        st.integers(1, 5),
    ).map(
        lambda item: {"type": "rfm", "field": item[0], "op": item[1], "value": item[2]}
    )
    return st.one_of(
        (group | groups).map(_merge({"type": "rfm", "field": "group"})), score
    )


def prediction_leaves():
    def compared(field, values, pair):
        comparison = st.one_of(
            st.tuples(
                st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
                st.sampled_from(values),
            ),
            st.tuples(st.sampled_from(["between", "not_between"]), st.just(pair)),
        )
        return comparison.map(
            lambda item: {
                "type": "prediction",
                "field": field,
                "op": item[0],
                "value": item[1],
            }
        )

    numbers = st.one_of(
        compared("churn_risk", [0, 0.5, 0.7, 1], [0.25, 0.7]),
        compared("clv_12m", [0, 9.99, 10, 100.5], [9.99, 100.5]),
        compared("best_send_hour_of_day", [0, 9, 18], [9, 18]),
    )
    stage = st.tuples(
        st.sampled_from(["eq", "ne", "in", "not_in"]),
        st.sampled_from(["active", "at_risk"]),
    ).map(
        lambda pair: {
            "type": "prediction",
            "field": "lifecycle_stage",
            "op": pair[0],
            "value": [pair[1]] if pair[0].endswith("in") else pair[1],
        }
    )
    return numbers | stage


def consent_leaves():
    return st.fixed_dictionaries(
        {
            "type": st.just("consent"),
            "channel": st.sampled_from(["email", "sms"]),
            "state": st.sampled_from(["granted", "withdrawn", "unknown"]),
        },
        optional={"purpose": st.sampled_from(["marketing", "profiling"])},
    )


def segment_leaves():
    return st.sampled_from(SEGMENT_SLUGS).map(
        lambda slug: {"type": "segment", "segment": slug}
    )


leaves = st.one_of(
    profile_leaves(),
    aggregate_leaves(),
    attribute_leaves(),
    event_leaves(),
    rfm_leaves(),
    prediction_leaves(),
    consent_leaves(),
    segment_leaves(),
)

rules = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(lambda items: {"all": items}),
        st.lists(children, max_size=3).map(lambda items: {"any": items}),
        children.map(lambda item: {"not": item}),
    ),
    max_leaves=6,
)
