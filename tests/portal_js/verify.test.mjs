// The browser verifier (services/portal/static/js/verify.js) under Node's test runner, with the same vendored
// noble modules the page loads (`make deps` copies them): the transparency-dev/merkle inclusion and
// consistency vectors, and a disclosure proof built by the audit's own Python code (fixture.json, from
// ledger_fixture.py) verified as it is and refused when tampered with (R21, R24, R26; issue 18).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

import * as ed from "../../services/portal/static/vendor/noble-ed25519.js";
import { primitives } from "../../services/portal/static/js/crypto.js";
import { createVerifier, fromBase64, toBase64, VerifyError } from "../../services/portal/static/js/verify.js";

const here = dirname(fileURLToPath(import.meta.url));
const vectors = join(here, "..", "data", "merkle-vectors");
const fixture = JSON.parse(readFileSync(join(here, "fixture.json"), "utf8"));
const v = createVerifier(primitives);

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : name.endsWith(".json") ? [path] : [];
  });
}

// The vectors are Go JSON: []byte is standard base64 and a nil slice is null.
const bytes = (value) => (value === null ? new Uint8Array() : fromBase64(value, "vector"));
const hashes = (value) => (value === null ? [] : value.map(bytes));

function outcome(check) {
  try {
    check();
    return "verified";
  } catch (error) {
    if (!(error instanceof VerifyError)) throw error;
    return "refused";
  }
}

function checkVectors(kind, run) {
  const names = files(join(vectors, kind));
  assert.ok(names.length > 90, `only ${names.length} ${kind} vectors`);
  const seen = new Set();
  for (const name of names) {
    const t = JSON.parse(readFileSync(name, "utf8"));
    const got = outcome(() => run(t));
    assert.equal(got, t.wantErr ? "refused" : "verified", name);
    seen.add(got);
  }
  assert.deepEqual([...seen].sort(), ["refused", "verified"]);
}

test("every inclusion vector verifies exactly when it is a valid proof", () => {
  checkVectors("inclusion", (t) => v.verifyInclusion(bytes(t.leafHash), t.leafIdx, t.treeSize, hashes(t.proof), bytes(t.root)));
});

test("every consistency vector verifies exactly when it is a valid proof", () => {
  checkVectors("consistency", (t) => v.verifyConsistency(t.size1, t.size2, hashes(t.proof), bytes(t.root1), bytes(t.root2)));
});

test("a consistency proof made by the audit's code links its two checkpoints, and not two other roots", () => {
  const c = fixture.consistency;
  const args = [c.old_size, c.new_size, c.proof.map(bytes), bytes(c.old_root), bytes(c.new_root)];
  v.verifyConsistency(...args);
  assert.throws(() => v.verifyConsistency(c.old_size, c.new_size, c.proof.map(bytes), bytes(c.new_root), bytes(c.new_root)),
    { code: "proof-root" });
});

// ----------------------------------------------------------------------------- the disclosure

const figureNames = ["fee_income_fen", "subsidy_income_fen", "refunded_fen", "balance_fen", "students_served"];

function shown(overrides = {}) {
  return figureNames.map((name) => {
    const value = String(overrides[name] ?? fixture.disclosure[name]);
    const text = name.endsWith("_fen") ? `${(Number(value) / 100).toLocaleString("en-US", { minimumFractionDigits: 2 })} 元` : value;
    return { name, value, text };
  });
}

const proof = (changes = {}) => ({ ...structuredClone(fixture.proof), ...changes });

function refusal(check) {
  try {
    check();
  } catch (error) {
    if (error instanceof VerifyError) return error;
    throw error;
  }
  assert.fail("verified what should have been refused");
}

test("the audit's disclosure proof verifies: signed by the log, cosigned by the quorum, included, figures equal", () => {
  const result = v.verifyDisclosure(fixture.proof, fixture.keys, shown(), fixture.disclosure_id);
  assert.equal(result.index, 5);
  assert.equal(result.treeSize, 7);
  assert.equal(result.log, "beilei.test/ledger");
  assert.deepEqual(result.witnesses, ["witness-city-archive", "witness-district-07"]);
  assert.equal(result.quorum, 2);
  assert.equal(result.entryFormat, 2);
  assert.equal(result.root, fixture.proof.checkpoint.split("\n")[2]);
  assert.deepEqual(result.figures.map((f) => f.name), figureNames);
});

test("a figure changed on the page is refused, naming the figure", () => {
  const error = refusal(() => v.verifyDisclosure(fixture.proof, fixture.keys, shown({ fee_income_fen: 18370000 }), fixture.disclosure_id));
  assert.equal(error.code, "figure-differs");
  assert.equal(error.detail.figure, "fee_income_fen");
  assert.equal(error.detail.recorded, "18360000");
});

test("a figure whose words were changed while its data attribute was left is refused", () => {
  const figures = shown();
  figures[3].text = "53,200.00 元";
  const error = refusal(() => v.verifyDisclosure(fixture.proof, fixture.keys, figures, fixture.disclosure_id));
  assert.equal(error.code, "figure-differs");
  assert.equal(error.detail.figure, "balance_fen");
});

