"""A trainer's side of an aggregate-mode round (docs/privacy.md "Aggregate mode"), behind
Trainer.train_and_submit and Trainer.wait_for_result, which call these for a model registered with
privacy "aggregate":

    join      train from the round's base version, then MsgJoinRound with a fresh X25519 round key; the
              round private key and a self-mask seed are sealed to the round's proven sealing set
    cohort    after the join close, the cohort and its members' round public keys, proven against a
              header verified by signatures (client/verified.py): a node cannot swap in its own keys
    mask      y = delta + self mask + pair masks (mod 2^64), MsgSubmitMasked; the delta never leaves
              this process, and the secrets stay in memory only
    result    the member record: outcome of its cohort's sum, payout share, deposit back

With DP, each member adds only its 1/k share of the noise variance (client.dp.privatize noise_share=k): the
cohort's sum carries the configured sigma (distributed DP; docs/privacy.md).
"""
from __future__ import annotations

import warnings

from chain.registry.model import join_end as join_end_of
from chain.registry.model import window_start
from chain.rounds.delta import decode_delta
from chain.rounds.messages import MsgJoinRound, MsgSubmitMasked
from chain.scoring.spec import LOSS_NAMES
from chain.secagg import masks
from client import secagg
from client.errors import GradchainError
from client.updates import Submitted, delta_from_torch, follow

class PrivacyWarning(UserWarning):
    """Submitting in a way that protects less than a trainer may assume."""


def _pick_round(trainer, record: dict, min_blocks_left: int) -> int:
    """The round whose join phase has room for the next `min_blocks_left` blocks (waiting for the next
    round's window otherwise)."""
    a, rb = record["activated_height"], record["round_blocks"]
    round_ = record["current_round"]
    if join_end_of(a, rb, round_) - (trainer.client.rpc.latest_height() + 1) < min_blocks_left:
        round_ += 1
        trainer.client.rpc.wait_for_height(window_start(a, rb, round_) - 1, timeout=60.0 + 2.0 * rb)
    return round_


def _joined_seq(receipt) -> int:
    for event in receipt.events:
        if event.get("type") == "join_round":
            return int({x["key"]: x["value"] for x in event.get("attributes", [])}["seq"])
    raise GradchainError("the join tx committed without a join_round event")


def join_and_submit(trainer, record, X, y, train, dp, accountant, round_, min_blocks_left, progress):
    from client.model import from_chain
    from client.training import head_model
    client, model_id = trainer.client, record["id"]
    if round_ is None:
        round_ = _pick_round(trainer, record, min_blocks_left)
    info = trainer.round(model_id, round_)
    parent = info["base_version"]                 # every member of a round trains the same version
    base = head_model(client, model_id, version=parent)
    if train is None:
        from client.training import train as default_loop
        loss = LOSS_NAMES[base.spec.loss]
        train = lambda net, X_, y_: default_loop(net, (X_, y_), loss=loss, progress=progress)  # noqa: E731
    update = delta_from_torch(base, train(from_chain(base).float(), X, y))
    if dp is None:
        warnings.warn("aggregate mode without DP hides whose update is whose, not the samples: a cohort's mean of "
                      "small-batch updates can be inverted (docs/privacy.md); pass dp=DPConfig(...)", PrivacyWarning,
                      stacklevel=3)
    else:                # this member's share of the noise: the cohort's sum carries sigma
        from client.dp import encode_delta, privatize
        arrays, trainer.last_dp_report = privatize(update, base, dp, accountant, noise_share=record["cohort_size"])
        update = encode_delta(arrays)

    return mask_and_submit(trainer, join(trainer, record, round_, parent, info), update)


class Joined:
    """A member between its join and its masked update: the secrets live here, in memory only."""

    def __init__(self, sub, member, join_end: int, round_blocks: int):
        self.sub, self.member, self.join_end, self.round_blocks = sub, member, join_end, round_blocks


def join(trainer, record, round_: int, parent: int, info: dict) -> Joined:
    """MsgJoinRound with a fresh round key; the round key and a self seed sealed to the proven set."""
    client, model_id = trainer.client, record["id"]
    if client.rpc.latest_height() + 1 >= info["join_end"]:
        raise GradchainError(f"round {round_} of model {model_id} stopped taking joins at height {info['join_end']}: "
                             f"training took too long; try the next round")
    member = secagg.new_member()
    proven = client.verified.sealing_set(model_id, round_)
    key_env, seed_env = secagg.join_envelopes(
        member, proven.members, secagg.secret_contexts(client.chain_id, model_id, round_, trainer.wallet.address_bytes),
        max_total_shares=proven.max_total_shares)
    receipt = client.submit(trainer.wallet, [MsgJoinRound(
        model_id=model_id, round=round_, parent_version=parent, round_pubkey=member.round_public,
        key_envelope=key_env.encode(), seed_envelope=seed_env.encode())])
    sub = Submitted(model_id, round_, _joined_seq(receipt), parent, receipt, member=True)
    return Joined(sub, member, info["join_end"], record["round_blocks"])


def mask_and_submit(trainer, joined: Joined, update: bytes):
    """After the join close: mask `update` against the proven round keys of this member's cohort and submit
    it. Returns the Submitted (a member) that wait_for_result follows."""
    client, sub, member = trainer.client, joined.sub, joined.member
    model_id, round_, seq = sub.model_id, sub.round, sub.seq
    client.rpc.wait_for_height(joined.join_end, timeout=60.0 + 2.0 * joined.round_blocks)   # cohorts formed
    me = client.verified.member(model_id, round_, seq)
    if me is None or "cohort" not in me:
        return sub          # fewer than k joined: the join is void and refunded (wait_for_result says so)
    pubkeys = client.verified.cohort_pubkeys(model_id, round_, me["cohort"])
    if pubkeys.get(seq) != member.round_public:
        raise GradchainError(f"the chain's cohort lists another round key for member {seq}: not masking")
    ctx = masks.context(client.chain_id, model_id, round_, me["cohort"])
    y = secagg.masked_update(member, seq, pubkeys, ctx, decode_delta(update))
    client.submit(trainer.wallet, [MsgSubmitMasked(model_id=model_id, round=round_, masked=secagg.encode_masked(y))])
    return sub


def member_result(trainer, sub) -> dict:
    """The member record, with its cohort's sum (score, gain, outcome) once there is one."""
    info = trainer.round(sub.model_id, sub.round)
    me = next(m for m in info["member_list"] if m["seq"] == sub.seq)
    cohort = next((c for c in info["cohort_list"] if c["cohort"] == me.get("cohort")), None)
    if cohort is not None and "submission" in cohort:
        summed = next(s for s in info["submission_list"] if s["seq"] == cohort["submission"])
        me = {**me, "cohort_submission": cohort["submission"],
              **{k: summed[k] for k in ("score", "gain", "parent_gain") if k in summed}}
    return me


def wait_for_member(trainer, sub, timeout: float, poll: float, progress: bool, paid: bool) -> dict:
    return follow(lambda: member_result(trainer, sub),
                  lambda r: 2 if "score" in r else 1 if r["status"] != "joined" else 0,
                  desc=f"model {sub.model_id} round {sub.round} member {sub.seq}",
                  what=f"member {sub.seq} of round {sub.round} of model {sub.model_id}", timeout=timeout, poll=poll,
                  progress=progress, paid=paid)
