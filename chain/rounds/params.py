"""Rounds parameters, set at genesis (section `rounds`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from chain.record import U64, F, Record
from chain.tx.errors import InvalidGenesis
from chain.rounds import keys
from chain.sealing.valset import DEFAULT_MAX_TOTAL_SHARES, MAX_TOTAL_SHARES_LIMIT


@dataclass(frozen=True)
class RoundsParams:
    max_submissions_per_round: int = 64     # sealed updates one round of one model accepts
    max_payload_bytes: int = 700_000        # update ciphertext bound (a submission travels in one tx)
    max_total_shares: int = DEFAULT_MAX_TOTAL_SHARES  # share plan size (docs/sealing.md section 4)
    payload_retention_blocks: int = 100     # blocks a settled round keeps its envelopes/plaintexts (and the
                                            # withholding-proof window after a shortfall void)
    max_prunes_per_block: int = 64          # submissions whose payloads one block deletes (the rest carry over)
    max_submissions_per_submitter: int = 4  # sealed updates one account may hold in one round of one model

    def validate(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidGenesis(f"rounds param {name} must be a positive integer")
        if self.max_total_shares > MAX_TOTAL_SHARES_LIMIT:
            raise InvalidGenesis(f"rounds param max_total_shares must be at most {MAX_TOTAL_SHARES_LIMIT}")
        if self.max_payload_bytes > 64 << 20:
            raise InvalidGenesis("rounds param max_payload_bytes must be at most 64 MiB")



class RoundsParamsRecord(Record):
    """RoundsParams's stored bytes, field by field."""
    FIELDS = (F("max_submissions_per_round", U64), F("max_payload_bytes", U64), F("max_total_shares", U64),
              F("payload_retention_blocks", U64), F("max_prunes_per_block", U64),
              F("max_submissions_per_submitter", U64))


def load(state) -> RoundsParams:
    raw = state.get(keys.PARAMS)
    return RoundsParams(**RoundsParamsRecord.decode(raw)) if raw is not None else RoundsParams()


def store(state, params: RoundsParams) -> None:
    params.validate()
    state.set(keys.PARAMS, RoundsParamsRecord(asdict(params)).encode())
