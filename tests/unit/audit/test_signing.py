"""The ledger's signing key: given in settings, or generated once into a key file and reused, and
always named after the ledger's origin (C2SP)."""
from __future__ import annotations

from pathlib import Path

import pytest

from services.audit.ledger.checkpoint import generate_signer
from services.audit.settings import Settings
from services.audit.signing import load_or_create_signer


def test_a_development_key_is_generated_once_and_reused(tmp_path: Path) -> None:
    settings = Settings(ledger_origin="beilei.test/keys", ledger_signing_key_file=tmp_path / "k" / "ledger.key")
    first = load_or_create_signer(settings)
    again = load_or_create_signer(settings)
    assert first.vkey == again.vkey and first.name == "beilei.test/keys"
    assert (tmp_path / "k" / "ledger.key").stat().st_mode & 0o777 == 0o600
    assert list((tmp_path / "k").iterdir()) == [tmp_path / "k" / "ledger.key"]


def test_a_key_from_settings_wins_and_must_be_named_after_the_origin(tmp_path: Path) -> None:
    skey, vkey = generate_signer("beilei.test/given")
    given = Settings(ledger_origin="beilei.test/given", ledger_signing_key=skey,
                     ledger_signing_key_file=tmp_path / "unused.key")
    assert load_or_create_signer(given).vkey == vkey and not (tmp_path / "unused.key").exists()
    with pytest.raises(ValueError, match="named 'beilei.test/given' but the ledger origin is"):
        load_or_create_signer(given.model_copy(update={"ledger_origin": "beilei.test/other"}))
