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


# --- the light client (client/light/): each names what a lying or stale node did ------------------------------
class LightClientError(GradchainError):
    """A header could not be verified; nothing read from the node through it is trusted."""


class HeaderInvalid(LightClientError):
    """A header, its commit or its validator set is malformed or inconsistent: wrong chain id, a hash that
    does not match (header, validators_hash, next_validators_hash), time going backwards or in the future."""


class SignatureInvalid(HeaderInvalid):
    """A commit signature does not verify under the validator's consensus key."""


class NotEnoughVotingPower(HeaderInvalid):
    """A commit is signed by too little voting power: at most 2/3 of the header's own validator set."""


class ValidatorSetNotTrusted(LightClientError):
    """A skip is signed by at most 1/3 (the trust level) of the trusted validator set's power. The light
    client bisects when it can; raised to the caller only when no intermediate header helps."""


class TrustedHeaderExpired(LightClientError):
    """The trusted header is older than the trusting period: validators that signed it may have unbonded,
    so nothing can be verified from it. Start again from a trusted height and hash you get out of band."""


class SealingSetInvalid(GradchainError):
    """The sealing set of a round could not be proven from verified state: refuse to seal to it."""
