"""RFM scoring inside the database.

Each customer with at least one order gets three scores from 1 to 5:

* recency: by the time of the last order (the most recent fifth scores 5),
* frequency: by the number of orders,
* monetary: by the total spent.

A score is ``1 + floor(5 * (rank - 1) / n)``, where ``rank`` is the SQL ``RANK()`` of
the customer in ascending order and ``n`` the number of customers scored. Ties share the
lower score, so customers with the same number of orders always get the same F score,
even when they are more than a fifth of all customers (as one-time buyers often are).
The whole computation is one ``INSERT ... SELECT`` with window functions, which SQLite
(3.25 and later) and PostgreSQL both run.

The named groups follow :data:`GROUP_RULES`, checked in order; the first match wins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from omnichannel.predictions.models import RFMGroup, RFMScore
from omnichannel.profiles.models import Profile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupRule:
    """Inclusive score ranges that place a customer in a group."""

    group: RFMGroup
    recency: tuple[int, int] = (1, 5)
    frequency: tuple[int, int] = (1, 5)
    monetary: tuple[int, int] = (1, 5)

    def matches(self, r: int, f: int, m: int) -> bool:
        return (
            self.recency[0] <= r <= self.recency[1]
            and self.frequency[0] <= f <= self.frequency[1]
            and self.monetary[0] <= m <= self.monetary[1]
        )


#: Every one of the 125 score combinations matches at least one rule, the last ones
#: catching what the earlier ones leave.
GROUP_RULES: tuple[GroupRule, ...] = (
    GroupRule(RFMGroup.CHAMPIONS, recency=(4, 5), frequency=(4, 5), monetary=(4, 5)),
    GroupRule(RFMGroup.CANT_LOSE, recency=(1, 2), frequency=(4, 5), monetary=(4, 5)),
    GroupRule(RFMGroup.LOYAL, recency=(3, 5), frequency=(4, 5)),
    GroupRule(RFMGroup.AT_RISK, recency=(1, 2), frequency=(3, 5)),
    GroupRule(RFMGroup.NEW, recency=(5, 5), frequency=(1, 1)),
    GroupRule(RFMGroup.PROMISING, recency=(4, 4), frequency=(1, 1)),
    GroupRule(RFMGroup.POTENTIAL_LOYALISTS, recency=(4, 5), frequency=(2, 3)),
    GroupRule(RFMGroup.NEED_ATTENTION, recency=(3, 3), frequency=(2, 3)),
    GroupRule(RFMGroup.ABOUT_TO_SLEEP, recency=(3, 3), frequency=(1, 1)),
    GroupRule(RFMGroup.HIBERNATING, recency=(2, 2), frequency=(1, 2)),
    GroupRule(RFMGroup.LOST, recency=(1, 1), frequency=(1, 2)),
)


def group_for(r: int, f: int, m: int) -> RFMGroup:
    """Return the group of one score triple, by the same rules as the SQL."""
    for rule in GROUP_RULES:
        if rule.matches(r, f, m):
            return rule.group
    raise ValueError(f"No RFM group rule matches R={r} F={f} M={m}.")


def _group_case_sql() -> str:
    branches = []
    for rule in GROUP_RULES:
        conditions = " AND ".join(
            f"{column} BETWEEN {low} AND {high}"
            for column, (low, high) in (
                ("r", rule.recency),
                ("f", rule.frequency),
                ("m", rule.monetary),
            )
        )
        branches.append(f"WHEN {conditions} THEN '{rule.group.value}'")
    return "CASE " + " ".join(branches) + " END"


def score_all(now: datetime | None = None) -> dict[str, int]:
    """Score every profile with orders and replace the stored scores; return sizes."""
    now = now or timezone.now()
    score_table = connection.ops.quote_name(RFMScore._meta.db_table)
    profile_table = connection.ops.quote_name(Profile._meta.db_table)

    def score(column: str) -> str:
        return f"1 + (5 * (RANK() OVER (ORDER BY {column}) - 1)) / (COUNT(*) OVER ())"

    sql = f"""
        INSERT INTO {score_table}
            (profile_id, recency_score, frequency_score, monetary_score, "group",
             scored_at)
        SELECT id, r, f, m, {_group_case_sql()}, %s
        FROM (
            SELECT id,
                   {score("last_order_at")} AS r,
                   {score("order_count")} AS f,
                   {score("total_spent")} AS m
            FROM {profile_table}
            WHERE order_count > 0 AND merged_into_id IS NULL
        ) AS scores
    """
    with transaction.atomic():
        RFMScore.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(sql, [now])
    sizes = group_sizes()
    logger.info(
        "scored %d profiles into %d RFM groups", sum(sizes.values()), len(sizes)
    )
    return sizes


def group_sizes() -> dict[str, int]:
    """Return the number of scored profiles per group, in the order of the rules."""
    from django.db.models import Count

    counts = dict(
        RFMScore.objects.values_list("group").annotate(n=Count("pk")).order_by()
    )
    return {group.value: counts.get(group.value, 0) for group in RFMGroup}
