// The parent's statements (issue 18; R17, R26): each statement's Verify button fetches the family's receipt of
// its ledger entry through the portal (audit's answer to the guardian's own token), checks it with receipt.js
// in the browser and says in the page's language what was proven, or exactly what failed. It reads the
// statement's figures ([data-figure] inside its article[data-receipt-url]) and the #ledger-keys JSON; it
// changes only the article's .verify-result and its button's state.
import { inflateRaw } from "../vendor/pako-inflate.js";
import { primitives } from "./crypto.js";
import { createReceiptVerifier } from "./receipt.js";
import { createVerifier, VerifyError, yuan } from "./verify.js";
import { figuresOf, ledgerKeys, onVerify, wordsFor } from "./verify-page.js";

const DICTIONARY_URL = "/static/js/receipt-dictionary-3.txt";

// What each figure of a FeeSettled is called on the page (shared/contracts/billing.py).
const FIGURES = {
  zh: {
    sessions_provided: "学校提供的课次",
    sessions_attended: "孩子参加的课次",
    extended_care_sessions: "延时托管课次",
    charged_fen: "家长应付",
    waived_fen: "减免",
    paid_fen: "已付",
    refund_due_fen: "应退",
    outstanding_fen: "尚欠",
  },
  en: {
    sessions_provided: "sessions provided",
    sessions_attended: "sessions attended",
    extended_care_sessions: "extended-care sessions",
    charged_fen: "parent's share charged",
    waived_fen: "waived",
    paid_fen: "paid",
    refund_due_fen: "refund due",
    outstanding_fen: "still owed",
  },
};

const amount = (lang, name, value) =>
  name.endsWith("_fen") ? `${yuan(value)} ${lang === "zh" ? "元" : "yuan"}` : String(value);
const figure = (lang, name) => FIGURES[lang][name] ?? name;
const shortRoot = (hex) => `${hex.slice(0, 16)}…`;
const FORMAT = { zh: { 3: "收据格式 3", 2: "收据格式 2", 1: "账本记录" }, en: { 3: "receipt format 3", 2: "receipt format 2", 1: "ledger entry" } };

// The statement's own words; what a receipt shares with a disclosure's proof (signatures, witnesses, a
// malformed proof) is said as verify-page.js says it.
const WORDS = {
  zh: {
    checking: "正在验证……",
    proven: (r) =>
      `这份账单（${r.period}）的 ${r.figures.length} 项数字与账本第 ${r.index} 条一致，您家的凭据打开了这条记录中的个人信息承诺，` +
      `这条记录已被检查点（大小 ${r.treeSize}，根 ${shortRoot(r.rootHex)}）包含，由账本密钥和 ${r.witnesses.length} 个见证人签名` +
      (r.witnesses.length ? `（${r.witnesses.join("、")}）` : "") +
      `。（${FORMAT.zh[r.extraFormat]}）`,
    "figure-differs": (d) =>
      `未通过验证：页面上的“${figure("zh", d.figure)}”显示为 ${d.as === "text" ? d.shown : amount("zh", d.figure, d.shown)}，` +
      `账本记录为 ${amount("zh", d.figure, d.recorded)}，两者不一致。`,
    "figure-unknown": (d) => `未通过验证：账本条目中没有“${figure("zh", d.figure)}”这项数字。`,
    "proof-root": () => "未通过验证：包含证明不能从这条账本记录推出检查点的根，这份账单的记录不在已签名的账本中（或收据被改过）。",
    "opening-invalid": (d) => `未通过验证：收据中的“${d.field}”打不开账本记录里对它的承诺。`,
    "wrong-entry": (d) => `未通过验证：收据中的账本记录不是这份账单（而是 ${d.statement ?? d.type}）。`,
    "receipt-malformed": () => "未通过验证：收据格式不对，无法读取。",
  },
  en: {
    checking: "Verifying…",
    proven: (r) =>
      `The ${r.figures.length} figures of this statement (${r.period}) equal entry ${r.index} of the ledger; your ` +
      `family's receipt opens the entry's commitments to your personal fields; the entry is included in the ` +
      `checkpoint of size ${r.treeSize} (root ${shortRoot(r.rootHex)}), signed by the ledger's key and ` +
      `${r.witnesses.length} witness${r.witnesses.length === 1 ? "" : "es"}` +
      (r.witnesses.length ? ` (${r.witnesses.join(", ")})` : "") +
      `. (${FORMAT.en[r.extraFormat]})`,
    "figure-differs": (d) =>
      `Not verified: the page shows ${figure("en", d.figure)} as ${d.as === "text" ? `"${d.shown}"` : amount("en", d.figure, d.shown)}, ` +
      `but the ledger records ${amount("en", d.figure, d.recorded)}.`,
    "figure-unknown": (d) => `Not verified: the ledger entry holds no figure for ${figure("en", d.figure)}.`,
    "proof-root": () =>
      "Not verified: the inclusion proof does not lead from this statement's ledger entry to the checkpoint's root; the entry is not in the signed ledger (or the receipt was altered).",
    "opening-invalid": (d) => `Not verified: the receipt's value for ${d.field} does not open the entry's commitment to it.`,
    "wrong-entry": (d) => `Not verified: the ledger entry in the receipt is not this statement (it is ${d.statement ?? d.type}).`,
    "receipt-malformed": () => "Not verified: the receipt is malformed and cannot be read.",
  },
};

/** Words for a result or a refusal of a receipt, in "zh" or "en". */
export function receiptWords(lang, outcome) {
  const words = WORDS[lang] ?? WORDS.zh;
  if (!(outcome instanceof Error)) return words.proven(outcome);
  const say = outcome instanceof VerifyError ? words[outcome.code] : null;
  return say ? say(outcome.detail) : wordsFor(lang, outcome);
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function fetchText(url) {
  const response = await fetch(url, { headers: { Accept: "text/plain" } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.text();
}

function bind(doc) {
  const keysElement = doc.getElementById("ledger-keys");
  const articles = doc.querySelectorAll("article[data-receipt-url]");
  if (!keysElement || !articles.length) return;
  const lang = (doc.documentElement.lang || "zh").toLowerCase().startsWith("en") ? "en" : "zh";
  let verifying = null; // the receipt verifier, once the dictionary is fetched
  async function verifierOf() {
    verifying ??= createReceiptVerifier({
      verifier: createVerifier(primitives), sha256: primitives.sha256, inflateRaw,
      dictionary: await fetchBytes(DICTIONARY_URL),
    });
    return verifying;
  }
  for (const article of articles) {
    const button = article.querySelector("button.verify-receipt");
    const result = article.querySelector(".verify-result");
    if (!button || !result) continue;
    onVerify({ button, busy: article, result, checking: WORDS[lang].checking, say: (outcome) => receiptWords(lang, outcome),
      check: async () => {
        const [receipts, text] = await Promise.all([verifierOf(), fetchText(article.dataset.receiptUrl)]);
        return receipts.verifyReceipt(text, ledgerKeys(keysElement), figuresOf(article), article.dataset.statement);
      } });
  }
}

if (typeof document !== "undefined") bind(document);
