"""Compressed updates (issue 16 item 4; docs/rounds.md "Compressed updates"): int8 values with a
power-of-two scale per tensor, decoded deterministically on chain to the same int64 tensors, one canonical
encoding per delta, about 4x fewer bytes; the SDK never sends a compressed update the chain would refuse."""
import numpy as np
import pytest

from test_settle import new_chain, play_round, setup  # noqa: F401 - setup is a fixture

from chain.rounds.delta import CompressedDelta, ScaledTensor, compress_delta, decode_delta
from chain.rounds.errors import UpdateDecodeError
from chain.scoring.weights import encode_weights
from chainutil import BOB
from client.updates import compressed

torch = pytest.importorskip("torch")


def test_compressed_delta_round_trip_is_within_half_a_step_and_4x_smaller():
    rng = np.random.default_rng(1)
    arrays = [rng.integers(-40_000, 40_000, (32, 64)), rng.integers(-900, 900, (32,)), np.zeros((10, 32), np.int64)]
    raw = compress_delta(arrays)
    back = decode_delta(raw)
    for a, b, t in zip(arrays, back, CompressedDelta.decode(raw).scaled):
        assert b.shape == a.shape and int(np.abs(a - b).max()) <= (1 << t.shift) >> 1
    assert len(encode_weights(arrays)) / len(raw) > 3.9


@pytest.mark.parametrize("bad, why", [
    (ScaledTensor(shape=(4,), shift=3, data=bytes([1, 2, 3, 4])), "not the smallest"),      # all |q| < 64
    (ScaledTensor(shape=(2,), shift=0, data=bytes([0x80, 0])), "-128"),
    (ScaledTensor(shape=(3,), shift=0, data=bytes([1, 2])), "needs 3"),
    (ScaledTensor(shape=(1,), shift=56, data=bytes([100])), "above 55"),
    (ScaledTensor(shape=(), shift=0, data=b""), "rank"),
])
def test_compressed_delta_error_path_non_canonical_forms_are_refused(bad, why):
    with pytest.raises(UpdateDecodeError, match=why):
        decode_delta(CompressedDelta(scaled=(bad,)).encode())


def test_compressed_update_opens_scores_and_wins_on_chain(setup):
    model, shards, X_val, y_val, updates = setup
    chain, model_id = new_chain(shards, model)
    small = compressed(model, updates["a"])
    assert len(small) * 3.5 < len(updates["a"])
    info = play_round(chain, model_id, 0, [(BOB, small)], reveal_index=0)
    [sub] = info["submission_list"]
    assert sub["status"] == "settled" and sub["update_size"] == len(small) and info["new_version"] == 1


def test_compressed_sdk_falls_back_to_exact_when_rounding_would_leave_the_range(setup):
    """A delta that takes a weight from 0 exactly to the spec's upper bound 2**23 - 1: its int8 rounding
    lands on 2**23, which the chain would refuse (rounds/9, deposit forfeited), so the SDK sends the exact
    bytes instead; an ordinary delta is sent compressed."""
    from chain.rounds.delta import apply_delta
    from chain.rounds.errors import UpdateOutOfRange
    from chain.scoring.fixedpoint import signed_range
    from client.model import ChainModel
    model, _, _, _, updates = setup
    lo, hi = signed_range(model.spec.weight_format.bits)
    weights = [w.copy() for w in model.weights]
    weights[0].flat[0] = 0
    parent = ChainModel(model.spec, tuple(weights))
    arrays = [np.zeros_like(w) for w in weights]
    arrays[0].flat[0] = hi
    exact = encode_weights(arrays)
    with pytest.raises(UpdateOutOfRange):
        apply_delta(parent.spec, parent.weights, compress_delta(arrays))
    assert compressed(parent, exact) == exact
    assert compressed(model, updates["a"]) != updates["a"]


