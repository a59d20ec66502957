"""A tampering RPC proxy between the SDK and a real 2-validator testnet (security issue, finding 2). Before
the light client, the SDK took app_hash from the same node's /commit: a proxy printed a false balance as
"verified", and swapped in its own X25519 keys so that a trainer sealed her update to the attacker. Each
attack below is refused with a clear error, and the honest path through the same proxy still works."""
from __future__ import annotations

import base64
import copy
import json
import time
import tomllib

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from abci_app.testnet import init_testnet, start_testnet, stop_testnet
from chain.store.smt import EMPTY_REF, SparseMerkleTree
from chain.validators import keys as val_keys
from chain.validators.keeper import ValidatorRecord
from client import Client
from client.errors import (HeaderInvalid, LightClientError, ProofInvalid, SealingSetInvalid, SignatureInvalid,
                           TrustedHeaderExpired)
from client.light import LightClient, RPCProvider
from client.light.types import Commit, Header, ValidatorSet
from client.light.verifier import DEFAULT_TRUSTING_PERIOD_NS
from client.rpc import CometRPC
from client.trainer import Trainer
from client.wallet import Wallet
from lightutil import Key
from nodeutil import ROOT, free_port_base, wait_for_height
from tamperproxy import TamperProxy

pytestmark = pytest.mark.integration

CHAIN_ID = "tamper-1"
OPERATORS = [Wallet.from_seed(bytes([0x71 + i]) * 32) for i in range(2)]
FAUCET = Wallet.from_seed(b"\x7f" * 32)
BOB = Wallet.from_seed(b"\x7e" * 32)
ATTACKER_X25519 = X25519PrivateKey.generate()


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    root = tmp_path_factory.mktemp("tamper")
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    manifest = init_testnet(root, 2, CHAIN_ID, preset, [w.address_bytes for w in OPERATORS], FAUCET.address_bytes,
                            port_base=free_port_base(40), timeout_commit="200ms")
    url = f"http://127.0.0.1:{manifest['nodes'][0]['rpc']}"
    start_testnet(root)
    try:
        wait_for_height(url, 3, timeout=90)
        with Client(url) as honest:
            honest.send(FAUCET, BOB.address, {"uusdc": 5})
        rpc = CometRPC(url)
        anchor = (1, RPCProvider(rpc).light_block(1).header.hash())   # out of band: straight from the node
        rpc.close()
        yield url, anchor
    finally:
        stop_testnet(root)


def _client(proxy, anchor, **light):
    client = Client(proxy.url, trusted_height=anchor[0], trusted_hash=anchor[1])
    if light:
        client._light = LightClient(client.rpc, CHAIN_ID, trusted_height=anchor[0], trusted_hash=anchor[1], **light)
    return client


def _abci(method, params, path: str) -> bool:
    return method == "abci_query" and params.get("path") == path


def _store_key(params) -> bytes:
    return bytes.fromhex(params.get("data", ""))


def _forge_value_and_proof(response: dict, value: bytes) -> bytes:
    """Rewrite a proven answer to `value`, with a proof that really verifies under a made-up root; returns
    that root (what a forger would also put in the header)."""
    key = base64.b64decode(response["key"])
    nodes: dict[bytes, bytes] = {}
    update = SparseMerkleTree(nodes.get).apply(EMPTY_REF, {key: value}, 1)
    nodes.update(update.nodes)
    root = update.root[0]
    proof = SparseMerkleTree(nodes.get).prove(update.root, key)
    response["value"] = base64.b64encode(value).decode()
    response["proofOps"]["ops"][0]["data"] = base64.b64encode(proof).decode()
    return root


def test_tamper_proxy_honest_path_verifies(net):
    url, anchor = net
    with TamperProxy(url) as proxy, _client(proxy, anchor) as c:
        assert c.balance(BOB.address, "uusdc", prove=True) == 5
        proven = c.verified.sealing_set(1, 0)
        assert len(proven.members) == 2 and not proven.snapshotted
        assert Trainer(c, Wallet.generate()).seal(1, 0, b"update").encode()   # the honest set seals
        assert {m["encryption_pubkey"] for m in c.validators()} == {pk.hex() for _, pk, _ in proven.members}
        assert "commit" in proxy.methods() and "validators" in proxy.methods()   # headers checked, not trusted


def test_tamper_false_balance_is_refused(net):
    url, anchor = net
    with TamperProxy(url) as proxy, _client(proxy, anchor) as c:
        def lie(method, params, result):
            if _abci(method, params, "/bank/balance"):
                result["response"]["value"] = base64.b64encode((500).to_bytes(2, "big")).decode()
            return result
        proxy.tamper = lie
        with pytest.raises(ProofInvalid, match="verified header"):
            c.balance(BOB.address, "uusdc", prove=True)


def test_tamper_forged_header_with_a_consistent_forged_proof_is_refused(net):
    """The strong forgery: a value, a proof that verifies under a made-up root, and a header carrying that
    root (block id updated to match). Only the validators' signatures can tell, and they do."""
    url, anchor = net
    forged_roots: dict[int, bytes] = {}
    with TamperProxy(url) as proxy, _client(proxy, anchor) as c:
        def forge(method, params, result):
            if _abci(method, params, "/bank/balance"):
                height = int(result["response"]["height"])
                forged_roots[height + 1] = _forge_value_and_proof(result["response"], (500).to_bytes(2, "big"))
            if method == "commit" and int(params.get("height", 0)) in forged_roots:
                signed = result["signed_header"]
                signed["header"]["app_hash"] = forged_roots[int(params["height"])].hex().upper()
                signed["commit"]["block_id"]["hash"] = Header.from_json(signed["header"]).hash().hex().upper()
            return result
        proxy.tamper = forge
        with pytest.raises(SignatureInvalid):
            c.balance(BOB.address, "uusdc", prove=True)
    assert forged_roots, "the proxy never forged anything: the test did not run the attack"


