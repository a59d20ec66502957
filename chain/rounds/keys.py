"""Every key the rounds module owns. Ids, rounds and sequence numbers are 8-byte big-endian."""
from __future__ import annotations

from chain.codec import u64   # the keepers write keys.u64 too

PARAMS = b"rnd/params"   # -> RoundsParams (canonical JSON record)
ROUND = b"rnd/r/"        # + model id + round -> round record (sealing set snapshot, counts)
SUBMISSION = b"rnd/s/"   # + model id + round + seq -> submission record (submitter, parent, hashes, status)
ENVELOPE = b"rnd/e/"     # + model id + round + seq -> the sealed envelope's canonical bytes
BY_HASH = b"rnd/h/"      # + model id + round + envelope hash -> seq (one submission per envelope)
SHARE = b"rnd/x/"        # + model id + round + seq + validator index -> a released share vector (checked)
UPDATE = b"rnd/u/"       # + model id + round + seq -> the opened update's plaintext
CLOSE = b"rnd/c/"        # + model id + round -> b"\x01" while a revealed round waits to close (settle.py)
PLAINTEXT = b"rnd/p/"    # + model id + SHA-256 of an opened update's plaintext -> round + seq of the first
TRAINER = b"rnd/t/"      # + submitter address (20 bytes) + model id + round + seq -> b"\x01" (earnings query)
QUEUE = b"rnd/q/"        # + model id + enqueue height + job sequence -> scoring job record; FIFO per model
NEXT_JOB_SEQ = b"rnd/next_job_seq"  # -> the next job's sequence number, big-endian unsigned
QUEUE_CURSOR = b"rnd/queue_cursor"  # -> the model served last by the queue's round-robin, big-endian unsigned
DEADLINE = b"rnd/d/"     # + release deadline height + model id + round -> b"\x01" until the round is settled
# aggregate mode (chain/rounds/aggregate_mode.py, unmask.py)
MEMBER = b"rnd/j/"       # + model id + round + join seq -> member record (round public key, status, cohort)
MEMBER_SECRET = b"rnd/je/"  # + model id + round + join seq + kind byte -> a sealed secret's envelope bytes
MEMBER_SHARE = b"rnd/jx/"   # + model id + round + join seq + kind byte + validator index -> released share
MASKED = b"rnd/jm/"      # + model id + round + join seq -> the member's masked update (u64 LE), until unmasked
JOINED = b"rnd/ja/"      # + address + model id + round -> join seq (one join per account per round)
COHORT = b"rnd/k/"       # + model id + round + cohort -> cohort record (members, status, its sum's seq)
PHASE = b"rnd/f/"        # + height + model id + round -> b"\x01": an aggregate round's phase change is due
PRUNE = b"rnd/g/"        # + prune height + model id + round -> b"\x01" until the round's payloads are deleted


def round_key(model_id: int, round_: int) -> bytes:
    return ROUND + u64(model_id) + u64(round_)


def submissions_prefix(model_id: int, round_: int) -> bytes:
    return SUBMISSION + u64(model_id) + u64(round_)


def submission_key(model_id: int, round_: int, seq: int) -> bytes:
    return submissions_prefix(model_id, round_) + u64(seq)


def envelope_key(model_id: int, round_: int, seq: int) -> bytes:
    return ENVELOPE + u64(model_id) + u64(round_) + u64(seq)


def hash_key(model_id: int, round_: int, digest: bytes) -> bytes:
    return BY_HASH + u64(model_id) + u64(round_) + digest


def shares_prefix(model_id: int, round_: int, seq: int) -> bytes:
    return SHARE + u64(model_id) + u64(round_) + u64(seq)


def share_key(model_id: int, round_: int, seq: int, index: int) -> bytes:
    return shares_prefix(model_id, round_, seq) + u64(index)


def update_key(model_id: int, round_: int, seq: int) -> bytes:
    return UPDATE + u64(model_id) + u64(round_) + u64(seq)


def deadline_key(height: int, model_id: int, round_: int) -> bytes:
    return DEADLINE + u64(height) + u64(model_id) + u64(round_)


def close_key(model_id: int, round_: int) -> bytes:
    return CLOSE + u64(model_id) + u64(round_)


def plaintext_key(model_id: int, digest: bytes) -> bytes:
    return PLAINTEXT + u64(model_id) + digest


def trainer_round_prefix(address: bytes, model_id: int, round_: int) -> bytes:
    return TRAINER + address + u64(model_id) + u64(round_)


def trainer_key(address: bytes, model_id: int, round_: int, seq: int) -> bytes:
    return trainer_round_prefix(address, model_id, round_) + u64(seq)


def queue_prefix(model_id: int) -> bytes:
    return QUEUE + u64(model_id)


def queue_key(model_id: int, height: int, seq: int) -> bytes:
    return queue_prefix(model_id) + u64(height) + u64(seq)


def prune_key(height: int, model_id: int, round_: int) -> bytes:
    return PRUNE + u64(height) + u64(model_id) + u64(round_)


def member_key(model_id: int, round_: int, seq: int) -> bytes:
    return MEMBER + u64(model_id) + u64(round_) + u64(seq)


def members_prefix(model_id: int, round_: int) -> bytes:
    return MEMBER + u64(model_id) + u64(round_)


def member_secret_key(model_id: int, round_: int, seq: int, kind: int) -> bytes:
    return MEMBER_SECRET + u64(model_id) + u64(round_) + u64(seq) + bytes([kind])


def member_shares_prefix(model_id: int, round_: int, seq: int, kind: int) -> bytes:
    return MEMBER_SHARE + u64(model_id) + u64(round_) + u64(seq) + bytes([kind])


def masked_key(model_id: int, round_: int, seq: int) -> bytes:
    return MASKED + u64(model_id) + u64(round_) + u64(seq)


def joined_key(address: bytes, model_id: int, round_: int) -> bytes:
    return JOINED + address + u64(model_id) + u64(round_)


def cohort_key(model_id: int, round_: int, cohort: int) -> bytes:
    return COHORT + u64(model_id) + u64(round_) + u64(cohort)


def cohorts_prefix(model_id: int, round_: int) -> bytes:
    return COHORT + u64(model_id) + u64(round_)


def phase_key(height: int, model_id: int, round_: int) -> bytes:
    return PHASE + u64(height) + u64(model_id) + u64(round_)

