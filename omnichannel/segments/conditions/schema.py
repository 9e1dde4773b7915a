"""The JSON Schema of rules, built from the registered condition types.

The schema checks the shape (groups, keys, types); :func:`validate` checks the rest
(operators for each field, values, event names, references to segments).
"""

from __future__ import annotations

from typing import Any

from omnichannel.segments.conditions.base import condition_types
from omnichannel.segments.conditions.rules import MAX_DEPTH


def rule_schema() -> dict[str, Any]:
    """Return a JSON Schema (draft 2020-12) document for rules."""
    leaves = [
        condition_type.schema()
        for condition_type in condition_types().values()
        if condition_type.is_available()
    ]
    node_ref = {"$ref": "#/$defs/node"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "omnichannel rule",
        "description": (
            f"A segment rule or branch condition, nested at most {MAX_DEPTH} levels."
        ),
        "$ref": "#/$defs/node",
        "$defs": {
            "node": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {"all": {"type": "array", "items": node_ref}},
                        "required": ["all"],
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "properties": {"any": {"type": "array", "items": node_ref}},
                        "required": ["any"],
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "properties": {"not": node_ref},
                        "required": ["not"],
                        "additionalProperties": False,
                    },
                    *leaves,
                ]
            }
        },
    }