# --- deflated (zlib) compressed deltas ----------------------------------------------------------------
def test_compressed_deflated_delta_decodes_to_the_same_tensors_and_is_smaller(setup):
    from chain.rounds.delta import DeflatedDelta, deflate_delta, delta_key
    model, *_, updates = setup
    plain = compress_delta(decode_delta(updates["a"]))
    small = compressed(model, updates["a"])
    assert DeflatedDelta.decode(small).deflated and len(small) < len(plain)
    assert all(np.array_equal(a, b) for a, b in zip(decode_delta(small), decode_delta(plain)))
    assert delta_key(small, 1 << 20) == delta_key(plain, 1 << 20) == delta_key(deflate_delta(plain), 1 << 20)
    assert compressed(model, updates["a"], deflate=False) == plain


@pytest.mark.parametrize("make, why", [
    (lambda plain: __import__("zlib").compress(bytes(10_000_000), 9), "inflates beyond"),     # a deflate bomb
    (lambda plain: __import__("zlib").compress(plain + bytes(8000)), "inflates beyond"),      # just past the bound
    (lambda plain: __import__("zlib").compress(plain)[:-3], "truncated"),
    (lambda plain: __import__("zlib").compress(plain) + b"\x00", "followed by other bytes"),
    (lambda plain: b"not zlib", "deflated delta"),
    (lambda plain: __import__("zlib").compress(__import__("chain.rounds.delta", fromlist=["x"]).deflate_delta(plain)),
     "inside a deflated delta"),
])
def test_compressed_deflated_error_path_bombs_and_malformed_streams_are_refused(setup, make, why):
    from chain.rounds.delta import DeflatedDelta, apply_delta
    model, *_, updates = setup
    plain = compress_delta(decode_delta(updates["a"]))
    with pytest.raises(UpdateDecodeError, match=why):
        apply_delta(model.spec, model.weights, DeflatedDelta(deflated=make(plain)).encode())


@pytest.mark.parametrize("recode", ["redeflated", "as_exact_weights", "as_plain_int8"])
def test_compressed_reencoded_copy_is_still_a_copy_and_earns_nothing(setup, recode):
    """One delta has many byte forms: CAROL re-encodes BOB's update (deflated at another level, or decoded and
    sent exact, or int8 without deflate), so the bytes differ, but the delta is the same and the chain calls
    it a copy of BOB's."""
    import zlib
    from chain.rounds.delta import DeflatedDelta
    from chainutil import CAROL
    model, shards, X_val, y_val, updates = setup
    chain, model_id = new_chain(shards, model, round_blocks=20, reveal_blocks=10)
    bobs = compressed(model, updates["a"])
    plain = compress_delta(decode_delta(updates["a"]))
    carols = {"redeflated": DeflatedDelta(deflated=zlib.compress(plain, 1)).encode(),
              "as_exact_weights": encode_weights(decode_delta(bobs)), "as_plain_int8": plain}[recode]
    assert carols != bobs
    info = play_round(chain, model_id, 0, [(BOB, bobs), (CAROL, carols)], reveal_index=0)
    bob, carol = info["submission_list"]
    assert bob["status"] == "settled" and "copy_hash" in bob   # its canonical key differs from its own hash
    assert (carol["status"], carol["reason"], carol["copy_of"]) == ("invalid", "rounds/10", [0, 0])


def test_compressed_deflated_inflate_bound_is_exact_at_the_limit(setup):
    """The verdict depends on the inflated length alone: exactly the bound is accepted, one more byte refused."""
    import zlib
    from chain.rounds.delta import DeflatedDelta, _inflated_or_self
    model, *_, updates = setup
    plain = compress_delta(decode_delta(updates["a"]))
    for level in (0, 1, 9):
        raw = DeflatedDelta(deflated=zlib.compress(plain, level)).encode()
        assert _inflated_or_self(raw, len(plain)) == plain
        with pytest.raises(UpdateDecodeError, match="inflates beyond"):
            _inflated_or_self(raw, len(plain) - 1)
