"""The node's X25519 key at rest (issue 13 finding 8): encrypted like the keyring, unlocked at start, and
refused when other users can read it or it is in the old plaintext format."""
import json
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from abci_app import node_key
from abci_app.genesis_tools import ensure_encryption_key
from abci_app.node import NodeError, _encryption_private_key
from abci_app.settings import NodeSettings

PASSWORD = "correct horse battery"


def _public(private: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_node_key_at_rest_is_encrypted_and_unlocks_with_its_password(tmp_path):
    public = node_key.create(tmp_path, PASSWORD)
    path = node_key.key_path(tmp_path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    private = node_key.unlock(tmp_path, PASSWORD)
    assert _public(private) == public
    text = path.read_text()
    assert private.hex() not in text and "private_key" not in text   # nothing secret in the clear
    assert node_key.public_key(tmp_path) == public                   # the public part needs no password
    assert ensure_encryption_key(tmp_path) == public                 # and is not recreated


def test_node_key_wrong_password_or_altered_file_is_refused(tmp_path):
    node_key.create(tmp_path, PASSWORD)
    with pytest.raises(node_key.NodeKeyError, match="wrong password"):
        node_key.unlock(tmp_path, "not the password")
    path = node_key.key_path(tmp_path)
    record = json.loads(path.read_text())
    record["public_key"] = "11" * 32   # swap in another public key: the AEAD binds it
    path.write_text(json.dumps(record))
    with pytest.raises(node_key.NodeKeyError, match="wrong password|altered"):
        node_key.unlock(tmp_path, PASSWORD)


def test_node_key_world_readable_file_is_refused(tmp_path):
    node_key.create(tmp_path, PASSWORD)
    os.chmod(node_key.key_path(tmp_path), 0o644)
    with pytest.raises(node_key.NodeKeyError, match="chmod 600"):
        node_key.unlock(tmp_path, PASSWORD)


def test_node_key_plaintext_old_format_is_refused(tmp_path):
    raw = os.urandom(32)
    path = node_key.key_path(tmp_path)
    path.write_text(json.dumps({"type": "x25519", "private_key": raw.hex(), "public_key": _public(raw).hex()}))
    os.chmod(path, 0o600)
    with pytest.raises(node_key.NodeKeyError, match="plaintext"):
        node_key.unlock(tmp_path, PASSWORD)


def test_node_key_short_password_and_missing_password_are_refused(tmp_path):
    with pytest.raises(node_key.NodeKeyError, match="at least 8"):
        node_key.create(tmp_path, "short")
    os.environ.pop(node_key.PASSWORD_ENV, None)
    with pytest.raises(node_key.NodeKeyError, match=node_key.PASSWORD_ENV):
        ensure_encryption_key(tmp_path)
    assert not node_key.key_path(tmp_path).exists()


def test_node_key_start_unlocks_from_env_or_an_owner_only_password_file(tmp_path, monkeypatch):
    public = node_key.create(tmp_path, PASSWORD)
    monkeypatch.delenv(node_key.PASSWORD_ENV, raising=False)
    with pytest.raises(NodeError, match="is encrypted"):
        _encryption_private_key(tmp_path, NodeSettings(), None)
    monkeypatch.setenv(node_key.PASSWORD_ENV, PASSWORD)
    assert _public(_encryption_private_key(tmp_path, NodeSettings(), None)) == public
    monkeypatch.delenv(node_key.PASSWORD_ENV)
    secret = tmp_path / "secrets" / "node.password"
    node_key.write_password_file(secret, PASSWORD)
    settings = NodeSettings(encryption_key_password_file=str(secret))
    assert _public(_encryption_private_key(tmp_path, settings, None)) == public
    os.chmod(secret, 0o640)
    with pytest.raises(NodeError, match="readable by other users"):
        _encryption_private_key(tmp_path, settings, None)
    assert _encryption_private_key(tmp_path / "nowhere", NodeSettings(), None) is None  # no key: holds no shares
