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
