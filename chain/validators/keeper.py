"""The only way into validator keys. Moves bonds through bank transfers (never mints)."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from chain.codec import decode_uint, encode_uint
from chain.record import HEX, INT, STR, F, Record
from chain.bank import capabilities as bank_capabilities
from chain.store.kv import prefix_end
from chain.tx.address import module_address
from chain.validators import keys
from chain.validators.params import ValidatorParams

BONDED_POOL = module_address("bonded_pool")        # holds active and unbonding bonds
COMMUNITY_POOL = module_address("community_pool")  # receives slashed bonds (nothing is burnt)
STAKING = bank_capabilities.staking()  # the validators' only bank writes: bonded_pool in, out, slashed

ACTIVE, UNBONDING, TOMBSTONED = "active", "unbonding", "tombstoned"


def consensus_address(consensus_pubkey: bytes) -> bytes:
    """CometBFT's address of an Ed25519 validator key."""
    return hashlib.sha256(consensus_pubkey).digest()[:20]


@dataclass(frozen=True)
class Validator:
    operator: str           # hex of the 20-byte operator address
    consensus_pubkey: str   # hex
    encryption_pubkey: str  # hex
    bond: int
    status: str

    @property
    def operator_bytes(self) -> bytes:
        return bytes.fromhex(self.operator)

    def power(self, params: ValidatorParams) -> int:
        return self.bond // params.power_reduction if self.status == ACTIVE else 0



class ValidatorRecord(Record):
    """val/v/: a Validator's stored bytes, field by field."""
    FIELDS = (F("operator", HEX), F("consensus_pubkey", HEX), F("encryption_pubkey", HEX), F("bond", INT),
              F("status", STR))

def get(state, operator: bytes) -> Validator | None:
    raw = state.get(keys.validator_key(operator))
    return Validator(**ValidatorRecord.decode(raw)) if raw is not None else None


def by_consensus_address(state, address: bytes) -> Validator | None:
    operator = state.get(keys.consensus_key(address))
    return get(state, operator) if operator is not None else None


def all_validators(state) -> list[Validator]:
    return [Validator(**ValidatorRecord.decode(v)) for _, v in state.iterate(keys.VALIDATOR, prefix_end(keys.VALIDATOR))]


def total_power(state, params: ValidatorParams) -> int:
    return sum(v.power(params) for v in all_validators(state))


def put(state, validator: Validator, params: ValidatorParams, power_changed: bool) -> None:
    state.set(keys.validator_key(validator.operator_bytes), ValidatorRecord(asdict(validator)).encode())
    pubkey = bytes.fromhex(validator.consensus_pubkey)
    state.set(keys.consensus_key(consensus_address(pubkey)), validator.operator_bytes)
    if power_changed:
        state.set(keys.pending_key(pubkey), validator.power(params).to_bytes(8, "big"))


def schedule_release(state, release_height: int, operator: bytes, amount: int) -> None:
    if amount <= 0:
        return
    key = keys.unbonding_key(release_height, operator)
    existing = state.get(key)
    state.set(key, encode_uint(amount + (decode_uint(existing) if existing else 0)))


def release_matured(state, height: int, params: ValidatorParams) -> list[tuple[bytes, int]]:
    """Pay out every unbonding entry due at or before `height`, oldest first."""
    end = keys.UNBONDING + (height + 1).to_bytes(8, "big")
    due = list(state.iterate(keys.UNBONDING, end))
    released = []
    for key, value in due:
        operator, amount = key[len(keys.UNBONDING) + 8:], decode_uint(value)
        STAKING.release(state, operator, [(params.bond_denom, amount)])
        state.delete(key)
        released.append((operator, amount))
    return released


def take_pending_updates(state) -> list[tuple[bytes, int]]:
    """(consensus pubkey, power) for every validator whose power changed this block, in key order."""
    updates = []
    for key, value in list(state.iterate(keys.PENDING, prefix_end(keys.PENDING))):
        updates.append((key[len(keys.PENDING):], int.from_bytes(value, "big")))
        state.delete(key)
    return updates

