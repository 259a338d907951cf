// The disclosure page's Verify button (issue 18; R21, R26): fetches the disclosure's proof from the portal,
// checks it with verify.js in the browser and says in the page's language (zh-CN or en) what was proven, or
// exactly what failed. It reads only the page's contract (docs/portal-verifier.md): the figures ([data-figure]), the
// #verify section, the #ledger-keys JSON; it changes only #verify-result and the button's state.
import { primitives } from "./crypto.js";
import { createVerifier, VerifyError, yuan } from "./verify.js";

const verifier = createVerifier(primitives);

// What each figure of a DisclosurePublished is called on the page (shared/contracts/billing.py).
const FIGURES = {
  zh: {
    students_served: "服务学生数",
    fee_income_fen: "收费收入",
    subsidy_income_fen: "财政补助收入",
    waived_fen: "减免",
    refunded_fen: "退费",
    payouts_fen: "劳务费和补助支出",
    staff_remuneration_fen: "其他人员报酬",
    extra_hours_operating_fen: "延时服务运行支出",
    group_accident_insurance_fen: "团体意外险",
    balance_fen: "结余",
    charged_fen: "应收费用",
    outstanding_fen: "尚欠费用",
  },
  en: {
    students_served: "students served",
    fee_income_fen: "fee income",
    subsidy_income_fen: "subsidy income",
    waived_fen: "fees waived",
    refunded_fen: "refunds",
    payouts_fen: "staff labour fees and subsidies",
    staff_remuneration_fen: "other staff remuneration",
    extra_hours_operating_fen: "extra-hours operating costs",
    group_accident_insurance_fen: "group accident insurance",
    balance_fen: "balance",
    charged_fen: "fees charged",
    outstanding_fen: "still owed",
  },
};

// The parts verify.js names when one is malformed.
const WHAT_ZH = {
  "log key": "账本公钥",
  "witness key": "见证人公钥",
  "ledger keys": "页面上的账本公钥",
  checkpoint: "检查点",
  entry: "账本记录",
  "inclusion proof": "包含证明",
  proof: "证明",
  "tree size": "账本大小",
  index: "记录序号",
  size: "账本大小",
};

const amount = (lang, name, value) =>
  name.endsWith("_fen") ? `${yuan(value)} ${lang === "zh" ? "元" : "yuan"}` : String(value);
const figure = (lang, name) => FIGURES[lang][name] ?? name;
const shortRoot = (hex) => `${hex.slice(0, 16)}…`;

const WORDS = {
  zh: {
    checking: "正在验证……",
    proven: (r) =>
      `这份公示的 ${r.figures.length} 项数字与账本第 ${r.index} 条一致，已被检查点（大小 ${r.treeSize}，根 ${shortRoot(r.rootHex)}）包含，` +
      `由账本密钥和 ${r.witnesses.length} 个见证人签名` +
      (r.witnesses.length ? `（${r.witnesses.join("、")}）` : "") +
      "。",
    "figure-differs": (d) =>
      `未通过验证：页面上的“${figure("zh", d.figure)}”显示为 ${d.as === "text" ? d.shown : amount("zh", d.figure, d.shown)}，` +
      `账本记录为 ${amount("zh", d.figure, d.recorded)}，两者不一致。`,
    "figure-unknown": (d) => `未通过验证：账本条目中没有“${figure("zh", d.figure)}”这项数字。`,
    "no-figures": () => "未通过验证：页面上没有可核对的数字。",
    "proof-root": () => "未通过验证：包含证明不能从这条账本记录推出检查点的根，这份公示不在已签名的账本中。",
    "proof-malformed": () => "未通过验证：包含证明的格式或长度不对，不能推出检查点的根。",
    "leaf-mismatch": (d) => `未通过验证：服务器给出的账本第 ${d.index} 条的内容与它的哈希不符。`,
    "signature-invalid": () => "未通过验证：检查点上的账本签名无效（不是账本密钥签的，或检查点被改过）。",
    "signature-missing": () => "未通过验证：检查点上没有账本密钥的签名。",
    "cosignature-invalid": (d) => `未通过验证：见证人 ${d.witness} 的签名无效。`,
    quorum: (d) =>
      `未通过验证：见证人不足，需要 ${d.quorum} 个，只有 ${d.cosigned.length} 个签名` +
      `（已签：${d.cosigned.join("、") || "无"}；未签：${d.missing.join("、") || "无"}）。`,
    "size-mismatch": (d) => `未通过验证：证明针对的账本大小（${d.proof}）与检查点（${d.checkpoint}）不同。`,
    "wrong-entry": (d) => `未通过验证：证明中的账本记录不是这份公示（而是 ${d.disclosure ?? d.type}）。`,
    "entry-malformed": () => "未通过验证：账本记录无法读取。",
    malformed: (d) => `未通过验证：${WHAT_ZH[d.what] ?? "证明"}格式不对。`,
    fetch: (d) => `无法取得证明（${d.status}），请稍后再试。`,
  },
  en: {
    checking: "Verifying…",
    proven: (r) =>
      `The ${r.figures.length} figures of this disclosure equal entry ${r.index} of the ledger, which is included in ` +
      `the checkpoint of size ${r.treeSize} (root ${shortRoot(r.rootHex)}), signed by the ledger's key and ` +
      `${r.witnesses.length} witness${r.witnesses.length === 1 ? "" : "es"}` +
      (r.witnesses.length ? ` (${r.witnesses.join(", ")})` : "") +
      ".",
    "figure-differs": (d) =>
      `Not verified: the page shows ${figure("en", d.figure)} as ${d.as === "text" ? `"${d.shown}"` : amount("en", d.figure, d.shown)}, ` +
      `but the ledger records ${amount("en", d.figure, d.recorded)}.`,
    "figure-unknown": (d) => `Not verified: the ledger entry holds no figure for ${figure("en", d.figure)}.`,
    "no-figures": () => "Not verified: the page shows no figures to check.",
    "proof-root": () =>
      "Not verified: the inclusion proof does not lead from this ledger entry to the checkpoint's root; the disclosure is not in the signed ledger.",
    "proof-malformed": () => "Not verified: the inclusion proof has the wrong form or length and leads to no root.",
    "leaf-mismatch": (d) => `Not verified: the ledger entry ${d.index} the server sent does not match its hash.`,
    "signature-invalid": () =>
      "Not verified: the ledger's signature on the checkpoint is invalid (not made by the ledger's key, or the checkpoint was changed).",
    "signature-missing": () => "Not verified: the checkpoint carries no signature of the ledger's key.",
    "cosignature-invalid": (d) => `Not verified: the signature of witness ${d.witness} is invalid.`,
    quorum: (d) =>
      `Not verified: not enough witnesses, ${d.quorum} required but ${d.cosigned.length} signed ` +
      `(signed: ${d.cosigned.join(", ") || "none"}; not: ${d.missing.join(", ") || "none"}).`,
    "size-mismatch": (d) => `Not verified: the proof is for a ledger of size ${d.proof}, the checkpoint of size ${d.checkpoint}.`,
    "wrong-entry": (d) => `Not verified: the ledger entry in the proof is not this disclosure (it is ${d.disclosure ?? d.type}).`,
    "entry-malformed": () => "Not verified: the ledger entry cannot be read.",
    malformed: (d) => `Not verified: the ${d.what ?? "proof"} is malformed.`,
    fetch: (d) => `Could not fetch the proof (${d.status}); please try again later.`,
  },
};

