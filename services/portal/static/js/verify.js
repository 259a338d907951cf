// The disclosure verifier's checks (issue 18; R21, R24, R26): C2SP signed notes and witness cosignatures,
// RFC 9162 inclusion and consistency proofs, and the figures of a disclosure entry. Pure functions, no
// imports and no page access, so Node's test runner checks exactly what the browser runs; the hash and
// signature functions are handed in (crypto.js binds the vendored noble libraries).
//
// Every refusal is a VerifyError with a code and the facts behind it; verify-page.js words them.

const EM_DASH_PREFIX = "\u2014 ";
const ALG_ED25519 = 0x01; // C2SP signed-note: plain Ed25519 signature of the note text
const ALG_COSIGNATURE_V1 = 0x04; // C2SP tlog-cosignature: Ed25519 over "cosignature/v1\ntime T\n" + text
const HASH_SIZE = 32;
const MAX_SIGNATURES = 100;
const MAX_TREE_SIZE = (1n << 64n) - 1n;

export class VerifyError extends Error {
  /** code: what failed (see verify-page.js for the words); detail: the facts a reader needs. */
  constructor(code, detail = {}) {
    super(`${code}: ${JSON.stringify(detail)}`);
    this.name = "VerifyError";
    this.code = code;
    this.detail = detail;
  }
}

// --------------------------------------------------------------------------- bytes

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function toBase64(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

/** Strict, canonical standard base64 (as the ledger writes it); VerifyError("malformed") otherwise. */
export function fromBase64(text, what) {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new VerifyError("malformed", { what });
  }
  const raw = atob(text);
  const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  if (toBase64(bytes) !== text) throw new VerifyError("malformed", { what });
  return bytes;
}

function hasControl(text) {
  for (const ch of text) if (ch < " " && ch !== "\n") return true;
  return false;
}

function checkKeyName(name, what) {
  if (typeof name !== "string" || !name || name.includes("+") || /\s/u.test(name) || hasControl(name)) {
    throw new VerifyError("malformed", { what });
  }
  return name;
}

function sizeArg(value, what) {
  let n;
  try {
    n = BigInt(value);
  } catch {
    throw new VerifyError("malformed", { what });
  }
  if (typeof value === "number" && !Number.isSafeInteger(value)) throw new VerifyError("malformed", { what });
  if (n < 0n || n > MAX_TREE_SIZE) throw new VerifyError("malformed", { what });
  return n;
}

function bitLength(n) {
  return n === 0n ? 0 : n.toString(2).length;
}

function bitCount(n) {
  let count = 0;
  for (const c of n.toString(2)) if (c === "1") count++;
  return count;
}

// --------------------------------------------------------------------------- the verifier

/**
 * The verifier bound to its primitives: sha256(bytes) -> 32 bytes and ed25519Verify(sig, msg, pub) -> bool
 * (strict RFC 8032, as the audit's Python verifier checks them).
 */
