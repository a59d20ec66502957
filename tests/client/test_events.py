"""Event subscriptions (client/events.py). Against a real CometBFT v0.38 node: a transfer's events arrive
live with their tx hash and height; wait_for finds an event committed before the call (replayed from
block_results); a dropped websocket reconnects without losing or repeating an event; block events
(scoring) arrive live and replay. Offline: CometBFT's query semantics and message shapes."""
import asyncio
import json

import pytest

from abci_app.node import init_node
from client import Client
from client.events import (ChainEvent, EventTimeout, Query, _Cursor, _Unit, _unit_of_message, event_query,
                           subscribe, subscribe_async, wait_for, ws_url)
from client.wallet import Wallet
from nodeutil import free_node_ports, running_node, wait_for_height

FAUCET = Wallet.from_seed(b"\x0e" * 32)
PARAMS = {"fee_denom": "ugrad", "min_fee_base": 100, "min_fee_per_byte": 1, "max_tx_bytes": 1 << 20}
WAIT = 60   # a safety net for a stuck node, never a performance threshold


@pytest.fixture
def node(tmp_path):
    home = tmp_path / "node"
    state = {"auth": {"params": PARAMS}, "registry": {"params": {"max_chunk_bytes": 4096, "max_shard_samples": 200}},
             "bank": {"balances": [{"address": FAUCET.address, "coins": [
                 {"denom": "ugrad", "amount": "100000000"}, {"denom": "uusdc", "amount": "1000000"}]}]}}
    init_node(home, "n0", "events-1", state, ports=free_node_ports(), timeout_commit="200ms")
    with running_node(home) as running:
        wait_for_height(running.rpc, 2, proc=running.proc)
        yield running


def transfers(sub, count):
    """The next `count` transfer events of a subscription (a tx also carries its ante `tx` event)."""
    out = []
    while len(out) < count:
        event = sub.next(timeout=WAIT)
        if event.kind == "transfer":
            out.append(event)
    return out


@pytest.mark.integration
def test_subscription_delivers_a_transfer_with_its_attributes(node):
    bob = Wallet.generate()
    with Client(node.rpc) as chain, subscribe(node.rpc, f"tm.event='Tx' AND transfer.recipient='{bob.address}'") as sub:
        receipt = chain.send(FAUCET, bob.address, {"ugrad": 1234, "uusdc": 5})
        [event] = transfers(sub, 1)
    assert event == ChainEvent("transfer", {"sender": FAUCET.address, "recipient": bob.address,
                                            "amount": "1234ugrad,5uusdc"}, receipt.height, receipt.tx_hash)


@pytest.mark.integration
def test_wait_for_finds_an_event_committed_before_the_call(node):
    bob, carol = Wallet.generate(), Wallet.generate()
    with Client(node.rpc) as chain:
        first = chain.send(FAUCET, bob.address, {"ugrad": 7})
        chain.send(FAUCET, carol.address, {"ugrad": 8})
        wait_for_height(node.rpc, first.height + 2, proc=node.proc)   # long committed when we start looking
        event = wait_for(node.rpc, "transfer", {"recipient": bob.address}, since_height=first.height, timeout=WAIT)
        assert (event.height, event.tx_hash, event.attributes["amount"]) == (first.height, first.tx_hash, "7ugrad")
        assert wait_for(node.rpc, "transfer", {"recipient": carol.address}, since_height=1,
                        timeout=WAIT).attributes["amount"] == "8ugrad"
        # from now on only: the old transfer is not found, nothing new comes
        with pytest.raises(EventTimeout):
            wait_for(node.rpc, "transfer", {"recipient": bob.address}, timeout=1)


@pytest.mark.integration
def test_a_dropped_connection_reconnects_without_loss_or_repeats(node):
    bob = Wallet.generate()
    with Client(node.rpc) as chain, subscribe(node.rpc, f"transfer.recipient='{bob.address}'") as sub:
        chain.send(FAUCET, bob.address, {"ugrad": 1})
        assert [e.attributes["amount"] for e in transfers(sub, 1)] == ["1ugrad"]
        sub._conn.close()                                     # the websocket drops
        chain.send(FAUCET, bob.address, {"ugrad": 2})         # committed while nobody listens
        chain.send(FAUCET, bob.address, {"ugrad": 3})
        assert [e.attributes["amount"] for e in transfers(sub, 2)] == ["2ugrad", "3ugrad"]   # replayed
        chain.send(FAUCET, bob.address, {"ugrad": 4})
        assert [e.attributes["amount"] for e in transfers(sub, 1)] == ["4ugrad"]             # live again
        assert sub.reconnects == 1
        with pytest.raises(EventTimeout):
            sub.next(timeout=1)                               # and nothing twice
    assert list(sub) == []                                    # closed: iteration ends


