"""Bad input, each with its exact code; a failed message leaves no registry state and moves no escrow."""
import hashlib

import numpy as np
import pytest

from chain.tx.errors import TxDecodeError
from chain.scoring.shards import MerkleProof, encode_shard
from chain.scoring.spec import LAYER_LINEAR, Layer
from chain.scoring.weights import encode_weights
from chain.tx.coins import Coin
from chain.registry.messages import MsgFundBounty, MsgRegisterModel, MsgUploadWeights
from chain.rounds.messages import MsgCloseModel, MsgRevealShard
from chainutil import ALICE, BOB
from registryutil import (VOUCHER, RegistryChain, activate, code, curve, register_msg, registered_id, registry_snapshot,
                          tiny_model, upload_msgs, validation)

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def setup():
    _, model = tiny_model()
    X, y, shards = validation(model)
    return model, shards


def assert_fails_cleanly(chain, wallet, msg, expected):
    while chain.query_json("/rounds/queue")["jobs"]:
        chain.block([])  # let queued scoring finish, so only the failing tx could change anything
    before = registry_snapshot(chain)
    result, _ = chain.run(wallet, msg)
    assert code(result) == expected, result.log
    assert registry_snapshot(chain) == before  # nothing stored, no escrow moved
    return result


def spec_with(model, **changes):
    return model.spec.__class__(**{**model.spec.__dict__, **changes}).encode()


# --- registration --------------------------------------------------------------------------------------
def bad_registrations(model, shards):
    linear = model.spec.layers
    return {
        "unsupported layer": (dict(spec=spec_with(model, layers=(*linear, Layer(kind=9)))), ("scoring", 3)),
        "shape mismatch": (dict(spec=spec_with(model, input_shape=(63,))), ("scoring", 4)),
        "too many params": (dict(spec=spec_with(model, layers=(Layer(kind=LAYER_LINEAR, in_features=64,
                                                                     out_features=20_000),))), ("scoring", 7)),
        "malformed spec": (dict(spec=b"\x08"), ("scoring", 1)),
        "weights size impossible": (dict(weights_size=10), ("registry", 4)),
        "too many shards": (dict(shard_count=17), ("registry", 4)),
        "expiry in the past": (dict(expiry_height=1), ("registry", 4)),
        "bond not native": (dict(bond=Coin.of("stake", 10)), ("registry", 5)),
        "deposit not native": (dict(deposit=Coin.of(VOUCHER, 10)), ("registry", 5)),
        "bounty not held": (dict(bounty=Coin.of("uusdc", 10)), ("bank", 1)),
        "bounty above balance": (dict(bounty=Coin.of(VOUCHER, 10**9)), ("bank", 1)),
    }


@pytest.mark.parametrize("case", ["unsupported layer", "shape mismatch", "too many params", "malformed spec",
                                  "weights size impossible", "too many shards", "expiry in the past",
                                  "bond not native", "deposit not native", "bounty not held", "bounty above balance"])
def test_bad_registration(setup, case):
    model, shards = setup
    overrides, expected = bad_registrations(model, shards)[case]
    chain = RegistryChain()
    assert_fails_cleanly(chain, ALICE, register_msg(model, shards, **overrides), expected)


