"""Joining, leaving, slashing, and the end-of-block validator updates."""
from __future__ import annotations

from chain.codec import decode_uint, encode_uint
from chain.store.kv import prefix_end
from chain.validators.errors import (BondTooSmall, InvalidEncryptionKey, LastValidator, TooManyValidators,
                                     UnknownValidator, ValidatorExists, WrongBondDenom)
from chain.sealing.valset import is_usable_x25519_key
from chain.results import BlockContext, Event, ValidatorUpdate
from chain.tx.address import to_bech32
from chain.validators.messages import MsgCreateValidator, MsgUnbond
from chain.validators import keeper, params as vparams
from chain.validators.penalties import shrink_queued
from chain.validators.keeper import ACTIVE, TOMBSTONED, UNBONDING, Validator


def process_create_validator(state, ctx: BlockContext, signer: bytes, msg: MsgCreateValidator) -> tuple[Event, ...]:
    params = vparams.load(state)
    amount = msg.bond.validate()
    if not is_usable_x25519_key(msg.encryption_pubkey):  # one such key would make every share plan fail (sealing/4)
        raise InvalidEncryptionKey("encryption_pubkey is a low-order X25519 point: its shared secrets are all zeros")
    if msg.bond.denom != params.bond_denom:
        raise WrongBondDenom(f"bond must be in {params.bond_denom}, not {msg.bond.denom}")
    if amount < params.min_self_bond or amount // params.power_reduction == 0:
        raise BondTooSmall(f"bond {amount} below the minimum {max(params.min_self_bond, params.power_reduction)}"
                           f"{params.bond_denom}")
    if keeper.get(state, signer) is not None:
        raise ValidatorExists("this account already operates a validator; use a new account")
    if keeper.by_consensus_address(state, keeper.consensus_address(msg.consensus_pubkey)) is not None:
        raise ValidatorExists("that consensus key is already registered")
    active = sum(1 for v in keeper.all_validators(state) if v.status == ACTIVE)
    if active >= params.max_validators:
        raise TooManyValidators(f"the validator set is full ({params.max_validators})")
    keeper.STAKING.bond(state, signer, [(params.bond_denom, amount)])
    validator = Validator(operator=signer.hex(), consensus_pubkey=msg.consensus_pubkey.hex(),
                          encryption_pubkey=msg.encryption_pubkey.hex(), bond=amount, status=ACTIVE)
    keeper.put(state, validator, params, power_changed=True)
    return (Event("create_validator", (("operator", to_bech32(signer)), ("bond", f"{amount}{params.bond_denom}"),
                                       ("power", str(validator.power(params))))),)


def process_unbond(state, ctx: BlockContext, signer: bytes, msg: MsgUnbond) -> tuple[Event, ...]:
    params = vparams.load(state)
    validator = keeper.get(state, signer)
    if validator is None or validator.status != ACTIVE:
        raise UnknownValidator("this account operates no active validator")
    if keeper.total_power(state, params) - validator.power(params) <= 0:
        raise LastValidator("the last validator cannot leave: the chain would stop")
    release = ctx.height + params.unbonding_blocks
    keeper.put(state, _with(validator, status=UNBONDING), params, power_changed=True)
    keeper.schedule_release(state, release, signer, validator.bond)
    return (Event("unbond", (("operator", to_bech32(signer)), ("amount", f"{validator.bond}{params.bond_denom}"),
                             ("release_height", str(release)))),)


def begin_block(state, ctx: BlockContext) -> tuple[Event, ...]:
    """Slash and tombstone every validator CometBFT reports evidence against (once each)."""
    params = vparams.load(state)
    events: tuple[Event, ...] = ()
    for evidence in ctx.misbehavior:
        validator = keeper.by_consensus_address(state, evidence.validator_address)
        if validator is None or validator.status == TOMBSTONED:
            continue
        slashed = validator.bond * params.slash_fraction_bps // 10_000
        keeper.STAKING.slash(state, [(params.bond_denom, slashed)])
        remaining = validator.bond - slashed
        if validator.status == ACTIVE:
            keeper.schedule_release(state, ctx.height + params.unbonding_blocks, validator.operator_bytes, remaining)
        else:  # already unbonding: cut its queued release instead
            shrink_queued(state, validator.operator_bytes, slashed)
        keeper.put(state, _with(validator, bond=remaining, status=TOMBSTONED), params,
                   power_changed=validator.status == ACTIVE)
        events += (Event("slash", (("operator", to_bech32(validator.operator_bytes)), ("reason", evidence.kind),
                                   ("amount", f"{slashed}{params.bond_denom}"),
                                   ("infraction_height", str(evidence.height)))),)
    return events


def end_block(state, ctx: BlockContext) -> tuple[tuple[ValidatorUpdate, ...], tuple[Event, ...]]:
    params = vparams.load(state)
    events = tuple(Event("unbonding_complete", (("operator", to_bech32(op)), ("amount", f"{amt}{params.bond_denom}")))
                   for op, amt in keeper.release_matured(state, ctx.height, params))
    updates = tuple(ValidatorUpdate(pubkey, power) for pubkey, power in keeper.take_pending_updates(state))
    return updates, events


def _with(validator: Validator, **changes) -> Validator:
    return Validator(**{**validator.__dict__, **changes})
