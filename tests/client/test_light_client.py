"""The SDK's light client (client/light/): synthetic signed headers for every refusal, and a real node's."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from lightutil import CHAIN, SECOND, T0, Key, MemoryProvider, make_block, sign  # noqa: E402

from client.errors import (HeaderInvalid, LightClientError, NotEnoughVotingPower, SignatureInvalid,
                           TrustedHeaderExpired, ValidatorSetNotTrusted)
from client.light import LightClient
from client.light import verifier
from client.light.types import Header, ValidatorSet

KEYS = [Key(i) for i in range(4)]          # 4 x 10 power
NOW = T0 + 1000 * SECOND


def chain(n: int, keys=KEYS):
    blocks, prev = [], None
    for h in range(1, n + 1):
        prev = make_block(keys, h, prev=prev)
        blocks.append(prev)
    return blocks


def light(blocks, **kw) -> LightClient:
    first = blocks[0]
    kw.setdefault("clock", lambda: NOW)
    return LightClient(MemoryProvider(blocks), CHAIN, trusted_height=first.height,
                       trusted_hash=first.header.hash(), **kw)


def test_light_client_verifies_adjacent_and_skipping():
    blocks = chain(10)
    lc = light(blocks)
    assert lc.verify(2).hash() == blocks[1].header.hash()
    assert lc.verify(10).app_hash == b"\xaa" * 32         # skipping: same set, all signed
    assert lc.latest_trusted().height == 10
    assert lc.verify(5).hash() == blocks[4].header.hash()   # between verified headers: forward from 2


def test_light_client_refuses_forged_signature():
    blocks = chain(3)
    bad = blocks[1]
    sigs = list(bad.commit.signatures)
    sigs[0] = dataclasses.replace(sigs[0], signature=bytes(64))
    blocks[1] = dataclasses.replace(bad, commit=dataclasses.replace(bad.commit, signatures=tuple(sigs)))
    with pytest.raises(SignatureInvalid, match="does not verify"):
        light(blocks).verify(2)


def test_light_client_refuses_two_thirds_power_or_less():
    blocks = chain(2)
    blocks[1] = sign(blocks[1], KEYS, signers=KEYS[:2])    # 20 of 40
    with pytest.raises(NotEnoughVotingPower, match="more than 2/3"):
        light(blocks).verify(2)
    keys = [Key(10, 10), Key(11, 10), Key(12, 10)]
    blocks = chain(2, keys)
    blocks[1] = sign(blocks[1], keys, signers=keys[:2])     # exactly 2/3 is not enough
    with pytest.raises(NotEnoughVotingPower):
        light(blocks).verify(2)


def test_light_client_refuses_wrong_validators_hash():
    blocks = chain(2)
    other = ValidatorSet(tuple(k.validator for k in [Key(20), Key(21)]))
    blocks[1] = dataclasses.replace(blocks[1], validators=other)
    with pytest.raises(HeaderInvalid, match="validator set served"):
        light(blocks).verify(2)


def test_light_client_refuses_wrong_chain_id():
    blocks = chain(1)
    blocks.append(make_block(KEYS, 2, prev=blocks[0], chain_id="other-chain"))
    with pytest.raises(HeaderInvalid, match="not 'light-test'"):
        light(blocks).verify(2)


def test_light_client_refuses_changed_app_hash_with_signatures_kept():
    blocks = chain(2)
    forged = dataclasses.replace(blocks[1].header, app_hash=b"\xbb" * 32)
    blocks[1] = dataclasses.replace(blocks[1], header=forged)
    with pytest.raises(HeaderInvalid, match="not this header"):
        light(blocks).verify(2)


def test_light_client_refuses_next_validators_mismatch_when_adjacent():
    new_keys = [Key(30), Key(31), Key(32), Key(33)]
    b1 = make_block(KEYS, 1)                                # says the next set is KEYS
    b2 = make_block(new_keys, 2, prev=b1)
    with pytest.raises(HeaderInvalid, match="next_validators_hash"):
        light([b1, b2]).verify(2)


def test_light_client_skip_with_one_third_or_less_trusted_then_bisection():
    # the set changes one validator per block: at height 4 only 1 of the trusted 4 remains (10 of 40 <= 1/3)
    sets = [KEYS, KEYS[1:] + [Key(40)], KEYS[2:] + [Key(40), Key(41)], KEYS[3:] + [Key(40), Key(41), Key(42)]]
    blocks, prev = [], None
    for h, keys in enumerate(sets, start=1):
        nxt = sets[h] if h < len(sets) else keys
        prev = make_block(keys, h, prev=prev, next_keys=nxt)
        blocks.append(prev)
    with pytest.raises(ValidatorSetNotTrusted, match="more than 1/3"):
        verifier.verify_skipping(CHAIN, blocks[0], blocks[3], NOW)
    lc = light(blocks)
    assert lc.verify(4).hash() == blocks[3].header.hash()
    assert lc.provider.fetched == [1, 4, 2]       # bisected: pivot 2 (adjacent), then 2 -> 4 (2 of 4 trusted remain)
    assert sorted(lc.trusted) == [1, 2, 4]


def test_light_client_skip_fails_when_no_intermediate_helps():
    other = [Key(50), Key(51), Key(52), Key(53)]
    b1 = make_block(KEYS, 1, next_keys=other)
    b2 = make_block(other, 2, prev=b1)
    b3 = make_block(other, 3, prev=b2)
    lc = light([b1, b2, b3])
    assert lc.verify(3).height == 3                          # via 2: adjacent, the announced next set
    forged = make_block(other, 3, prev=make_block(other, 2))   # an unrelated chain of an unknown set
    with pytest.raises(ValidatorSetNotTrusted):
        verifier.verify_skipping(CHAIN, b1, forged, NOW)


def test_light_client_refuses_anchor_past_trusting_period():
    blocks = chain(3)
    old = T0 + 15 * 24 * 3600 * SECOND
    with pytest.raises(TrustedHeaderExpired, match="trusting period"):
        light(blocks, clock=lambda: old).verify(3)
    lc = light(blocks, clock=lambda: old, trusting_period_ns=30 * 24 * 3600 * SECOND)
    assert lc.verify(3).height == 3


def test_light_client_refuses_time_going_backwards():
    b1 = make_block(KEYS, 1, time=T0 + 10 * SECOND)
    b2 = make_block(KEYS, 2, prev=b1, time=T0 + 10 * SECOND)   # equal is not strictly increasing
    with pytest.raises(HeaderInvalid, match="is not after"):
        light([b1, b2]).verify(2)
    b3 = make_block(KEYS, 3, prev=b1, time=T0 + 5 * SECOND)
    with pytest.raises(HeaderInvalid, match="is not after"):
        light([b1, b3]).verify(3)


def test_light_client_refuses_header_from_the_future():
    b1 = make_block(KEYS, 1)
    b2 = make_block(KEYS, 2, prev=b1, time=NOW + 3600 * SECOND)
    with pytest.raises(HeaderInvalid, match="in the future"):
        light([b1, b2]).verify(2)


def test_light_client_anchor_hash_must_match():
    blocks = chain(2)
    with pytest.raises(HeaderInvalid, match="not the trusted"):
        LightClient(MemoryProvider(blocks), CHAIN, trusted_height=1, trusted_hash=b"\x00" * 32,
                    clock=lambda: NOW).verify(2)
    with pytest.raises(LightClientError, match="both a height and a header hash"):
        LightClient(MemoryProvider(blocks), CHAIN, trusted_height=1)


def test_light_client_trust_on_first_use_and_backwards():
    blocks = chain(6)
    lc = LightClient(MemoryProvider(blocks[2:]), CHAIN, clock=lambda: NOW)   # the node's earliest is 3
    assert lc.verify(6).height == 6
    assert sorted(lc.trusted) == [3, 6]
    lc = LightClient(MemoryProvider(blocks), CHAIN, trusted_height=5, trusted_hash=blocks[4].header.hash(),
                     clock=lambda: NOW)
    assert lc.verify(2).hash() == blocks[1].header.hash()    # down the last_block_id hash chain
    broken = list(blocks)
    broken[3] = make_block(KEYS, 4, prev=blocks[2], app_hash=b"\xcc" * 32)   # signed, but not block 5's parent
    lc = LightClient(MemoryProvider(broken), CHAIN, trusted_height=5, trusted_hash=blocks[4].header.hash(),
                     clock=lambda: NOW)
    with pytest.raises(HeaderInvalid, match="names"):
        lc.verify(3)


def test_light_client_header_parsing_is_strict():
    with pytest.raises(HeaderInvalid):
        Header.from_json({"version": {"block": "11"}, "chain_id": "x"})
    with pytest.raises(HeaderInvalid):
        ValidatorSet.from_json([])


# --- a real CometBFT node: our hashes are its hashes, its headers verify ---------------------------------
@pytest.mark.integration
def test_light_client_verifies_real_node_headers(tmp_path):
    import tomllib

    from abci_app.testnet import init_testnet, start_testnet, stop_testnet
    from client.light import RPCProvider
    from client.rpc import CometRPC
    from client.wallet import Wallet
    from nodeutil import ROOT, free_port_base, wait_for_height

    sys.path.insert(0, str(ROOT / "tests"))
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    operators = [Wallet.from_seed(bytes([0x61 + i]) * 32) for i in range(2)]
    manifest = init_testnet(tmp_path, 2, "light-real-1", preset, [w.address_bytes for w in operators],
                            Wallet.from_seed(b"\x6f" * 32).address_bytes, port_base=free_port_base(40),
                            timeout_commit="200ms")
    url = f"http://127.0.0.1:{manifest['nodes'][0]['rpc']}"
    start_testnet(tmp_path)
    try:
        wait_for_height(url, 6, timeout=90)
        rpc = CometRPC(url)
        provider = RPCProvider(rpc)
        for h in (1, 2, 5):
            block = provider.light_block(h)
            served = rpc.commit(h)["signed_header"]
            assert block.header.hash().hex().upper() == served["commit"]["block_id"]["hash"]
            assert block.validators.hash().hex().upper() == served["header"]["validators_hash"]
            assert len(block.validators.validators) == 2
        lc = LightClient(rpc, "light-real-1")          # trust on first use: block 1
        assert lc.verify(5).app_hash.hex().upper() == rpc.commit(5)["signed_header"]["header"]["app_hash"]
        assert lc.verify(3).height == 3                # between: forward from 1
        anchored = LightClient(rpc, "light-real-1", trusted_height=2, trusted_hash=provider.light_block(2).header.hash())
        assert anchored.verify(6).height == 6
        assert anchored.verify(1).height == 1          # below the anchor: down the hash chain
        with pytest.raises(HeaderInvalid, match="not 'other-chain'"):
            LightClient(rpc, "other-chain").verify(3)
        rpc.close()
    finally:
        stop_testnet(tmp_path)
