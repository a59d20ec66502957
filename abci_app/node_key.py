"""The node's X25519 encryption key (sealed-update key shares), encrypted at rest.

`<home>/encryption_key.json` holds the public key in the clear and the private key under
scrypt(password, salt, n=2**15, r=8, p=1) + AES-256-GCM, with the public key as associated data: the
same construction as the SDK's keyring (client/wallet.py; abci_app may not import client, so the few
lines are repeated here rather than shared through the state machine, which must stay free of key I/O).
A node unlocks it at start with a password from $GRADCHAIN_NODE_PASSWORD, or from the file named by
`encryption_key_password_file` in gradchain.toml (owner-only), or the one `gradchain start` asks for.
Key and password files readable by group or others are refused, as is a plaintext key file.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

ENCRYPTION_KEY_FILE = "encryption_key.json"
PASSWORD_ENV = "GRADCHAIN_NODE_PASSWORD"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_AAD = b"gradchain/node-encryption-key|"


class NodeKeyError(RuntimeError):
    """The node's encryption key cannot be created or unlocked; the message says how to fix it."""


def key_path(home: Path) -> Path:
    return Path(home) / ENCRYPTION_KEY_FILE


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode())


def require_owner_only(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise NodeKeyError(f"{path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
                           f"run `chmod 600 {path}` and start again")


def create(home: Path, password: str) -> bytes:
    """A new key, written encrypted, owner-only; returns its public key. Refuses to overwrite."""
    if not password or len(password) < 8:
        raise NodeKeyError("the node key password must have at least 8 characters")
    private = X25519PrivateKey.generate()
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    salt, nonce = os.urandom(16), os.urandom(12)
    ciphertext = AESGCM(_derive(password, salt, **_SCRYPT)).encrypt(nonce, raw, _AAD + public)
    record = {"version": 2, "type": "x25519", "public_key": public.hex(),
              "kdf": {"name": "scrypt", **_SCRYPT, "salt": salt.hex()},
              "cipher": {"name": "aes-256-gcm", "nonce": nonce.hex(), "ciphertext": ciphertext.hex()}}
    path = key_path(home)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(record, f, indent=2)
    return public


def _record(home: Path) -> dict:
    path = key_path(home)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise NodeKeyError(f"cannot read {path}: {e}") from None
    if "private_key" in record or record.get("version") != 2:
        raise NodeKeyError(f"{path} holds its private key in plaintext (an old format); move the validator to a "
                           "new encrypted key: create one, then re-create the validator with it")
    return record


def public_key(home: Path) -> bytes:
    return bytes.fromhex(_record(home)["public_key"])


def ensure(home: Path, password: str | None) -> bytes:
    """The public key, creating the key pair first (with `password`) if the home has none."""
    if key_path(home).exists():
        return public_key(home)
    if password is None:
        raise NodeKeyError(f"{home} has no encryption key yet and no password was given to encrypt a new one: "
                           f"set {PASSWORD_ENV}")
    return create(home, password)


def unlock(home: Path, password: str) -> bytes:
    """The private key: the file must be owner-only and the password right."""
    path = key_path(home)
    require_owner_only(path)
    record = _record(home)
    kdf, cipher = record["kdf"], record["cipher"]
    public = bytes.fromhex(record["public_key"])
    key = _derive(password, bytes.fromhex(kdf["salt"]), kdf["n"], kdf["r"], kdf["p"])
    try:
        raw = AESGCM(key).decrypt(bytes.fromhex(cipher["nonce"]), bytes.fromhex(cipher["ciphertext"]), _AAD + public)
    except InvalidTag:
        raise NodeKeyError(f"wrong password for {path} (or the file was altered)") from None
    derived = X25519PrivateKey.from_private_bytes(raw).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if derived != public:
        raise NodeKeyError(f"{path} is inconsistent: its private key does not match its public key")
    return raw


def password_from(home: Path, password_file: str = "") -> str | None:
    """$GRADCHAIN_NODE_PASSWORD, else the owner-only file `password_file` (relative to the home), else None."""
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if password_file:
        path = Path(home) / password_file   # an absolute password_file stays absolute
        if not path.is_file():
            raise NodeKeyError(f"encryption_key_password_file {path} does not exist")
        require_owner_only(path)
        return path.read_text().rstrip("\n")
    return None


def write_password_file(path: Path, password: str) -> None:
    """An owner-only file holding `password` (local testnets keep one per node outside its home)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, stat.S_IRWXU)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password)
