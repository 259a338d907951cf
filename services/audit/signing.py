"""The ledger's Ed25519 signing key: from settings, else from a key file, else a development key
generated once and persisted (C2SP signed-note format). Touches the file system, never the database:
a key kept next to the data it signs would let whoever edits the data sign the edit."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from services.audit.ledger.checkpoint import NoteSigner, generate_signer, load_signer
from services.audit.settings import Settings

log = logging.getLogger(__name__)


def load_or_create_signer(settings: Settings) -> NoteSigner:
    """The signer for checkpoints of `settings.ledger_origin`."""
    if settings.ledger_signing_key:
        signer = load_signer(settings.ledger_signing_key)
    else:
        signer = load_signer(_key_file(settings.ledger_signing_key_file, settings.ledger_origin))
    if signer.name != settings.ledger_origin:
        raise ValueError(f"the signing key is named {signer.name!r} but the ledger origin is "
                         f"{settings.ledger_origin!r}; C2SP logs sign with a key named after their origin")
    return signer


def _key_file(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    skey, vkey = generate_signer(name)
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(skey + "\n")
    try:
        # link() is atomic and refuses an existing name: two processes starting together end up with
        # one key, and no reader ever sees a half-written file.
        os.link(temp, path)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    finally:
        temp.unlink()
    log.warning("generated a development ledger signing key", extra={"path": str(path), "vkey": vkey})
    return skey
