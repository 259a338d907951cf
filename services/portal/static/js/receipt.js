// A family's receipt, checked in the browser (issue 18; R17, R24, R26): the C2SP tlog-proof audit writes for
// the ledger entry of one statement (services/audit/ledger/bundles.py), its checkpoint signed by the log's key
// and cosigned by the witnesses' quorum, the entry's inclusion under the checkpoint's root, and the family's
// opening (salt and values) against the entry's commitments (services/audit/ledger/commitments.py).
// Receipt extra format 3 is "BLR3" and raw DEFLATE with a preset dictionary; format 2, which receipts carried
// before, is a JSON document; a receipt may also carry the entry alone. Pure functions: the verifier of
// verify.js, SHA-256, raw inflate and the dictionary are handed in, so Node's tests check what the page runs.
import { VerifyError, bytesEqual, concatBytes, fromBase64, toBase64, toHex } from "./verify.js";

const HEADER = "c2sp.org/tlog-proof@v1";
const EXTRA_3 = Uint8Array.of(0x42, 0x4c, 0x52, 0x33); // "BLR3"
const EXTRA_2 = "beilei-ledger-receipt-extra/2";
const MAX_EXTRA = 1 << 20;
const SALT_SIZE = 32;
const DECIMAL = /^(0|[1-9][0-9]*)$/;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

const malformed = (what) => new VerifyError("receipt-malformed", { what });

/** A `.tlog-proof` file, strictly parsed: {index, proof: [32-byte hashes], checkpoint, extra}. */
export function parseReceipt(text) {
  if (typeof text !== "string") throw malformed("receipt");
  const split = text.indexOf("\n\n");
  if (split < 0 || split + 2 >= text.length) throw malformed("checkpoint");
  const lines = text.slice(0, split).split("\n");
  const checkpoint = text.slice(split + 2);
  if (lines[0] !== HEADER) throw malformed("header");
  let at = 1;
  let extra = null;
  if (at < lines.length && lines[at].startsWith("extra ")) {
    extra = fromBase64(lines[at].slice("extra ".length), "receipt");
    at += 1;
  }
  if (at >= lines.length || !lines[at].startsWith("index ")) throw malformed("index");
  const index = lines[at].slice("index ".length);
  if (!DECIMAL.test(index)) throw malformed("index");
  const proof = lines.slice(at + 1).map((line) => {
    const hash = fromBase64(line, "inclusion proof");
    if (hash.length !== 32) throw new VerifyError("proof-malformed", {});
    return hash;
  });
  return { index: BigInt(index), proof, checkpoint, extra };
}

function startsWith(bytes, prefix) {
  return bytes.length >= prefix.length && bytesEqual(bytes.subarray(0, prefix.length), prefix);
}

function json(text, what) {
  try {
    return JSON.parse(text);
  } catch {
    throw malformed(what);
  }
}

/**
 * The receipt checks bound to their primitives: `verifier` (createVerifier of verify.js), `sha256(bytes)`,
 * `inflateRaw(bytes, {dictionary})` (pako's) and the preset `dictionary` of receipt extra format 3.
 */
