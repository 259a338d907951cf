// The auditor's consistency check (issue 18; R24, R26): paste a checkpoint saved earlier; the browser checks
// its signature with the ledger's key, fetches audit's consistency proof from that size to the newest
// checkpoint, checks the newest checkpoint's signature and its witnesses' quorum, and that the saved tree is
// a prefix of the newest (RFC 9162). A rewritten history, even re-signed with the log's key, fails here.
import { primitives } from "./crypto.js";
import { createVerifier, fromBase64, toHex, VerifyError } from "./verify.js";

const verifier = createVerifier(primitives);

const WORDS = {
  zh: {
    ok: (d) => `一致：您保存的检查点（大小 ${d.old}，根 ${d.oldRoot}…）是最新检查点（大小 ${d.new}，根 ${d.newRoot}…）的前缀，` +
      `账本只在其后追加，之前的记录没有被改写。最新检查点由账本密钥和 ${d.witnesses.length} 个见证人签名` +
      `${d.witnesses.length ? `（${d.witnesses.join("、")}）` : ""}。`,
    fail: (d) => `不一致：${d.reason}`,
    proof: "一致性证明不能把您保存的根和最新的根连起来：账本的历史被改写过。",
    signature: "检查点的签名不对：它不是这个账本的密钥签的。",
    malformed: "这不是一个签名检查点（C2SP signed note），请粘贴完整的检查点文本。",
    quorum: "最新检查点没有足够的见证人签名。",
    fetch: (s) => `无法取得一致性证明（${s}），请稍后再试。`,
  },
  en: {
    ok: (d) => `Consistent: your saved checkpoint (size ${d.old}, root ${d.oldRoot}…) is a prefix of the newest ` +
      `(size ${d.new}, root ${d.newRoot}…): the ledger only grew after it and nothing before it was rewritten. ` +
      `The newest checkpoint is signed by the ledger's key and ${d.witnesses.length} witnesses` +
      `${d.witnesses.length ? ` (${d.witnesses.join(", ")})` : ""}.`,
    fail: (d) => `Not consistent: ${d.reason}`,
    proof: "the consistency proof does not lead from your saved root to the newest: the ledger's history was rewritten.",
    signature: "a checkpoint's signature is not the ledger key's.",
    malformed: "this is not a signed checkpoint (a C2SP signed note); paste the whole checkpoint text.",
    quorum: "the newest checkpoint lacks its witnesses' quorum.",
    fetch: (s) => `Could not fetch the consistency proof (${s}); please try again later.`,
  },
};

function reasonOf(error, words) {
  const code = error instanceof VerifyError ? error.code : "";
  if (code.startsWith("proof")) return words.proof;
  if (code.startsWith("signature")) return words.signature;
  if (code === "quorum") return words.quorum;
  return words.malformed;
}

function bind(doc) {
  const button = doc.getElementById("check-button");
  const result = doc.getElementById("check-result");
  const saved = doc.getElementById("saved");
  const keys = JSON.parse(doc.getElementById("ledger-keys").textContent);
  const words = WORDS[doc.documentElement.lang === "en" ? "en" : "zh"];
  button.addEventListener("click", async () => {
    result.removeAttribute("data-consistent");
    let text = saved.value.replace(/\r\n/g, "\n");
    if (!text.endsWith("\n")) text += "\n";
    let old;
    try {
      old = verifier.openCheckpoint(text, keys.log_vkey).checkpoint;
    } catch (error) {
      result.textContent = words.fail({ reason: reasonOf(error, words) });
      result.dataset.consistent = "false";
      return;
    }
    const response = await fetch(`/api/ledger/consistency?old=${old.size}`, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      result.textContent = words.fetch(response.status);
      result.dataset.consistent = "false";
      return;
    }
    const bundle = await response.json();
    try {
      const newest = verifier.openCheckpoint(bundle.new_checkpoint, keys.log_vkey).checkpoint;
      const witnesses = keys.quorum ? verifier.checkQuorum(bundle.new_checkpoint, keys.witness_vkeys, keys.quorum)
        .map((c) => c.witness) : [];
      const proof = bundle.proof.map((h) => fromBase64(h, "proof"));
      if (old.size > 0n) verifier.verifyConsistency(old.size, newest.size, proof, old.root, newest.root);
      result.textContent = words.ok({ old: old.size, new: newest.size, oldRoot: toHex(old.root).slice(0, 16),
                                      newRoot: toHex(newest.root).slice(0, 16), witnesses });
      result.dataset.consistent = "true";
    } catch (error) {
      result.textContent = words.fail({ reason: reasonOf(error, words) });
      result.dataset.consistent = "false";
    }
  });
}

if (typeof document !== "undefined") bind(document);
