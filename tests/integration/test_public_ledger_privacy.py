"""No child's data in the public ledger, and disclosures provable by anyone (issue 17 parts 3 and 4; R21,
R24, R26, R27), on the running platform: enrollments and a month of billing's events with distinctive
student and guardian ids and names go through Kafka into the ledger; then every public audit route
(checkpoints, the key, consistency, witnesses, every hash tile, every entry bundle, the disclosure) is
fetched WITHOUT a token and no seeded value appears in any byte of it. The disclosure's inclusion proof
and the checkpoint's signature are verified by code written here, per RFC 9162 and C2SP signed-note, not
by the service's; and the Go client (tools/tlogcheck) proves the first bundle's entries without a token."""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import uuid

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from local.platform import Platform
from services.audit.api.tiles import format_index
from shared.contracts.registry import encode
from shared.contracts.topics import BILLING_EVENTS, ENROLLMENT_EVENTS
from tests.integration.kafkatools import eventually, produce
from tests.integration.test_tiles_go_client import _tlogcheck
from tests.unit.audit.money import DAY, School, envelope

pytestmark = pytest.mark.integration

STUDENTS = 6


def _family(n: int, tag: str) -> tuple[str, str, str]:
    """(student id, guardian id, the child's name), distinctive enough that any hit is a leak."""
    return f"stu-secret{tag}{n:02d}", f"gdn-secret{tag}{n:02d}", f"隐私童{tag}{n:02d}"


def _seed(school: School, tag: str) -> tuple[list, list, list[str]]:
    """Enrollments, billing's events of a month and a disclosure; the values that must never be public."""
    enrollments, money, secrets = [], [school.schedule(), school.subsidy()], []
    for n in range(STUDENTS):
        student, guardian, name = _family(n, tag)
        secrets += [student, guardian, name]
        enrollments.append(school.enrollment(student, guardian_id=guardian, student_name=name))
        charge = school.charge(student, days=[], quantity=20, amount=30000, guardian_id=guardian)
        ref = f"42000{tag}{n:02d}"
        secrets.append(ref)
        money += [charge, school.payment(student, 30000, guardian_id=guardian, external_ref=ref),
                  school.settlement(student, 30000, guardian_id=guardian)]
    student, guardian, name = _family(0, tag)
    money += [school.waiver(student, charge.charge_id, 1500, reason="session_not_provided", guardian_id=guardian,
                            note=f"{name}的家长：9月18日停课"),
              school.refund(student, 1500, guardian_id=guardian),
              school.payout("stf-0311", 3000, 2), school.expense(45000),
              school.disclosure(DAY.replace(day=1), DAY, disclosure_id=f"dsc-prv{tag}")]
    return [envelope(e) for e in enrollments], [envelope(e) for e in money], secrets


def _verify_note(note: str, vkey: str) -> tuple[int, bytes]:
    """C2SP signed-note, checked here: the line of the key named in `vkey` signs the text. (size, root)."""
    name, key_hash, key_b64 = vkey.split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 1 and len(key) == 33  # Ed25519
    assert hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex() == key_hash
    text, _, signatures = note.partition("\n\n")
    text += "\n"
    for line in signatures.splitlines():
        if line.startswith(f"\u2014 {name} "):
            raw = base64.b64decode(line.split(" ")[2])
            if raw[:4].hex() == key_hash:
                Ed25519PublicKey.from_public_bytes(key[1:]).verify(raw[4:], text.encode())
                origin, size, root = text.splitlines()[:3]
                return int(size), base64.b64decode(root)
    raise AssertionError(f"no signature by {name} on the checkpoint")