test("a figure the entry does not hold is refused rather than skipped", () => {
  const figures = [...shown(), { name: "bonus_fen", value: "100", text: "1.00 元" }];
  assert.equal(refusal(() => v.verifyDisclosure(fixture.proof, fixture.keys, figures, fixture.disclosure_id)).code, "figure-unknown");
});

test("one flipped bit in the inclusion proof is refused: the proof does not lead to the checkpoint's root", () => {
  const path = fixture.proof.inclusion_proof.map((h) => fromBase64(h, "h"));
  path[1][7] ^= 0x01;
  const error = refusal(() => v.verifyDisclosure(proof({ inclusion_proof: path.map(toBase64) }), fixture.keys, shown(), fixture.disclosure_id));
  assert.equal(error.code, "proof-root");
});

test("an entry changed in the proof is refused: its leaf is not the one the proof names, nor under the root", () => {
  const entry = new TextDecoder().decode(fromBase64(fixture.proof.entry, "e")).replace("18360000", "18370000");
  const changed = toBase64(new TextEncoder().encode(entry));
  assert.equal(refusal(() => v.verifyDisclosure(proof({ entry: changed }), fixture.keys, shown(), fixture.disclosure_id)).code, "leaf-mismatch");
  const { leaf_hash: _, ...withoutLeaf } = proof({ entry: changed });
  assert.equal(refusal(() => v.verifyDisclosure(withoutLeaf, fixture.keys, shown(), fixture.disclosure_id)).code, "proof-root");
});

test("a forged log signature is refused", () => {
  const lines = fixture.proof.checkpoint.split("\n");
  const at = lines.findIndex((l) => l.startsWith("\u2014 beilei.test/ledger "));
  const [dash, name, sig] = lines[at].split(" ");
  const raw = fromBase64(sig, "s");
  raw[10] ^= 0x40;
  lines[at] = [dash, name, toBase64(raw)].join(" ");
  const error = refusal(() => v.verifyDisclosure(proof({ checkpoint: lines.join("\n") }), fixture.keys, shown(), fixture.disclosure_id));
  assert.equal(error.code, "signature-invalid");
});

test("a checkpoint whose root was rewritten keeps no valid signature", () => {
  const lines = fixture.proof.checkpoint.split("\n");
  lines[2] = fixture.consistency.old_root;
  assert.equal(refusal(() => v.verifyDisclosure(proof({ checkpoint: lines.join("\n") }), fixture.keys, shown(), fixture.disclosure_id)).code, "signature-invalid");
});

test("a checkpoint checked against another log's key is refused: that key did not sign it", () => {
  const publicKey = ed.getPublicKey(new Uint8Array(32).fill(7));
  const kid = Buffer.from(v.keyId("beilei.test/ledger", 0x01, publicKey)).toString("hex");
  const other = `beilei.test/ledger+${kid}+${toBase64(Uint8Array.of(0x01, ...publicKey))}`;
  assert.equal(refusal(() => v.verifyDisclosure(fixture.proof, { ...fixture.keys, log_vkey: other }, shown(), fixture.disclosure_id)).code, "signature-missing");
});

test("too few witnesses is refused, saying who cosigned and who did not", () => {
  const error = refusal(() => v.verifyDisclosure(proof({ checkpoint: fixture.checkpoint_without_witnesses }), fixture.keys, shown(), fixture.disclosure_id));
  assert.equal(error.code, "quorum");
  assert.deepEqual(error.detail.cosigned, ["witness-city-archive"]);
  assert.deepEqual(error.detail.missing, ["witness-district-07", "witness-university"]);
});

test("a forged witness cosignature is refused", () => {
  const note = fixture.proof.checkpoint.replace(/(\u2014 witness-district-07 \S{20})(\S)/, (_, head, c) => head + (c === "A" ? "B" : "A"));
  assert.notEqual(note, fixture.proof.checkpoint);
  const error = refusal(() => v.verifyDisclosure(proof({ checkpoint: note }), fixture.keys, shown(), fixture.disclosure_id));
  assert.equal(error.code, "cosignature-invalid");
  assert.equal(error.detail.witness, "witness-district-07");
});

test("the proof of another disclosure is refused even when it verifies", () => {
  assert.equal(refusal(() => v.verifyDisclosure(fixture.proof, fixture.keys, shown(), "dsc-0042-2025q4")).code, "wrong-entry");
});

test("a proof against another tree size than its checkpoint is refused", () => {
  assert.equal(refusal(() => v.verifyDisclosure(proof({ tree_size: 8 }), fixture.keys, shown(), fixture.disclosure_id)).code, "size-mismatch");
});

test("a verifier key is checked against its key id", () => {
  const [name, id, key] = fixture.keys.log_vkey.split("+");
  const wrongId = id.replace(/^./, (c) => (c === "0" ? "1" : "0"));
  assert.throws(() => v.parseVerifierKey([name, wrongId, key].join("+"), 0x01), { code: "malformed" });
  assert.equal(v.parseVerifierKey(fixture.keys.log_vkey, 0x01).name, name);
});
