"""Signals sent by the profiles domain."""

from django.dispatch import Signal

#: Sent for each stored event, inside the transaction that stored it, also for the
#: events of a batch. Arguments: ``event`` (Event), ``profile`` (Profile). A batch
#: loads every profile of the batch for this signal when a receiver is connected,
#: so work that can handle many events at once belongs on ``events_tracked``.
event_tracked = Signal()

#: Sent once for the events one call stored: one event from ``track()``, all the
#: new events of an API batch. Sent inside the storing transaction, after
#: ``event_tracked``. Arguments: ``events`` (list of Event, in the order stored).
#: ``event.profile`` may need a query; ``load_profiles(events)`` in
#: ``omnichannel.profiles.services`` loads them all at once.
events_tracked = Signal()

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
