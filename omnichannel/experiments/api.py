"""Read-only REST endpoints of experiments and their results, for staff."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from omnichannel.experiments.evaluation import experiment_results, find_winner
from omnichannel.experiments.metrics import arm_table
from omnichannel.experiments.models import Experiment, Variant
from omnichannel.rest import StaffAPIMixin


class VariantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Variant
        fields = ["id", "key", "name", "is_control", "weight", "payload"]


class ExperimentSerializer(serializers.ModelSerializer):
    variants = VariantSerializer(many=True, read_only=True)
    winner = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = Experiment
        fields = [
            "id",
            "key",
            "name",
            "target",
            "target_ref",
            "metric",
            "status",
            "holdout_share",
            "conversion_window",
            "significance_level",
            "minimum_detectable_lift",
            "minimum_sample_size",
            "auto_promote",
            "winner",
            "started_at",
            "ended_at",
            "variants",
        ]


class ExperimentViewSet(StaffAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Experiments by key; ``results/`` returns the metrics and comparisons."""

    queryset = Experiment.objects.prefetch_related("variants").order_by("-created_at")
    serializer_class = ExperimentSerializer
    api_scope = "experiments"
    lookup_field = "key"

    @action(detail=True, methods=["get"])
    def results(self, request: Request, key: str | None = None) -> Response:
        experiment = self.get_object()
        results = experiment_results(experiment)
        winner, reason = find_winner(results)
        arms = arm_table(results)
        for row in arms:
            # Money travels as a string, as DRF's DecimalField sends it.
            row["revenue"] = str(row["revenue"])
        payload: dict[str, Any] = {
            "experiment": experiment.key,
            "metric": experiment.metric,
            "alpha": results.alpha,
            "adjusted_alpha": results.adjusted_alpha,
            "sample_size_per_arm": results.sample_size_per_arm,
            "sample_ratio_p_value": results.sample_ratio_p_value,
            "arms": arms,
            "comparisons": [vars(c) for c in results.comparisons],
            "holdout_comparisons": [vars(c) for c in results.holdout_comparisons],
            "winner_candidate": winner.key if winner is not None else None,
            "reason": reason,
        }
        return Response(payload)
