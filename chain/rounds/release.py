"""Share release after a round's window closes (docs/rounds.md, docs/sealing.md section 14).

At height h, a round whose window's last block (round_end - 1) is committed, i.e. round_end <= h, is
*closed*. Then:

* ExtendVote (h): each validator node decrypts its shares of every sealed submission of closed rounds
  (`extension`) with its X25519 private key, which the node process passes in.
* VerifyVoteExtension (h): `verify_extension` re-checks every share against the envelope's per-validator
  commitment (`check_share`), and that the share's sealing-set member is the validator that signed.
* PrepareProposal (h + 1): the proposer merges the shares of the extended commit into one release tx
  (`release_tx`): RELEASE_PREFIX + canonical ShareRelease bytes, first in the block. Shares authenticate
  themselves, so nobody needs to trust the proposer.
* ProcessProposal: `check_proposal` re-checks them. FinalizeBlock: `apply_release` records new shares and
  opens every submission whose valid shares reach the threshold: OPENED (plaintext stored, deposit still
  held) or INVALID (key or payload misses its commitments, or the plaintext is not a valid delta against
  its parent, chain/rounds/delta.py; the deposit goes to the community pool). A valid opened update is
  queued for scoring if its round's shard is already revealed (else at the reveal).

Pure: every check reads the committed state and the request's height only.
"""
from __future__ import annotations

import hashlib

from chain.rounds.errors import (CopiedUpdate, UnknownSubmission, UpdateDecodeError, UpdateOutOfRange,
                                 UpdateShapeMismatch)
from chain.sealing.errors import (EphemeralKeyMismatch, KeyCommitmentMismatch, PayloadDecryptionFailed, ShareMismatch,
                                  UndecryptableShare)
from chain.tx.errors import ChainError, TxDecodeError
from chain.registry import keeper as registry
from chain.results import Event
from chain.rounds import aggregate_mode as agg
from chain.rounds import keeper, unmask
from chain.rounds.candidates import candidate
from chain.rounds.delta import delta_key, inflated_bound
from chain.rounds.scoring_queue import enqueue_update_job
from chain.sealing.envelope import decode_envelope, seal_context
from chain.sealing.open import (check_share, decrypt_share, open_update, reconstruct, valid_share_count,
                                verify_all_shares)
from chain.tx.wire import Field, Message, message
from chain.validators import keeper as validators
from chain.validators.keeper import COMMUNITY_POOL

RELEASE_PREFIX = b"\xffgradchain/rounds/release\x00"   # never a valid Tx: 0xff is no protobuf field tag
# Caps on what reaches consensus per height, enforced with the same constants where it is produced
# (`extension`, `release_tx`) and where it is checked (`verify_extension`, `check_proposal`). A validator
# with more pending shares releases the oldest first (rounds by release deadline, submissions by seq) and
# the rest at the next heights, so a backlog slows releases down but never makes an extension invalid.
MAX_RELEASED_PER_TX = 1024        # shares per extension and per release tx (~360 KB at c_i = 10)
MAX_RELEASE_BYTES = 512 * 1024    # bytes of an extension or a release tx body, checked before decoding;
                                  # under CometBFT's 1 MB consensus message limit
_SHARE_FRAMING = 8                # field tag + length prefix of one ReleasedShare inside ShareRelease


@message
class ReleasedShare(Message):
    model_id: int = 0
    round: int = 0
    seq: int = 0
    validator_index: int = 0
    share: bytes = b""
    kind: int = 0       # 0: a sealed update's key (seq = submission); aggregate mode: 1 a member's round key,
                        # 2 its self seed (seq = join seq; chain/rounds/unmask.py)
    SCHEMA = (Field(1, "model_id", "uint64"), Field(2, "round", "uint64"), Field(3, "seq", "uint64"),
              Field(4, "validator_index", "uint64"), Field(5, "share", "bytes"), Field(6, "kind", "uint64"))

    @property
    def slot(self) -> tuple[int, int, int, int, int]:
        return self.model_id, self.round, self.seq, self.validator_index, self.kind


@message
class ShareRelease(Message):
    shares: tuple[ReleasedShare, ...] = ()
    SCHEMA = (Field(1, "shares", "message", ReleasedShare, repeated=True),)


def _pubkey(private_key: bytes) -> str:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    return X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw).hex()


def closed_pending(state, height: int):
    """(round record, submission record) for every sealed submission of a round closed at `height`."""
    out = []
    for _, model_id, round_ in keeper.unsettled_rounds(state):  # settled rounds have nothing sealed
        record = keeper.get_round(state, model_id, round_)
        model = registry.get_model(state, model_id)
        if model is None or model.round_end(round_) > height:
            continue
        for sub in keeper.submissions(state, record["model_id"], record["round"]):
            if sub["status"] == keeper.SEALED:
                out.append((record, sub))
    return out


