"""State sync snapshots in process (abci_app/snapshots.py): a chain's snapshot, cut into chunks, served by
one node's handlers and restored through another's gives the same state and app hash; a corrupted chunk is
refused for a refetch; a snapshot whose state is not the trusted app hash is rejected and nothing is written."""
import hashlib
import json
import sys
from pathlib import Path

import pytest

from abci_app.proto.tendermint.abci import types_pb2 as abci
from abci_app.server import AbciHandlers
from abci_app.settings import NodeSettings, SettingsError, load_settings, save_settings
from abci_app.snapshots import SnapshotStore
from chain.app import Application
from chain.store.kv import MemoryKV
from chain.store.state import STATE
from chainutil import ALICE, CHAIN_ID, Chain, send_tx
from client.wallet import Wallet

APPLY = abci.ResponseApplySnapshotChunk
OFFER = abci.ResponseOfferSnapshot


def build_chain(accounts: int = 60) -> Chain:
    chain = Chain()
    recipients = [Wallet.from_seed(bytes([i + 1]) * 31 + b"\x55") for i in range(accounts)]
    for i in range(0, accounts, 20):
        chain.block([send_tx(ALICE, r, {"ugrad": 100 + j}, sequence=i + j)
                     for j, r in enumerate(recipients[i:i + 20])])
    return chain


def state_of(kv) -> list:
    return [(k, v) for k, v in kv.iterate(STATE, b"s0")]


@pytest.fixture
def source(tmp_path):
    chain = build_chain()
    snapshots = SnapshotStore(tmp_path / "snaps", interval=1, keep_recent=2, chunk_bytes=1024)
    handlers = AbciHandlers(chain.app, CHAIN_ID, snapshots=snapshots)
    snapshots.take(chain.app.store)
    return chain, handlers


def listed(handlers) -> abci.Snapshot:
    found = handlers.handle("list_snapshots", abci.RequestListSnapshots()).snapshots
    assert len(found) == 1
    return found[0]


def chunk(handlers, snap, i) -> bytes:
    return handlers.handle("load_snapshot_chunk", abci.RequestLoadSnapshotChunk(
        height=snap.height, format=snap.format, chunk=i)).chunk


def offer(handlers, snap, app_hash):
    return handlers.handle("offer_snapshot", abci.RequestOfferSnapshot(snapshot=snap, app_hash=app_hash)).result


def apply(handlers, i, data, sender="peer-a"):
    return handlers.handle("apply_snapshot_chunk", abci.RequestApplySnapshotChunk(index=i, chunk=data, sender=sender))


def test_state_sync_restore_gives_same_state_and_next_app_hashes(source):
    chain, served = source
    snap = listed(served)
    assert snap.height == chain.height and snap.format == 1 and snap.chunks >= 3  # 1 KiB chunks: several
    assert snap.hash == hashlib.sha256(snap.metadata).digest()
    kv = MemoryKV()
    joiner = AbciHandlers(Application(kv), CHAIN_ID)
    assert offer(joiner, snap, chain.app.info()[1]) == OFFER.ACCEPT
    for i in reversed(range(snap.chunks)):              # any order
        data = chunk(served, snap, i)
        assert len(data) <= 1024
        assert apply(joiner, i, data).result == APPLY.ACCEPT
    assert joiner.app.info() == chain.app.info()       # what CometBFT's verifyApp checks
    info = joiner.handle("info", abci.RequestInfo())
    assert info.last_block_height == chain.height and info.last_block_app_hash == chain.app.info()[1]
    assert state_of(kv) == state_of(chain.kv)
    # The restored store, reopened, serves proofs and agrees on the next blocks.
    restored = Chain(kv=kv)
    restored.skip_genesis_round_trip = True            # the same state as `chain`, which is checked
    assert restored.height == chain.height
    value, proof = restored.app.store.prove(b"")       # any key: the tree is there
    assert proof
    bob = Wallet.from_seed(b"\x77" * 32)
    for seq in range(60, 63):
        tx = send_tx(ALICE, bob, {"ugrad": 5}, sequence=seq)
        assert restored.block([tx]).app_hash == chain.block([tx]).app_hash
    assert restored.app.check_tx(send_tx(ALICE, bob, {"ugrad": 1}, sequence=63)).code == 0