export function createReceiptVerifier({ verifier, sha256, inflateRaw, dictionary }) {
  function commitment(salt, name, value) {
    return sha256(concatBytes(salt, utf8.encode(name), Uint8Array.of(0), utf8.encode(JSON.stringify(value))));
  }

  /** The entry receipt extra format 3 blanked, with each commitment its opening opens computed again. */
  function fillCommitments(blanked, opening) {
    const values = opening?.values;
    if (!values || typeof values !== "object" || Array.isArray(values)) throw malformed("opening");
    const salt = fromBase64(String(opening.salt), "opening");
    const start = blanked.lastIndexOf(',"commitments":{');
    if (start < 0) throw malformed("opening");
    const head = blanked.slice(0, start);
    let tail = blanked.slice(start);
    for (const [name, value] of Object.entries(values)) {
      const key = `${JSON.stringify(name)}:"`;
      const at = tail.indexOf(`${key}"`);
      if (at < 0) throw new VerifyError("opening-invalid", { field: name });
      const valueStart = at + key.length;
      tail = tail.slice(0, valueStart) + toBase64(commitment(salt, name, value)) + tail.slice(valueStart);
    }
    return head + tail;
  }

  /** {entry, opening, format} from a receipt's extra data (format 3, format 2, or the entry itself). */
  function unwrapExtra(data) {
    if (startsWith(data, EXTRA_3)) {
      let document;
      try {
        document = inflateRaw(data.subarray(EXTRA_3.length), { dictionary });
      } catch {
        throw malformed("extra");
      }
      if (!(document instanceof Uint8Array) || document.length > MAX_EXTRA) throw malformed("extra");
      let text;
      try {
        text = utf8Strict.decode(document);
      } catch {
        throw malformed("extra");
      }
      const newline = text.indexOf("\n");
      if (newline < 0) throw malformed("opening");
      const opening = json(text.slice(newline + 1), "opening");
      if (!opening || typeof opening !== "object") throw malformed("opening");
      return { entry: utf8.encode(fillCommitments(text.slice(0, newline), opening)), opening, format: 3 };
    }
    if (!startsWith(data, utf8.encode('{"format":'))) return { entry: data, opening: null, format: 1 };
    let wrapped;
    try {
      wrapped = JSON.parse(utf8Strict.decode(data));
    } catch {
      throw malformed("extra");
    }
    if (!wrapped || wrapped.format !== EXTRA_2 || !wrapped.opening || typeof wrapped.opening !== "object") {
      throw malformed("extra");
    }
    return { entry: fromBase64(wrapped.entry, "entry"), opening: wrapped.opening, format: 2 };
  }

  /** The event a format-2 entry commits to, each commitment opened with the family's salt and values. */
  function openEntry(entry, opening) {
    let sealed;
    try {
      sealed = JSON.parse(utf8Strict.decode(entry));
    } catch {
      throw new VerifyError("entry-malformed", {});
    }
    if (opening === null) return sealed; // format 1: the event exactly as published
    const { commitments, payload } = sealed ?? {};
    if (sealed?.entry_format !== 2 || !commitments || typeof commitments !== "object" || !payload) {
      throw new VerifyError("entry-malformed", {});
    }
    const values = opening.values ?? {};
    const salt = fromBase64(String(opening.salt), "opening");
    if (salt.length !== SALT_SIZE) throw malformed("opening");
    const named = Object.keys(values).sort();
    const committed = Object.keys(commitments).sort();
    if (named.join("\n") !== committed.join("\n")) {
      const field = [...named, ...committed].find((n) => !named.includes(n) || !committed.includes(n));
      throw new VerifyError("opening-invalid", { field });
    }
    const event = { ...sealed, payload: { ...payload } };
    delete event.commitments;
    delete event.entry_format;
    for (const [name, value] of Object.entries(values)) {
      if (toBase64(commitment(salt, name, value)) !== commitments[name]) {
        throw new VerifyError("opening-invalid", { field: name });
      }
      if (name.startsWith("payload.")) event.payload[name.slice("payload.".length)] = value;
      else event[name] = value;
    }
    return event;
  }

  /**
   * Verify a family's receipt of its statement against the ledger's keys ({log_vkey, witness_vkeys, quorum})
   * and the figures the page shows ([{name, value, text}]): the log's signature, the witnesses' quorum, the
   * entry's inclusion under the checkpoint's root, the opening against the commitments, that the entry is
   * this statement (FeeSettled, `settlementId`), and every figure. Returns what was proven, or throws.
   */
  function verifyReceipt(text, keys, figures, settlementId) {
    const receipt = parseReceipt(text);
    if (receipt.extra === null) throw malformed("extra");
    const { entry, opening, format } = unwrapExtra(receipt.extra);
    const { checkpoint, log } = verifier.openCheckpoint(receipt.checkpoint, keys.log_vkey);
    const cosigned = verifier.checkQuorum(receipt.checkpoint, keys.witness_vkeys ?? [], Number(keys.quorum ?? 0));
    verifier.verifyInclusion(verifier.leafHash(entry), receipt.index, checkpoint.size, receipt.proof, checkpoint.root);
    const event = openEntry(entry, opening);
    if (event.type !== "FeeSettled" || (settlementId && event.payload?.settlement_id !== settlementId)) {
      throw new VerifyError("wrong-entry", { type: event.type, statement: event.payload?.settlement_id });
    }
    return {
      index: Number(receipt.index),
      treeSize: Number(checkpoint.size),
      origin: checkpoint.origin,
      rootHex: toHex(checkpoint.root),
      log,
      witnesses: cosigned.map((c) => c.witness),
      quorum: Number(keys.quorum ?? 0),
      extraFormat: format,
      opened: opening !== null,
      period: event.payload.period,
      figures: verifier.compareFigures(figures, event.payload),
    };
  }

  return { parseReceipt, unwrapExtra, openEntry, verifyReceipt };
}
