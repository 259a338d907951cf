"""Entry format 2: a fee record's personal fields are replaced in the public leaf by salted commitments,
and opened again with the salt (issue 17 part 3; R24, R26, R27). Standard library only, like the rest of
the ledger package, so the offline verifier and a browser can open a commitment without the service.

A format-2 entry is compact UTF-8 JSON:

    {"entry_format":2,"type":...,"version":...,"occurred_at":...,"producer":...,
     "payload":{<every payload field but the personal ones>},
     "commitments":{"event_id":"<base64>",...,"payload.student_id":"<base64>",...}}

and a disclosure (R21) that does not say which ledger size it was computed at also carries the ledger's
own `"ledger_tree_size":N` after its commitments: the entries before it, the prefix it is recomputed over.

commitment = SHA-256(salt ‖ UTF-8 name ‖ 0x00 ‖ compact UTF-8 JSON of the value), with one 32-byte salt
per entry kept only in audit's database. The name is the field's path (`payload.student_id`), so a
commitment opens to one field only, and the NUL byte ends the name. A null names no one and stays in
the clear, and so do school-level figures. Format-1 entries (the event exactly as published) keep their bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import json.encoder
from collections.abc import Mapping
from typing import Any

from services.audit.ledger.decoding import b64decode, loads

__all__ = [
    "COMMITTED_ENVELOPE_FIELDS",
    "COMMITTED_PAYLOAD_FIELDS",
    "ENTRY_FORMAT",
    "SALT_SIZE",
    "CommitmentError",
    "commitment",
    "entry_format",
    "encode_opening",
    "open_entry",
    "opening",
    "seal",
]

ENTRY_FORMAT = 2
SALT_SIZE = 32
_PREFIX = b'{"entry_format":2,'

# Envelope fields that name a family: billing derives event ids, correlation ids and partition keys
# from the student (a settlement's id hashes programme, student and month; the key is the student id),
# so anyone with a list of student ids could recompute them and find a child's entries.
COMMITTED_ENVELOPE_FIELDS: tuple[str, ...] = ("event_id", "correlation_id", "causation_id", "key")
# Payload fields that are personal (R27): the child and the guardian, the staff member paid, free text
# written to a family, the hardship application (R9), the payment provider's reference a family sees on
# its own statement, and every id billing derives from the student.
COMMITTED_PAYLOAD_FIELDS: tuple[str, ...] = (
    "student_id",
    "guardian_id",
    "staff_id",
    "note",
    "verification_ref",
    "external_ref",
    "settlement_id",
    "charge_id",
    "charge_ids",
    "waiver_id",
    "refund_id",
    "payment_id",
)
_DISCLOSURE = "DisclosurePublished"

# One encoder, not one per call: json.dumps builds a new one whenever it is given options.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_sha256 = hashlib.sha256
# Sealing runs once per appended entry and again when it is signed: the hot path avoids the encoder's
# Python-level dispatch for string values (the C routine gives the same bytes as _JSON.encode) and
# re-encoding field names.
_encode_str = json.encoder.encode_basestring
# The C encoder JSONEncoder.encode builds afresh on every call, built once (without the circular-reference
# check: a published event is a tree); it writes the same bytes as _JSON.
_c_encoder = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _JSON.default, _encode_str, None, ":", ",", False, False, True) if json.encoder.c_make_encoder else None


def _dumps(value: Any) -> str:
    return "".join(_c_encoder(value, 0)) if _c_encoder is not None else _JSON.encode(value)


try:  # orjson writes a sealed entry or an opening in a third less time; the stored bytes are any valid JSON
    import orjson

    def _document_bytes(value: Any) -> bytes:
        """Compact UTF-8 JSON of a sealed entry or an opening (orjson's; for what it cannot write, an
        integer past 64 bits or a lone surrogate, the standard library's). Commitments themselves are
        always computed over _dumps's bytes, on both sides."""
        try:
            return orjson.dumps(value)
        except TypeError:  # orjson.JSONEncodeError
            return _dumps(value).encode()
except ImportError:  # pragma: no cover - the offline verifier on a bare Python never seals
    def _document_bytes(value: Any) -> bytes:
        return _dumps(value).encode()

_b2a = binascii.b2a_base64
_PATHS = {name: "payload." + name for name in COMMITTED_PAYLOAD_FIELDS}
_PATH_BYTES = {path: path.encode() + b"\x00" for path in _PATHS.values()} | {
    name: name.encode() + b"\x00" for name in COMMITTED_ENVELOPE_FIELDS}


def _opens(name: str) -> tuple[bytes, bool, str]:
    """What opening a commitment by this name takes: the bytes its hash starts with after the salt,
    whether the value goes back into the payload, and under which key."""
    in_payload = name.startswith("payload.")
    return name.encode() + b"\x00", in_payload, name[8:] if in_payload else name


_OPENS = {name: _opens(name) for name in _PATH_BYTES}

def _dumps_bytes(value: Any) -> bytes:
    return _dumps(value).encode()


try:  # the compiled check of the loop in open_entry (_speedups.c, built by `make deps`): the same answers
    from services.audit.ledger._speedups import open_values as _open_values
except ImportError:  # not built: the loop answers alone
    _open_values = None


class CommitmentError(ValueError):
    """An opening does not open the entry's commitments, or an entry is not format 2; str() says why."""


def commitment(salt: bytes, name: str, value: Any) -> bytes:
    """SHA-256(salt ‖ name ‖ 0x00 ‖ compact JSON of value)."""
    return _sha256(salt + name.encode() + b"\x00" + _JSON.encode(value).encode()).digest()


def _committed(salted: Any, name: str, value: Any) -> str:
    """base64(commitment(salt, name, value)), the same bytes by a shorter road: `salted` is SHA-256 with
    the salt already absorbed."""
    h = salted.copy()
    encoded = _encode_str(value) if type(value) is str else _dumps(value)
    h.update((_PATH_BYTES.get(name) or name.encode() + b"\x00") + encoded.encode())
    return _b2a(h.digest(), newline=False).decode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def entry_format(body: bytes) -> int:
    """2 for a committed entry, 1 for an event recorded exactly as published."""
    return ENTRY_FORMAT if body.startswith(_PREFIX) else 1


def seal(document: Mapping[str, Any], salt: bytes, index: int) -> bytes:
    """The format-2 leaf bytes of a published event (its envelope as a JSON document) at ledger `index`.

    A disclosure that does not say which ledger size it was computed at gets `index` as the ledger's
    `ledger_tree_size`: it was appended after exactly those entries, the prefix the verifier recomputes
    it over (R21).
    """
    salted = _sha256(salt)
    sealed: dict[str, Any] = {"entry_format": ENTRY_FORMAT}
    sealed.update(document)
    commitments: dict[str, str] = {}
    # A null names no one and stays in the clear; everything else personal is committed.
    for name in COMMITTED_ENVELOPE_FIELDS:
        if sealed.get(name) is not None:
            commitments[name] = _committed(salted, name, sealed.pop(name))
    payload = dict(sealed.pop("payload"))
    for name, path in _PATHS.items():
        if payload.get(name) is not None:
            commitments[path] = _committed(salted, path, payload.pop(name))
    sealed["payload"] = payload
    sealed["commitments"] = commitments
    if document.get("type") == _DISCLOSURE and payload.get("ledger_tree_size") is None:
        sealed["ledger_tree_size"] = index
    return _document_bytes(sealed)


def opening(document: Mapping[str, Any], salt: bytes) -> dict[str, Any]:
    """What opens a sealed entry: its salt and the committed values, by name."""
    values = {name: document[name] for name in COMMITTED_ENVELOPE_FIELDS if document.get(name) is not None}
    payload = document["payload"]
    values.update({path: payload[name] for name, path in _PATHS.items() if payload.get(name) is not None})
    return {"salt": _b64(salt), "values": values}


def encode_opening(document: Mapping[str, Any], salt: bytes) -> bytes:
    """opening() as compact UTF-8 JSON, as audit keeps it beside the entry."""
    return _document_bytes(opening(document, salt))


def open_entry(body: bytes, opened: Mapping[str, Any]) -> dict[str, Any]:
    """The published event a format-2 entry commits to, after checking that every commitment opens
    to the value given (and that nothing is given that was not committed). The keys come back in
    another order than the producer's; the values are the event's."""
    try:
        sealed = loads(body)
    except ValueError as exc:  # UnicodeDecodeError is one
        raise CommitmentError(f"not a JSON document: {exc}") from exc
    if type(sealed) is not dict or sealed.get("entry_format") != ENTRY_FORMAT:
        raise CommitmentError("not a format-2 entry")
    commitments, payload = sealed.pop("commitments", None), sealed.get("payload")
    if type(commitments) is not dict or type(payload) is not dict:
        raise CommitmentError("a format-2 entry has an object of commitments and a payload")
    values = opened.get("values") if type(opened) is dict or isinstance(opened, Mapping) else None
    if type(values) is not dict and not isinstance(values, Mapping):
        raise CommitmentError("an opening is an object with a salt and values")
    try:
        salt = b64decode(str(opened.get("salt")))
    except ValueError as exc:  # binascii.Error, or a character outside ASCII
        raise CommitmentError("the opening's salt is not base64") from exc
    if len(salt) != SALT_SIZE:
        raise CommitmentError(f"the opening's salt is {len(salt)} bytes, not {SALT_SIZE}")
    if values.keys() != commitments.keys():
        raise CommitmentError(f"the opening names {sorted(values)} but the entry commits to {sorted(commitments)}")
    del sealed["entry_format"]
    sealed.pop("ledger_tree_size", None)  # the ledger's own note on a disclosure, not the publisher's
    opened_all = (_open_values(salt, values, commitments, _OPENS, payload, sealed, _dumps_bytes)
                  if _open_values is not None and type(values) is dict else None)
    if type(opened_all) is str:
        raise CommitmentError(f"the value given for {opened_all} does not open its commitment")
    if opened_all is True:
        return sealed
    salted = _sha256(salt)
    for name, value in values.items():
        # _committed(salted, name, value), inlined: a full audit opens several commitments per entry.
        prefix, in_payload, key = _OPENS.get(name) or _opens(name)
        h = salted.copy()
        h.update(prefix)
        h.update((_encode_str(value) if type(value) is str else _dumps(value)).encode())
        if _b2a(h.digest(), newline=False).decode() != commitments[name]:
            raise CommitmentError(f"the value given for {name} does not open its commitment")
        if in_payload:
            payload[key] = value
        else:
            sealed[key] = value
    return sealed
