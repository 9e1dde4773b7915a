"""Joining the offers of two profiles when identity resolution merges them."""

from __future__ import annotations

from typing import Any

from omnichannel.offers.models import CustomerOffer, OfferCode

State = CustomerOffer.State
# Rank of each state when two copies of one offer are joined: the higher one is kept.
STATE_RANK = {State.EXPIRED: 0, State.ISSUED: 1, State.SEEN: 2, State.CLAIMED: 3}


def merge_customer_offers(survivor: Any, loser: Any) -> list[int]:
    """Move the loser's customer offers to the survivor; return the ids moved whole.

    An offer both profiles hold stays one row: the survivor's row takes the
    loser's codes and the furthest state of the two, and the loser's row is
    deleted. Rows of offers that only the loser has move unchanged.
    """
    held = {
        row.offer_id: row
        for row in CustomerOffer.objects.select_for_update().filter(profile=survivor)
    }
    moved = []
    for row in CustomerOffer.objects.select_for_update().filter(profile=loser):
        kept = held.get(row.offer_id)
        if kept is None:
            moved.append(row.pk)
            continue
        _join(kept, row)
    CustomerOffer.objects.filter(pk__in=moved).update(profile=survivor)
    return moved


def _join(kept: CustomerOffer, other: CustomerOffer) -> None:
    OfferCode.objects.filter(customer_offer=other).update(customer_offer=kept)
    if STATE_RANK[State(other.state)] > STATE_RANK[State(kept.state)]:
        for name in (
            "state",
            "claimed_at",
            "order_id",
            "claim_channel",
            "revenue",
            "currency",
            "expired_at",
        ):
            setattr(kept, name, getattr(other, name))
    kept.issued_at = min(kept.issued_at, other.issued_at)
    seen = [value for value in (kept.seen_at, other.seen_at) if value is not None]
    kept.seen_at = min(seen) if seen else None
    ends = [kept.valid_until, other.valid_until]
    # The later end wins, because the customer was promised both codes.
    kept.valid_until = None if None in ends else max(ends)
    other.delete()
    kept.save()
