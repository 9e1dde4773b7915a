"""Errors raised by the prediction models."""

from __future__ import annotations


class PredictionError(Exception):
    """Base class for errors from the prediction layer."""


class InvalidSummaryInput(PredictionError, ValueError):
    """Purchase rows or summary arrays that cannot be modelled as given."""


class InsufficientHistory(PredictionError, ValueError):
    """Too few customers or repeat purchases to fit a model."""


class FitDidNotConverge(PredictionError, ArithmeticError):
    """The optimiser stopped without reaching a usable maximum of the likelihood."""


class ScoringFailed(PredictionError, ArithmeticError):
    """A fitted model could not produce finite scores for the given customers."""