def extension(state, height: int, private_key: bytes) -> bytes:
    """This validator's vote extension at `height`: its shares of every pending submission of closed rounds
    not yet on chain. Entries that do not decrypt (the trainer sealed badly) are left out."""
    mine = _pubkey(private_key)
    shares, size = [], 0

    def add(released: ReleasedShare) -> bool:
        nonlocal size
        size += len(released.encode()) + _SHARE_FRAMING
        if len(shares) == MAX_RELEASED_PER_TX or size > MAX_RELEASE_BYTES:
            return False                                           # the rest goes out at later heights
        shares.append(released)
        return True

    for record, sub in closed_pending(state, height):
        indices = [m["index"] for m in record["sealing_set"] if m["encryption_pubkey"] == mine]
        if not indices:
            continue
        m, r, seq = record["model_id"], record["round"], sub["seq"]
        envelope = decode_envelope(keeper.get_envelope(state, m, r, seq), max_payload_bytes=1 << 62)
        for index in indices:
            if keeper.has_share(state, m, r, seq, index):
                continue
            try:
                share = decrypt_share(private_key, envelope, index)
            except ChainError:
                continue
            if not add(ReleasedShare(model_id=m, round=r, seq=seq, validator_index=index, share=share)):
                return ShareRelease(shares=tuple(shares)).encode()
    for record, member, kind in unmask.pending_secrets(state, height):   # aggregate mode's member secrets
        m, r, seq = record["model_id"], record["round"], member["seq"]
        for index in [e["index"] for e in record["sealing_set"] if e["encryption_pubkey"] == mine]:
            if agg.has_member_share(state, m, r, seq, kind, index):
                continue
            try:
                share = unmask.decrypt_secret_share(state, private_key, record, member, kind, index)
            except ChainError:
                continue
            if not add(ReleasedShare(model_id=m, round=r, seq=seq, validator_index=index, share=share, kind=kind)):
                return ShareRelease(shares=tuple(shares)).encode()
    return ShareRelease(shares=tuple(shares)).encode() if shares else b""


def check_release(state, height: int, release: ShareRelease, operator: bytes | None = None) -> None:
    """Every share is for a sealed submission of a closed round, for a member of its sealing set (the
    validator `operator`, if given), not on chain yet, listed once, and matches its commitment."""
    if len(release.shares) > MAX_RELEASED_PER_TX:
        raise ShareMismatch(f"at most {MAX_RELEASED_PER_TX} shares per release")
    seen = set()
    for s in release.shares:
        if s.slot in seen:
            raise ShareMismatch(f"share {s.slot} listed twice")
        seen.add(s.slot)
        if s.kind in (agg.KEY, agg.SEED):
            unmask.check_secret_share(state, height, s, operator)
            continue
        if s.kind != 0:
            raise ShareMismatch(f"unknown share kind {s.kind}")
        sub = keeper.get_submission(state, s.model_id, s.round, s.seq)
        model = registry.get_model(state, s.model_id)
        if sub is None or model is None:
            raise UnknownSubmission(f"no submission {s.slot[:3]}")
        if sub["status"] != keeper.SEALED or model.round_end(s.round) > height:
            raise ShareMismatch(f"submission {s.slot[:3]} is not awaiting shares at height {height}")
        record = keeper.get_round(state, s.model_id, s.round)
        member = next((m for m in record["sealing_set"] if m["index"] == s.validator_index), None)
        if member is None or (operator is not None and bytes.fromhex(member["operator"]) != operator):
            raise ShareMismatch(f"validator index {s.validator_index} is not the signer's in round {s.round}")
        if keeper.has_share(state, *s.slot[:4]):
            raise ShareMismatch(f"share {s.slot} is already on chain")
        envelope = decode_envelope(keeper.get_envelope(state, s.model_id, s.round, s.seq), max_payload_bytes=1 << 62)
        check_share(envelope, s.validator_index, s.share)


def decode_release(raw: bytes) -> ShareRelease:
    if len(raw) > MAX_RELEASE_BYTES:   # before decoding: a 2 MB extension must cost nothing to refuse
        raise TxDecodeError(f"share release of {len(raw)} bytes; at most {MAX_RELEASE_BYTES}")
    try:
        return ShareRelease.decode(raw)
    except ChainError:
        raise
    except Exception as e:  # noqa: BLE001 - any malformed bytes are a decode error
        raise TxDecodeError(f"malformed share release: {e}") from None


