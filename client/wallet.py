"""Ed25519 wallets and a keyring that keeps private keys encrypted at rest.

File format (one JSON file per key): scrypt(password, salt, n=2**15, r=8, p=1) -> 32-byte key;
AES-256-GCM(key, nonce) over the 32-byte private key, with the key's name and address as associated
data so a file cannot be renamed or swapped without detection.
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from chain.tx.address import to_bech32
from chain.tx.envelope import address_of
from client.errors import KeyringError

_SCRYPT = {"n": 2**15, "r": 8, "p": 1}


@dataclass(frozen=True)
class Wallet:
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> "Wallet":
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> "Wallet":
        """Deterministic wallet from 32 bytes (tests, faucets). Never use a guessable seed for real funds."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def address_bytes(self) -> bytes:
        return address_of(self.public_key)

    @property
    def address(self) -> str:
        return to_bech32(self.address_bytes)

    def sign(self, body: bytes) -> bytes:
        return self.private_key.sign(body)

    def private_bytes(self) -> bytes:
        return self.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption())


class Keyring:
    """A folder of encrypted key files, `<name>.json`, readable only by their owner."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def _path(self, name: str) -> Path:
        if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
            raise KeyringError(f"invalid key name {name!r}: use letters, digits, '-', '_' and '.'")
        return self.directory / f"{name}.json"

    def add(self, name: str, password: str, wallet: Wallet | None = None) -> Wallet:
        path = self._path(name)
        if path.exists():
            raise KeyringError(f"key {name!r} already exists in {self.directory}; pick another name")
        if len(password) < 8:
            raise KeyringError("password must have at least 8 characters")
        wallet = wallet or Wallet.generate()
        salt, nonce = os.urandom(16), os.urandom(12)
        aad = f"{name}|{wallet.address}".encode()
        ciphertext = AESGCM(_derive(password, salt)).encrypt(nonce, wallet.private_bytes(), aad)
        record = {"version": 1, "name": name, "address": wallet.address, "public_key": wallet.public_key.hex(),
                  "kdf": {"name": "scrypt", **_SCRYPT, "salt": salt.hex()},
                  "cipher": {"name": "aes-256-gcm", "nonce": nonce.hex(), "ciphertext": ciphertext.hex()}}
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, stat.S_IRWXU)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # never leave a half-written key file behind
        return wallet

    def info(self, name: str) -> dict:
        path = self._path(name)
        if not path.exists():
            raise KeyringError(f"no key named {name!r} in {self.directory}; create it with `gradchain keys add {name}`")
        record = json.loads(path.read_text())
        return {"name": record["name"], "address": record["address"], "public_key": record["public_key"]}

    def list(self) -> list[dict]:
        if not self.directory.exists():
            return []
        return [self.info(p.stem) for p in sorted(self.directory.glob("*.json"))]

    def load(self, name: str, password: str) -> Wallet:
        return decrypt_record(self.export(name), password)

    def export(self, name: str) -> dict:
        """The key's file as stored: still encrypted with its password (`import_record` takes it back)."""
        path = self._path(name)
        if not path.exists():
            raise KeyringError(f"no key named {name!r} in {self.directory}; create it with `gradchain keys add {name}`")
        return json.loads(path.read_text())

    def delete(self, name: str) -> dict:
        """Remove key NAME; returns its info. Gone for good unless exported first."""
        info = self.info(name)
        self._path(name).unlink()
        return info

    def rename(self, old: str, new: str, password: str) -> Wallet:
        """The name is bound into the encryption (associated data): re-encrypted under `new`, same password."""
        self._path(new)   # a valid name, before anything is decrypted
        wallet = self.load(old, password)
        self.add(new, password, wallet)
        self._path(old).unlink()
        return wallet

    def import_record(self, record: dict, password: str, name: str | None = None) -> Wallet:
        """Add a key from an exported key file (the keyring's own format), as `name` or its own name. The
        password must open it; the key is stored re-encrypted with that password."""
        wallet = decrypt_record(record, password)
        return self.add(name or record["name"], password, wallet)


def decrypt_record(record: dict, password: str) -> Wallet:
    """The wallet in a keyring record (a `<name>.json` key file), checked against its address."""
    try:
        name, address, kdf, cipher = record["name"], record["address"], record["kdf"], record["cipher"]
        if record.get("version") != 1 or kdf.get("name") != "scrypt" or cipher.get("name") != "aes-256-gcm":
            raise KeyError("version")
        key = _derive(password, bytes.fromhex(kdf["salt"]), kdf["n"], kdf["r"], kdf["p"])
        nonce, ciphertext = bytes.fromhex(cipher["nonce"]), bytes.fromhex(cipher["ciphertext"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise KeyringError("not a gradchain key file (version 1, scrypt + aes-256-gcm)") from None
    try:
        secret = AESGCM(key).decrypt(nonce, ciphertext, f"{name}|{address}".encode())
    except InvalidTag:
        raise KeyringError(f"wrong password for key {name!r} (or the key file was altered)") from None
    wallet = Wallet(Ed25519PrivateKey.from_private_bytes(secret))
    if wallet.address != address:
        raise KeyringError(f"key file {name!r} is inconsistent: address does not match the key")
    return wallet


def _derive(password: str, salt: bytes, n: int = _SCRYPT["n"], r: int = _SCRYPT["r"], p: int = _SCRYPT["p"]) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password.encode())
