"""Signals sent by the segments domain.

Both are sent after the membership change is committed, with arguments ``segment``
(Segment), ``profile`` (Profile) and ``at`` (aware datetime of the change).
"""

from django.dispatch import Signal

segment_entered = Signal()
segment_exited = Signal()
