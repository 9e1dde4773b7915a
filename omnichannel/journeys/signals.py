"""Signals sent by the journey engine, inside the transaction that made the change.

``enrollment_started`` and ``enrollment_finished`` carry ``enrollment`` (Enrollment).
"""

from django.dispatch import Signal

enrollment_started = Signal()
enrollment_finished = Signal()
