"""Proving that validators withheld a trainer's key shares (docs/rounds.md, "Withholding").

Releasing shares is a duty of every sealing-set member. At the release deadline a submission still sealed
is void and refunded (chain/rounds/release.py settle_round): from chain data alone a shortfall could be the
trainer's bad sealing or validators' censorship. The trainer can settle the question with its data key K:
the ephemeral key is derived from K, so with K anyone can decrypt every member's encrypted shares and check
them against their commitments (chain/sealing/open.py verify_all_shares). If they all check out, every
member that released none of its shares by the deadline withheld them, and is penalised
(chain/validators/penalties.py). If one does not, the trainer sealed badly and the proof fails with that
error. Each submission can be proved once. Proving publishes K, and with it the update.

A proof must land within payload_retention_blocks of the void (the shortfall's height, recorded as the
submission's opened_height): the round's payloads, the envelope and the released shares the proof reads,
are pruned no earlier than that (chain/rounds/prune.py, settle.schedule_prune). Later: rounds/21.
"""
from __future__ import annotations

from chain.results import BlockContext, Event
from chain.rounds import keeper
from chain.rounds import params as rparams
from chain.rounds.errors import NothingWithheld, PayloadPruned, UnknownSubmission, WithholdingWindowClosed
from chain.rounds.messages import MsgProveWithholding
from chain.rounds.release import SHORTFALL
from chain.sealing.envelope import decode_envelope
from chain.sealing.open import verify_all_shares
from chain.validators import penalties


def process_prove_withholding(state, ctx: BlockContext, signer: bytes, msg: MsgProveWithholding) -> tuple[Event, ...]:
    sub = keeper.get_submission(state, msg.model_id, msg.round, msg.seq)
    if sub is None:
        raise UnknownSubmission(f"no submission {msg.model_id}/{msg.round}/{msg.seq}")
    if sub["status"] != keeper.VOID or sub.get("reason") != SHORTFALL or "withheld_by" in sub:
        raise NothingWithheld(f"submission {msg.model_id}/{msg.round}/{msg.seq} is {sub['status']}"
                              + (" with its withholding already proved" if "withheld_by" in sub else
                                 "; only one voided by a share shortfall at its release deadline can be proved"))
    window_end = sub["opened_height"] + rparams.load(state).payload_retention_blocks
    if ctx.height >= window_end:
        raise WithholdingWindowClosed(f"submission {msg.model_id}/{msg.round}/{msg.seq} was voided at height "
                                      f"{sub['opened_height']}; its withholding could be proved until height "
                                      f"{window_end - 1}")
    raw = keeper.get_envelope(state, msg.model_id, msg.round, msg.seq)
    if raw is None:   # cannot happen inside the window (pruning waits for it); never a crash
        raise PayloadPruned(f"submission {msg.model_id}/{msg.round}/{msg.seq}'s envelope was pruned")
    record = keeper.get_round(state, msg.model_id, msg.round)
    members = {m["index"]: m for m in record["sealing_set"]}
    envelope = decode_envelope(raw, max_payload_bytes=1 << 62)
    verify_all_shares(envelope, msg.key, {i: bytes.fromhex(m["encryption_pubkey"]) for i, m in members.items()})
    released = keeper.released_shares(state, msg.model_id, msg.round, msg.seq)
    withheld = [e.validator_index for e in envelope.shares if e.validator_index not in released]
    if not withheld:
        raise NothingWithheld("every sealing-set member released its shares")
    keeper.put_submission(state, msg.model_id, msg.round, {**sub, "key": msg.key.hex(), "withheld_by": withheld,
                                                           "withholding_proved_height": ctx.height})
    evidence = f"{msg.model_id}/{msg.round}/{msg.seq}"
    events = (Event("withholding_proved", (("model_id", str(msg.model_id)), ("round", str(msg.round)),
                                           ("seq", str(msg.seq)), ("key", msg.key.hex()),
                                           ("withheld_by", ",".join(str(i) for i in withheld)))),)
    for index in withheld:
        events += penalties.punish_withholding(state, ctx, bytes.fromhex(members[index]["operator"]), evidence)
    return events