def verify_extension(state, height: int, raw: bytes, validator_address: bytes) -> bool:
    """VerifyVoteExtension: deterministic given the committed state."""
    if not raw:
        return True
    validator = validators.by_consensus_address(state, validator_address)
    if validator is None:
        return False
    try:
        check_release(state, height, decode_release(raw), validator.operator_bytes)
    except ChainError:
        return False
    return True


def release_tx(state, height: int, extensions: list[tuple[bytes, bytes]]) -> bytes | None:
    """PrepareProposal: one release tx from the (validator address, extension) pairs of the extended commit;
    each extension is re-verified and each share kept once. None when there is nothing to release."""
    merged: dict[tuple, ReleasedShare] = {}
    for address, raw in extensions:
        validator = validators.by_consensus_address(state, address) if raw else None
        if validator is None:
            continue
        try:
            shares = decode_release(raw).shares
        except ChainError:
            continue
        for s in shares:  # share by share: a share that landed on chain since the vote is dropped alone
            if s.slot in merged:
                continue
            try:
                check_release(state, height, ShareRelease(shares=(s,)), validator.operator_bytes)
            except ChainError:
                continue
            merged[s.slot] = s
    if not merged:
        return None
    shares, size = [], 0
    for slot in sorted(merged):
        size += len(merged[slot].encode()) + _SHARE_FRAMING
        if len(shares) == MAX_RELEASED_PER_TX or size > MAX_RELEASE_BYTES:
            break
        shares.append(merged[slot])
    return RELEASE_PREFIX + ShareRelease(shares=tuple(shares)).encode()


def is_release(tx: bytes) -> bool:
    return tx.startswith(RELEASE_PREFIX)


def check_proposal(state, height: int, txs: list[bytes]) -> bool:
    """ProcessProposal: at most one release tx, first, and every share in it valid."""
    for i, tx in enumerate(txs):
        if is_release(tx):
            if i != 0:
                return False
            try:
                check_release(state, height, decode_release(tx[len(RELEASE_PREFIX):]))
            except ChainError:
                return False
    return True


def apply_release(state, ctx, raw: bytes) -> tuple[Event, ...]:
    """FinalizeBlock: record the release's shares, then open what reached the threshold."""
    release = decode_release(raw[len(RELEASE_PREFIX):])
    check_release(state, ctx.height, release)
    touched, cohorts = [], []
    for s in release.shares:
        if s.kind:
            agg.put_member_share(state, s.model_id, s.round, s.seq, s.kind, s.validator_index, s.share)
            cohort = (s.model_id, s.round, agg.get_member(state, s.model_id, s.round, s.seq)["cohort"])
            if cohort not in cohorts:
                cohorts.append(cohort)
            continue
        keeper.put_share(state, *s.slot[:4], s.share)
        if s.slot[:3] not in touched:
            touched.append(s.slot[:3])
    events = [Event("release_shares", (("shares", str(len(release.shares))),))]
    for m, r, seq in touched:
        events += try_open(state, ctx, m, r, seq)
    for m, r, c in cohorts:
        events += unmask.try_unmask(state, ctx, m, r, c)
    return tuple(events)


def _pubkeys(record) -> dict[int, bytes]:
    return {m["index"]: bytes.fromhex(m["encryption_pubkey"]) for m in record["sealing_set"]}


def _invalidate(state, model_id: int, round_: int, sub, height: int, error: ChainError, **extra) -> Event:
    """A provable fault of the trainer: INVALID, and the deposit goes to the community pool."""
    deposit = int(sub["deposit"])
    if deposit:
        keeper.BANK.pay(state, COMMUNITY_POOL, [(sub["deposit_denom"], deposit)])
    sub = keeper.settle_scoring_fee(state, sub)   # no job ran for it: its scoring prepayment comes back
    reason = f"{error.codespace}/{error.code}"
    keeper.put_submission(state, model_id, round_, {**sub, "status": keeper.INVALID, "reason": reason,
                                                    "opened_height": sub.get("opened_height", height), **extra})
    attrs = (("model_id", str(model_id)), ("round", str(round_)), ("seq", str(sub["seq"])), ("reason", reason))
    if "copy_of" in extra:
        attrs += (("copy_of", "%d/%d" % tuple(extra["copy_of"])),)
    return Event("update_invalid", attrs + (("forfeited", f"{deposit}{sub['deposit_denom']}"),))