/** The page's figures as verify.js compares them: [{name, value, text}]. */
export function figuresOf(root) {
  return Array.from(root.querySelectorAll("[data-figure]"), (el) => ({
    name: el.dataset.figure,
    value: el.dataset.fen ?? el.dataset.value ?? "",
    text: el.textContent,
  }));
}

/** Words for a result (what verify.js proved) or a refusal (a VerifyError), in "zh" or "en". */
export function wordsFor(lang, outcome) {
  const words = WORDS[lang] ?? WORDS.zh;
  if (!(outcome instanceof Error)) return words.proven(outcome);
  const say = outcome instanceof VerifyError ? words[outcome.code] : null;
  return say ? say(outcome.detail) : words.fetch({ status: outcome.message });
}

export function ledgerKeys(element) {
  try {
    return JSON.parse(element.textContent);
  } catch {
    throw new VerifyError("malformed", { what: "ledger keys" });
  }
}

async function fetchProof(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

function bind(doc) {
  const section = doc.getElementById("verify");
  const button = doc.getElementById("verify-button");
  const result = doc.getElementById("verify-result");
  const keysElement = doc.getElementById("ledger-keys");
  if (!section || !button || !result || !keysElement) return;
  const lang = (doc.documentElement.lang || "zh").toLowerCase().startsWith("en") ? "en" : "zh";
  const url = section.dataset.proofUrl;
  const disclosureId = decodeURIComponent((/\/disclosures\/([^/]+)\/proof/.exec(url) ?? [])[1] ?? "");

  onVerify({ button, busy: section, result, checking: WORDS[lang].checking, say: (outcome) => wordsFor(lang, outcome),
    check: async () => verifier.verifyDisclosure(await fetchProof(url), ledgerKeys(keysElement), figuresOf(doc), disclosureId) });
}

/**
 * A Verify button: while `check` runs the button is disabled and `busy` aria-busy; then `result` says in words
 * (`say`) what was proven or why not, and carries data-verified="true" or "false".
 */
export function onVerify({ button, busy, result, checking, say, check }) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    busy.setAttribute("aria-busy", "true");
    result.removeAttribute("data-verified");
    result.textContent = checking;
    let outcome;
    try {
      outcome = await check();
    } catch (error) {
      outcome = error instanceof Error ? error : new Error(String(error));
    }
    result.textContent = say(outcome);
    result.dataset.verified = outcome instanceof Error ? "false" : "true";
    busy.removeAttribute("aria-busy");
    button.disabled = false;
  });
}

if (typeof document !== "undefined") bind(document);
