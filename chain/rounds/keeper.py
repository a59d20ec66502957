"""The only way into rounds keys. Deposits move by bank transfers to and from the module account
`rounds_escrow` (never mint or burn). Records are canonical JSON; amounts are decimal strings."""
from __future__ import annotations

from chain.rounds.records import Member, Round, Submission
from chain.auth.ante import FEE_COLLECTOR
from chain.bank import capabilities as bank_capabilities
from chain.rounds import keys
from chain.sealing.valset import TWO_THIRDS, SharePlan, share_plan
from chain.store.kv import prefix_end
from chain.tx.address import module_address
from chain.validators import keeper as validators
from chain.validators import params as vparams

ESCROW = module_address("rounds_escrow")  # holds every held submission's deposit and scoring prepayment,
                                          # and every round's unspent owner scoring reserve (held_deposits)
BANK = bank_capabilities.escrow("rounds_escrow")  # the rounds module's own bank writes
SEALED, OPENED, INVALID, VOID, SETTLED = "sealed", "opened", "invalid", "void", "settled"
HELD_STATUSES = (SEALED, OPENED)          # statuses whose deposit is still in the escrow
JOINED, SUBMITTED, DROPPED = "joined", "submitted", "dropped"   # aggregate mode: a member's held statuses
MEMBER_HELD = (JOINED, SUBMITTED, DROPPED)


def _iterate(state, prefix: bytes):
    return state.iterate(prefix, prefix_end(prefix))


# --- the sealing set -----------------------------------------------------------------------------------
def current_sealing_set(state) -> list[dict]:
    """The validators with voting power, in operator-address order; index = position in that order."""
    params = vparams.load(state)
    members = [v for v in validators.all_validators(state) if v.power(params) > 0]  # key order = operator order
    return [{"index": i, "operator": v.operator, "encryption_pubkey": v.encryption_pubkey, "power": v.power(params)}
            for i, v in enumerate(members)]


def plan_of(record: dict) -> SharePlan:
    """The share plan of a round record's sealing set (raises InvalidSealingSet for an unusable set)."""
    return share_plan([(m["index"], bytes.fromhex(m["encryption_pubkey"]), m["power"]) for m in record["sealing_set"]],
                      max_total_shares=record["max_total_shares"], threshold=TWO_THIRDS)


def new_round_record(state, model_id: int, round_: int, height: int, base_version: int, max_total_shares: int) -> dict:
    record = {"model_id": model_id, "round": round_, "created_height": height, "base_version": base_version,
              "sealing_set": current_sealing_set(state), "max_total_shares": max_total_shares,
              "threshold_num": TWO_THIRDS[0], "threshold_den": TWO_THIRDS[1], "submissions": 0}
    plan = plan_of(record)
    return {**record, "valset_hash": plan.valset_hash.hex(), "threshold": plan.threshold,
            "total_shares": plan.total_shares}


# --- rounds ----------------------------------------------------------------------------------------------
def get_round(state, model_id: int, round_: int) -> dict | None:
    raw = state.get(keys.round_key(model_id, round_))
    return Round.decode(raw) if raw is not None else None


def put_round(state, record: dict) -> None:
    state.set(keys.round_key(record["model_id"], record["round"]), Round(record).encode())


def rounds_of(state, model_id: int) -> list[dict]:
    return [Round.decode(v) for _, v in _iterate(state, keys.ROUND + keys.u64(model_id))]


def all_rounds(state) -> list[dict]:
    return [Round.decode(v) for _, v in _iterate(state, keys.ROUND)]


# --- submissions -----------------------------------------------------------------------------------------
def put_submission(state, model_id: int, round_: int, record: dict, envelope: bytes | None = None) -> None:
    seq = record["seq"]
    state.set(keys.submission_key(model_id, round_, seq), Submission(record).encode())
    if envelope is not None:
        state.set(keys.envelope_key(model_id, round_, seq), envelope)
        index_submission(state, model_id, round_, record)


def index_submission(state, model_id: int, round_: int, record: dict) -> None:
    """The per-trainer and envelope-hash indexes of a submission (kept when its payloads are pruned)."""
    seq = record["seq"]
    state.set(keys.trainer_key(bytes.fromhex(record["submitter"]), model_id, round_, seq), b"\x01")
    state.set(keys.hash_key(model_id, round_, bytes.fromhex(record["envelope_hash"])), keys.u64(seq))