def test_state_sync_corrupted_chunk_is_refused_and_fetched_again(source):
    chain, served = source
    snap = listed(served)
    joiner = AbciHandlers(Application(MemoryKV()), CHAIN_ID)
    assert offer(joiner, snap, chain.app.info()[1]) == OFFER.ACCEPT
    good = chunk(served, snap, 2)
    bad = bytes([good[0] ^ 1]) + good[1:]
    answer = apply(joiner, 2, bad, sender="liar")
    assert answer.result == APPLY.RETRY
    assert list(answer.refetch_chunks) == [2] and list(answer.reject_senders) == ["liar"]
    assert apply(joiner, 99, good).result == APPLY.RETRY  # an index outside the snapshot
    for i in range(snap.chunks):
        assert apply(joiner, i, chunk(served, snap, i), sender="honest").result == APPLY.ACCEPT
    assert joiner.app.info() == chain.app.info()


def test_state_sync_wrong_app_hash_is_rejected_and_nothing_written(source):
    chain, served = source
    snap = listed(served)
    kv = MemoryKV()
    joiner = AbciHandlers(Application(kv), CHAIN_ID)
    assert offer(joiner, snap, b"\x42" * 32) == OFFER.ACCEPT   # CometBFT's light-verified hash, here a wrong one
    results = [apply(joiner, i, chunk(served, snap, i)).result for i in range(snap.chunks)]
    assert results[:-1] == [APPLY.ACCEPT] * (snap.chunks - 1) and results[-1] == APPLY.REJECT_SNAPSHOT
    assert joiner.app.info()[0] == 0 and list(kv.iterate(b"", None)) == []
    # The right hash then restores (CometBFT offers the next snapshot, or the same one again).
    assert offer(joiner, snap, chain.app.info()[1]) == OFFER.ACCEPT
    for i in range(snap.chunks):
        apply(joiner, i, chunk(served, snap, i))
    assert joiner.app.info() == chain.app.info()


def test_state_sync_bad_offers_are_refused(source):
    chain, served = source
    snap = listed(served)
    joiner = AbciHandlers(Application(MemoryKV()), CHAIN_ID)
    app_hash = chain.app.info()[1]

    def variant(**changes):
        s = abci.Snapshot()
        s.CopyFrom(snap)
        for k, v in changes.items():
            setattr(s, k, v)
        return s
    assert offer(joiner, variant(format=2), app_hash) == OFFER.REJECT_FORMAT
    assert offer(joiner, variant(chunks=snap.chunks + 1), app_hash) == OFFER.REJECT
    assert offer(joiner, variant(hash=b"\x00" * 32), app_hash) == OFFER.REJECT
    assert offer(joiner, variant(metadata=b"{}"), app_hash) == OFFER.REJECT
    meta = json.loads(snap.metadata)
    meta["chunk_hashes"] = meta["chunk_hashes"][:-1]
    raw = json.dumps(meta, sort_keys=True).encode()
    assert offer(joiner, variant(metadata=raw, hash=hashlib.sha256(raw).digest(), chunks=snap.chunks - 1),
                 app_hash) == OFFER.REJECT                   # the chunk count does not cover the stream
    assert apply(joiner, 0, chunk(served, snap, 0)).result == APPLY.ABORT  # nothing accepted yet
    # An app that already has state aborts: CometBFT only state-syncs an empty node.
    assert offer(served, snap, app_hash) == OFFER.ABORT


def test_state_sync_snapshots_every_interval_after_commit_keep_recent(tmp_path):
    chain = Chain()
    snapshots = SnapshotStore(tmp_path / "snaps", interval=3, keep_recent=2, chunk_bytes=4096)
    handlers = AbciHandlers(chain.app, CHAIN_ID, snapshots=snapshots)
    from chain.results import BlockContext
    for h in range(chain.height + 1, 11):
        chain.app.finalize_block(BlockContext(CHAIN_ID, h, 1_700_000_000 + h, 0, b"\x00" * 20), [])
        handlers.handle("commit", abci.RequestCommit())
    assert snapshots.heights() == [6, 9]
    assert [s.height for s in handlers.handle("list_snapshots", abci.RequestListSnapshots()).snapshots] == [6, 9]
    assert not list((tmp_path / "snaps").glob(".tmp-*"))
    chain.skip_genesis_round_trip = True  # blocks driven around Chain.block
    # Deterministic: the same state gives the same snapshot bytes.
    again = SnapshotStore(tmp_path / "again", interval=1, chunk_bytes=4096).take(chain.app.store)
    assert again.hash == SnapshotStore(tmp_path / "again2", interval=1, chunk_bytes=4096).take(chain.app.store).hash


