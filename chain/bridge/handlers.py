"""bridge message handlers (thin: check, then apply) and the end-of-block step."""
from __future__ import annotations

from chain.bridge import attestations, evm, keeper, keys, outgoing
from chain.bridge import params as bparams
from chain.bridge.params import BridgeParams
from chain.bridge.errors import (BridgeNotConfigured, DuplicateConfirm, EvmAddressAlreadySet, EvmAddressTaken,
                                 InvalidEvmSignature, NoEvmAddress, NotBridgeValidator, NotInSigningSet,
                                 UnknownBatch, UnknownValset)
from chain.results import BlockContext, Event
from chain.tx.address import to_bech32
from chain.bridge.messages import (MsgBatchExecutedClaim, MsgCancelWithdraw, MsgConfirmBatch, MsgConfirmValset,
                                   MsgDepositClaim, MsgSetEvmAddress, MsgValsetUpdatedClaim, MsgWithdraw)
from chain.validators import keeper as validators


def _params(state) -> BridgeParams:
    params = bparams.load(state)
    if params is None:
        raise BridgeNotConfigured("this chain has no bridge: its genesis has no `bridge` section")
    return params


def process_set_evm_address(state, ctx: BlockContext, signer: bytes, msg: MsgSetEvmAddress) -> tuple[Event, ...]:
    _params(state)
    if validators.get(state, signer) is None:
        raise NotBridgeValidator("only a validator's operator may register an EVM address")
    if keeper.evm_address(state, signer) is not None:
        raise EvmAddressAlreadySet("this validator's EVM address is already registered")
    if keeper.operator_of(state, msg.evm_address) is not None:
        raise EvmAddressTaken(f"EVM address 0x{msg.evm_address.hex()} belongs to another validator")
    digest = evm.address_proof_digest(ctx.chain_id, signer, msg.evm_address)
    if evm.recover_address(digest, msg.signature) != msg.evm_address:
        raise InvalidEvmSignature("signature is not by that EVM address over this chain id and operator")
    keeper.set_evm_address(state, signer, msg.evm_address)
    return (Event("bridge_evm_address", (("operator", to_bech32(signer)), ("evm_address", "0x" + msg.evm_address.hex()))),)


def process_deposit_claim(state, ctx, signer, msg: MsgDepositClaim):
    return attestations.process_claim(state, ctx, signer, _params(state), msg)


def process_valset_updated_claim(state, ctx, signer, msg: MsgValsetUpdatedClaim):
    return attestations.process_claim(state, ctx, signer, _params(state), msg)


def process_batch_executed_claim(state, ctx, signer, msg: MsgBatchExecutedClaim):
    return attestations.process_claim(state, ctx, signer, _params(state), msg)


def process_withdraw(state, ctx, signer, msg: MsgWithdraw):
    return outgoing.process_withdraw(state, signer, _params(state), msg)


def process_cancel_withdraw(state, ctx, signer, msg: MsgCancelWithdraw):
    _params(state)
    return outgoing.process_cancel_withdraw(state, signer, msg)


def _signing_address(state, signer: bytes, signing_set: dict) -> bytes:
    """The signer's EVM address, which must be a member of the valset that has to sign."""
    address = keeper.evm_address(state, signer)
    if address is None:
        raise NoEvmAddress("register an EVM address first (MsgSetEvmAddress)")
    if address not in {a for a, _ in keeper.valset_members(signing_set)}:
        raise NotInSigningSet(f"EVM address 0x{address.hex()} is not in valset {signing_set['nonce']}, which signs this")
    return address


def _check_signature(digest: bytes, signature: bytes, address: bytes) -> None:
    if evm.recover_address(digest, signature) != address:
        raise InvalidEvmSignature(f"signature does not recover to this validator's EVM address 0x{address.hex()}")


def process_confirm_batch(state, ctx, signer: bytes, msg: MsgConfirmBatch) -> tuple[Event, ...]:
    params = _params(state)
    batch = keeper.get_batch(state, msg.batch_nonce)
    if batch is None:
        raise UnknownBatch(f"no pending batch {msg.batch_nonce}")
    address = _signing_address(state, signer, keeper.get_valset(state, batch["valset_nonce"]))
    if state.get(keys.batch_confirm_key(msg.batch_nonce, signer)) is not None:
        raise DuplicateConfirm(f"batch {msg.batch_nonce} is already confirmed by this validator")
    digest = evm.batch_digest(params.contract_bytes, params.evm_chain_id, bytes.fromhex(batch["token"][2:]),
                              batch["nonce"], batch["valset_nonce"], keeper.batch_transfers(state, batch))
    _check_signature(digest, msg.signature, address)
    state.set(keys.batch_confirm_key(msg.batch_nonce, signer), msg.signature)
    return (Event("bridge_confirm_batch", (("batch_nonce", str(msg.batch_nonce)), ("validator", to_bech32(signer)))),)


def process_confirm_valset(state, ctx, signer: bytes, msg: MsgConfirmValset) -> tuple[Event, ...]:
    params = _params(state)
    record = keeper.load_state(state)
    valset = keeper.get_valset(state, msg.valset_nonce)
    if valset is None or msg.valset_nonce <= record.contract_valset_nonce:
        raise UnknownValset(f"valset {msg.valset_nonce} is not awaiting signatures "
                            f"(the contract mirrors valset {record.contract_valset_nonce})")
    address = _signing_address(state, signer, keeper.get_valset(state, msg.valset_nonce - 1))
    if state.get(keys.valset_confirm_key(msg.valset_nonce, signer)) is not None:
        raise DuplicateConfirm(f"valset {msg.valset_nonce} is already confirmed by this validator")
    digest = evm.valset_digest(params.contract_bytes, params.evm_chain_id, msg.valset_nonce,
                               keeper.valset_members(valset))
    _check_signature(digest, msg.signature, address)
    state.set(keys.valset_confirm_key(msg.valset_nonce, signer), msg.signature)
    return (Event("bridge_confirm_valset", (("valset_nonce", str(msg.valset_nonce)), ("validator", to_bech32(signer)))),)


def end_block(state, ctx: BlockContext) -> tuple[Event, ...]:
    """Attest what power changes made ready, mirror validator-set changes, batch queued withdrawals.
    Writes nothing when nothing changed (an empty block must keep the app hash)."""
    params = bparams.load(state)
    if params is None:
        return ()
    events = attestations.observe_ready(state, ctx, params)
    events += outgoing.update_valset(state, ctx.height)
    return events + outgoing.form_batches(state, ctx, params)
