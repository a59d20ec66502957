"""contracts/Bridge.vy on a real EVM (py-evm): deposits, signature thresholds, forged signatures,
replays, valset updates. The chain is not involved: digests come from chain.bridge.evm, which the
chain uses too."""
import pytest
from web3 import EthereumTesterProvider, Web3

from chain.bridge import evm
from relayer.evm import BridgeError, Evm, EvmKey, contract_events, split_signature

KEYS = [EvmKey(bytes([0x70 + i]) * 32) for i in range(5)]
OUTSIDER = EvmKey(b"\x7f" * 32)


@pytest.fixture
def env():
    w3 = Web3(EthereumTesterProvider())
    deployer = Evm(w3, w3.eth.accounts[0])
    token = deployer.deploy("TestToken", "Test", "TST", 6)
    members = sorted((k.address, 10) for k in KEYS[:4])
    bridge = deployer.deploy("Bridge", [w3.to_checksum_address(a) for a, _ in members], [p for _, p in members], 1)
    deployer.transact(token.functions.mint(w3.eth.accounts[0], 10**9))
    deployer.deposit(bridge, token, 10_000, b"\x22" * 20)
    return w3, deployer, token, bridge, members


def key_of(address: bytes) -> EvmKey:
    return next(k for k in KEYS + [OUTSIDER] if k.address == address)


def sign_all(members, digest, signers):
    """v, r, s aligned with members; `signers` maps member index -> key that signs (or None)."""
    v, r, s = [], [], []
    for i, _ in enumerate(members):
        key = signers.get(i)
        if key is None:
            v.append(0), r.append(b"\x00" * 32), s.append(b"\x00" * 32)
        else:
            sv, sr, ss = split_signature(key.sign(digest))
            v.append(sv), r.append(sr), s.append(ss)
    return v, r, s


def batch_call(w3, bridge, token, members, nonce, transfers, signers, valset_nonce=1):
    contract = bytes.fromhex(bridge.address[2:])
    digest = evm.batch_digest(contract, w3.eth.chain_id, bytes.fromhex(token.address[2:]), nonce, valset_nonce, transfers)
    sigs = sign_all(members, digest, signers(digest) if callable(signers) else signers)
    return bridge.functions.submit_batch(token.address, nonce, valset_nonce,
                                         [w3.to_checksum_address(r) for r, _ in transfers],
                                         [a for _, a in transfers], *sigs)


def own(members, indices):
    return {i: key_of(members[i][0]) for i in indices}


def test_deposits_lock_tokens_with_gapless_nonces(env):
    w3, deployer, token, bridge, _ = env
    deployer.deposit(bridge, token, 5, b"\x33" * 20)
    events = contract_events(bridge, 0, w3.eth.block_number)
    assert [(e["kind"], e["event_nonce"], e["amount"], e["decimals"]) for e in events] == \
        [("Deposit", 1, 10_000, 6), ("Deposit", 2, 5, 6)]
    assert events[1]["destination"] == b"\x33" * 20
    assert token.functions.balanceOf(bridge.address).call() == 10_005
    with pytest.raises(BridgeError):
        deployer.transact(bridge.functions.deposit(token.address, 0, b"\x33" * 20))


def test_batch_needs_more_than_two_thirds(env):
    w3, deployer, token, bridge, members = env
    user = w3.eth.accounts[3]
    with pytest.raises(BridgeError, match="too little power"):
        deployer.transact(batch_call(w3, bridge, token, members, 1, [(bytes.fromhex(user[2:]), 100)], own(members, [0, 1])))
    assert token.functions.balanceOf(user).call() == 0
    deployer.transact(batch_call(w3, bridge, token, members, 1, [(bytes.fromhex(user[2:]), 100)], own(members, [0, 1, 3])))
    assert token.functions.balanceOf(user).call() == 100
    assert contract_events(bridge, 0, w3.eth.block_number)[-1]["kind"] == "BatchExecuted"


