"""Signals sent by the segments domain.

All are sent after the membership change is committed, with ``sender=Segment``.

``segment_entered`` and ``segment_exited``: one per profile, with arguments
``segment`` (Segment), ``profile`` (Profile) and ``at`` (aware datetime of the change).

``segment_membership_changed``: one per segment and batch, for listeners that work
in bulk (audience syncs), with ``segment``, ``entered`` and ``exited`` (lists of
profile ids) and ``at``.
"""

from django.dispatch import Signal

segment_entered = Signal()
segment_exited = Signal()
segment_membership_changed = Signal()
