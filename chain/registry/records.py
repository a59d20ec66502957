"""The registry's stored records (docs/state.md lists their bytes)."""
from __future__ import annotations

from chain.record import DEC, HEX, INT, STR, U64, F, Record, list_of, null, pair, rec


class Counters(Record):
    """reg/counters"""
    FIELDS = (F("next_model_id", U64),)


class Pending(Record):
    """A new head waiting for a later round to confirm its gain (chain/rounds/settle.py)."""
    FIELDS = (F("version", U64), F("base", U64), F("round", U64), F("gain", INT),
              F("weights", list_of(pair(U64, U64))))   # [submission seq, weight]


class ModelRecord(Record):
    """reg/m/: the fields of chain.registry.model.Model, in its order."""
    FIELDS = (F("id", U64), F("owner", HEX), F("status", STR), F("spec_hash", HEX), F("weights_hash", HEX),
              F("weights_size", U64), F("chunk_size", U64), F("chunks_received", U64), F("shard_root", HEX),
              F("shard_count", U64), F("bounty_denom", STR), F("escrow", DEC), F("bond_denom", STR),
              F("bond", DEC), F("deposit_denom", STR), F("deposit", DEC), F("round_blocks", U64),
              F("reveal_blocks", U64), F("min_improvement", INT), F("target_score", INT), F("metric", STR),
              F("reward_curve", list_of(pair(U64, U64))), F("expiry_height", U64), F("registered_height", U64),
              F("activated_height", U64), F("head_version", U64), F("version_count", U64),
              F("revealed_count", U64), F("max_regression", INT), F("initial_score", null(INT)),
              F("gained", INT), F("paid", DEC), F("pending", null(rec(Pending))),
              F("privacy", STR, opt=True), F("cohort_size", U64, opt=True), F("aggregator", STR, opt=True))


class Version(Record):
    """reg/v/: a model version (version 0 has no parent; later ones name the round and updates behind them)."""
    FIELDS = (F("version", U64), F("parent", null(U64)), F("weights_hash", HEX), F("weights_size", U64),
              F("height", U64), F("round", U64, opt=True), F("updates", list_of(U64), opt=True))


class Score(Record):
    """reg/sc/: a version's (or a candidate's) score on one revealed shard."""
    FIELDS = (F("correct", U64), F("total", U64), F("loss", DEC), F("shard_index", U64), F("height", U64))


class Reveal(Record):
    """reg/r/: which shard a round revealed, when, and the head version at that time."""
    FIELDS = (F("shard_index", U64), F("height", U64), F("version", U64))
