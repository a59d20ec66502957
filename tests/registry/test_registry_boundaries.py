"""Registry handlers (chain/registry/handlers.py) at their exact boundaries and on every error path.

An error path is checked by its stable (codespace, code), by the prose its log carries, and by the whole
state: the app hash after the failing tx must be the app hash of the state before it with only the tx's
fee and sequence applied (nothing else written, nothing moved). Boundaries are tried on both sides: the
last accepted value and the first refused one. `pytest -k boundary` / `-k error_path` select them."""
import pytest

from chain.auth.ante import FEE_COLLECTOR
from chain.auth.keys import sequence_key
from chain.bank import keeper as bank
from chain.bank.errors import InsufficientFunds
from chain.bank.keys import balance_key
from chain.bank.messages import MsgSend
from chain.codec import encode_uint
from chain.registry import keeper, keys
from chain.registry.errors import (ChunkOutOfRange, ChunkTooLarge, DuplicateChunk, InvalidModelTerms, ModelClosed,
                                   ModelNotUploading, NotModelOwner, TooManyOpenModels, WeightsHashMismatch,
                                   WrongChunkSize, WrongEscrowDenom)
from chain.registry.messages import MsgFundBounty, MsgUploadWeights
from chain.rounds.messages import MsgCloseModel
from chain.store.kv import prefix_end
from chain.tx.coins import Coin
from chain.tx.envelope import decode_tx
from chainutil import ALICE, BOB, CAROL
from client.txbuilder import coins
from client.wallet import Wallet
from registryutil import (REGISTRY, VOUCHER, RegistryChain, activate, code, err, register_msg, registered_id,
                          tiny_model_and_shards, upload_msgs)

pytest.importorskip("torch")
DAVE = Wallet.from_seed(b"\x09" * 32)   # starts with nothing: funded exactly by the tests that use him
PARAMS = 64 * 16 + 16 + 16 * 10 + 10    # the tiny 64-16-10 MLP: weights and biases
TENSORS = 4                             # two linear layers, a weight and a bias each
NATIVE = "ugrad"


@pytest.fixture(scope="module")
def setup():
    return tiny_model_and_shards()


# --- helpers -----------------------------------------------------------------------------------------
def full_state(chain) -> dict:
    return dict(chain.app.store.iterate(b"", None))


def fee_only_changes(chain, tx: bytes) -> dict:
    """The state changes a tx makes when its message fails: its fee and its sequence, nothing else."""
    decoded = decode_tx(tx)
    fee = decoded.body.fee.validate()
    signer = decoded.signer
    state = chain.app.store
    left = bank.balance(state, signer, NATIVE) - fee
    return {sequence_key(signer): (decoded.body.sequence + 1).to_bytes(8, "big"),
            balance_key(signer, NATIVE): encode_uint(left) if left else None,       # zero balances are not stored
            balance_key(FEE_COLLECTOR, NATIVE): encode_uint(bank.balance(state, FEE_COLLECTOR, NATIVE) + fee)}


def assert_error_path(chain, wallet, msg, exc, *log_parts):
    """`msg` fails with `exc`'s code and a log naming `log_parts`; the state afterwards is the state before
    with only the fee and the sequence applied (compared key by key and by app hash)."""
    while chain.query_json("/rounds/queue")["jobs"]:
        chain.block([])
    tx = chain.sign(wallet, msg)
    before = full_state(chain)
    changes = fee_only_changes(chain, tx)
    expected_hash = chain.app.store.prepare(changes).app_hash   # computes the root, writes nothing
    result = chain.block([tx]).tx_results[0]
    assert code(result) == err(exc), result.log
    for part in log_parts:
        assert part in result.log, (part, result.log)
    assert chain.app.info()[1] == expected_hash
    expected = {**before, **{k: v for k, v in changes.items() if v is not None}}
    for k in [k for k, v in changes.items() if v is None]:
        expected.pop(k, None)
    assert full_state(chain) == expected
    return result


def event(result, type_: str) -> tuple:
    found = [e.attributes for e in result.events if e.type == type_]
    assert len(found) == 1, [e.type for e in result.events]
    return tuple(found[0])


