"""The one copy of two small rules the chain, the SDK and the benches share: u64 (chain/codec.py), how ids,
rounds and heights appear in keys and query paths, and round timing (chain/registry/model.py), which the
SDK reads from a queried model record."""
import pytest

from chain.codec import u64
from chain.registry import keys as registry_keys
from chain.registry.model import Model, reveal_deadline, window_end, window_start
from client.owner import round_end

np = pytest.importorskip("numpy")


def test_u64_is_8_big_endian_bytes_per_value():
    assert u64() == b""
    assert u64(1) == b"\x00" * 7 + b"\x01"
    assert u64(1, 2 ** 64 - 1) == (1).to_bytes(8, "big") + b"\xff" * 8
    assert u64(np.int64(5), True) == (5).to_bytes(8, "big") + (1).to_bytes(8, "big")
    assert registry_keys.u64 is u64 and registry_keys.model_key(7) == b"reg/m/" + (7).to_bytes(8, "big")
    for bad in (-1, 2 ** 64):
        with pytest.raises(OverflowError):
            u64(bad)
    for bad in (1.0, "1"):
        with pytest.raises(TypeError):
            u64(bad)


def test_round_timing_is_one_rule_for_chain_and_sdk():
    model = Model(id=1, owner="00" * 20, status="active", spec_hash="", weights_hash="", weights_size=1,
                  chunk_size=1, chunks_received=1, shard_root="", shard_count=4, bounty_denom="uusdc", escrow="1",
                  bond_denom="ugrad", bond="1", deposit_denom="ugrad", deposit="1", round_blocks=10, reveal_blocks=3,
                  min_improvement=0, target_score=0, metric="accuracy", reward_curve=[], expiry_height=1000,
                  registered_height=5, activated_height=17)
    record = model.record()
    for r in range(5):
        assert model.round_start(r) == window_start(17, 10, r) == 18 + 10 * r
        assert model.round_end(r) == window_end(17, 10, r) == round_end(record, r) == 28 + 10 * r
        assert model.reveal_deadline(r) == reveal_deadline(17, 10, 3, r) == 31 + 10 * r
    assert model.first_round_start == 18 and model.current_round(27) == 0 and model.current_round(28) == 1