def test_state_sync_settings_are_checked(tmp_path):
    save_settings(tmp_path, NodeSettings(snapshot_interval=100, snapshot_keep_recent=3, snapshot_chunk_bytes=1 << 20))
    assert load_settings(tmp_path).snapshot_interval == 100
    for bad in ({"snapshot_interval": -1}, {"snapshot_keep_recent": 0}, {"snapshot_chunk_bytes": 64 << 20}):
        save_settings(tmp_path, NodeSettings(**bad))
        with pytest.raises(SettingsError):
            load_settings(tmp_path)


def test_state_sync_restores_a_registered_model_and_its_scoring(tmp_path):
    """A chain with a registered model (weights uploaded, validation shards being scored): the restored
    node answers the same model record and keeps scoring to the same app hashes."""
    pytest.importorskip("torch")
    registry_tests = str(Path(__file__).resolve().parents[1] / "registry")
    if registry_tests not in sys.path:
        sys.path.insert(0, registry_tests)
    from registryutil import RegistryChain, activate, tiny_model_and_shards
    chain = RegistryChain()
    model, shards = tiny_model_and_shards()
    model_id = activate(chain, model, shards)
    snapshots = SnapshotStore(tmp_path / "snaps", interval=1, chunk_bytes=1024)
    snap = snapshots.take(chain.app.store)
    assert snap.chunks > 1
    kv = MemoryKV()
    joiner = AbciHandlers(Application(kv), CHAIN_ID)
    assert offer(joiner, abci.Snapshot(height=snap.height, format=snap.format, chunks=snap.chunks, hash=snap.hash,
                                       metadata=snap.metadata), chain.app.info()[1]) == OFFER.ACCEPT
    for i in range(snap.chunks):
        assert apply(joiner, i, snapshots.load_chunk(snap.height, 1, i)).result == APPLY.ACCEPT
    restored = RegistryChain.__new__(RegistryChain)
    Chain.__init__(restored, kv=kv)
    restored.params, restored.skip_genesis_round_trip = chain.params, True
    assert restored.model(model_id) == chain.model(model_id)
    for _ in range(4):                                  # scoring work runs per block: same hashes
        assert restored.block([]).app_hash == chain.block([]).app_hash
    assert restored.model(model_id) == chain.model(model_id)


def test_state_sync_add_node_cli_refusals_and_config(tmp_path):
    """`gradchain testnet add-node --state-sync` refuses in one line when the testnet takes no snapshots or
    is not running; set_state_sync writes CometBFT's [statesync]."""
    import tomllib
    from click.testing import CliRunner
    from abci_app.node import set_state_sync
    from abci_app.ports import free_port_base
    from cli.main import main

    def run(root, *args):
        return CliRunner().invoke(main, ["testnet", "--root", str(root), *map(str, args)],
                                  env={"GRADCHAIN_PASSWORD": "test-password"})
    for interval, needle in ((0, "snapshot_interval = 0"), (20, "is the testnet running?")):
        root = tmp_path / f"net{interval}"
        made = run(root, "init", "-n", 1, "--port-base", free_port_base(10), "--snapshot-interval", interval)
        assert made.exit_code == 0, made.output
        refused = run(root, "add-node", "--state-sync")
        assert refused.exit_code != 0 and needle in refused.output and "Traceback" not in refused.output
        assert len(refused.output.strip().splitlines()) == 1, refused.output
    home = root / "node0"
    assert load_settings(home).snapshot_interval == 20
    set_state_sync(home, ["http://127.0.0.1:1", "http://127.0.0.1:2"], 40, "ab" * 32)
    config = tomllib.loads((home / "cometbft/config/config.toml").read_text())["statesync"]
    assert config["enable"] is True and config["rpc_servers"] == "http://127.0.0.1:1,http://127.0.0.1:2"
    assert config["trust_height"] == 40 and config["trust_hash"] == "AB" * 32 and config["discovery_time"] == "5s"
