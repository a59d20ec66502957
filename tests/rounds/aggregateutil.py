"""Aggregate-mode test helpers: a chain with more funded trainers, and the member's side of a round (join,
masked update) built as the SDK builds it."""
from __future__ import annotations

import numpy as np

from roundsutil import rounds_genesis  # first: it puts tests/registry and tests/sealing on the path
from chain.rounds.delta import decode_delta
from chain.rounds.messages import MsgJoinRound, MsgSubmitMasked
from chain.secagg import masks
from chainutil import BOB, CAROL, CHAIN_ID
from client.secagg import encode_masked, join_envelopes, masked_update, new_member, secret_contexts
from client.trainer import sealing_set
from client.wallet import Wallet
from registryutil import RegistryChain, code, u64
from test_release import next_block, votes

EXTRA = [Wallet.from_seed(bytes([0x60 + i]) * 32) for i in range(6)]
TRAINERS = [BOB, CAROL] + EXTRA
K = 3


class AggregateChain(RegistryChain):
    """RoundsChain's genesis with six more trainers holding 10 GRAD each."""

    def __init__(self, rounds: dict | None = None, **registry_params):
        g = rounds_genesis(rounds, **registry_params)
        g["bank"]["balances"] = sorted(g["bank"]["balances"] + [
            {"address": w.address, "coins": [{"denom": "ugrad", "amount": "10000000"}]} for w in EXTRA],
            key=lambda b: b["address"])
        super().__init__(app_state=g)
        self.members = {}   # address -> client Member (the secrets a trainer keeps in memory)


def round_info(chain, model_id: int, round_: int) -> dict:
    return chain.query_json("/rounds/round", u64(model_id, round_))


def join_msg(chain, wallet, model_id: int, round_: int, member=None, parent: int | None = None) -> MsgJoinRound:
    info = round_info(chain, model_id, round_)
    member = member or new_member()
    chain.members[wallet.address] = member
    key_env, seed_env = join_envelopes(member, sealing_set(info),
                                       secret_contexts(CHAIN_ID, model_id, round_, wallet.address_bytes),
                                       max_total_shares=info["max_total_shares"])
    return MsgJoinRound(model_id=model_id, round=round_,
                        parent_version=info["base_version"] if parent is None else parent,
                        round_pubkey=member.round_public, key_envelope=key_env.encode(), seed_envelope=seed_env.encode())


def my_member(chain, wallet, model_id: int, round_: int) -> dict:
    return next(m for m in round_info(chain, model_id, round_)["member_list"] if m["member"] == wallet.address)


def masked_msg(chain, wallet, model_id: int, round_: int, update: bytes) -> MsgSubmitMasked:
    """`update` (canonical delta bytes) masked for the wallet's cohort, from what /rounds/round reports."""
    info = round_info(chain, model_id, round_)
    me = my_member(chain, wallet, model_id, round_)
    cohort = next(c for c in info["cohort_list"] if c["cohort"] == me["cohort"])
    pubkeys = {m["seq"]: bytes.fromhex(m["round_pubkey"]) for m in info["member_list"] if m["seq"] in cohort["members"]}
    ctx = masks.context(CHAIN_ID, model_id, round_, me["cohort"])
    y = masked_update(chain.members[wallet.address], me["seq"], pubkeys, ctx, decode_delta(update))
    return MsgSubmitMasked(model_id=model_id, round=round_, masked=encode_masked(y))


def ok(result) -> None:
    assert code(result) == ("", 0), result.log


def run_ok(chain, wallet, msg) -> None:
    ok(chain.run(wallet, msg)[0])


def run_all_ok(chain, pairs) -> None:
    """(wallet, msg) pairs, each its own tx, all in one block."""
    results = chain.block([chain.sign(w, m) for w, m in pairs]).tx_results
    for r in results:
        ok(r)


def release_until(chain, done, blocks: int = 12) -> None:
    """Blocks carrying every validator's vote extension, until done() holds."""
    for _ in range(blocks):
        if done():
            return
        next_block(chain, votes(chain, chain.height + 1))
    assert done(), "the releases did not finish"


def play_aggregate_round(chain, model_id: int, round_: int, updates: dict, dropouts=(), parent=None) -> dict:
    """Every wallet of `updates` (wallet -> delta bytes) joins; after the join close all but `dropouts`
    submit their masked update; the validators release after the window. Returns the round view."""
    info = round_info(chain, model_id, round_)
    chain.until(max(chain.height, info["window_start"] - 1))
    run_all_ok(chain, [(w, join_msg(chain, w, model_id, round_, parent=parent)) for w in updates])
    chain.until(info["join_end"] - 1)
    run_all_ok(chain, [(w, masked_msg(chain, w, model_id, round_, u)) for w, u in updates.items() if w not in dropouts])
    chain.until(info["window_end"] - 1)
    release_until(chain, lambda: all(c["status"] not in ("masking", "unmasking")
                                     for c in round_info(chain, model_id, round_)["cohort_list"]))
    return round_info(chain, model_id, round_)


def arrays(update: bytes) -> list[np.ndarray]:
    return list(decode_delta(update))