def register(chain, model, shards, owner=ALICE, **overrides) -> int:
    result, block = chain.run(owner, register_msg(model, shards, **overrides))
    assert code(result) == ("", 0), result.log
    return registered_id(block)


def model_keys(chain, model_id: int) -> dict:
    """Every registry key of `model_id`, by prefix (the owner index keys by owner, then id)."""
    found = {}
    for key, _ in chain.app.store.iterate(b"reg/", prefix_end(b"reg/")):
        for prefix in (keys.MODEL, keys.SPEC, keys.CHUNK, keys.VERSION, keys.SCORE, keys.SHARD, keys.REVEAL):
            if key.startswith(prefix) and key[len(prefix):len(prefix) + 8] == keys.u64(model_id):
                found.setdefault(prefix, []).append(key)
        if key.startswith(keys.EXPIRY) and key[len(keys.EXPIRY) + 8:] == keys.u64(model_id):
            found.setdefault(keys.EXPIRY, []).append(key)
        if key.startswith(keys.OWNER) and key[-8:] == keys.u64(model_id):
            found.setdefault(keys.OWNER, []).append(key)
    return found


# --- registration: the weights size bounds ---------------------------------------------------------------
@pytest.mark.parametrize("weights_size, ok", [
    (4 * PARAMS - 1, False), (4 * PARAMS, True),                          # every element at least int32
    (8 * PARAMS + 64 * TENSORS, True), (8 * PARAMS + 64 * TENSORS + 1, False),   # int64 + framing per tensor
])
def test_registry_boundary_weights_size(setup, weights_size, ok):
    model, shards = setup
    chain = RegistryChain()
    msg = register_msg(model, shards, weights_size=weights_size)
    if ok:
        model_id = register(chain, model, shards, weights_size=weights_size)
        record = chain.model(model_id)
        assert record["weights_size"] == weights_size
        assert record["chunk_count"] == -(-weights_size // REGISTRY["max_chunk_bytes"])
    else:
        assert_error_path(chain, ALICE, msg, InvalidModelTerms,
                          f"weights_size {weights_size} cannot hold this spec's {PARAMS} parameters "
                          f"({4 * PARAMS}..{8 * PARAMS + 64 * TENSORS} bytes)")


# --- registration: shards, expiry, denoms ------------------------------------------------------------------
def test_registry_boundary_shard_count_at_max_shards(setup):
    model, shards = setup
    chain = RegistryChain()
    top = REGISTRY["max_shards"]
    assert chain.model(register(chain, model, shards, shard_count=top))["shard_count"] == top
    assert_error_path(chain, ALICE, register_msg(model, shards, shard_count=top + 1), InvalidModelTerms,
                      f"at most {top} validation shards, got {top + 1}")


def test_registry_boundary_expiry_must_follow_the_current_height(setup):
    model, shards = setup
    chain = RegistryChain()
    height = chain.height + 1                      # the height the next tx executes at
    assert_error_path(chain, ALICE, register_msg(model, shards, expiry_height=height), InvalidModelTerms,
                      f"expiry_height {height} must be after the current height {height}")
    height = chain.height + 1
    model_id = register(chain, model, shards, expiry_height=height + 1)
    assert chain.model(model_id)["expiry_height"] == height + 1


@pytest.mark.parametrize("field", ["bond", "deposit"])
def test_registry_error_path_bond_and_deposit_not_native(setup, field):
    model, shards = setup
    chain = RegistryChain()
    assert_error_path(chain, ALICE, register_msg(model, shards, **{field: Coin.of(VOUCHER, 10)}), WrongEscrowDenom,
                      "bond and deposit are paid in the native denom ugrad")


def test_registry_boundary_max_regression_is_recorded(setup):
    model, shards = setup
    chain = RegistryChain()
    model_id = register(chain, model, shards, max_regression=4321)
    assert chain.model(model_id)["max_regression"] == 4321


# --- registration: the per-owner cap ----------------------------------------------------------------------
def test_registry_boundary_max_open_models_per_owner(setup):
    model, shards = setup
    chain = RegistryChain(max_open_models_per_owner=2)
    first = register(chain, model, shards)
    second = register(chain, model, shards)
    assert keeper.open_models_of(chain.app.store, ALICE.address_bytes) == [first, second]
    assert_error_path(chain, ALICE, register_msg(model, shards), TooManyOpenModels,
                      f"{ALICE.address} already holds 2 open models (registry param max_open_models_per_owner)")
    assert register(chain, model, shards, owner=CAROL, bounty=Coin.of(VOUCHER, 10))  # the cap is per owner
    assert code(chain.run(ALICE, MsgCloseModel(model_id=first))[0]) == ("", 0)   # an uploading model closes
    third = register(chain, model, shards)                                         # back under the cap
    assert keeper.open_models_of(chain.app.store, ALICE.address_bytes) == [second, third]


# --- registration: the fee and the escrow, to the last unit -----------------------------------------------
FEE = 1000


def _dave_chain(model, shards, short: dict):
    """A chain with registration_fee FEE, and Dave funded with exactly what one registration costs
    (its tx fee, FEE, the bond and the bounty) less `short`."""
    chain = RegistryChain(registration_fee=FEE)
    msg = register_msg(model, shards)
    tx_fee = decode_tx(chain.sign(DAVE, msg, seq=0)).body.fee.validate()
    need = {NATIVE: tx_fee + FEE + msg.bond.validate(), VOUCHER: msg.bounty.validate()}
    funds = {d: a - short.get(d, 0) for d, a in need.items()}
    assert code(chain.run(ALICE, MsgSend(to_address=DAVE.address_bytes, amount=coins(funds)))[0]) == ("", 0)
    return chain, msg, tx_fee


def test_registry_boundary_registration_fee_and_escrow_exactly_covered(setup):
    model, shards = setup
    chain, msg, tx_fee = _dave_chain(model, shards, {})
    state = chain.app.store
    collected = bank.balance(state, FEE_COLLECTOR, NATIVE)
    result, block = chain.run(DAVE, msg)
    assert code(result) == ("", 0), result.log
    model_id = registered_id(block)
    assert bank.balances(state, DAVE.address_bytes) == []                            # spent to the last unit
    assert bank.balance(state, FEE_COLLECTOR, NATIVE) == collected + tx_fee + FEE    # the fee, not escrowed
    assert bank.balances(state, keeper.ESCROW) == [(VOUCHER, 100_000), (NATIVE, 50_000)]
    record = chain.model(model_id)
    assert (record["escrow"], record["bond"], record["deposit"]) == ("100000", "50000", "100")
    chunk_count = -(-len(model.weights_bytes) // REGISTRY["max_chunk_bytes"])
    assert event(result, "register_model") == (
        ("model_id", str(model_id)), ("owner", DAVE.address), ("bounty", f"100000{VOUCHER}"), ("bond", "50000ugrad"),
        ("chunks", str(chunk_count)), ("chunk_size", str(REGISTRY["max_chunk_bytes"])),
        ("registration_fee", f"{FEE}ugrad"), ("privacy", "open"), ("cohort_size", "0"))


@pytest.mark.parametrize("short", [{NATIVE: 1}, {VOUCHER: 1}])
def test_registry_error_path_one_unit_short_of_fee_and_escrow(setup, short):
    model, shards = setup
    chain, msg, _ = _dave_chain(model, shards, short)
    (denom, _), = short.items()
    assert_error_path(chain, DAVE, msg, InsufficientFunds, f"insufficient {denom}")


def test_registry_boundary_zero_registration_fee_moves_nothing(setup):
    model, shards = setup
    chain = RegistryChain()                            # registration_fee 0
    state = chain.app.store
    collected = bank.balance(state, FEE_COLLECTOR, NATIVE)
    tx = chain.sign(ALICE, register_msg(model, shards))
    result = chain.block([tx]).tx_results[0]
    assert code(result) == ("", 0)
    assert bank.balance(state, FEE_COLLECTOR, NATIVE) == collected + decode_tx(tx).body.fee.validate()
    assert dict(event(result, "register_model"))["registration_fee"] == "0ugrad"


# --- uploads ---------------------------------------------------------------------------------------------
def test_registry_boundary_upload_events_and_the_active_record(setup):
    model, shards = setup
    chain = RegistryChain()
    model_id = register(chain, model, shards)
    msgs = upload_msgs(model_id, model.weights_bytes)
    n = len(msgs)
    for i, msg in enumerate(msgs[:-1]):
        result, _ = chain.run(ALICE, msg)
        assert [e.type for e in result.events if e.type != "tx"][-1:] == ["upload_weights"]
        assert event(result, "upload_weights") == (("model_id", str(model_id)), ("index", str(i)),
                                                   ("received", str(i + 1)), ("chunks", str(n)))
        assert chain.model(model_id)["chunks_received"] == i + 1
    result, _ = chain.run(ALICE, msgs[-1])
    assert code(result) == ("", 0)
    assert event(result, "upload_weights") == (("model_id", str(model_id)), ("index", str(n - 1)),
                                               ("received", str(n)), ("chunks", str(n)))
    assert event(result, "model_active") == (("model_id", str(model_id)), ("round_0_start", str(chain.height + 1)),
                                             ("round_blocks", "5"))
    record = chain.model(model_id)
    assert record["status"] == "active" and record["chunks_received"] == n
    assert (record["head_version"], record["version_count"], record["activated_height"]) == (0, 1, chain.height)


def test_registry_error_path_uploads(setup):
    model, shards = setup
    chain = RegistryChain()
    model_id = register(chain, model, shards)
    msgs = upload_msgs(model_id, model.weights_bytes)
    last, size = len(msgs) - 1, REGISTRY["max_chunk_bytes"]
    tail = len(model.weights_bytes) - size * last
    assert_error_path(chain, BOB, msgs[0], NotModelOwner, f"model {model_id} belongs to {ALICE.address}")
    assert_error_path(chain, ALICE, MsgUploadWeights(model_id=model_id, index=last + 1, data=b"x"), ChunkOutOfRange,
                      f"chunk index {last + 1} is not below the chunk count {last + 1}")
    assert_error_path(chain, ALICE, MsgUploadWeights(model_id=model_id, index=0, data=b"x" * (size + 1)),
                      ChunkTooLarge, f"chunk is {size + 1} bytes; this model's chunks are {size} bytes")
    assert_error_path(chain, ALICE, MsgUploadWeights(model_id=model_id, index=0, data=b"x" * (size - 1)),
                      WrongChunkSize, f"chunk 0 must be {size} bytes, got {size - 1}")
    assert_error_path(chain, ALICE, MsgUploadWeights(model_id=model_id, index=last, data=b"x" * (tail + 1)),
                      WrongChunkSize, f"chunk {last} must be {tail} bytes, got {tail + 1}")
    assert code(chain.run(ALICE, msgs[0])[0]) == ("", 0)           # exactly chunk_size: accepted
    assert_error_path(chain, ALICE, msgs[0], DuplicateChunk, f"chunk 0 of model {model_id} is already stored")
    for msg in msgs[1:]:
        assert code(chain.run(ALICE, msg)[0]) == ("", 0)
    assert_error_path(chain, ALICE, msgs[0], ModelNotUploading, f"model {model_id} already has its weights")


def test_registry_error_path_weights_hash_mismatch_log(setup):
    model, shards = setup
    chain = RegistryChain()
    model_id = register(chain, model, shards)
    wrong = bytearray(model.weights_bytes)
    wrong[0] ^= 1
    msgs = upload_msgs(model_id, bytes(wrong))
    for msg in msgs[:-1]:
        assert code(chain.run(ALICE, msg)[0]) == ("", 0)
    result, _ = chain.run(ALICE, msgs[-1])
    assert code(result) == err(WeightsHashMismatch)
    assert ("the uploaded weights do not hash to the registered weights_hash; the stored chunks of model "
            f"{model_id} were deleted: upload the weights again") in result.log


# --- funding and closed models ------------------------------------------------------------------------------
def test_registry_boundary_fund_bounty_event_and_escrow(setup):
    model, shards = setup
    chain = RegistryChain()
    model_id = activate(chain, model, shards)
    result, _ = chain.run(CAROL, MsgFundBounty(model_id=model_id, amount=Coin.of(VOUCHER, 5000)))  # all she has
    assert code(result) == ("", 0)
    assert event(result, "fund_bounty") == (("model_id", str(model_id)), ("funder", CAROL.address),
                                            ("amount", f"5000{VOUCHER}"))
    assert bank.balance(chain.app.store, CAROL.address_bytes, VOUCHER) == 0
    assert chain.model(model_id)["escrow"] == "105000"
    assert_error_path(chain, CAROL, MsgFundBounty(model_id=model_id, amount=Coin.of(VOUCHER, 1)), InsufficientFunds)
    assert_error_path(chain, CAROL, MsgFundBounty(model_id=model_id, amount=Coin.of(NATIVE, 5)), WrongEscrowDenom,
                      f"model {model_id}'s bounty is in {VOUCHER}, not ugrad")


def test_registry_error_path_closed_model(setup):
    model, shards = setup
    chain = RegistryChain()
    model_id = register(chain, model, shards)
    assert code(chain.run(ALICE, MsgCloseModel(model_id=model_id))[0]) == ("", 0)
    for msg in (MsgFundBounty(model_id=model_id, amount=Coin.of(VOUCHER, 5)),
                upload_msgs(model_id, model.weights_bytes)[0], MsgCloseModel(model_id=model_id)):
        assert_error_path(chain, ALICE, msg, ModelClosed, f"model {model_id} is closed")


# --- a closed model leaves no index behind ------------------------------------------------------------------
def test_registry_boundary_close_leaves_no_stale_keys(setup):
    model, shards = setup
    chain = RegistryChain()
    active = activate(chain, model, shards, expiry_height=40)
    uploading = register(chain, model, shards)
    chain.run(ALICE, upload_msgs(uploading, model.weights_bytes)[0])
    n = len(upload_msgs(active, model.weights_bytes))
    assert {p: len(v) for p, v in model_keys(chain, uploading).items()} == {
        keys.MODEL: 1, keys.SPEC: 1, keys.CHUNK: 1, keys.EXPIRY: 1, keys.OWNER: 1}

    result, _ = chain.run(ALICE, MsgCloseModel(model_id=uploading))
    assert event(result, "close_model") == (("model_id", str(uploading)), ("owner", ALICE.address),
                                            ("refund", f"100000{VOUCHER},50000ugrad"), ("reason", "owner"))
    assert {p: len(v) for p, v in model_keys(chain, uploading).items()} == {keys.MODEL: 1, keys.SPEC: 1}

    chain.until(39)
    result, _ = chain.run(ALICE, MsgCloseModel(model_id=active))   # at its expiry height
    assert dict(event(result, "close_model"))["refund"] == f"100000{VOUCHER},50000ugrad"
    # the record, the spec, the weights and version 0 stay for audit; the expiry and owner indexes go
    assert {p: len(v) for p, v in model_keys(chain, active).items()} == {
        keys.MODEL: 1, keys.SPEC: 1, keys.CHUNK: n, keys.VERSION: 1}
    state = chain.app.store
    assert list(state.iterate(keys.EXPIRY, prefix_end(keys.EXPIRY))) == []
    assert list(state.iterate(keys.OWNER, prefix_end(keys.OWNER))) == []
    rounds_keys = [k for k, _ in state.iterate(b"rnd/", prefix_end(b"rnd/"))]
    assert rounds_keys == [], rounds_keys         # no round, job or deadline of either model is left
    assert bank.balances(state, keeper.ESCROW) == []
    assert keeper.open_models_of(state, ALICE.address_bytes) == []
    for model_id in (active, uploading):
        record = chain.model(model_id)
        assert (record["status"], record["escrow"], record["bond"], record["chunks_received"]) == \
            ("closed", "0", "0", 0)


def test_registry_boundary_refund_of_a_native_bounty_is_one_coin(setup):
    """A bounty in the native denom and the bond are one escrow coin, refunded as one."""
    model, shards = setup
    chain = RegistryChain()
    model_id = register(chain, model, shards, bounty=Coin.of(NATIVE, 7))
    assert bank.balances(chain.app.store, keeper.ESCROW) == [(NATIVE, 50_007)]
    result, _ = chain.run(ALICE, MsgCloseModel(model_id=model_id))
    assert dict(event(result, "close_model"))["refund"] == "50007ugrad"
    assert bank.balances(chain.app.store, keeper.ESCROW) == []
