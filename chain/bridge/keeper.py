"""The only way into bridge keys. Records are canonical JSON; amounts travel as decimal strings."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from chain.bank import capabilities as bank_capabilities
from chain.bridge import keys
from chain.bridge.records import Batch, BridgeDenom, BridgeStateRecord, Valset, Withdrawal
from chain.store.kv import prefix_end
from chain.tx.address import module_address
from chain.validators import keeper as validators
from chain.validators import params as vparams
from chain.validators.keeper import ACTIVE

ESCROW = module_address("bridge_escrow")  # holds the vouchers of withdrawals not yet released on the EVM chain
BANK = bank_capabilities.bridge()  # the bridge's only bank writes: escrow, and mint/burn of bridge/ vouchers

DEPOSIT, VALSET_UPDATED, BATCH_EXECUTED = 1, 2, 3  # claim kinds: the first byte of a stored claim


@dataclass(frozen=True)
class BridgeState:
    last_event_nonce: int = 0       # highest attested contract event nonce
    last_evm_height: int = 0        # EVM block of that event (orchestrators scan from here)
    contract_valset_nonce: int = 0  # valset the contract mirrors, as last attested
    last_valset_nonce: int = 0      # newest valset the chain created
    last_batch_nonce: int = 0
    last_withdrawal_id: int = 0


def load_state(state) -> BridgeState:
    raw = state.get(keys.STATE)
    return BridgeState(**BridgeStateRecord.decode(raw)) if raw is not None else BridgeState()


def store_state(state, record: BridgeState) -> None:
    state.set(keys.STATE, BridgeStateRecord(asdict(record)).encode())


def voucher_denom(evm_chain_id: int, token: bytes) -> str:
    return f"bridge/{evm_chain_id}/0x{token.hex()}"


# --- validators' power and EVM addresses ------------------------------------------------------------
def power_of(state, operator: bytes) -> int:
    validator = validators.get(state, operator)
    if validator is None or validator.status != ACTIVE:
        return 0
    return validator.power(vparams.load(state))


def total_power(state) -> int:
    return validators.total_power(state, vparams.load(state))


def evm_address(state, operator: bytes) -> bytes | None:
    return state.get(keys.evm_address_key(operator))


def operator_of(state, evm: bytes) -> bytes | None:
    return state.get(keys.by_evm_address_key(evm))


def set_evm_address(state, operator: bytes, evm: bytes) -> None:
    state.set(keys.evm_address_key(operator), evm)
    state.set(keys.by_evm_address_key(evm), operator)


def all_evm_addresses(state) -> list[tuple[bytes, bytes]]:
    """(operator, EVM address) in operator order."""
    n = len(keys.EVM_ADDRESS)
    return [(k[n:], v) for k, v in state.iterate(keys.EVM_ADDRESS, prefix_end(keys.EVM_ADDRESS))]


def current_members(state) -> list[tuple[bytes, int]]:
    """The EVM mirror of the validator set: (EVM address, power) of every active validator with an
    EVM address, sorted by address."""
    params = vparams.load(state)
    members = []
    for operator, evm in all_evm_addresses(state):
        validator = validators.get(state, operator)
        if validator is not None and validator.status == ACTIVE and validator.power(params) > 0:
            members.append((evm, validator.power(params)))
    return sorted(members)


# --- valsets ---------------------------------------------------------------------------------------
def get_valset(state, nonce: int) -> dict | None:
    raw = state.get(keys.valset_key(nonce))
    return Valset.decode(raw) if raw is not None else None


def put_valset(state, nonce: int, members: list[tuple[bytes, int]], height: int) -> None:
    state.set(keys.valset_key(nonce), Valset(
        {"nonce": nonce, "height": height, "members": [["0x" + a.hex(), p] for a, p in members]}).encode())


def valset_members(record: dict) -> list[tuple[bytes, int]]:
    return [(bytes.fromhex(a[2:]), p) for a, p in record["members"]]


def all_valsets(state, start_nonce: int = 0) -> list[dict]:
    return [Valset.decode(v) for _, v in state.iterate(keys.valset_key(start_nonce), prefix_end(keys.VALSET))]


# --- confirmations (valsets and batches share the layout: nonce + operator -> signature) -------------
def confirms(state, prefix: bytes, nonce: int) -> list[tuple[bytes, bytes]]:
    """(operator, signature) for one valset or batch nonce, in operator order."""
    start = prefix + keys.u64(nonce)
    return [(k[len(start):], v) for k, v in state.iterate(start, prefix_end(start))]


def delete_confirms(state, prefix: bytes, nonce: int) -> None:
    for operator, _ in confirms(state, prefix, nonce):
        state.delete(prefix + keys.u64(nonce) + operator)


# --- claims and votes -------------------------------------------------------------------------------
def claim_hash(claim: bytes) -> bytes:
    return hashlib.sha256(b"gradchain-bridge-claim" + claim).digest()


def votes(state, nonce: int) -> list[tuple[bytes, bytes]]:
    """(operator, claim hash) of every vote for `nonce`, in operator order."""
    start = keys.VOTE + keys.u64(nonce)
    return [(k[len(start):], v) for k, v in state.iterate(start, prefix_end(start))]


def get_claim(state, nonce: int, digest: bytes) -> bytes | None:
    return state.get(keys.claim_key(nonce, digest))


def forget_nonce(state, nonce: int) -> None:
    """Drop every vote and claim for an attested nonce."""
    for operator, _ in votes(state, nonce):
        state.delete(keys.vote_key(nonce, operator))
    start = keys.CLAIM + keys.u64(nonce)
    for k, _ in list(state.iterate(start, prefix_end(start))):
        state.delete(k)


# --- denoms -----------------------------------------------------------------------------------------
def get_denom(state, denom: str) -> dict | None:
    raw = state.get(keys.denom_key(denom))
    return BridgeDenom.decode(raw) if raw is not None else None


def put_denom(state, denom: str, evm_chain_id: int, token: bytes, decimals: int) -> None:
    state.set(keys.denom_key(denom), BridgeDenom(
        {"denom": denom, "evm_chain_id": evm_chain_id, "token": "0x" + token.hex(), "decimals": decimals}).encode())


def all_denoms(state) -> list[dict]:
    return [BridgeDenom.decode(v) for _, v in state.iterate(keys.DENOM, prefix_end(keys.DENOM))]


# --- withdrawals and batches ------------------------------------------------------------------------
def get_withdrawal(state, withdrawal_id: int) -> dict | None:
    raw = state.get(keys.withdrawal_key(withdrawal_id))
    return Withdrawal.decode(raw) if raw is not None else None


def put_withdrawal(state, record: dict) -> None:
    state.set(keys.withdrawal_key(record["id"]), Withdrawal(record).encode())


def all_withdrawals(state) -> list[dict]:
    return [Withdrawal.decode(v) for _, v in state.iterate(keys.WITHDRAWAL, prefix_end(keys.WITHDRAWAL))]


def get_batch(state, nonce: int) -> dict | None:
    raw = state.get(keys.batch_key(nonce))
    return Batch.decode(raw) if raw is not None else None


def put_batch(state, record: dict) -> None:
    state.set(keys.batch_key(record["nonce"]), Batch(record).encode())
    state.set(keys.active_batch_key(bytes.fromhex(record["token"][2:])), keys.u64(record["nonce"]))


def active_batch_nonce(state, token: bytes) -> int | None:
    raw = state.get(keys.active_batch_key(token))
    return int.from_bytes(raw, "big") if raw is not None else None


def all_batches(state) -> list[dict]:
    return [Batch.decode(v) for _, v in state.iterate(keys.BATCH, prefix_end(keys.BATCH))]


def batch_transfers(state, batch: dict) -> list[tuple[bytes, int]]:
    """(EVM recipient, amount) in batch order: what the contract pays and the validators sign."""
    out = []
    for withdrawal_id in batch["withdrawals"]:
        w = get_withdrawal(state, withdrawal_id)
        out.append((bytes.fromhex(w["recipient"][2:]), int(w["amount"])))
    return out