def get_submission(state, model_id: int, round_: int, seq: int) -> dict | None:
    raw = state.get(keys.submission_key(model_id, round_, seq))
    return Submission.decode(raw) if raw is not None else None


def get_envelope(state, model_id: int, round_: int, seq: int) -> bytes | None:
    return state.get(keys.envelope_key(model_id, round_, seq))


def has_envelope_hash(state, model_id: int, round_: int, digest: bytes) -> bool:
    return state.get(keys.hash_key(model_id, round_, digest)) is not None


def submissions(state, model_id: int, round_: int) -> list[dict]:
    return [Submission.decode(v) for _, v in _iterate(state, keys.submissions_prefix(model_id, round_))]


def submissions_of(state, address: bytes) -> list[tuple[int, int, dict]]:
    """(model id, round, record) of every submission by `address`, by model, round and seq."""
    prefix = keys.TRAINER + address
    out = []
    for key, _ in _iterate(state, prefix):
        m, r, seq = (int.from_bytes(key[len(prefix) + 8 * i:len(prefix) + 8 * i + 8], "big") for i in range(3))
        out.append((m, r, get_submission(state, m, r, seq)))
    return out


def count_submissions_by(state, address: bytes, model_id: int, round_: int, limit: int) -> int:
    """How many submissions `address` made in this round of this model, counted up to `limit` (the
    per-trainer index rnd/t/ holds them under one prefix, so this reads at most `limit` keys)."""
    count = 0
    for _ in _iterate(state, keys.trainer_round_prefix(address, model_id, round_)):
        count += 1
        if count >= limit:
            break
    return count


def all_members(state) -> list[dict]:
    """Every aggregate-mode member record (chain/rounds/aggregate_mode.py)."""
    return [Member.decode(v) for _, v in _iterate(state, keys.MEMBER)]


def all_submissions(state) -> list[dict]:
    return [Submission.decode(v) for _, v in _iterate(state, keys.SUBMISSION)]


# --- the release deadline index -------------------------------------------------------------------------
def index_deadline(state, height: int, model_id: int, round_: int) -> None:
    state.set(keys.deadline_key(height, model_id, round_), b"\x01")


def due_deadlines(state, height: int) -> list[tuple[int, int, int]]:
    """(deadline, model id, round) of unsettled rounds whose release deadline is at or below `height`."""
    n = len(keys.DEADLINE)
    end = keys.DEADLINE + keys.u64(height + 1)
    return [(int.from_bytes(k[n:n + 8], "big"), int.from_bytes(k[n + 8:n + 16], "big"),
             int.from_bytes(k[n + 16:n + 24], "big")) for k, _ in state.iterate(keys.DEADLINE, end)]


def unsettled_rounds(state) -> list[tuple[int, int, int]]:
    """(deadline, model id, round) of every round not settled yet, by deadline."""
    return due_deadlines(state, (1 << 64) - 2)


def clear_deadline(state, height: int, model_id: int, round_: int) -> None:
    state.delete(keys.deadline_key(height, model_id, round_))


# --- released shares and opened updates ----------------------------------------------------------------
def put_share(state, model_id: int, round_: int, seq: int, index: int, share: bytes) -> None:
    state.set(keys.share_key(model_id, round_, seq, index), share)


def has_share(state, model_id: int, round_: int, seq: int, index: int) -> bool:
    return state.get(keys.share_key(model_id, round_, seq, index)) is not None


def released_shares(state, model_id: int, round_: int, seq: int) -> dict[int, bytes]:
    prefix = keys.shares_prefix(model_id, round_, seq)
    return {int.from_bytes(k[len(prefix):], "big"): v for k, v in _iterate(state, prefix)}


def put_update(state, model_id: int, round_: int, seq: int, plaintext: bytes) -> None:
    state.set(keys.update_key(model_id, round_, seq), plaintext)


def get_update(state, model_id: int, round_: int, seq: int) -> bytes | None:
    return state.get(keys.update_key(model_id, round_, seq))


