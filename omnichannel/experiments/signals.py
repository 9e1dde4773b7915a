"""Signals sent by the experiments domain."""

from django.dispatch import Signal

#: Sent after a profile was put in an arm for the first time, inside the transaction
#: that stored the Assignment. Arguments: ``experiment`` (Experiment), ``profile``
#: (Profile), ``variant`` (Variant, or None for the holdout group).
variant_assigned = Signal()

#: Sent when an experiment is completed with a winner, inside the transaction that
#: saved it. Arguments: ``experiment`` (Experiment), ``variant`` (Variant),
#: ``automatic`` (bool: True when the evaluation promoted it, False for a person).
winner_promoted = Signal()