def _attacker_commit(result: dict, key: Key) -> dict:
    """/commit rewritten so that `key` alone is the validator set and signs the header (self-consistent)."""
    signed = result["signed_header"]
    attacker_set = ValidatorSet((key.validator,))
    signed["header"]["validators_hash"] = attacker_set.hash().hex().upper()
    signed["header"]["next_validators_hash"] = attacker_set.hash().hex().upper()
    header = Header.from_json(signed["header"])
    signed["commit"]["block_id"]["hash"] = header.hash().hex().upper()
    template = copy.deepcopy(next(s for s in signed["commit"]["signatures"] if s.get("signature")))
    template["validator_address"] = key.validator.address.hex().upper()
    signed["commit"]["signatures"] = [template]
    commit = Commit.from_json(signed["commit"])
    template["signature"] = base64.b64encode(key.private.sign(commit.vote_sign_bytes(CHAIN_ID, 0))).decode()
    return result


def test_tamper_forged_validator_set_is_refused(net):
    """Above the anchor the proxy serves its own validator set and headers signed by it: each block is
    consistent on its own, but the trusted validators never signed them."""
    url, anchor = net
    attacker = Key(99, power=100)
    with TamperProxy(url) as proxy, _client(proxy, anchor) as c:
        def forge(method, params, result):
            height = int(params.get("height", 0) or 0)
            if method == "validators" and height > anchor[0]:
                result["validators"], result["total"], result["count"] = attacker_set_json(attacker), "1", "1"
            if method == "commit" and height > anchor[0]:
                _attacker_commit(result, attacker)
            return result
        proxy.tamper = forge
        with pytest.raises(LightClientError) as refused:
            c.balance(BOB.address, "uusdc", prove=True)
        assert not isinstance(refused.value, TrustedHeaderExpired)
        print(f"refused: {type(refused.value).__name__}: {refused.value}")


def attacker_set_json(key: Key) -> list:
    return ValidatorSet((key.validator,)).to_json()


def test_tamper_forged_anchor_header_is_refused(net):
    """A node that forges the anchor block itself is caught by the anchor's hash."""
    url, anchor = net
    with TamperProxy(url) as proxy, _client(proxy, anchor) as c:
        def forge(method, params, result):
            if method == "commit" and int(params.get("height", 0) or 0) == anchor[0]:
                signed = result["signed_header"]
                signed["header"]["app_hash"] = "AA" * 32
                signed["commit"]["block_id"]["hash"] = Header.from_json(signed["header"]).hash().hex().upper()
            return result
        proxy.tamper = forge
        with pytest.raises(HeaderInvalid, match="not the trusted"):
            c.balance(BOB.address, "uusdc", prove=True)


def test_tamper_stale_header_past_the_trusting_period_is_refused(net):
    """An anchor older than the trusting period cannot vouch for anything: its signers may have unbonded."""
    url, anchor = net
    later = time.time_ns() + DEFAULT_TRUSTING_PERIOD_NS + 3600 * 10**9
    with TamperProxy(url) as proxy, _client(proxy, anchor, clock=lambda: later) as c:
        with pytest.raises(TrustedHeaderExpired):
            c.balance(BOB.address, "uusdc", prove=True)


def _swap_encryption_key(result: dict) -> dict:
    response = result["response"]
    raw = base64.b64decode(response.get("value") or "")
    if not raw:
        return result
    record = ValidatorRecord.decode(raw)
    swapped = record.with_(
        encryption_pubkey=ATTACKER_X25519.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex())
    response["value"] = base64.b64encode(swapped.encode()).decode()
    return result


@pytest.mark.parametrize("how", ["swapped_key", "swapped_key_with_forged_proof", "dropped_member"])
def test_tamper_false_sealing_set_is_refused_before_anything_is_sealed(net, how):
    """The attack that stole an update: the proxy swaps in its own X25519 key (or drops a member, so the
    remaining one alone would hold the threshold). The trainer refuses before sealing: nothing encrypted
    to the attacker ever leaves, nothing is broadcast."""
    url, anchor = net
    trainer = Wallet.generate()
    with TamperProxy(url) as proxy, _client(proxy, anchor) as c:
        def lie(method, params, result):
            if _abci(method, params, "/store") and _store_key(params).startswith(val_keys.VALIDATOR):
                _swap_encryption_key(result)
                if how == "swapped_key_with_forged_proof":
                    _forge_value_and_proof(result["response"], base64.b64decode(result["response"]["value"]))
            if how == "dropped_member" and _abci(method, params, "/validators"):
                answer = json.loads(base64.b64decode(result["response"]["value"]))
                answer["validators"] = answer["validators"][:1]
                result["response"]["value"] = base64.b64encode(json.dumps(answer).encode()).decode()
            return result
        proxy.tamper = lie
        with pytest.raises(SealingSetInvalid, match="not proven"):
            Trainer(c, trainer).seal(1, 0, b"private update")
        assert "broadcast_tx_sync" not in proxy.methods()