@pytest.mark.parametrize("overrides, expected", [
    (dict(reward_curve=curve((0, 0), (5000, 8000), (7000, 6000), (10_000, 10_000))), ("registry", 3)),  # non-monotone
    (dict(reward_curve=curve((0, 0), (5000, 5000), (5000, 6000), (10_000, 10_000))), ("registry", 3)),  # progress repeats
    (dict(reward_curve=curve((0, 100), (10_000, 10_000))), ("registry", 3)),   # does not start at (0, 0)
    (dict(reward_curve=curve((0, 0), (9000, 10_000))), ("registry", 3)),       # does not reach 10000
    (dict(reward_curve=curve((0, 0), (10_000, 12_000))), ("registry", 3)),
    (dict(reward_curve=curve((0, 0))), ("registry", 3)),
    (dict(reward_curve=curve(*[(i, i) for i in range(40)], (10_000, 10_000))), ("registry", 3)),  # too many points
    (dict(bounty=Coin.of(VOUCHER, 0)), ("bank", 2)),                          # zero bounty
    (dict(bounty=None), ("bank", 2)),
    (dict(metric="f1"), ("registry", 4)),
    (dict(target_score=1_000_001), ("registry", 4)),                          # accuracy is at most 10**6 ppm
    (dict(weights_hash=b"\x01" * 31), ("registry", 4)),
    (dict(round_blocks=0), ("registry", 4)),
    (dict(shard_count=0), ("registry", 4)),
])
def test_malformed_registration_is_refused_before_any_fee(setup, overrides, expected):
    model, shards = setup
    chain = RegistryChain()
    tx = chain.sign(ALICE, register_msg(model, shards, **overrides))
    assert code(chain.app.check_tx(tx)) == expected          # stateless: never enters the mempool
    before = chain.app.query("/auth/account", ALICE.address_bytes).value
    result = chain.block([tx]).tx_results[0]
    assert code(result) == expected
    assert chain.app.query("/auth/account", ALICE.address_bytes).value == before  # no fee, no sequence


def test_registration_bytes_have_one_form(setup):
    model, shards = setup
    raw = register_msg(model, shards).encode()
    assert MsgRegisterModel.decode(raw).encode() == raw
    with pytest.raises(TxDecodeError):  # a point encoding an explicit default is not canonical
        MsgRegisterModel.decode(raw + bytes([0x72, 0x02, 0x08, 0x00]))


# --- uploads -------------------------------------------------------------------------------------------
@pytest.fixture
def uploading(setup):
    model, shards = setup
    chain = RegistryChain()
    _, block = chain.run(ALICE, register_msg(model, shards))
    return chain, registered_id(block)


def test_bad_chunks(setup, uploading):
    model, _ = setup
    chain, model_id = uploading
    msgs = upload_msgs(model_id, model.weights_bytes)
    last = len(msgs) - 1
    assert_fails_cleanly(chain, ALICE, MsgUploadWeights(model_id=model_id, index=last + 1, data=b"x"), ("registry", 9))
    assert_fails_cleanly(chain, ALICE, MsgUploadWeights(model_id=model_id, index=0, data=b"x" * 1025), ("registry", 11))
    assert_fails_cleanly(chain, ALICE, MsgUploadWeights(model_id=model_id, index=0, data=b"x" * 1000), ("registry", 12))
    assert_fails_cleanly(chain, ALICE, MsgUploadWeights(model_id=model_id, index=last, data=b"x" * 1024),
                         ("registry", 12))
    assert_fails_cleanly(chain, BOB, msgs[0], ("registry", 2))
    assert_fails_cleanly(chain, ALICE, MsgUploadWeights(model_id=7, index=0, data=b"x"), ("registry", 1))
    assert code(chain.run(ALICE, msgs[0])[0]) == ("", 0)
    assert_fails_cleanly(chain, ALICE, msgs[0], ("registry", 10))


def test_model_id_zero_is_refused_statelessly(uploading):
    chain, _ = uploading
    for msg in (MsgUploadWeights(model_id=0, index=0, data=b"x"), MsgCloseModel(model_id=0),
                MsgFundBounty(model_id=0, amount=Coin.of(VOUCHER, 1))):
        assert code(chain.app.check_tx(chain.sign(ALICE, msg))) == ("registry", 1)


def _register_for(chain, model, shards, raw: bytes) -> int:
    result, block = chain.run(ALICE, register_msg(model, shards, weights_hash=hashlib.sha256(raw).digest(),
                                                  weights_size=len(raw)))
    assert code(result) == ("", 0), result.log
    return registered_id(block)