export function createVerifier({ sha256, ed25519Verify }) {
  function keyId(name, alg, publicKey) {
    return sha256(concatBytes(utf8.encode(name), Uint8Array.of(0x0a, alg), publicKey)).slice(0, 4);
  }

  /** A verifier key `<name>+<hex key id>+<base64(alg || 32-byte Ed25519 key)>`, checked against its key id. */
  function parseVerifierKey(vkey, alg) {
    const what = alg === ALG_ED25519 ? "log key" : "witness key";
    // Split at the first two plus signs only: the base64 key may hold more.
    const match = typeof vkey === "string" ? /^([^+]*)\+([^+]*)\+(.*)$/s.exec(vkey.trim()) : null;
    if (!match) throw new VerifyError("malformed", { what });
    const [, name, hexId, encoded] = match;
    checkKeyName(name, what);
    if (!/^[0-9a-f]{8}$/.test(hexId)) throw new VerifyError("malformed", { what });
    const raw = fromBase64(encoded, what);
    if (raw.length !== 33 || raw[0] !== alg) throw new VerifyError("malformed", { what });
    const publicKey = raw.slice(1);
    if (toHex(keyId(name, alg, publicKey)) !== hexId) throw new VerifyError("malformed", { what });
    return { name, keyId: keyId(name, alg, publicKey), publicKey, vkey: vkey.trim() };
  }

  /** Split a C2SP signed note into its text (with final newline) and signature lines {name, keyId, sig}. */
  function splitNote(note) {
    if (typeof note !== "string" || !note.endsWith("\n") || hasControl(note)) {
      throw new VerifyError("malformed", { what: "checkpoint" });
    }
    const split = note.lastIndexOf("\n\n");
    if (split < 0) throw new VerifyError("malformed", { what: "checkpoint" });
    const text = note.slice(0, split + 1);
    const block = note.slice(split + 2, -1);
    if (!block) throw new VerifyError("malformed", { what: "checkpoint" });
    const lines = block.split("\n");
    if (lines.length > MAX_SIGNATURES) throw new VerifyError("malformed", { what: "checkpoint" });
    const signatures = lines.map((line) => {
      if (!line.startsWith(EM_DASH_PREFIX)) throw new VerifyError("malformed", { what: "checkpoint" });
      const rest = line.slice(EM_DASH_PREFIX.length);
      const space = rest.indexOf(" ");
      if (space < 0) throw new VerifyError("malformed", { what: "checkpoint" });
      const name = checkKeyName(rest.slice(0, space), "checkpoint");
      const raw = fromBase64(rest.slice(space + 1), "checkpoint");
      if (raw.length < 5) throw new VerifyError("malformed", { what: "checkpoint" });
      return { name, keyId: raw.slice(0, 4), sig: raw.slice(4) };
    });
    return { text, signatures };
  }

  /** The checkpoint body: origin, tree size, root hash (C2SP tlog-checkpoint), strictly parsed. */
  function parseCheckpoint(text) {
    const lines = text.slice(0, -1).split("\n");
    if (lines.length < 3 || lines.some((l) => !l)) throw new VerifyError("malformed", { what: "checkpoint" });
    const [origin, sizeLine, rootLine] = lines;
    if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) throw new VerifyError("malformed", { what: "checkpoint" });
    const size = sizeArg(sizeLine, "checkpoint");
    const root = fromBase64(rootLine, "checkpoint");
    if (root.length !== HASH_SIZE) throw new VerifyError("malformed", { what: "checkpoint" });
    return { origin, size, root };
  }

  /**
   * Open a signed checkpoint with the log's key: its signature must be there and valid (a signature line of
   * an unknown key is ignored, as C2SP signed-note requires). Returns {text, checkpoint, signatures}.
   */
  function openCheckpoint(note, logVkey) {
    const log = parseVerifierKey(logVkey, ALG_ED25519);
    const { text, signatures } = splitNote(note);
    const message = utf8.encode(text);
    let signed = false;
    for (const s of signatures) {
      if (s.name !== log.name || !bytesEqual(s.keyId, log.keyId)) continue;
      if (s.sig.length !== 64 || !ed25519Verify(s.sig, message, log.publicKey)) {
        throw new VerifyError("signature-invalid", { key: log.name });
      }
      signed = true;
    }
    if (!signed) throw new VerifyError("signature-missing", { key: log.name });
    return { text, checkpoint: parseCheckpoint(text), signatures, log: log.name };
  }

  /** The known witnesses whose cosignature/v1 lines on the note verify: [{witness, timestamp}]. */
  function cosignatures(note, witnessVkeys) {
    const witnesses = witnessVkeys.map((v) => parseVerifierKey(v, ALG_COSIGNATURE_V1));
    const { text, signatures } = splitNote(note);
    const found = new Map();
    for (const s of signatures) {
      const w = witnesses.find((k) => k.name === s.name && bytesEqual(k.keyId, s.keyId));
      if (!w) continue;
      if (s.sig.length !== 8 + 64) throw new VerifyError("cosignature-invalid", { witness: w.name });
      const timestamp = new DataView(s.sig.buffer, s.sig.byteOffset, 8).getBigUint64(0);
      const message = utf8.encode(`cosignature/v1\ntime ${timestamp}\n${text}`);
      if (!ed25519Verify(s.sig.slice(8), message, w.publicKey)) {
        throw new VerifyError("cosignature-invalid", { witness: w.name });
      }
      if (!found.has(w.name)) found.set(w.name, { witness: w.name, timestamp: Number(timestamp) });
    }
    return [...found.values()];
  }

  /** Check the quorum: at least `quorum` known witnesses cosigned; returns who did. */
  function checkQuorum(note, witnessVkeys, quorum) {
    const found = cosignatures(note, witnessVkeys);
    if (found.length < quorum) {
      const signed = found.map((c) => c.witness);
      const names = witnessVkeys.map((v) => parseVerifierKey(v, ALG_COSIGNATURE_V1).name);
      throw new VerifyError("quorum", {
        quorum,
        cosigned: signed,
        missing: names.filter((n) => !signed.includes(n)),
      });
    }
    return found;
  }

  // ------------------------------------------------------------------------- RFC 9162 proofs

  const leafHash = (entry) => sha256(concatBytes(Uint8Array.of(0x00), entry));
  const nodeHash = (left, right) => sha256(concatBytes(Uint8Array.of(0x01), left, right));

  function proofArg(proof) {
    if (!Array.isArray(proof)) throw new VerifyError("proof-malformed", {});
    return proof.map((p, i) => {
      if (!(p instanceof Uint8Array) || p.length !== HASH_SIZE) throw new VerifyError("proof-malformed", { at: i });
      return p;
    });
  }

  /** The root an inclusion proof leads to from a leaf (RFC 9162 §2.1.3.2), or VerifyError("proof-malformed"). */
  function rootFromInclusion(leaf, index, size, proof) {
    const i = sizeArg(index, "index");
    const n = sizeArg(size, "size");
    if (i >= n) throw new VerifyError("proof-malformed", { index: String(i), size: String(n) });
    if (!(leaf instanceof Uint8Array) || leaf.length !== HASH_SIZE) throw new VerifyError("proof-malformed", {});
    const path = proofArg(proof);
    const inner = bitLength(i ^ (n - 1n));
    const want = inner + bitCount(i >> BigInt(inner));
    if (path.length !== want) throw new VerifyError("proof-malformed", { length: path.length, want });
    let fn = i;
    let sn = n - 1n;
    let r = leaf;
    for (const p of path) {
      if (fn & 1n || fn === sn) {
        r = nodeHash(p, r);
        while (!(fn & 1n) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) throw new VerifyError("proof-malformed", {});
    return r;
  }

  /** RFC 9162 inclusion: VerifyError("proof-root") when the proof does not lead to `root`. */
  function verifyInclusion(leaf, index, size, proof, root) {
    const r = rootFromInclusion(leaf, index, size, proof);
    if (!bytesEqual(r, root)) throw new VerifyError("proof-root", { root: toHex(r) });
  }

  /**
   * RFC 9162 consistency (§2.1.4.2) with transparency-dev/merkle's edge cases: equal sizes need an empty
   * proof and equal roots, and nothing is proven from the empty tree.
   */
  function verifyConsistency(oldSize, newSize, proof, oldRoot, newRoot) {
    const m = sizeArg(oldSize, "old size");
    const n = sizeArg(newSize, "new size");
    const path = proofArg(proof);
    if (n < m || m === 0n) throw new VerifyError("proof-malformed", {});
    if (m === n) {
      if (path.length) throw new VerifyError("proof-malformed", {});
      if (!bytesEqual(oldRoot, newRoot)) throw new VerifyError("proof-root", {});
      return;
    }
    if (!path.length) throw new VerifyError("proof-malformed", {});
    const inner = bitLength((m - 1n) ^ (n - 1n));
    const border = bitCount((m - 1n) >> BigInt(inner));
    const shift = bitLength(m & -m) - 1;
    const seed = m === 1n << BigInt(shift) ? 0 : 1;
    if (path.length !== seed + (inner - shift) + border) throw new VerifyError("proof-malformed", {});
    if (seed === 0) path.unshift(oldRoot);
    let fn = m - 1n;
    let sn = n - 1n;
    while (fn & 1n) {
      fn >>= 1n;
      sn >>= 1n;
    }
    let fr = path[0];
    let sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0n) throw new VerifyError("proof-malformed", {});
      if (fn & 1n || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        while (!(fn & 1n) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        sr = nodeHash(sr, c);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) throw new VerifyError("proof-malformed", {});
    if (!bytesEqual(fr, oldRoot) || !bytesEqual(sr, newRoot)) throw new VerifyError("proof-root", {});
  }

  // ------------------------------------------------------------------------- entries and figures

  /** The event an entry records (format 1: the envelope; format 2: the envelope with personal fields committed). */
  function decodeEntry(bytes) {
    let event;
    try {
      event = JSON.parse(utf8Strict.decode(bytes));
    } catch {
      throw new VerifyError("entry-malformed", {});
    }
    if (!event || typeof event !== "object" || !event.payload || typeof event.payload !== "object") {
      throw new VerifyError("entry-malformed", {});
    }
    return { format: event.entry_format === 2 ? 2 : 1, type: event.type, payload: event.payload };
  }

  /**
   * Compare the figures a page shows ([{name, value, text}], value the integer as a decimal string) with the
   * entry's payload. A `_fen` figure's text must show the amount in 元 with two decimals ("183,600.00");
   * any other figure's text must show the integer. Returns the figures checked, or VerifyError naming the first
   * that differs.
   */
  function compareFigures(figures, payload) {
    if (!figures.length) throw new VerifyError("no-figures", {});
    return figures.map(({ name, value, text }) => {
      if (!Object.hasOwn(payload, name) || !Number.isSafeInteger(payload[name])) {
        throw new VerifyError("figure-unknown", { figure: name });
      }
      const recorded = String(payload[name]);
      if (value !== recorded) throw new VerifyError("figure-differs", { figure: name, shown: value, recorded, as: "value" });
      const shownDigits = String(text ?? "").replace(/[,\s\u00a0]/g, "");
      const expected = name.endsWith("_fen") ? yuan(payload[name]).replace(/,/g, "") : recorded;
      if (!shownDigits.includes(expected.replace(/^-/, ""))) {
        throw new VerifyError("figure-differs", { figure: name, shown: String(text ?? "").trim(), recorded, as: "text" });
      }
      return { name, value: recorded };
    });
  }

  /**
   * Verify a disclosure's proof (the JSON of GET /api/disclosures/{id}/proof) against the ledger's keys
   * ({log_vkey, witness_vkeys, quorum}) and the figures the page shows. Checks, in order: the log's signature
   * on the checkpoint, the witnesses' quorum, the entry's leaf and its inclusion under the checkpoint's root,
   * that the entry is this disclosure, and every figure. Returns what was proven, or throws VerifyError.
   */
  function verifyDisclosure(proof, keys, figures, disclosureId) {
    if (!proof || typeof proof !== "object") throw new VerifyError("malformed", { what: "proof" });
    const { checkpoint, log } = openCheckpoint(proof.checkpoint, keys.log_vkey);
    const witnessVkeys = keys.witness_vkeys ?? [];
    const quorum = Number(keys.quorum ?? 0);
    const cosigned = checkQuorum(proof.checkpoint, witnessVkeys, quorum);
    if (sizeArg(proof.tree_size, "tree size") !== checkpoint.size) {
      throw new VerifyError("size-mismatch", { proof: String(proof.tree_size), checkpoint: String(checkpoint.size) });
    }
    const entry = fromBase64(proof.entry, "entry");
    const leaf = leafHash(entry);
    if (proof.leaf_hash !== undefined && proof.leaf_hash !== toBase64(leaf)) {
      throw new VerifyError("leaf-mismatch", { index: String(proof.index) });
    }
    const path = Array.isArray(proof.inclusion_proof)
      ? proof.inclusion_proof.map((h) => fromBase64(h, "inclusion proof"))
      : null;
    verifyInclusion(leaf, proof.index, checkpoint.size, path, checkpoint.root);
    const event = decodeEntry(entry);
    if (event.type !== "DisclosurePublished" || (disclosureId && event.payload.disclosure_id !== disclosureId)) {
      throw new VerifyError("wrong-entry", { type: event.type, disclosure: event.payload.disclosure_id });
    }
    const checked = compareFigures(figures, event.payload);
    return {
      index: Number(proof.index),
      treeSize: Number(checkpoint.size),
      origin: checkpoint.origin,
      root: toBase64(checkpoint.root),
      rootHex: toHex(checkpoint.root),
      log,
      witnesses: cosigned.map((c) => c.witness),
      cosignedAt: cosigned.map((c) => c.timestamp),
      quorum,
      entryFormat: event.format,
      figures: checked,
    };
  }

  return {
    keyId,
    parseVerifierKey,
    splitNote,
    parseCheckpoint,
    openCheckpoint,
    cosignatures,
    checkQuorum,
    leafHash,
    nodeHash,
    rootFromInclusion,
    verifyInclusion,
    verifyConsistency,
    decodeEntry,
    compareFigures,
    verifyDisclosure,
  };
}

/** An amount in fen as 元 with two decimals and thousands separators: 18360000 -> "183,600.00". */
export function yuan(fen) {
  const n = BigInt(fen);
  const abs = n < 0n ? -n : n;
  const whole = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cents = (abs % 100n).toString().padStart(2, "0");
  return `${n < 0n ? "-" : ""}${whole}.${cents}`;
}

export { ALG_COSIGNATURE_V1, ALG_ED25519 };
