// The family's receipt verifier (services/portal/static/js/receipt.js) under Node's test runner, with the
// vendored modules the parent's page loads (noble, pako's raw inflate) and the receipts the audit's own
// Python code writes (fixture.json, from ledger_fixture.py): format 3 (BLR3, raw DEFLATE with the preset
// dictionary) and format 2 verify; a flipped proof byte, a changed opening, another statement, a figure the
// page shows otherwise and a checkpoint short of its witnesses are refused, in words (issue 18; R17, R26).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateRawSync, inflateRawSync } from "node:zlib";

import { inflateRaw } from "../../services/portal/static/vendor/pako-inflate.js";
import { primitives } from "../../services/portal/static/js/crypto.js";
import { createReceiptVerifier } from "../../services/portal/static/js/receipt.js";
import { receiptWords } from "../../services/portal/static/js/receipt-page.js";
import { createVerifier, fromBase64, toBase64, VerifyError, yuan } from "../../services/portal/static/js/verify.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(readFileSync(join(here, "fixture.json"), "utf8"));
const dictionary = new Uint8Array(readFileSync(join(here, "..", "..", "services", "portal", "static", "js",
                                                    "receipt-dictionary-3.txt")));
const receipts = createReceiptVerifier({ verifier: createVerifier(primitives), sha256: primitives.sha256, inflateRaw,
                                         dictionary });
const { event_id: eventId, statement, receipt, receipt_format_2: receipt2 } = fixture.family;
const NAMES = ["sessions_provided", "sessions_attended", "extended_care_sessions", "charged_fen", "waived_fen",
               "paid_fen", "refund_due_fen", "outstanding_fen"];
// The statement's figures as the page shows them (templates/me.html).
const figures = NAMES.map((name) => ({
  name, value: String(statement[name]),
  text: name.endsWith("_fen") ? `${yuan(statement[name])} 元` : `${statement[name]} 次`,
}));

function refusal(text, { keys = fixture.keys, shown = figures, settlement = statement.settlement_id } = {}) {
  try {
    receipts.verifyReceipt(text, keys, shown, settlement);
  } catch (error) {
    assert.ok(error instanceof VerifyError, String(error));
    return error;
  }
  assert.fail("the receipt was accepted");
}

/** The receipt with its extra line replaced. */
const withExtra = (text, bytes) => text.replace(/^extra .*$/m, `extra ${toBase64(bytes)}`);
const extraOf = (text) => fromBase64(/^extra (.*)$/m.exec(text)[1], "extra");

test("a format-3 receipt written by audit's Python code verifies, with its witnesses and figures", () => {
  const result = receipts.verifyReceipt(receipt, fixture.keys, figures, statement.settlement_id);
  assert.equal(result.extraFormat, 3);
  assert.equal(result.index, 6);
  assert.equal(result.treeSize, 7);
  assert.equal(result.period, "2025-09");
  assert.deepEqual(result.witnesses, ["witness-city-archive", "witness-district-07"]);
  assert.equal(result.figures.length, NAMES.length);
  assert.match(receiptWords("zh", result), /账本第 6 条一致.*2 个见证人签名/);
  assert.match(receiptWords("en", result), /equal entry 6 of the ledger/);
  assert.ok(eventId);
});

test("the preset dictionary is audit's: the extra inflates with it and not without it", () => {
  const raw = extraOf(receipt).subarray(4);
  assert.deepEqual(new Uint8Array(inflateRawSync(raw, { dictionary })), inflateRaw(raw, { dictionary }));
  assert.throws(() => inflateRaw(raw));
});

test("a format-2 receipt, as receipts were written before, also verifies", () => {
  const result = receipts.verifyReceipt(receipt2, fixture.keys, figures, statement.settlement_id);
  assert.equal(result.extraFormat, 2);
  assert.equal(result.opened, true);
});

test("a flipped byte of the inclusion proof is refused in words", () => {
  const lines = receipt.split("\n");
  const at = lines.findIndex((l) => l.startsWith("index ")) + 1;
  const hash = fromBase64(lines[at], "proof");
  hash[0] ^= 1;
  lines[at] = toBase64(hash);
  const error = refusal(lines.join("\n"));
  assert.equal(error.code, "proof-root");
  assert.match(receiptWords("zh", error), /未通过验证：包含证明不能从这条账本记录推出检查点的根/);
  assert.match(receiptWords("en", error), /^Not verified: the inclusion proof does not lead/);
});

test("an opening changed inside the format-3 extra changes the entry and is refused", () => {
  const document = new TextDecoder().decode(inflateRawSync(extraOf(receipt).subarray(4), { dictionary }));
  const changed = document.replace('"payload.guardian_id":"gdn-000456"', '"payload.guardian_id":"gdn-999999"');
  assert.notEqual(changed, document);
  const extra = new Uint8Array([...extraOf(receipt).subarray(0, 4), ...deflateRawSync(changed, { dictionary })]);
  assert.equal(refusal(withExtra(receipt, extra)).code, "proof-root");
});

test("a format-2 opening that does not open its commitment is refused, naming the field", () => {
  const wrapped = JSON.parse(new TextDecoder().decode(extraOf(receipt2)));
  wrapped.opening.values["payload.student_id"] = "stu-999999";
  const error = refusal(withExtra(receipt2, new TextEncoder().encode(JSON.stringify(wrapped))));
  assert.equal(error.code, "opening-invalid");
  assert.equal(error.detail.field, "payload.student_id");
  assert.match(receiptWords("en", error), /payload.student_id does not open/);
});

test("a figure the page shows otherwise, another statement, a missing witness, a cut extra: each refused", () => {
  const shown = figures.map((f) => (f.name === "charged_fen" ? { ...f, value: "29000", text: "290.00 元" } : f));
  const differs = refusal(receipt, { shown });
  assert.equal(differs.code, "figure-differs");
  assert.match(receiptWords("zh", differs), /“家长应付”显示为 290.00 元，账本记录为 300.00 元/);
  assert.equal(refusal(receipt, { settlement: "stl-someone-else" }).code, "wrong-entry");
  const short = receipt.slice(0, receipt.indexOf("\n\n") + 2) + fixture.checkpoint_without_witnesses;
  const quorum = refusal(short);
  assert.equal(quorum.code, "quorum");
  assert.match(receiptWords("en", quorum), /not enough witnesses, 2 required but 1 signed/);
  const extra = extraOf(receipt);
  assert.equal(refusal(withExtra(receipt, extra.subarray(0, extra.length - 6))).code, "receipt-malformed");
  assert.equal(refusal("not a receipt").code, "receipt-malformed");
});
