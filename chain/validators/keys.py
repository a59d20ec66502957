"""Every key the validators module owns."""
from __future__ import annotations

from chain.codec import u64

PARAMS = b"val/params"
VALIDATOR = b"val/v/"   # + operator address(20) -> validator record (canonical JSON)
BY_CONSENSUS = b"val/c/"  # + consensus address(20) -> operator address(20)
UNBONDING = b"val/u/"   # + release height(8, big-endian) + operator(20) -> amount; ordered by height
WITHHOLDINGS = b"val/w/"  # + operator(20) -> proved withholdings so far (chain/validators/penalties.py)
PENDING = b"val/p/"     # + consensus pubkey(32) -> new power(8). Transient: written by a block's
                        # messages, turned into validator updates and deleted at the end of that block,
                        # so a failed message's update is rolled back with the rest of its branch.


def validator_key(operator: bytes) -> bytes:
    return VALIDATOR + operator


def consensus_key(consensus_address: bytes) -> bytes:
    return BY_CONSENSUS + consensus_address


def unbonding_key(release_height: int, operator: bytes) -> bytes:
    return UNBONDING + u64(release_height) + operator


def pending_key(consensus_pubkey: bytes) -> bytes:
    return PENDING + consensus_pubkey


def withholdings_key(operator: bytes) -> bytes:
    return WITHHOLDINGS + operator