@pytest.mark.parametrize("corrupt, expected", [
    ("out of range", ("scoring", 9)),     # a weight beyond the spec's 24-bit range
    ("wrong shape", ("scoring", 4)),      # tensors of another architecture
    ("wrong hash", ("registry", 13)),     # other bytes than committed
])
def test_bad_weights_fail_with_a_code_and_reset_the_upload(setup, corrupt, expected):
    model, shards = setup
    chain = RegistryChain()
    weights = [w.copy() for w in model.weights]
    if corrupt == "out of range":
        weights[0][0, 0] = 1 << 23
    elif corrupt == "wrong shape":
        weights[0] = np.concatenate([weights[0], weights[0][:, :1]], axis=1)  # (16, 65) for a 64-input layer
    raw = encode_weights(weights)
    model_id = _register_for(chain, model, shards, model.weights_bytes if corrupt == "wrong hash" else raw)
    if corrupt == "wrong hash":
        raw = bytearray(model.weights_bytes)
        raw[-1] ^= 1
        raw = bytes(raw)
    msgs = upload_msgs(model_id, raw)
    for msg in msgs[:-1]:
        assert code(chain.run(ALICE, msg)[0]) == ("", 0)
    escrow = registry_snapshot(chain)["escrow"]
    final = chain.sign(ALICE, msgs[-1])
    assert chain.app.check_tx(final).code == 0  # admitted: in a block it fails and resets the upload
    result = chain.block([final]).tx_results[0]
    assert code(result) == expected and "upload the weights again" in result.log
    record = chain.model(model_id)
    assert record["status"] == "uploading" and record["chunks_received"] == 0
    assert list(chain.app.store.iterate(b"reg/w/", b"reg/w0")) == []
    assert registry_snapshot(chain)["escrow"] == escrow  # the escrow stays
    if corrupt == "wrong hash":  # the owner uploads again, correctly this time
        for msg in upload_msgs(model_id, model.weights_bytes):
            assert code(chain.run(ALICE, msg)[0]) == ("", 0)
        assert chain.model(model_id)["status"] == "active"


def test_upload_to_an_active_model(setup):
    model, shards = setup
    chain = RegistryChain()
    model_id = activate(chain, model, shards)
    assert_fails_cleanly(chain, ALICE, upload_msgs(model_id, model.weights_bytes)[0], ("registry", 6))


# --- reveals ---------------------------------------------------------------------------------------------
@pytest.fixture
def active(setup):
    model, shards = setup
    chain = RegistryChain()
    model_id = activate(chain, model, shards, reveal_blocks=20)  # round_blocks 5
    record = chain.model(model_id)
    chain.until(record["first_round_start"] + 5 - 1)  # the next block is round 0's end: reveals open
    return chain, model_id


def reveal(model_id, shards, index, round_=0, **overrides):
    fields = dict(model_id=model_id, round=round_, shard=shards.shards[index], shard_index=index,
                  proof=shards.proof(index).encode())
    fields.update(overrides)
    return MsgRevealShard(**fields)


def test_bad_shards_and_proofs(setup, active):
    model, shards = setup
    chain, model_id = active
    wrong_dims = encode_shard(np.zeros((3, 8), dtype=np.int64), np.zeros(3, dtype=np.int64))
    big = encode_shard(np.zeros((151, 64), dtype=np.int64), np.zeros(151, dtype=np.int64))
    bad_label = encode_shard(np.zeros((3, 64), dtype=np.int64), np.full(3, 10, dtype=np.int64))
    cases = [
        (reveal(model_id, shards, 0, shard=b"\x01\x02"), ("scoring", 10)),                 # malformed shard
        (reveal(model_id, shards, 0, shard=wrong_dims), ("scoring", 11)),                  # does not fit the model
        (reveal(model_id, shards, 0, shard=bad_label), ("scoring", 11)),
        (reveal(model_id, shards, 0, shard=big), ("scoring", 12)),                         # over max_shard_samples
        (reveal(model_id, shards, 0, shard=shards.shards[1]), ("scoring", 13)),            # not the leaf at index 0
        (reveal(model_id, shards, 0, proof=shards.proof(1).encode()), ("scoring", 13)),    # proof for another index
        (reveal(model_id, shards, 0, proof=b"\xff"), ("scoring", 13)),                     # malformed proof
        (reveal(model_id, shards, 0, proof=MerkleProof(index=0, count=4, siblings=shards.proof(0).siblings).encode()),
         ("scoring", 13)),                                                                 # wrong count
        (reveal(model_id, shards, 0, shard_index=5, proof=shards.proof(0).encode()), ("scoring", 13)),
        (reveal(9, shards, 0), ("registry", 1)),
    ]
    for msg, expected in cases:
        assert_fails_cleanly(chain, ALICE, msg, expected)
    assert_fails_cleanly(chain, BOB, reveal(model_id, shards, 0), ("registry", 2))


