"""The rounds module's stored records (docs/state.md lists their bytes)."""
from __future__ import annotations

from chain.record import BOOL, DEC, HEX, INT, STR, U64, F, Record, list_of, null, rec
from chain.registry.records import Score


class SealMember(Record):
    """One validator of a round's sealing-set snapshot."""
    FIELDS = (F("index", U64), F("operator", HEX), F("encryption_pubkey", HEX), F("power", U64))


class Aggregate(Record):
    """The FedAvg candidate a round waits for: members' seqs, the head it averages, its score once in."""
    FIELDS = (F("version", U64), F("of", list_of(U64)), F("score", rec(Score), opt=True),
              F("kind", STR, opt=True))


class Round(Record):
    """rnd/r/: one round of one model, from its first submission to its close."""
    FIELDS = (F("model_id", U64), F("round", U64), F("created_height", U64), F("base_version", U64),
              F("release_deadline", U64), F("submissions", U64), F("valset_hash", HEX),
              F("sealing_set", list_of(rec(SealMember))), F("threshold", U64), F("threshold_num", U64),
              F("threshold_den", U64), F("total_shares", U64), F("max_total_shares", U64),
              F("queued_versions", list_of(U64), opt=True), F("aggregate", rec(Aggregate), opt=True),
              F("settled_height", U64, opt=True), F("closed_height", U64, opt=True), F("void", BOOL, opt=True),
              F("new_version", null(U64), opt=True), F("head_gain", INT, opt=True),
              F("winners", list_of(U64), opt=True), F("paid", DEC, opt=True),
              F("payout_pending", BOOL, opt=True), F("confirmed_round", U64, opt=True),
              F("confirmed_gain", null(INT), opt=True), F("paid_height", U64, opt=True),
              F("scoring_reserve", DEC, opt=True), F("scoring_reserve_denom", STR, opt=True),
              F("prune_height", U64, opt=True), F("pruned_height", U64, opt=True),
              F("privacy", STR, opt=True), F("joins", U64, opt=True), F("cohort_seed", HEX, opt=True),
              F("cohorts", U64, opt=True), F("robust", rec(Aggregate), opt=True))


class Submission(Record):
    """rnd/s/: one sealed update and, as the round goes on, its opening, score and outcome."""
    FIELDS = (F("seq", U64), F("height", U64), F("submitter", HEX), F("parent", U64), F("deposit", DEC),
              F("deposit_denom", STR), F("envelope_hash", HEX), F("envelope_size", U64), F("status", STR),
              F("opened_height", U64, opt=True), F("key", HEX, opt=True), F("update_hash", HEX, opt=True),
              F("update_size", U64, opt=True), F("reason", STR, opt=True), F("copy_of", list_of(U64), opt=True),
              F("score", rec(Score), opt=True), F("gain", INT, opt=True), F("parent_gain", INT, opt=True),
              F("outcome", STR, opt=True), F("deposit_returned", BOOL, opt=True), F("payout", DEC, opt=True),
              F("payout_denom", STR, opt=True), F("payout_pending", BOOL, opt=True),
              F("confirmed_round", U64, opt=True), F("confirmed_gain", null(INT), opt=True),
              F("compensation", DEC, opt=True), F("settled_height", U64, opt=True),
              F("withheld_by", list_of(U64), opt=True), F("withholding_proved_height", U64, opt=True),
              F("scoring_fee", DEC, opt=True), F("scoring_fee_denom", STR, opt=True),
              F("scoring_fee_due", DEC, opt=True), F("scoring_fee_refund", DEC, opt=True),
              F("pruned_height", U64, opt=True), F("cohort", U64, opt=True), F("members", list_of(U64), opt=True),
              F("copy_hash", HEX, opt=True))


class Member(Record):
    """rnd/j/: one account that joined an aggregate-mode round: its fresh round public key, the hashes of
    its two sealed secrets (round key, self seed), its deposit and prepayment, and how it ended."""
    FIELDS = (F("seq", U64), F("height", U64), F("member", HEX), F("parent", U64), F("round_pubkey", HEX),
              F("key_envelope_hash", HEX), F("seed_envelope_hash", HEX), F("deposit", DEC), F("deposit_denom", STR),
              F("scoring_fee", DEC), F("scoring_fee_denom", STR), F("status", STR),
              F("cohort", U64, opt=True), F("masked_hash", HEX, opt=True), F("submitted_height", U64, opt=True),
              F("release", STR, opt=True), F("outcome", STR, opt=True), F("reason", STR, opt=True),
              F("deposit_returned", BOOL, opt=True), F("payout", DEC, opt=True), F("payout_denom", STR, opt=True),
              F("scoring_fee_refund", DEC, opt=True), F("compensation", DEC, opt=True),
              F("settled_height", U64, opt=True), F("payout_pending", BOOL, opt=True))


class Cohort(Record):
    """rnd/k/: one cohort of an aggregate-mode round: its members (join seqs), who submitted, and its sum's
    submission once unmasked."""
    FIELDS = (F("cohort", U64), F("members", list_of(U64)), F("status", STR), F("submitted", list_of(U64), opt=True),
              F("submission", U64, opt=True), F("reason", STR, opt=True), F("height", U64, opt=True))


class Job(Record):
    """rnd/q/: one scoring job: a version, an opened update's candidate (update_seq) or an aggregate
    (aggregate_of) on one revealed shard, with its progress so far."""
    FIELDS = (F("model_id", U64), F("version", U64), F("round", U64), F("shard_index", U64), F("samples", U64),
              F("work_per_sample", U64), F("done", U64), F("correct", U64), F("loss", DEC),
              F("update_seq", U64, opt=True), F("aggregate_of", list_of(U64), opt=True),
              F("aggregator", STR, opt=True))
