"""Typed errors. A failed tx raises TxFailed carrying the chain's (codespace, code) and its error name."""
from __future__ import annotations

from chain.codes import registered_codes


class GradchainError(Exception):
    """Root of every error the SDK raises on purpose."""


class RpcError(GradchainError):
    """The node could not be reached or answered with an RPC error."""


class ProofInvalid(GradchainError):
    """A Merkle proof did not verify against the app hash of a block header: do not trust the answer."""


class CoinFormatError(GradchainError):
    """Text is not AMOUNTDENOM ("100ugrad"), or a list of coins names a denom twice (client/coins.py)."""


class KeyringError(GradchainError):
    """A key is missing, already exists, or the password is wrong."""


class TxFailed(GradchainError):
    def __init__(self, codespace: str, code: int, log: str, tx_hash: str = "", height: int = 0):
        self.codespace, self.code, self.log, self.tx_hash, self.height = codespace, code, log, tx_hash, height
        self.name = registered_codes().get((codespace, code), "UnknownError")
        what = f"failed in block {height}" if height else "refused (nothing was charged)"
        subject = f"tx {tx_hash}" if tx_hash else "request"
        super().__init__(f"{subject} {what}: {self.name} ({codespace}/{code}): {log}")
