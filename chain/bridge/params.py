"""Bridge parameters, set at genesis. Without a `bridge` genesis section the module is off."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from chain.bridge import keys
from chain.record import STR, U64, F, Record
from chain.tx.errors import InvalidGenesis

_HEX_ADDRESS = re.compile(r"0x[0-9a-f]{40}")


@dataclass(frozen=True)
class BridgeParams:
    evm_chain_id: int = 0          # EIP-155 chain id of the counterparty chain
    contract: str = ""             # the Bridge contract, "0x" + 40 lowercase hex digits
    max_batch_size: int = 64       # withdrawals per batch (the contract takes at most 100)
    max_claim_lookahead: int = 256  # a claim may run at most this far ahead of the next expected nonce

    @property
    def contract_bytes(self) -> bytes:
        return bytes.fromhex(self.contract[2:])

    def validate(self) -> None:
        for name in ("evm_chain_id", "max_batch_size", "max_claim_lookahead"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidGenesis(f"bridge param {name} must be a positive integer")
        if self.evm_chain_id >= 1 << 64:
            raise InvalidGenesis("bridge param evm_chain_id must fit in 64 bits")
        if self.max_batch_size > 100:
            raise InvalidGenesis("bridge param max_batch_size must be at most 100 (the contract's limit)")
        if not isinstance(self.contract, str) or not _HEX_ADDRESS.fullmatch(self.contract) \
                or self.contract == "0x" + "0" * 40:
            raise InvalidGenesis("bridge param contract must be a non-zero 0x-prefixed lowercase hex address")



class BridgeParamsRecord(Record):
    """BridgeParams's stored bytes, field by field."""
    FIELDS = (F("evm_chain_id", U64), F("contract", STR), F("max_batch_size", U64), F("max_claim_lookahead", U64))

def load(state) -> BridgeParams | None:
    raw = state.get(keys.PARAMS)
    return BridgeParams(**BridgeParamsRecord.decode(raw)) if raw is not None else None


def store(state, params: BridgeParams) -> None:
    params.validate()
    state.set(keys.PARAMS, BridgeParamsRecord(asdict(params)).encode())