def test_reveal_timing_and_once_only(setup, active):
    model, shards = setup
    chain, model_id = active
    assert_fails_cleanly(chain, ALICE, reveal(model_id, shards, 0, round_=1), ("registry", 14))   # round 1 still open
    assert_fails_cleanly(chain, ALICE, reveal(model_id, shards, 0, round_=10**12), ("registry", 14))
    assert code(chain.run(ALICE, reveal(model_id, shards, 0))[0]) == ("", 0)
    assert_fails_cleanly(chain, ALICE, reveal(model_id, shards, 1), ("registry", 17))              # round 0 again
    chain.until(chain.model(model_id)["first_round_start"] + 10)                                   # round 1 ended
    assert_fails_cleanly(chain, ALICE, reveal(model_id, shards, 0, round_=1), ("registry", 16))    # shard 0 again
    chain.until(chain.model(model_id)["first_round_start"] + 10 + 20 - 1)
    assert_fails_cleanly(chain, ALICE, reveal(model_id, shards, 1, round_=1), ("registry", 15))    # window passed


def test_reveal_needs_an_active_model_and_the_scoring_fee(setup):
    model, shards = setup
    chain = RegistryChain(fee_per_work_unit=10**6)  # 118,400 work x 10**6 is more than Alice has
    _, block = chain.run(ALICE, register_msg(model, shards))
    uploading = registered_id(block)
    assert_fails_cleanly(chain, ALICE, reveal(uploading, shards, 0), ("registry", 7))
    model_id = activate(chain, model, shards)
    chain.until(chain.model(model_id)["first_round_start"] + 5)
    assert_fails_cleanly(chain, ALICE, reveal(model_id, shards, 0), ("bank", 1))


# --- funding and closing ----------------------------------------------------------------------------------
def test_bad_funding_and_closing(setup, active):
    chain, model_id = active
    assert_fails_cleanly(chain, BOB, MsgFundBounty(model_id=model_id, amount=Coin.of("ugrad", 5)), ("registry", 5))
    assert_fails_cleanly(chain, BOB, MsgFundBounty(model_id=3, amount=Coin.of(VOUCHER, 5)), ("registry", 1))
    assert_fails_cleanly(chain, BOB, MsgFundBounty(model_id=model_id, amount=Coin.of(VOUCHER, 5)), ("bank", 1))
    assert_fails_cleanly(chain, BOB, MsgCloseModel(model_id=model_id), ("registry", 2))
    assert_fails_cleanly(chain, ALICE, MsgCloseModel(model_id=2), ("registry", 1))
    chain.until(199)
    assert code(chain.run(ALICE, MsgCloseModel(model_id=model_id))[0]) == ("", 0)
    assert_fails_cleanly(chain, ALICE, MsgFundBounty(model_id=model_id, amount=Coin.of(VOUCHER, 5)), ("registry", 8))
    assert_fails_cleanly(chain, ALICE, MsgCloseModel(model_id=model_id), ("registry", 8))


def test_rejected_upload_in_the_registering_tx_leaves_nothing(setup):
    model, shards = setup
    chain = RegistryChain(max_chunk_bytes=1 << 16)  # the whole weights in one chunk
    wrong = bytearray(model.weights_bytes)
    wrong[0] ^= 1
    before = registry_snapshot(chain)
    block = chain.block([chain.sign(ALICE, register_msg(model, shards),
                                    MsgUploadWeights(model_id=1, index=0, data=bytes(wrong)))])
    assert code(block.tx_results[0]) == ("registry", 13)
    assert registry_snapshot(chain) == before  # the registration failed with its tx: no model, no escrow
