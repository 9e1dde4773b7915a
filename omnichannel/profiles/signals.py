"""Signals sent by the profiles domain."""

from django.dispatch import Signal

#: Sent inside the transaction that stored an event.
#: Arguments: ``event`` (Event), ``profile`` (Profile).
event_tracked = Signal()

#: Sent after ``loser`` was merged into ``survivor``, inside the merge transaction.
#: Arguments: ``survivor``, ``loser`` (Profile), ``merge`` (ProfileMerge).
profile_merged = Signal()

#: Sent after a profile's order aggregates changed, inside the same transaction.
#: Arguments: ``profile`` (Profile).
profile_aggregates_changed = Signal()

#: Sent after a merge was undone, inside the transaction that undid it.
#: Arguments: ``survivor``, ``loser`` (Profile), ``merge`` (ProfileMerge).
profile_merge_undone = Signal()

#: Sent when a profile was erased on the customer's request (GDPR Article 17),
#: inside the erasure transaction, after its identifiers and personal fields were
#: wiped. Receivers delete or pass on what they hold about the person. Arguments:
#: ``profile`` (Profile) and ``identities``, the ``(kind, value)`` pairs the profile
#: had before erasure, for receivers that must name the person to an outside
#: system. Receivers must not store those values.
profile_erased = Signal()