@pytest.mark.integration
def test_async_subscription(node):
    bob = Wallet.generate()

    async def main():
        with Client(node.rpc) as chain:
            start = chain.rpc.latest_height()
            # the generator subscribes when first awaited; since_height covers a tx committed before that
            events = subscribe_async(node.rpc, f"tm.event='Tx' AND transfer.recipient='{bob.address}'",
                                     since_height=start)
            first = asyncio.ensure_future(anext(events))
            receipt = await asyncio.to_thread(chain.send, FAUCET, bob.address, {"ugrad": 9})
        event = await asyncio.wait_for(first, WAIT)
        while event.kind != "transfer":
            event = await asyncio.wait_for(anext(events), WAIT)
        await events.aclose()
        return receipt, event

    receipt, event = asyncio.run(main())
    assert (event.height, event.tx_hash) == (receipt.height, receipt.tx_hash)
    assert event.attributes["recipient"] == bob.address


@pytest.mark.integration
def test_block_events_live_and_replayed(node):
    torch = pytest.importorskip("torch")
    from sklearn.datasets import load_digits
    from client.owner import Owner
    X, y = load_digits(return_X_y=True)
    X, y = X[-100:] / 16.0, y[-100:]
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 8), torch.nn.ReLU(), torch.nn.Linear(8, 10))
    with Client(node.rpc) as chain:
        owner = Owner(chain, FAUCET)
        model_id, shards = owner.register(net, X, y, shard_size=100, bounty="1000uusdc", bond="1000ugrad",
                                          deposit="10ugrad", target_score=900_000, expiry_blocks=500,
                                          round_blocks=2, reveal_blocks=10, progress=False)
        with subscribe(node.rpc, f"tm.event='NewBlock' AND scored.model_id='{model_id}'") as sub:
            receipt = owner.reveal(model_id, 0, shards, 0)
            live = sub.next(timeout=WAIT)
            while live.kind != "scored":
                live = sub.next(timeout=WAIT)
    assert live.tx_hash is None and live.height >= receipt.height
    assert live.attributes["model_id"] == str(model_id) and live.attributes["total"] == "100"
    replayed = wait_for(node.rpc, "scored", {"model_id": model_id, "round": 0}, since_height=receipt.height,
                        timeout=WAIT)
    assert replayed == live


# --- offline: the parts that need no node --------------------------------------------------------------
def test_queries_match_like_cometbft():
    flat = {"tm.event": ["Tx"], "tx.hash": ["AB"], "tx.height": ["7"], "tx.signer": ["grad1a"],
            "transfer.sender": ["grad1a"], "transfer.amount": ["5ugrad"]}
    expectations = {"tm.event='Tx' AND transfer.sender='grad1a'": True, "transfer EXISTS": True,
                    "transfer.sender='grad1b'": False, "tx.height > 6": True, "tx.height>7": False,
                    "tx.height <= 7 AND tm.event = 'Tx'": True, "transfer.amount CONTAINS 'ugr'": True,
                    "tm.event='NewBlock'": False, "new_head EXISTS": False, "tx.signer='grad1a'": True}
    assert {q: Query.parse(q).matches(flat) for q in expectations} == expectations
    for bad in ["", "x =", "x < 'a'", "a = 'b' OR c = 'd'", "EXISTS", "t EXISTS AND", "t = TIME 2020-01-01T00:00:00Z"]:
        with pytest.raises(ValueError):
            Query.parse(bad)
    assert event_query("new_head", {"model_id": 1, "quote": "it's"}) == "new_head EXISTS AND new_head.model_id='1'"
    assert ws_url("http://127.0.0.1:26657") == "ws://127.0.0.1:26657/websocket"
    assert ws_url("https://node.example/rpc/") == "wss://node.example/rpc/websocket"


def test_messages_become_events_once():
    attrs = [{"key": "model_id", "value": "1", "index": True}, {"key": "version", "value": "2", "index": True}]
    head = [{"type": "new_head", "attributes": attrs}]
    new_block = {"query": "q", "data": {"type": "tendermint/event/NewBlock", "value": {
        "block": {"header": {"height": "9"}}, "result_finalize_block": {"events": head}}}}
    block_events = {"query": "q", "data": {"type": "tendermint/event/NewBlockEvents", "value": {
        "height": "9", "events": head, "num_txs": "0"}}}
    tx = {"query": "q", "events": {"tx.hash": ["CAFE"]}, "data": {"type": "tendermint/event/Tx", "value": {"TxResult": {
        "height": "10", "tx": "", "result": {"events": [{"type": "transfer", "attributes": attrs[:1]}]}}}}}
    vote = json.loads('{"query": "q", "data": {"type": "tendermint/event/Vote", "value": {}}}')
    cursor = _Cursor()
    delivered = [e for m in (new_block, block_events, tx, tx, vote) if (u := _unit_of_message(m)) is not None
                 for e in cursor.admit(u)]
    assert delivered == [ChainEvent("new_head", {"model_id": "1", "version": "2"}, 9, None),
                         ChainEvent("transfer", {"model_id": "1"}, 10, "CAFE")]
    assert cursor.admit(_Unit(9, ("tx", 0), ())) == ()          # below the covered height: already replayed
