// The verifier's primitives from the vendored, pinned noble libraries (services/portal/web/package-lock.json):
// SHA-256 and strict RFC 8032 Ed25519 verification, synchronous and without WebCrypto, which a page opened
// over plain http (a phone on the school's network) does not get. Nothing here touches the page.
import * as ed from "../vendor/noble-ed25519.js";
import { sha256, sha512 } from "../vendor/noble-hashes/sha2.js";

ed.hashes.sha512 = sha512;

export const primitives = {
  sha256: (bytes) => sha256(bytes),
  ed25519Verify: (sig, msg, publicKey) => {
    try {
      return ed.verify(sig, msg, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
};