def try_open(state, ctx, model_id: int, round_: int, seq: int) -> list[Event]:
    """Open a submission whose valid released shares reach the threshold. Every way it can fail from here is
    provably the trainer's (the key, the payload, any validator's encrypted shares, the delta format, a
    copy): INVALID, deposit forfeited."""
    sub = keeper.get_submission(state, model_id, round_, seq)
    envelope = decode_envelope(keeper.get_envelope(state, model_id, round_, seq), max_payload_bytes=1 << 62)
    released = keeper.released_shares(state, model_id, round_, seq)
    if valid_share_count(envelope, released) < envelope.threshold:
        return []
    context = seal_context(ctx.chain_id, model_id, round_, bytes.fromhex(sub["submitter"]))
    try:
        key = reconstruct(envelope, released)
        plaintext = open_update(envelope, key, context)
        # every member's shares must decrypt under the ephemeral key derived from K: a trainer cannot frame a
        # validator as withholding by sealing garbage to it (docs/rounds.md, "Withholding")
        verify_all_shares(envelope, key, _pubkeys(keeper.get_round(state, model_id, round_)))
    except (KeyCommitmentMismatch, PayloadDecryptionFailed, EphemeralKeyMismatch, UndecryptableShare) as e:
        return [_invalidate(state, model_id, round_, sub, ctx.height, e)]
    keeper.put_update(state, model_id, round_, seq, plaintext)
    opened = {**sub, "status": keeper.OPENED, "opened_height": ctx.height, "key": key.hex(),
              "update_size": len(plaintext)}
    keeper.put_submission(state, model_id, round_, opened)
    events = [Event("update_opened", (("model_id", str(model_id)), ("round", str(round_)), ("seq", str(seq)),
                                      ("size", str(len(plaintext)))))]
    try:
        applied = candidate(state, model_id, round_, seq)  # the delta format (chain/rounds/delta.py)
    except (UpdateDecodeError, UpdateShapeMismatch, UpdateOutOfRange) as e:
        return events + [_invalidate(state, model_id, round_, opened, ctx.height, e)]
    digest = hashlib.sha256(plaintext).digest()
    # copies are found by the effective delta, whatever format carries it (exact, int8, deflated)
    canonical = delta_key(plaintext, inflated_bound(applied))
    first = keeper.first_with_plaintext(state, model_id, canonical)
    if first is not None and _submitter_of(state, model_id, first) != sub["submitter"]:
        # a copy of someone else's update opened earlier: the first keeps the credit
        return events + [_invalidate(state, model_id, round_, opened, ctx.height, CopiedUpdate("copy"),
                                     copy_of=list(first))]
    # the trainer's own earlier update again (deterministic retraining from an unchanged head gives the same
    # bytes) is no copy: it is scored like any other, and the first submission stays the one indexed
    if first is None:
        keeper.record_plaintext(state, model_id, canonical, round_, seq)
    opened = {**opened, "update_hash": digest.hex(), **({"copy_hash": canonical.hex()} if canonical != digest else {})}
    keeper.put_submission(state, model_id, round_, opened)
    enqueue_update_job(state, ctx.height, model_id, round_, opened)  # if the round's shard is revealed
    return events


def _submitter_of(state, model_id: int, where: tuple[int, int]) -> str | None:
    first = keeper.get_submission(state, model_id, *where)
    return first["submitter"] if first is not None else None


SHORTFALL = "not enough shares by the deadline"


def settle_round(state, ctx, model_id: int, round_: int) -> tuple[Event, ...]:
    """At the release deadline every submission still sealed is VOID and its deposit refunded. Whose fault
    the shortfall is cannot be told from the chain: the trainer may have sealed badly to many validators, or
    validators with more than 1/3 of the power may have withheld (censorship). Forfeiting would let
    censors fine their victim, so the trainer keeps its deposit; it can later prove withholding with its
    data key (chain/rounds/withhold.py), and a trainer who sealed badly gains nothing from a void (no score,
    no compensation) but its fee was spent."""
    record = keeper.get_round(state, model_id, round_)
    events = []
    for sub in keeper.submissions(state, model_id, round_):
        if sub["status"] != keeper.SEALED:
            continue
        deposit, denom = int(sub["deposit"]), sub["deposit_denom"]
        if deposit:
            keeper.BANK.pay(state, bytes.fromhex(sub["submitter"]), [(denom, deposit)])
        sub = keeper.settle_scoring_fee(state, sub)
        keeper.put_submission(state, model_id, round_, {**sub, "status": keeper.VOID, "opened_height": ctx.height,
                                                        "reason": SHORTFALL})
        events.append(Event("update_void", (("model_id", str(model_id)), ("round", str(round_)),
                                            ("seq", str(sub["seq"])), ("refunded", f"{deposit}{denom}"))))
    keeper.put_round(state, {**record, "settled_height": ctx.height})
    return tuple(events)
