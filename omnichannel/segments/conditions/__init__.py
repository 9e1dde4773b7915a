"""The condition language shared by segment rules and journey branches.

Public functions: :func:`validate`, :func:`compile_rule`, :func:`evaluate`,
:func:`explain`, :func:`dependencies`, :func:`describe`; :func:`register` adds a
condition type (see :class:`ConditionType`).
"""

from omnichannel.exceptions import InvalidRule
from omnichannel.segments.conditions import builtin  # noqa: F401  (registers types)
from omnichannel.segments.conditions.base import (
    ANY,
    BATCH_SOURCES,
    ConditionType,
    Dependencies,
    Evaluation,
    Explanation,
    Outcome,
    condition_types,
    get_condition_type,
    register,
    unregister,
)
from omnichannel.segments.conditions.operators import Field
from omnichannel.segments.conditions.rules import (
    compile_rule,
    dependencies,
    describe,
    evaluate,
    explain,
    leaves,
    validate,
)
from omnichannel.segments.conditions.schema import rule_schema

__all__ = [
    "ANY",
    "BATCH_SOURCES",
    "ConditionType",
    "Dependencies",
    "Evaluation",
    "Explanation",
    "Field",
    "InvalidRule",
    "Outcome",
    "compile_rule",
    "condition_types",
    "dependencies",
    "describe",
    "evaluate",
    "explain",
    "get_condition_type",
    "leaves",
    "register",
    "rule_schema",
    "unregister",
    "validate",
]
