"""Recovery phrases for keys: BIP-39 mnemonics (the maintained `mnemonic` package: wordlist, checksum,
PBKDF2 seed) and SLIP-0010 derivation for Ed25519, the curve gradchain accounts use. BIP-32 itself is
secp256k1-only; SLIP-0010 is its Ed25519 counterpart (hardened steps only), written here in a few lines
because no maintained package in the registry's list offers Ed25519 SLIP-0010 on its own.

    words = new_mnemonic()                      # 24 words: write them down, they are the key
    wallet = wallet_from_mnemonic(words)        # the same key on any machine, path m/44'/118'/0'/0'/0'
"""
from __future__ import annotations

import hashlib
import hmac
import os

from client.errors import GradchainError
from client.wallet import Wallet

HARDENED = 1 << 31
COIN_TYPE = 118           # the Cosmos coin type, as gaiad and most Cosmos chains derive under it
_SLIP10_KEY = b"ed25519 seed"


class MnemonicError(GradchainError, ValueError):
    """A recovery phrase that is not a valid BIP-39 English mnemonic (a word or the checksum is wrong)."""


def new_mnemonic() -> str:
    from mnemonic import Mnemonic
    return Mnemonic("english").to_mnemonic(os.urandom(32))


def slip10_ed25519(seed: bytes, path: list[int]) -> bytes:
    """The 32-byte private key at `path` (each index hardened) from a BIP-39 seed (SLIP-0010, Ed25519)."""
    digest = hmac.new(_SLIP10_KEY, seed, hashlib.sha512).digest()
    key, chain = digest[:32], digest[32:]
    for index in path:
        if index < HARDENED:
            raise ValueError("Ed25519 (SLIP-0010) derives hardened indices only")
        digest = hmac.new(chain, b"\x00" + key + index.to_bytes(4, "big"), hashlib.sha512).digest()
        key, chain = digest[:32], digest[32:]
    return key


def path_for(account: int = 0) -> list[int]:
    """m/44'/118'/0'/0'/account'"""
    return [44 | HARDENED, COIN_TYPE | HARDENED, HARDENED, HARDENED, account | HARDENED]


def wallet_from_mnemonic(words: str, passphrase: str = "", account: int = 0) -> Wallet:
    from mnemonic import Mnemonic
    words = " ".join(words.split()).lower()
    if not Mnemonic("english").check(words):
        raise MnemonicError("not a valid recovery phrase: check every word and their order (BIP-39 English)")
    seed = Mnemonic.to_seed(words, passphrase)
    return Wallet.from_seed(slip10_ed25519(seed, path_for(account)))
