"""Signals sent by the predictions domain."""

from django.dispatch import Signal

#: Sent when a scoring run moves a profile's churn risk across one of the
#: thresholds in ``OMNICHANNEL["PREDICTIONS_CHURN_RISK_THRESHOLDS"]``, once per
#: threshold crossed, after the batch that stores the new score has committed.
#: ``current > previous`` means the risk rose; receivers that start win-back
#: journeys should check that. Not sent on a profile's first score (there is no
#: ``previous``) or when the new run has no purchase score for the profile.
#: Sender: ``CustomerPrediction``.
#: Arguments: ``profile`` (Profile), ``previous`` and ``current`` (float, churn
#: risk from 0 to 1), ``threshold`` (float).
churn_risk_crossed = Signal()
