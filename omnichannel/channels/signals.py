"""Signals of the channels package.

``delivery_status_changed(sender=Delivery, delivery, previous_status)`` is sent in
the transaction that changes a delivery's status, such as pending to sending or
sending to sent.
"""

from django.dispatch import Signal

delivery_status_changed = Signal()
