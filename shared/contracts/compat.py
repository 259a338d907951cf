"""Compares two JSON Schemas of one event version and lists breaking changes; pure functions, no I/O."""
from __future__ import annotations

import json
from typing import Any

Schema = dict[str, Any]

# The rule (STYLE.md, Contracts): a new optional property keeps the version; anything else that
# changes what is valid is breaking, in either direction. Narrowing breaks new readers of old
# events (the ledger replays them forever); widening breaks old readers of new events, because
# readers validate closed sets (Literal) and bounds. Titles, descriptions and examples are free.

_ANNOTATIONS = {"title", "description", "examples", "$comment", "$schema", "$id", "deprecated", "readOnly", "writeOnly"}
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
_EXACT = ("pattern", "format", "multipleOf", "contentEncoding", "contentMediaType")
_STRUCTURE = {"$ref", "$defs", "definitions", "type", "const", "enum", "default", "anyOf", "oneOf", "allOf",
              "properties", "required", "additionalProperties", "items", "prefixItems", "uniqueItems",
              *_LOWER_BOUNDS, *_UPPER_BOUNDS, *_EXACT}
# Our own metadata on envelope schemas: moving an event to another topic or key breaks ordering.
_METADATA = {"x-topic": "topic", "x-key-field": "partition key field"}


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every change from `old` to `new` that is not an additive optional property, each as
    "<JSON path>: <what changed>". An empty list means `new` may keep the version."""
    out: list[str] = []
    for key, what in _METADATA.items():
        if old.get(key) != new.get(key):
            out.append(f"$: {what} changed from {_show(old.get(key))} to {_show(new.get(key))}")
    _Comparison(old, new, out).compare(old, new, "$")
    return out


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _pointer(root: Schema, ref: str) -> Schema:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref is supported, got {ref!r}")
    node: Any = root
    for token in [t for t in ref[1:].split("/") if t]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema, out: list[str]) -> None:
        self.roots = (old_root, new_root)
        self.out = out
        self._active: set[tuple[str, str]] = set()

    def report(self, path: str, message: str) -> None:
        self.out.append(f"{path}: {message}")

    # -- normalising ------------------------------------------------------------------------
    def resolve(self, schema: Any, side: int) -> tuple[Schema, str]:
        """Follow $ref (keeping sibling keywords); returns the schema and the last ref followed."""
        last = ""
        seen: set[str] = set()
        while isinstance(schema, dict) and "$ref" in schema:
            ref = schema["$ref"]
            if ref in seen:
                break
            seen.add(ref)
            last = ref
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**_pointer(self.roots[side], ref), **siblings}
        if schema is True or schema is None:
            schema = {}
        if schema is False:
            schema = {"not": {}}
        return schema, last

    def unwrap_nullable(self, schema: Schema, side: int) -> tuple[Schema, bool]:
        """`X | None` arrives as anyOf [X, null]: treat it as X that also accepts null."""
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if not isinstance(branches, list):
                continue
            resolved = [self.resolve(b, side)[0] for b in branches]
            nulls = [b for b in resolved if b.get("type") == "null" and len(set(b) - _ANNOTATIONS) == 1]
            rest = [b for b in resolved if b not in nulls]
            if nulls and len(rest) == 1:
                merged = {**rest[0], **{k: v for k, v in schema.items() if k != key}}
                return merged, True
        return schema, False

    @staticmethod
    def types(schema: Schema, nullable: bool) -> set[str] | None:
        declared = schema.get("type")
        if declared is None:
            if "const" in schema:
                declared = _json_type(schema["const"])
            elif "enum" in schema:
                declared = sorted({_json_type(v) for v in schema["enum"]})
            elif "properties" in schema:
                declared = "object"
            elif "items" in schema or "prefixItems" in schema:
                declared = "array"
        if declared is None:
            return None
        found = {declared} if isinstance(declared, str) else set(declared)
        if "integer" in found and "number" in found:
            found.discard("integer")
        if nullable:
            found.add("null")
        return found

    # -- comparing --------------------------------------------------------------------------
    def compare(self, old_raw: Any, new_raw: Any, path: str) -> None:
        old, old_ref = self.resolve(old_raw, 0)
        new, new_ref = self.resolve(new_raw, 1)
        if old_ref and new_ref:
            pair = (old_ref, new_ref)
            if pair in self._active:  # recursive model: already being compared higher up
                return
            self._active.add(pair)
            try:
                self._compare_resolved(old, new, path)
            finally:
                self._active.discard(pair)
        else:
            self._compare_resolved(old, new, path)

    def _compare_resolved(self, old: Schema, new: Schema, path: str) -> None:
        old, old_null = self.unwrap_nullable(old, 0)
        new, new_null = self.unwrap_nullable(new, 1)

        old_types, new_types = self.types(old, old_null), self.types(new, new_null)
        if old_types != new_types:
            self.report(path, f"type changed from {_types_text(old_types)} to {_types_text(new_types)}")
            return

        self._compare_const_enum(old, new, path)
        if old.get("default", _MISSING) != new.get("default", _MISSING):
            self.report(
                path,
                f"default changed from {_show_opt(old.get('default', _MISSING))} to {_show_opt(new.get('default', _MISSING))}",
            )
        self._compare_bounds(old, new, path)
        self._compare_branches(old, new, path)
        self._compare_object(old, new, path)
        self._compare_array(old, new, path)
        for key in sorted((set(old) | set(new)) - _STRUCTURE - _ANNOTATIONS):
            if key.startswith("x-") or key in ("$defs", "definitions"):
                continue
            if old.get(key, _MISSING) != new.get(key, _MISSING):
                self.report(path, f"keyword {key} changed from {_show_opt(old.get(key, _MISSING))} to {_show_opt(new.get(key, _MISSING))}")

    def _compare_const_enum(self, old: Schema, new: Schema, path: str) -> None:
        if "const" in old or "const" in new:
            if old.get("const", _MISSING) != new.get("const", _MISSING):
                self.report(
                    path, f"const changed from {_show_opt(old.get('const', _MISSING))} to {_show_opt(new.get('const', _MISSING))}"
                )
            return
        if "enum" not in old and "enum" not in new:
            return
        if "enum" not in new:
            self.report(path, f"no longer restricted to {_show(old['enum'])}: old readers reject other values")
            return
        if "enum" not in old:
            self.report(path, f"now restricted to {_show(new['enum'])}")
            return
        old_values = [_show(v) for v in old["enum"]]
        new_values = [_show(v) for v in new["enum"]]
        removed = [v for v in old_values if v not in new_values]
        added = [v for v in new_values if v not in old_values]
        if removed:
            self.report(path, f"enum value(s) removed: {', '.join(removed)}")
        if added:
            self.report(path, f"enum value(s) added: {', '.join(added)} (old readers reject them)")

    def _compare_bounds(self, old: Schema, new: Schema, path: str) -> None:
        for key in _LOWER_BOUNDS + _UPPER_BOUNDS:
            a, b = old.get(key, _MISSING), new.get(key, _MISSING)
            if a == b:
                continue
            lower = key in _LOWER_BOUNDS
            if a is _MISSING:
                self.report(path, f"constraint narrowed: {key} {b} added")
            elif b is _MISSING:
                self.report(path, f"constraint relaxed: {key} {a} removed (old readers reject what it now allows)")
            elif (b > a) == lower:
                self.report(path, f"constraint narrowed: {key} from {a} to {b}")
            else:
                self.report(path, f"constraint relaxed: {key} from {a} to {b} (old readers reject what it now allows)")
        for key in _EXACT:
            a, b = old.get(key, _MISSING), new.get(key, _MISSING)
            if a != b:
                self.report(path, f"constraint {key} changed from {_show_opt(a)} to {_show_opt(b)}")
        if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
            self.report(path, f"constraint uniqueItems changed from {bool(old.get('uniqueItems'))} to {bool(new.get('uniqueItems'))}")

    def _compare_branches(self, old: Schema, new: Schema, path: str) -> None:
        for key in ("anyOf", "oneOf", "allOf"):
            a, b = old.get(key), new.get(key)
            if a is None and b is None:
                continue
            if a is None or b is None:
                self.report(path, f"{key} {'added' if a is None else 'removed'}")
                continue
            old_by_sig = {self._signature(x, 0): x for x in a}
            new_by_sig = {self._signature(x, 1): x for x in b}
            for sig in old_by_sig:
                if sig not in new_by_sig:
                    self.report(path, f"{key} alternative removed: {sig}")
            for sig in new_by_sig:
                if sig not in old_by_sig:
                    self.report(path, f"{key} alternative added: {sig} (old readers reject it)")
            for sig, branch in old_by_sig.items():
                if sig in new_by_sig:
                    self.compare(branch, new_by_sig[sig], f"{path}<{sig}>")

    def _signature(self, branch: Any, side: int) -> str:
        schema, ref = self.resolve(branch, side)
        if ref:
            return ref.rsplit("/", 1)[-1]
        types = self.types(schema, False)
        label = "|".join(sorted(types)) if types else "any"
        if "const" in schema:
            label += f"={_show(schema['const'])}"
        return label

    def _compare_object(self, old: Schema, new: Schema, path: str) -> None:
        old_props: dict[str, Any] = old.get("properties", {})
        new_props: dict[str, Any] = new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name in old_props:
            child = f"{path}.{name}"
            if name not in new_props:
                self.report(child, "property removed")
                continue
            if name in new_required and name not in old_required:
                self.report(child, "became required")
            elif name in old_required and name not in new_required:
                self.report(child, "no longer required (old readers require it)")
            self.compare(old_props[name], new_props[name], child)
        for name in new_props:
            if name not in old_props and name in new_required:
                self.report(f"{path}.{name}", "new required property")
        for name in sorted((new_required - old_required) - set(new_props) - set(old_props)):
            self.report(f"{path}.{name}", "became required")
        a, b = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if isinstance(a, dict) or isinstance(b, dict):
            self.compare(a, b, f"{path}.*")
        elif bool(a) != bool(b):
            if a:
                self.report(path, "unknown properties no longer accepted")
            else:
                self.report(path, "unknown properties now accepted (old readers reject them)")

    def _compare_array(self, old: Schema, new: Schema, path: str) -> None:
        if "items" in old or "items" in new:
            self.compare(old.get("items", True), new.get("items", True), f"{path}[*]")
        a, b = old.get("prefixItems", []), new.get("prefixItems", [])
        for i in range(max(len(a), len(b))):
            if i >= len(b):
                self.report(f"{path}[{i}]", "tuple item removed")
            elif i >= len(a):
                self.report(f"{path}[{i}]", "tuple item added")
            else:
                self.compare(a[i], b[i], f"{path}[{i}]")


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _show_opt(value: Any) -> str:
    return "(none)" if value is _MISSING else _show(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _types_text(types: set[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types))
