"""Penalties for a proved failure to release key shares (docs/rounds.md, "Withholding").

A sealing-set member that never released its shares of an envelope whose shares provably decrypt (the
trainer showed its data key, chain/rounds/withhold.py) withheld them: censorship, or offline for the whole
release window. Each proved withholding slashes `withhold_slash_bps` of the bond to the community pool;
the `max_withholdings`-th jails the validator: it leaves the set as if it had unbonded, its bond released
after the unbonding period. A validator that already left is slashed on what it still has queued.
"""
from __future__ import annotations

from chain.codec import decode_uint, encode_uint
from chain.results import BlockContext, Event
from chain.store.kv import prefix_end
from chain.tx.address import to_bech32
from chain.validators import keeper, keys, params as vparams
from chain.validators.keeper import ACTIVE, UNBONDING, Validator


def withholdings(state, operator: bytes) -> int:
    raw = state.get(keys.withholdings_key(operator))
    return decode_uint(raw) if raw is not None else 0


def set_withholdings(state, operator: bytes, count: int) -> None:
    state.set(keys.withholdings_key(operator), encode_uint(count))


def all_withholdings(state) -> list[tuple[bytes, int]]:
    n = len(keys.WITHHOLDINGS)
    return [(k[n:], decode_uint(v)) for k, v in state.iterate(keys.WITHHOLDINGS, prefix_end(keys.WITHHOLDINGS))]


def _queued(state, operator: bytes) -> list[tuple[bytes, int]]:
    return [(k, decode_uint(v)) for k, v in state.iterate(keys.UNBONDING, prefix_end(keys.UNBONDING))
            if k.endswith(operator)]


def punish_withholding(state, ctx: BlockContext, operator: bytes, evidence: str) -> tuple[Event, ...]:
    """One proved withholding by `operator` (`evidence` names the envelope, for the event)."""
    validator = keeper.get(state, operator)
    if validator is None:
        return ()
    params = vparams.load(state)
    count = withholdings(state, operator) + 1
    set_withholdings(state, operator, count)
    slashed = validator.bond * params.withhold_slash_bps // 10_000
    if validator.status != ACTIVE:  # what is slashable now is only what is still queued for release
        slashed = min(slashed, sum(amount for _, amount in _queued(state, operator)))
    if slashed:
        keeper.STAKING.slash(state, [(params.bond_denom, slashed)])
        if validator.status != ACTIVE:
            shrink_queued(state, operator, slashed)
    remaining = validator.bond - slashed
    status = validator.status
    jailed = (status == ACTIVE and count >= params.max_withholdings
              and keeper.total_power(state, params) - validator.power(params) > 0)  # never the last validator
    if jailed:
        status = UNBONDING
        keeper.schedule_release(state, ctx.height + params.unbonding_blocks, operator, remaining)
    updated = Validator(**{**validator.__dict__, "bond": remaining, "status": status})
    keeper.put(state, updated, params, power_changed=validator.status == ACTIVE
               and updated.power(params) != validator.power(params))
    events = (Event("withholding_penalty", (("operator", to_bech32(operator)), ("evidence", evidence),
                                            ("withholdings", str(count)),
                                            ("slashed", f"{slashed}{params.bond_denom}"))),)
    if jailed:
        events += (Event("jail", (("operator", to_bech32(operator)), ("reason", "withholding"),
                                  ("release_height", str(ctx.height + params.unbonding_blocks)))),)
    return events


def shrink_queued(state, operator: bytes, amount: int) -> None:
    """Take `amount` out of an operator's queued releases, latest first."""
    for key, queued in reversed(_queued(state, operator)):
        take = min(queued, amount)
        if queued - take:
            state.set(key, encode_uint(queued - take))
        else:
            state.delete(key)
        amount -= take
        if amount == 0:
            return
