"""Every key the bridge module owns. Nonces and ids are 8-byte big-endian, so keys sort in nonce order."""
from __future__ import annotations

from chain.codec import u64   # the keepers write keys.u64 too

PARAMS = b"bridge/params"      # -> BridgeParams (canonical JSON record)
STATE = b"bridge/state"        # -> BridgeState counters (canonical JSON record)
EVM_ADDRESS = b"bridge/ea/"    # + operator(20) -> the validator's EVM address(20)
BY_EVM_ADDRESS = b"bridge/eo/"  # + EVM address(20) -> operator(20); one validator per EVM address
VOTE = b"bridge/vote/"         # + event nonce(8) + operator(20) -> claim hash(32); pending nonces only
CLAIM = b"bridge/claim/"       # + event nonce(8) + claim hash(32) -> claim bytes; pending nonces only
VALSET = b"bridge/vs/"         # + valset nonce(8) -> valset record
VALSET_CONFIRM = b"bridge/vc/"  # + valset nonce(8) + operator(20) -> EVM signature(65)
WITHDRAWAL = b"bridge/wd/"     # + withdrawal id(8) -> withdrawal record (queued or in a batch)
QUEUE = b"bridge/q/"           # + token(20) + withdrawal id(8) -> b"\x01"; not yet in a batch
BATCH = b"bridge/b/"           # + batch nonce(8) -> batch record (created, not yet executed)
ACTIVE_BATCH = b"bridge/ab/"   # + token(20) -> batch nonce(8); at most one unexecuted batch per token
BATCH_CONFIRM = b"bridge/bc/"  # + batch nonce(8) + operator(20) -> EVM signature(65)
DENOM = b"bridge/d/"           # + voucher denom -> denom record (origin chain, token contract, decimals)


def evm_address_key(operator: bytes) -> bytes:
    return EVM_ADDRESS + operator


def by_evm_address_key(evm_address: bytes) -> bytes:
    return BY_EVM_ADDRESS + evm_address


def vote_key(nonce: int, operator: bytes) -> bytes:
    return VOTE + u64(nonce) + operator


def claim_key(nonce: int, claim_hash: bytes) -> bytes:
    return CLAIM + u64(nonce) + claim_hash


def valset_key(nonce: int) -> bytes:
    return VALSET + u64(nonce)


def valset_confirm_key(nonce: int, operator: bytes) -> bytes:
    return VALSET_CONFIRM + u64(nonce) + operator


def withdrawal_key(withdrawal_id: int) -> bytes:
    return WITHDRAWAL + u64(withdrawal_id)


def queue_key(token: bytes, withdrawal_id: int) -> bytes:
    return QUEUE + token + u64(withdrawal_id)


def batch_key(nonce: int) -> bytes:
    return BATCH + u64(nonce)


def active_batch_key(token: bytes) -> bytes:
    return ACTIVE_BATCH + token


def batch_confirm_key(nonce: int, operator: bytes) -> bytes:
    return BATCH_CONFIRM + u64(nonce) + operator


def denom_key(denom: str) -> bytes:
    return DENOM + denom.encode()
