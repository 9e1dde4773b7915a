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

#: Sent when a profile was erased on the customer's request (GDPR Article 17),
#: inside the erasure transaction. Receivers delete or send on what they hold about
#: the person; the raw identifiers may already be wiped. Arguments: ``profile``.
profile_erased = Signal()
