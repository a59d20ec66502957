"""Registry parameters, set at genesis. Limits that bound what a validator must store and compute."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from chain.record import INT, U64, F, Record
from chain.tx.errors import InvalidGenesis
from chain.registry import keys


_MAY_BE_ZERO = ("fee_per_work_unit", "registration_fee")


@dataclass(frozen=True)
class RegistryParams:
    max_params: int = 1_000_000            # parameters per model (weights + biases), checked by load_spec
    max_chunk_bytes: int = 262_144         # weight bytes per MsgUploadWeights chunk (fixed per model at registration)
    max_shards: int = 4096                 # validation shards a model may commit to
    max_shard_samples: int = 4096          # samples in one revealed shard
    scoring_work_per_block: int = 1_000_000_000  # multiply-adds scored per block (~70 ms on a 2-vCPU VM, docs/registry.md)
    fee_per_work_unit: int = 1             # native units per multiply-add, paid by the reveal that queues the work
    max_open_models_per_owner: int = 16    # models (uploading or active) one owner may hold open at once
    registration_fee: int = 0              # native units each MsgRegisterModel pays to the fee collector
    min_cohort_size: int = 3               # aggregate mode: the smallest cohort_size k an owner may choose
    max_cohort_size: int = 16              # ... and the largest (a member masks against up to 2k-2 peers)

    def validate(self) -> None:
        for name, value in asdict(self).items():
            zero_ok = name in _MAY_BE_ZERO
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if zero_ok else 1):
                raise InvalidGenesis(f"registry param {name} must be a "
                                     f"{'non-negative' if zero_ok else 'positive'} integer")
        if not 2 <= self.min_cohort_size <= self.max_cohort_size <= 64:
            raise InvalidGenesis("registry params need 2 <= min_cohort_size <= max_cohort_size <= 64")
        if self.max_chunk_bytes > 16 * 1024 * 1024:
            raise InvalidGenesis("registry param max_chunk_bytes must be at most 16 MiB (a chunk travels in one tx)")



class RegistryParamsRecord(Record):
    """RegistryParams's stored bytes, field by field."""
    FIELDS = (F("max_params", U64), F("max_chunk_bytes", U64), F("max_shards", U64), F("max_shard_samples", U64),
              F("scoring_work_per_block", U64), F("fee_per_work_unit", INT), F("max_open_models_per_owner", U64),
              F("registration_fee", INT), F("min_cohort_size", U64), F("max_cohort_size", U64))

def load(state) -> RegistryParams:
    raw = state.get(keys.PARAMS)
    return RegistryParams(**RegistryParamsRecord.decode(raw)) if raw is not None else RegistryParams()


def store(state, params: RegistryParams) -> None:
    params.validate()
    state.set(keys.PARAMS, RegistryParamsRecord(asdict(params)).encode())
