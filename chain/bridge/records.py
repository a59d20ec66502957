"""The bridge's stored records (docs/state.md lists their bytes)."""
from __future__ import annotations

from chain.record import DEC, EVM, HEX, STR, U64, F, Record, list_of, pair


class BridgeStateRecord(Record):
    """bridge/state: the fields of chain.bridge.keeper.BridgeState."""
    FIELDS = (F("last_event_nonce", U64), F("last_evm_height", U64), F("contract_valset_nonce", U64),
              F("last_valset_nonce", U64), F("last_batch_nonce", U64), F("last_withdrawal_id", U64))


class Valset(Record):
    """A validator set the contract is asked to mirror: [EVM address, power] per member."""
    FIELDS = (F("nonce", U64), F("height", U64), F("members", list_of(pair(EVM, U64))))


class BridgeDenom(Record):
    """A voucher denom and the ERC-20 token it stands for."""
    FIELDS = (F("denom", STR), F("evm_chain_id", U64), F("token", STR), F("decimals", U64))


class Withdrawal(Record):
    """Vouchers escrowed for release on the EVM chain (batch 0 until batched)."""
    FIELDS = (F("id", U64), F("sender", HEX), F("recipient", STR), F("denom", STR), F("amount", DEC),
              F("token", STR), F("batch", U64))


class Batch(Record):
    """Withdrawals of one token the validators sign for the contract to release."""
    FIELDS = (F("nonce", U64), F("token", STR), F("valset_nonce", U64), F("height", U64),
              F("withdrawals", list_of(U64)))
