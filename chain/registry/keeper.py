"""The only way into registry keys. Escrow moves are bank transfers to and from the module account
`registry_escrow` (never mint or burn). Records are canonical JSON; amounts are decimal strings."""
from __future__ import annotations

from chain.registry.records import Counters, ModelRecord, Reveal, Score, Version
from chain.bank import capabilities as bank_capabilities
from chain.registry.errors import UnknownModel
from chain.registry import keys
from chain.registry.model import CLOSED, Model
from chain.scoring.spec import ModelSpec, load_spec
from chain.store.kv import prefix_end
from chain.tx.address import module_address

ESCROW = module_address("registry_escrow")  # holds every open model's unspent bounty and bond
FEE_COLLECTOR = module_address("fee_collector")  # where registration fees go, like tx fees
BANK = bank_capabilities.escrow("registry_escrow")  # the registry's only bank writes (rounds pays bounties with it)


def _iterate(state, prefix: bytes):
    return state.iterate(prefix, prefix_end(prefix))


def _suffix_u64(key: bytes, prefix_len: int) -> int:
    return int.from_bytes(key[prefix_len:prefix_len + 8], "big")


# --- counters ------------------------------------------------------------------------------------
def counters(state) -> dict:
    raw = state.get(keys.COUNTERS)
    return Counters.decode(raw) if raw is not None else Counters(next_model_id=1)


def _bump(state, name: str) -> int:
    values = counters(state)
    value = values[name]
    state.set(keys.COUNTERS, Counters({**values, name: value + 1}).encode())
    return value


def allocate_model_id(state) -> int:
    return _bump(state, "next_model_id")


def set_counters(state, next_model_id: int) -> None:
    state.set(keys.COUNTERS, Counters(next_model_id=next_model_id).encode())


# --- models --------------------------------------------------------------------------------------
def get_model(state, model_id: int) -> Model | None:
    raw = state.get(keys.model_key(model_id))
    return Model(**ModelRecord.decode(raw)) if raw is not None else None


def require_model(state, model_id: int) -> Model:
    model = get_model(state, model_id)
    if model is None:
        raise UnknownModel(f"no model {model_id}")
    return model


def put_model(state, model: Model) -> None:
    state.set(keys.model_key(model.id), ModelRecord(model.record()).encode())


def all_models(state) -> list[Model]:
    return [Model(**ModelRecord.decode(v)) for _, v in _iterate(state, keys.MODEL)]


def get_spec(state, model_id: int) -> bytes | None:
    return state.get(keys.spec_key(model_id))


def put_spec(state, model_id: int, spec: bytes) -> None:
    state.set(keys.spec_key(model_id), spec)


def stored_spec(state, model_id: int) -> ModelSpec:
    """A registered model's spec. It passed max_params when it registered; a later, lower limit must not
    make a stored model unreadable, so the limit is not checked again."""
    return load_spec(get_spec(state, model_id), 1 << 62)


# --- weights, in chunks per version ---------------------------------------------------------------
def has_chunk(state, model_id: int, version: int, index: int) -> bool:
    return state.get(keys.chunk_key(model_id, version, index)) is not None


def put_chunk(state, model_id: int, version: int, index: int, data: bytes) -> None:
    state.set(keys.chunk_key(model_id, version, index), data)


def chunks(state, model_id: int, version: int) -> list[tuple[int, bytes]]:
    prefix = keys.chunks_prefix(model_id, version)
    return [(_suffix_u64(k, len(prefix)), v) for k, v in _iterate(state, prefix)]


def weights_bytes(state, model_id: int, version: int) -> bytes:
    return b"".join(data for _, data in chunks(state, model_id, version))


def put_weights(state, model_id: int, version: int, raw: bytes, chunk_size: int) -> None:
    """Store a whole version's weights in chunk_size slices (genesis import; later, new versions)."""
    for index, start in enumerate(range(0, len(raw), chunk_size)):
        put_chunk(state, model_id, version, index, raw[start:start + chunk_size])


def delete_chunks(state, model_id: int, version: int) -> None:
    prefix = keys.chunks_prefix(model_id, version)
    for key, _ in list(_iterate(state, prefix)):
        state.delete(key)


def reset_upload(state, model_id: int) -> None:
    """Forget a rejected upload (every stored chunk) so the owner can upload again. The escrow stays.
    Runs on the tx's state without the failed messages: if the same tx registered the model, it is not
    there, and there is nothing to forget."""
    model = get_model(state, model_id)
    if model is None:
        return
    delete_chunks(state, model_id, 0)
    put_model(state, model.with_(chunks_received=0))


# --- versions and their scores ---------------------------------------------------------------------
def put_version(state, model_id: int, record: dict) -> None:
    state.set(keys.version_key(model_id, record["version"]), Version(record).encode())


