"""The ordered ante pipeline. Runs after the stateless checks in chain.tx.decode_tx
(shape, messages, signature) and before any message. Its effects (fee, sequence)
survive a failing message; if any step here fails, nothing is written."""
from __future__ import annotations

from chain.auth import keys
from chain.auth.params import AuthParams
from chain.bank import capabilities as bank_capabilities
from chain.bank import keeper as bank
from chain.codec import u64
from chain.tx.errors import CannotPayFee, InsufficientFee, InvalidFeeDenom, WrongChainId, WrongSequence
from chain.results import Event
from chain.tx.address import module_address, to_bech32
from chain.tx.envelope import DecodedTx

FEE_COLLECTOR = module_address("fee_collector")
FEES = bank_capabilities.fees()  # auth's only bank write: users -> fee_collector


def sequence(state, address: bytes) -> int:
    raw = state.get(keys.sequence_key(address))
    return int.from_bytes(raw, "big") if raw is not None else 0


def validate_ante(state, tx: DecodedTx, chain_id: str, params: AuthParams) -> int:
    """Reads only. Returns the fee to charge."""
    if tx.body.chain_id != chain_id:
        raise WrongChainId(f"tx is for chain {tx.body.chain_id!r}, this is {chain_id!r}")
    expected = sequence(state, tx.signer)
    if tx.body.sequence != expected:
        raise WrongSequence(f"sequence {tx.body.sequence} but account expects {expected}")
    required = params.required_fee(len(tx.raw))
    fee = tx.body.fee
    if fee is None:
        if required:
            raise InsufficientFee(f"fee required: at least {required}{params.fee_denom}")
        return 0
    amount = fee.validate()
    if fee.denom != params.fee_denom:
        raise InvalidFeeDenom(f"fees are paid in {params.fee_denom}, not {fee.denom}")
    if amount < required:
        raise InsufficientFee(f"fee {amount}{fee.denom} below the minimum {required}{params.fee_denom} "
                              f"({params.min_fee_base} + {params.min_fee_per_byte} per byte x {len(tx.raw)} bytes)")
    if bank.balance(state, tx.signer, fee.denom) < amount:
        raise CannotPayFee(f"account cannot pay the fee of {amount}{fee.denom}")
    return amount


def apply_ante(state, tx: DecodedTx, chain_id: str, params: AuthParams) -> tuple[Event, ...]:
    fee = validate_ante(state, tx, chain_id, params)
    if fee:
        FEES.collect(state, tx.signer, [(params.fee_denom, fee)])
    state.set(keys.sequence_key(tx.signer), u64(tx.body.sequence + 1))
    return (Event("tx", (("signer", to_bech32(tx.signer)), ("sequence", str(tx.body.sequence)),
                         ("fee", f"{fee}{params.fee_denom}"))),)