def _rfc9162_root_from_inclusion(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2, written here: the root an inclusion proof leads to."""
    fn, sn, r = index, size - 1, hashlib.sha256(b"\x00" + leaf).digest()
    for p in path:
        assert sn > 0, "proof longer than the path"
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    assert sn == 0, "proof shorter than the path"
    return r


async def test_no_public_byte_of_the_ledger_names_a_child_and_a_disclosure_verifies_without_a_token(
    platform: Platform, kafka_bootstrap: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    school = School(f"prv{tag}")
    enrollments, money, secrets = _seed(school, tag)
    audit = platform["audit"]
    public = httpx.AsyncClient(base_url=audit.url, timeout=30)  # no Authorization header, ever
    disclosure = f"/v1/ledger/disclosures/dsc-prv{tag}"

    async def proven() -> dict | None:
        reply = await public.get(disclosure)
        return reply.json() if reply.status_code == 200 else None

    async def all_signed() -> dict | None:
        head = (await public.get("/v1/ledger/head")).json()
        return head if head["size"] >= before + len(money) else None

    try:
        before = (await public.get("/v1/ledger/head")).json()["appended"]
        await produce(kafka_bootstrap, ENROLLMENT_EVENTS, [(e.key.encode(), encode(e)) for e in enrollments])
        await produce(kafka_bootstrap, BILLING_EVENTS, [(e.key.encode(), encode(e)) for e in money])
        await eventually(all_signed, timeout=180, what="the seeded events under a signed checkpoint")
        found = await eventually(proven, timeout=120, what="the disclosure under the published checkpoint")

        # Everything public, fetched without a token.
        fetched: dict[str, bytes] = {}

        async def fetch(path: str) -> bytes:
            reply = await public.get(path)
            assert reply.status_code == 200, (path, reply.status_code, reply.text)
            fetched[path] = reply.content
            return reply.content

        note = (await fetch("/checkpoint")).decode()
        size = int(note.splitlines()[1])
        older = json.loads(await fetch("/v1/ledger/checkpoints?after=0&limit=1000"))[0]["tree_size"]
        for path in ("/v1/ledger/head", "/v1/ledger/checkpoint", "/v1/ledger/key", "/v1/ledger/witnesses",
                     f"/v1/ledger/consistency?old=0&new={size}", f"/v1/ledger/consistency?old={older}", disclosure):
            await fetch(path)
        tiles = bundles = 0
        for level in range(8):
            hashes = size >> (8 * level)
            if not hashes:
                break
            for n in range((hashes + 255) // 256):
                width = min(256, hashes - n * 256)
                suffix = "" if width == 256 else f".p/{width}"
                index = format_index(n)
                await fetch(f"/tile/{level}/{index}{suffix}")
                tiles += 1
                if level == 0:
                    await fetch(f"/tile/entries/{index}{suffix}")
                    bundles += 1
        vkey = json.loads(fetched["/v1/ledger/key"])["vkey"]
    finally:
        await public.aclose()

    # Not one seeded value in any public byte, raw or JSON-escaped; the disclosure's entry travels in
    # base64 (every other base64 string in these answers is a hash or a signature) and is read decoded.
    haystack = b"\n".join([*fetched.values(), base64.b64decode(found["entry"])])
    needles = {s: [s.encode(), json.dumps(s).strip('"').encode()] for s in secrets}
    leaks = {s for s, forms in needles.items() for form in forms if form in haystack}
    assert bundles >= 1 and tiles >= bundles and not leaks, leaks
    # The test can fail: the entries do hold the seeded values, for those entitled to see them (an
    # auditor's export would name them), and the school's own figures are public.
    assert school.school_id.encode() in haystack and json.loads(base64.b64decode(found["entry"]))["payload"][
        "school_id"] == school.school_id

    # The disclosure, checked by code that is not the service's: the log's signature on the checkpoint,
    # then the entry's inclusion under its root.
    signed_size, root = _verify_note(found["checkpoint"], vkey)
    assert signed_size == found["tree_size"] > found["index"]
    entry = base64.b64decode(found["entry"])
    disclosed = json.loads(entry)
    assert disclosed["type"] == "DisclosurePublished" and disclosed["entry_format"] == 2
    assert disclosed["ledger_tree_size"] == found["ledger_tree_size"] == found["index"]
    path = [base64.b64decode(h) for h in found["inclusion_proof"]]
    assert _rfc9162_root_from_inclusion(entry, found["index"], signed_size, path) == root
    tampered = entry.replace(b'"balance_fen":0', b'"balance_fen":1')
    assert tampered != entry and _rfc9162_root_from_inclusion(tampered, found["index"], signed_size, path) != root
    with pytest.raises(InvalidSignature):
        _verify_note(found["checkpoint"].replace(f"\n{signed_size}\n", f"\n{signed_size + 1}\n"), vkey)

    # The Go client proves the first public bundle's entries included, with no token.
    done = subprocess.run([str(_tlogcheck()), "-url", audit.url, "-vkey", vkey, "-entries"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "included 0" in done.stdout.splitlines()
