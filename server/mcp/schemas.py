"""A lean `tools/list`: the same schemas without what a model never reads.

Every tool's schemas come from pydantic, which adds a ``title`` to each property and model,
a ``default: null`` to each optional one, and spells it ``anyOf: [{type: X}, {type: null}]``; output schemas carry
every field's description as well. A client sends the whole list to the model on every turn,
so it is compacted once, where it is served: titles and null defaults dropped, optional types written as
``type: [X, "null"]``, and output schemas shallow and without descriptions: nested models are
plain ``{"type": "object"}`` (the tool description and the result's own text say what the
fields mean, and a less strict schema still validates every result). Input descriptions
stay: they tell the model how to call the tool. The schemas the SDK validates against are not
touched.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp_types import ListToolsResult

from orgkb.server.mcp.support import edit_tools_list

_DROPPED_EVERYWHERE = frozenset({"title"})
_DROPPED_IN_OUTPUT = frozenset({"title", "description", "default"})


def compact_schema(schema: Any, dropped: frozenset[str] = _DROPPED_EVERYWHERE) -> Any:
    """``schema`` without the ``dropped`` annotation keywords and with ``anyOf``-null collapsed."""
    if isinstance(schema, list):
        return [compact_schema(item, dropped) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            # Property *names* are data ("title" may well be one): only their schemas are compacted.
            out[key] = {name: compact_schema(sub, dropped) for name, sub in value.items()}
        elif (key in dropped and not isinstance(value, dict)) or (key == "default" and value is None):
            continue
        else:
            out[key] = compact_schema(value, dropped)
    options = out.get("anyOf")
    if isinstance(options, list) and all(set(o) == {"type"} and isinstance(o["type"], str) for o in options):
        del out["anyOf"]  # a union of plain types is a type list
        out["type"] = [o["type"] for o in options]
    elif isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(o for o in options if o != {"type": "null"})
        if isinstance(other, dict) and isinstance(other.get("type"), str) and set(other) <= {"type", "items", "format"}:
            del out["anyOf"]
            out.update(other)
            out["type"] = [other["type"], "null"]
    return out


def shallow_output(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema with its nested models (``$defs``) reduced to ``{"type": "object"}``."""

    def without_refs(value: Any) -> Any:
        if isinstance(value, list):
            return [without_refs(item) for item in value]
        if not isinstance(value, dict):
            return value
        if "$ref" in value:
            return {"type": "object"}
        return {key: without_refs(item) for key, item in value.items() if key != "$defs"}

    return compact_schema(without_refs(schema), _DROPPED_IN_OUTPUT)


def register(server: MCPServer[Any]) -> None:
    """Serve ``server``'s `tools/list` with compacted schemas."""

    def edit(ctx: ServerRequestContext[Any, Any], result: ListToolsResult) -> ListToolsResult:
        tools = [
            tool.model_copy(
                update={
                    "input_schema": compact_schema(tool.input_schema),
                    "output_schema": shallow_output(tool.output_schema) if tool.output_schema else None,
                }
            )
            for tool in result.tools
        ]
        return result.model_copy(update={"tools": tools})

    edit_tools_list(server, edit)
