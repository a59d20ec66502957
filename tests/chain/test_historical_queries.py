"""Queries at earlier heights (docs/state.md "Historical queries"): within the node's retention window a
query answers as it did at that height, with a proof against that height's app hash; outside it, a clear
error naming the oldest height kept. History is local bookkeeping: it never changes an app hash."""
import json

from chain.bank import keys as bank_keys
from chain.store.kv import MemoryKV, prefix_end
from chain.tx.proof import verify_proof
from chainutil import ALICE, BOB, CAROL, Chain, send_tx

RETENTION = 5


def balance_key(wallet, denom="ugrad"):
    return bank_keys.balance_key(wallet.address_bytes, denom)


def run_transfers(chain, blocks: int):
    """One transfer ALICE -> BOB per block (and BOB's whole stake to CAROL in block 3); returns, per height,
    the answers a query gave at that height."""
    seen = {}
    for i in range(blocks):
        txs = [send_tx(ALICE, BOB, {"ugrad": 10 + i}, i)]
        chain.block(txs)
        seen[chain.height] = {
            "bob": chain.app.query("/bank/balance", BOB.address_bytes + b"ugrad", prove=True),
            "balances": json.loads(chain.app.query("/bank/balances", ALICE.address_bytes).value)}
    return seen


def test_historical_query_answers_as_at_that_height_with_a_proof_against_its_app_hash():
    chain = Chain(query_retention=RETENTION)
    seen = run_transfers(chain, 8)
    latest = chain.height
    for h in range(latest - RETENTION + 1, latest + 1):
        old = chain.app.query("/bank/balance", BOB.address_bytes + b"ugrad", height=h, prove=True)
        assert old.code == 0 and old.height == h
        assert old.value == seen[h]["bob"].value
        verify_proof(chain.app_hashes[h], balance_key(BOB), old.value or None, old.proof)
        balances = json.loads(chain.app.query("/bank/balances", ALICE.address_bytes, height=h).value)
        assert balances == seen[h]["balances"]     # a JSON query that scans a key range, at that height


def test_historical_query_outside_the_window_names_the_oldest_height_kept():
    chain = Chain(query_retention=RETENTION)
    run_transfers(chain, 8)
    oldest = chain.height - RETENTION + 1
    result = chain.app.query("/bank/balances", ALICE.address_bytes, height=oldest - 1)
    assert (result.codespace, result.code) == ("query", 3)
    assert f"answers heights {oldest}..{chain.height}" in result.log
    future = chain.app.query("/bank/balances", ALICE.address_bytes, height=chain.height + 1)
    assert (future.codespace, future.code) == ("query", 3)


def test_historical_query_of_a_key_created_later_is_absent_and_proven_absent():
    chain = Chain(query_retention=RETENTION)
    chain.block([])
    before = chain.height
    assert chain.app.query("/bank/balance", CAROL.address_bytes + b"zzz", height=before).value == b""
    chain.block([send_tx(ALICE, CAROL, {"stake": 1}, 0)])
    old = chain.app.query("/bank/balance", CAROL.address_bytes + b"stake", height=before, prove=True)
    now = chain.app.query("/bank/balance", CAROL.address_bytes + b"stake", prove=True)
    assert old.value == b"" and now.value != b""
    verify_proof(chain.app_hashes[before], balance_key(CAROL, "stake"), None, old.proof)


def test_history_is_pruned_to_the_retention_window():
    chain = Chain(query_retention=RETENTION)
    run_transfers(chain, 12)
    key = b"v/"
    versions = [k for k, _ in chain.kv.iterate(key + balance_key(BOB), prefix_end(key + balance_key(BOB)))
                if len(k) == len(key + balance_key(BOB)) + 8]
    assert len(versions) <= RETENTION        # one per kept height at most: older versions were deleted
    roots = list(chain.kv.iterate(b"r/", prefix_end(b"r/")))
    assert len(roots) <= RETENTION + 1


def test_historical_queries_survive_a_restart_and_never_change_the_app_hash():
    kept, plain = MemoryKV(), MemoryKV()
    a, b = Chain(kv=kept, query_retention=RETENTION), Chain(kv=plain)
    run_transfers(a, 6)
    run_transfers(b, 6)
    assert a.app_hashes == b.app_hashes          # history is not consensus
    h = a.height - 2
    expected = a.app.query("/bank/balances", ALICE.address_bytes, height=h).value
    reopened = Chain(kv=kept, query_retention=RETENTION)
    assert reopened.app.query("/bank/balances", ALICE.address_bytes, height=h).value == expected
    assert (b.app.query("/bank/balances", ALICE.address_bytes, height=h).code,
            b.app.query("/bank/balances", ALICE.address_bytes, height=h).codespace) == (3, "query")


def test_historical_query_through_the_sdk_is_verified_against_that_heights_header():
    """client.balance(..., height=h) and client.verified.model(..., height=h) check their proofs against the
    light-verified header h + 1 (in process: headers signed by the validators' real keys)."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "rounds"))
    from roundsutil import rounds_genesis
    from registryutil import activate, in_process_client, tiny_model_and_shards
    from registryutil import RegistryChain
    from client.errors import TxFailed
    import pytest

    chain = RegistryChain(app_state=rounds_genesis(), query_retention=RETENTION)
    model, shards = tiny_model_and_shards()
    model_id = activate(chain, model, shards)
    before = chain.height
    bob_then = in_process_client(chain).balance(BOB.address, "ugrad")
    chain.block([send_tx(BOB, CAROL, {"ugrad": 123}, 0)])
    chain.block([])
    client = in_process_client(chain)
    assert client.balance(BOB.address, "ugrad", height=before) == bob_then
    assert client.balance(BOB.address, "ugrad") == bob_then - 123 - 2000
    assert client.verified.model(model_id, height=before)["id"] == model_id
    for _ in range(RETENTION):
        chain.block([])
    with pytest.raises(TxFailed) as e:
        in_process_client(chain).balance(BOB.address, "ugrad", height=before)
    assert (e.value.codespace, e.value.code) == ("query", 3)