def test_forged_and_mismatched_signatures_are_rejected(env):
    w3, deployer, token, bridge, members = env
    user = bytes.fromhex(w3.eth.accounts[3][2:])
    forged = {0: OUTSIDER, 1: key_of(members[1][0]), 2: key_of(members[2][0])}  # outsider in member 0's slot
    with pytest.raises(BridgeError, match="invalid signature"):
        deployer.transact(batch_call(w3, bridge, token, members, 1, [(user, 100)], forged))
    # signatures over a different amount do not release this one
    contract = bytes.fromhex(bridge.address[2:])
    other = evm.batch_digest(contract, w3.eth.chain_id, bytes.fromhex(token.address[2:]), 1, 1, [(user, 9999)])
    with pytest.raises(BridgeError, match="invalid signature"):
        deployer.transact(batch_call(w3, bridge, token, members, 1, [(user, 100)],
                                     lambda _: {i: _Fixed(key_of(members[i][0]), other) for i in range(4)}))
    # the same call actually mined (explicit gas skips estimation) reverts on chain
    with pytest.raises(BridgeError, match="reverted"):
        deployer.transact(batch_call(w3, bridge, token, members, 1, [(user, 100)], forged), gas=2_000_000)
    assert token.functions.balanceOf(w3.eth.accounts[3]).call() == 0


class _Fixed:
    """A key that signs a fixed digest whatever it is asked to sign."""

    def __init__(self, key, digest):
        self.key, self.digest = key, digest

    def sign(self, _):
        return self.key.sign(self.digest)


def test_batch_replay_and_old_nonces_rejected(env):
    w3, deployer, token, bridge, members = env
    user = bytes.fromhex(w3.eth.accounts[3][2:])
    deployer.transact(batch_call(w3, bridge, token, members, 5, [(user, 100)], own(members, [0, 1, 2, 3])))
    for nonce in (5, 4):
        with pytest.raises(BridgeError, match="nonce must increase"):
            deployer.transact(batch_call(w3, bridge, token, members, nonce, [(user, 100)], own(members, [0, 1, 2, 3])))
    with pytest.raises(BridgeError, match="another valset"):
        deployer.transact(batch_call(w3, bridge, token, members, 6, [(user, 1)], own(members, [0, 1, 2]), valset_nonce=2))
    assert token.functions.balanceOf(w3.eth.accounts[3]).call() == 100


def test_valset_update_signed_by_old_set_then_only_new_set_releases(env):
    w3, deployer, token, bridge, members = env
    contract = bytes.fromhex(bridge.address[2:])
    new_members = sorted((k.address, p) for k, p in zip(KEYS[1:5], (10, 10, 10, 30)))
    digest = evm.valset_digest(contract, w3.eth.chain_id, 2, new_members)
    assert bridge.functions.valset_digest([w3.to_checksum_address(a) for a, _ in new_members],
                                          [p for _, p in new_members], 2).call() == digest
    args = ([w3.to_checksum_address(a) for a, _ in new_members], [p for _, p in new_members], 2)
    with pytest.raises(BridgeError, match="too little power"):
        deployer.transact(bridge.functions.update_valset(*args, *sign_all(members, digest, own(members, [0, 1]))))
    deployer.transact(bridge.functions.update_valset(*args, *sign_all(members, digest, own(members, [0, 1, 2]))))
    assert bridge.functions.valset_nonce().call() == 2 and bridge.functions.total_power().call() == 60
    with pytest.raises(BridgeError, match="must increase"):
        deployer.transact(bridge.functions.update_valset(*args, *sign_all(members, digest, own(members, [0, 1, 2]))))
    user = bytes.fromhex(w3.eth.accounts[3][2:])
    # the old set (or 3 of 4 new members holding only 30 of 60) can no longer release anything
    with pytest.raises(BridgeError):
        deployer.transact(batch_call(w3, bridge, token, members, 1, [(user, 7)], own(members, [0, 1, 2, 3]), 2))
    heavy = [i for i, (_, p) in enumerate(new_members) if p == 30]
    light = [i for i, (_, p) in enumerate(new_members) if p == 10]
    with pytest.raises(BridgeError, match="too little power"):
        deployer.transact(batch_call(w3, bridge, token, new_members, 1, [(user, 7)], own(new_members, light), 2))
    with pytest.raises(BridgeError, match="too little power"):  # exactly 2/3 (40 of 60) is not enough
        deployer.transact(batch_call(w3, bridge, token, new_members, 1, [(user, 7)], own(new_members, heavy + light[:1]), 2))
    deployer.transact(batch_call(w3, bridge, token, new_members, 1, [(user, 7)], own(new_members, heavy + light[:2]), 2))
    assert token.functions.balanceOf(w3.eth.accounts[3]).call() == 7
    assert [e["kind"] for e in contract_events(bridge, 0, w3.eth.block_number)] == ["Deposit", "ValsetUpdated", "BatchExecuted"]
