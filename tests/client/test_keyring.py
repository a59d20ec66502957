import json

import pytest

from client.errors import KeyringError
from client.wallet import Keyring, Wallet


def test_keys_encrypted_at_rest_and_reload(tmp_path):
    ring = Keyring(tmp_path / "keyring")
    wallet = ring.add("alice", "correct horse")
    raw = (tmp_path / "keyring" / "alice.json").read_text()
    assert wallet.private_bytes().hex() not in raw
    assert (tmp_path / "keyring" / "alice.json").stat().st_mode & 0o077 == 0
    assert ring.load("alice", "correct horse").address == wallet.address
    assert ring.list() == [{"name": "alice", "address": wallet.address, "public_key": wallet.public_key.hex()}]


def test_wrong_password_duplicate_and_bad_names(tmp_path):
    ring = Keyring(tmp_path)
    ring.add("bob", "password-1")
    with pytest.raises(KeyringError, match="wrong password"):
        ring.load("bob", "password-2")
    with pytest.raises(KeyringError, match="already exists"):
        ring.add("bob", "password-1")
    with pytest.raises(KeyringError, match="invalid key name"):
        ring.add("../evil", "password-1")
    with pytest.raises(KeyringError, match="no key named"):
        ring.load("carol", "password-1")
    with pytest.raises(KeyringError, match="at least 8"):
        ring.add("dave", "short")


def test_swapped_key_file_detected(tmp_path):
    ring = Keyring(tmp_path)
    ring.add("a", "password-1", Wallet.from_seed(b"\x01" * 32))
    ring.add("b", "password-1", Wallet.from_seed(b"\x02" * 32))
    rec_a = json.loads((tmp_path / "a.json").read_text())
    rec_b = json.loads((tmp_path / "b.json").read_text())
    rec_b["cipher"] = rec_a["cipher"]  # b's file now holds a's encrypted key
    (tmp_path / "b.json").write_text(json.dumps(rec_b))
    with pytest.raises(KeyringError):
        ring.load("b", "password-1")
