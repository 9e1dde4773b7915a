from datetime import datetime
from decimal import Decimal
from itertools import product
from zoneinfo import ZoneInfo

import pytest

from omnichannel.predictions.models import RFMGroup, RFMScore
from omnichannel.predictions.rfm import GROUP_RULES, group_for, score_all
from omnichannel.profiles.models import Profile

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")


def make_customer(orders, spent, last_month):
    return Profile.objects.create(
        order_count=orders,
        total_spent=Decimal(spent),
        last_order_at=datetime(2026, last_month, 1, tzinfo=UTC),
        first_order_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_rfm_scores_hand_worked():
    # Five customers, each a step higher than the one before: with n = 5 the score
    # 1 + floor(5 * (rank - 1) / 5) equals the rank. A sixth customer ties with the
    # first on every measure and shares its scores: ranks 1, 1, 3, 4, 5, 6 over n = 6
    # give 1, 1, 2, 3, 4, 5.
    customers = [
        make_customer(1, "10.00", 1),
        make_customer(2, "50.00", 2),
        make_customer(3, "100.00", 3),
        make_customer(4, "200.00", 4),
        make_customer(5, "300.00", 5),
        make_customer(1, "10.00", 1),
    ]
    Profile.objects.create()  # no orders: not scored

    sizes = score_all()

    scores = {s.profile_id: s for s in RFMScore.objects.all()}
    expected = {
        customers[0].pk: ("111", RFMGroup.LOST),
        customers[5].pk: ("111", RFMGroup.LOST),
        customers[1].pk: ("222", RFMGroup.HIBERNATING),
        customers[2].pk: ("333", RFMGroup.NEED_ATTENTION),
        customers[3].pk: ("444", RFMGroup.CHAMPIONS),
        customers[4].pk: ("555", RFMGroup.CHAMPIONS),
    }
    assert set(scores) == set(expected)
    for pk, (code, group) in expected.items():
        assert scores[pk].code == code
        assert scores[pk].group == group
    assert sizes[RFMGroup.CHAMPIONS] == 2
    assert sizes[RFMGroup.LOST] == 2
    assert sum(sizes.values()) == 6


def test_rfm_rescoring_replaces_rows():
    make_customer(1, "10.00", 1)
    score_all()
    score_all()
    assert RFMScore.objects.count() == 1


def test_rfm_group_rules_cover_every_combination():
    for r, f, m in product(range(1, 6), repeat=3):
        assert group_for(r, f, m) in RFMGroup


def test_rfm_sql_groups_match_python_rules():
    # One customer per (R, F) cell would need 25 distinct ranks per measure; instead
    # check that the SQL CASE and group_for agree on every score the data produced.
    for months, orders in product(range(1, 6), range(1, 6)):
        make_customer(orders, str(orders * 10 + months), months)
    score_all()
    for score in RFMScore.objects.all():
        assert score.group == group_for(
            score.recency_score, score.frequency_score, score.monetary_score
        )
    assert len(GROUP_RULES) == 11