def first_with_plaintext(state, model_id: int, digest: bytes) -> tuple[int, int] | None:
    """(round, seq) of the first opened update of the model whose plaintext hashes to `digest`."""
    raw = state.get(keys.plaintext_key(model_id, digest))
    return (int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big")) if raw is not None else None


def record_plaintext(state, model_id: int, digest: bytes, round_: int, seq: int) -> None:
    state.set(keys.plaintext_key(model_id, digest), keys.u64(round_) + keys.u64(seq))


# --- escrow ----------------------------------------------------------------------------------------------
def escrow_deposit(state, sender: bytes, denom: str, amount: int) -> None:
    if amount:
        BANK.collect(state, sender, [(denom, amount)])


def held_deposits(state) -> dict[str, int]:
    """Per denom, what the escrow owes: the deposits and scoring prepayments of submissions still held,
    and the unspent scoring reserves the owners prepaid for their rounds' version and aggregate jobs."""
    owed: dict[str, int] = {}

    def add(denom: str | None, amount: str | None) -> None:
        if denom is not None and int(amount or "0"):
            owed[denom] = owed.get(denom, 0) + int(amount)
    for s in all_submissions(state):
        if s["status"] in HELD_STATUSES:
            add(s["deposit_denom"], s["deposit"])
            add(s.get("scoring_fee_denom"), s.get("scoring_fee"))
    for r in all_rounds(state):
        add(r.get("scoring_reserve_denom"), r.get("scoring_reserve"))
    for m in all_members(state):   # aggregate mode's members, until their cohort settles
        if m["status"] in MEMBER_HELD:
            add(m["deposit_denom"], m["deposit"])
            add(m["scoring_fee_denom"], m["scoring_fee"])
    return dict(sorted(owed.items()))


# --- prepaid scoring (docs/rounds.md, "Scoring fees") ----------------------------------------------------
def settle_scoring_fee(state, sub: dict) -> dict:
    """A submission leaving the held statuses settles its scoring prepayment: if its candidate was scored,
    what the job cost (scoring_fee_due, fixed when the job was queued) goes to the fee collector; the rest
    (all of it when no job ran to the end: invalid, void, or dropped by a closing model) goes back to the
    submitter. Returns the record with scoring_fee_refund set (the caller stores it)."""
    prepaid = int(sub.get("scoring_fee", "0"))
    if not prepaid or "scoring_fee_refund" in sub:
        return sub
    denom = sub["scoring_fee_denom"]
    due = min(prepaid, int(sub.get("scoring_fee_due", "0"))) if "score" in sub else 0
    if due:
        BANK.pay(state, FEE_COLLECTOR, [(denom, due)])
    if prepaid - due:
        BANK.pay(state, bytes.fromhex(sub["submitter"]), [(denom, prepaid - due)])
    return {**sub, "scoring_fee_refund": str(prepaid - due)}


def draw_reserve(state, record: dict, fee: int) -> tuple[dict, int]:
    """Pay up to `fee` of an owner-side scoring job out of the round's scoring reserve into the fee
    collector. Returns the updated record (the caller stores it) and what is still unpaid."""
    reserve = int(record.get("scoring_reserve", "0"))
    take = min(reserve, fee)
    if take:
        BANK.pay(state, FEE_COLLECTOR, [(record["scoring_reserve_denom"], take)])
        record = {**record, "scoring_reserve": str(reserve - take)}
    return record, fee - take


def refund_reserve(state, record: dict, owner: bytes) -> dict:
    """The round's unspent scoring reserve back to the owner (the round closed or its model did)."""
    reserve = int(record.get("scoring_reserve", "0"))
    if reserve:
        BANK.pay(state, owner, [(record["scoring_reserve_denom"], reserve)])
        record = {**record, "scoring_reserve": "0"}
    return record


# --- payload pruning (docs/rounds.md, "Payload pruning") ------------------------------------------------
def index_prune(state, height: int, model_id: int, round_: int) -> None:
    state.set(keys.prune_key(height, model_id, round_), b"\x01")


def clear_prune(state, height: int, model_id: int, round_: int) -> None:
    state.delete(keys.prune_key(height, model_id, round_))


def delete_payloads(state, model_id: int, round_: int, seq: int) -> None:
    """Delete a submission's envelope, released shares and opened plaintext (its hashes stay on its record)."""
    state.delete(keys.envelope_key(model_id, round_, seq))
    state.delete(keys.update_key(model_id, round_, seq))
    for index in released_shares(state, model_id, round_, seq):
        state.delete(keys.share_key(model_id, round_, seq, index))