def get_version(state, model_id: int, version: int) -> dict | None:
    raw = state.get(keys.version_key(model_id, version))
    return Version.decode(raw) if raw is not None else None


def versions(state, model_id: int) -> list[dict]:
    return [Version.decode(v) for _, v in _iterate(state, keys.versions_prefix(model_id))]


def put_score(state, model_id: int, version: int, round_: int, record: dict) -> None:
    state.set(keys.score_key(model_id, version, round_), Score(record).encode())


def get_score(state, model_id: int, version: int, round_: int) -> dict | None:
    raw = state.get(keys.score_key(model_id, version, round_))
    return Score.decode(raw) if raw is not None else None


def scores(state, model_id: int, version: int) -> list[tuple[int, dict]]:
    """(round, {"correct", "total", "loss", "shard_index", "height"}) in round order."""
    prefix = keys.scores_prefix(model_id, version)
    return [(_suffix_u64(k, len(prefix)), Score.decode(v)) for k, v in _iterate(state, prefix)]


# --- revealed shards -----------------------------------------------------------------------------------
def get_shard(state, model_id: int, index: int) -> bytes | None:
    return state.get(keys.shard_key(model_id, index))


def put_shard(state, model_id: int, index: int, shard: bytes) -> None:
    state.set(keys.shard_key(model_id, index), shard)


def get_reveal(state, model_id: int, round_: int) -> dict | None:
    raw = state.get(keys.reveal_key(model_id, round_))
    return Reveal.decode(raw) if raw is not None else None


def put_reveal(state, model_id: int, round_: int, record: dict) -> None:
    state.set(keys.reveal_key(model_id, round_), Reveal(record).encode())


def reveals(state, model_id: int) -> list[tuple[int, dict]]:
    prefix = keys.reveals_prefix(model_id)
    return [(_suffix_u64(k, len(prefix)), Reveal.decode(v)) for k, v in _iterate(state, prefix)]


# --- expiry index and escrow ------------------------------------------------------------------------
def index_expiry(state, model: Model) -> None:
    state.set(keys.expiry_key(model.expiry_height, model.id), b"\x01")


def index_owner(state, model: Model) -> None:
    state.set(keys.owner_key(model.owner_bytes, model.id), b"\x01")


def open_models_of(state, owner: bytes, limit: int | None = None) -> list[int]:
    """Ids of the owner's open models, ascending; at most `limit` of them (the cap reads no more keys)."""
    prefix = keys.owner_prefix(owner)
    ids = []
    for key, _ in _iterate(state, prefix):
        ids.append(_suffix_u64(key, len(prefix)))
        if limit is not None and len(ids) >= limit:
            break
    return ids


def expired_ids(state, height: int) -> list[int]:
    """Open models whose expiry height is at or below `height`, by id."""
    end = keys.EXPIRY + keys.u64(height + 1)
    return sorted(_suffix_u64(k, len(keys.EXPIRY) + 8) for k, _ in state.iterate(keys.EXPIRY, end))


def merge_coins(coins: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Sum amounts per denom (a bounty and a bond may share the native denom), sorted by denom."""
    totals: dict[str, int] = {}
    for denom, amount in coins:
        totals[denom] = totals.get(denom, 0) + amount
    return sorted((d, a) for d, a in totals.items() if a)


def escrow_in(state, sender: bytes, coins: list[tuple[str, int]]) -> None:
    BANK.collect(state, sender, merge_coins(coins))


def pay_fee(state, payer: bytes, coins: list[tuple[str, int]]) -> None:
    """A registry fee (registration_fee): through the escrow, which keeps nothing of it, to the fee collector
    (the registry holds no fee capability of its own; chain.registry must not import chain.auth's ante)."""
    coins = merge_coins(coins)
    if coins:
        BANK.collect(state, payer, coins)
        BANK.pay(state, FEE_COLLECTOR, coins)


def owed(model: Model) -> list[tuple[str, int]]:
    """What the escrow holds for an open model: its unspent bounty and its bond."""
    return merge_coins([(model.bounty_denom, int(model.escrow)), (model.bond_denom, int(model.bond))])


def close(state, model: Model) -> list[tuple[str, int]]:
    """Return the unspent escrow and the bond to the owner; the model is closed. Returns what was refunded."""
    refund = owed(model)
    BANK.pay(state, model.owner_bytes, refund)
    state.delete(keys.expiry_key(model.expiry_height, model.id))
    state.delete(keys.owner_key(model.owner_bytes, model.id))
    if model.version_count == 0:
        delete_chunks(state, model.id, 0)  # an unfinished upload is of no use to anyone
    put_model(state, model.with_(status=CLOSED, escrow="0", bond="0", chunks_received=0))
    return refund
