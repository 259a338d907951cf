// The words of the disclosure page's Verify button (services/portal/static/js/verify-page.js), zh and en:
// what was proven names the figures, the entry, the checkpoint and the witnesses; every way verify.js can
// refuse has its own words in both languages, never the generic "could not fetch".
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

import { primitives } from "../../services/portal/static/js/crypto.js";
import { createVerifier, VerifyError } from "../../services/portal/static/js/verify.js";
import { wordsFor } from "../../services/portal/static/js/verify-page.js";

const here = dirname(fileURLToPath(import.meta.url));
const source = readFileSync(join(here, "..", "..", "services", "portal", "static", "js", "verify.js"), "utf8");
const fixture = JSON.parse(readFileSync(join(here, "fixture.json"), "utf8"));
const figures = [
  { name: "fee_income_fen", value: "18360000", text: "183,600.00 元" },
  { name: "balance_fen", value: "4320000", text: "43,200.00 元" },
];

test("a verified disclosure is worded with its figures, entry, checkpoint and witnesses, in zh and en", () => {
  const result = createVerifier(primitives).verifyDisclosure(fixture.proof, fixture.keys, figures, fixture.disclosure_id);
  const root = result.rootHex.slice(0, 16);
  assert.equal(
    wordsFor("zh", result),
    `这份公示的 2 项数字与账本第 5 条一致，已被检查点（大小 7，根 ${root}…）包含，由账本密钥和 2 个见证人签名（witness-city-archive、witness-district-07）。`,
  );
  assert.equal(
    wordsFor("en", result),
    `The 2 figures of this disclosure equal entry 5 of the ledger, which is included in the checkpoint of size 7 (root ${root}…), signed by the ledger's key and 2 witnesses (witness-city-archive, witness-district-07).`,
  );
});

test("a changed figure is worded with its name, what the page shows and what the ledger records", () => {
  const error = new VerifyError("figure-differs", { figure: "fee_income_fen", shown: "18370000", recorded: "18360000", as: "value" });
  assert.equal(wordsFor("zh", error), "未通过验证：页面上的“收费收入”显示为 183,700.00 元，账本记录为 183,600.00 元，两者不一致。");
  assert.equal(wordsFor("en", error), "Not verified: the page shows fee income as 183,700.00 yuan, but the ledger records 183,600.00 yuan.");
});

test("every refusal verify.js can make has its own words in both languages", () => {
  const codes = [...new Set([...source.matchAll(/new VerifyError\("([a-z-]+)"/g)].map((m) => m[1]))];
  assert.ok(codes.length >= 10, codes.join(" "));
  const detail = { figure: "balance_fen", shown: "1", recorded: "2", as: "value", index: "5", witness: "w", quorum: 2,
    cosigned: ["w"], missing: ["x"], proof: "8", checkpoint: "7", disclosure: "dsc-1", type: "X", what: "checkpoint" };
  const fetchWords = [wordsFor("zh", new Error("HTTP 502")), wordsFor("en", new Error("HTTP 502"))];
  for (const code of codes) {
    for (const lang of ["zh", "en"]) {
      const words = wordsFor(lang, new VerifyError(code, detail));
      assert.ok(!fetchWords.includes(words), `${code} has no ${lang} words`);
      assert.ok(lang === "en" ? words.startsWith("Not verified") : words.startsWith("未通过验证"), `${code} ${lang}: ${words}`);
    }
  }
});

test("a proof that cannot be fetched is worded as such, not as a refusal", () => {
  assert.equal(wordsFor("zh", new Error("HTTP 503")), "无法取得证明（HTTP 503），请稍后再试。");
  assert.match(wordsFor("en", new TypeError("Failed to fetch")), /^Could not fetch the proof/);
});
