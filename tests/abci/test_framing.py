"""The ABCI socket server over a real loopback socket, with a fake Application."""
from __future__ import annotations

import asyncio

import pytest

from abci_app.proto.tendermint.abci import types_pb2 as abci
from abci_app.server import AbciServer, AppCrashed, FrameError, encode_varint, frame, read_frame
from chain.results import BlockResult, Event, InitResult, QueryResult, TxResult

CHAIN_ID = "framing-1"


class FakeApp:
    """Counts txs; a tx b"boom" raises (a bug), a tx starting with b"bad" is rejected with code 7."""

    def __init__(self):
        self.height, self.count, self.calls = 0, 0, []

    def app_hash(self) -> bytes:
        return self.count.to_bytes(8, "big") + bytes(24)

    def info(self):
        self.calls.append("info")
        return self.height, self.app_hash() if self.height else b""

    def init_chain(self, chain_id, initial_height, app_state_bytes, time_seconds):
        self.calls.append(("init_chain", chain_id, initial_height, app_state_bytes, time_seconds))
        return InitResult(app_hash=self.app_hash())

    def check_tx(self, raw, recheck):
        self.calls.append(("check_tx", raw, recheck))
        if raw.startswith(b"bad"):
            return TxResult(code=7, codespace="test", log="bad tx")
        return TxResult(gas_wanted=len(raw))

    def finalize_block(self, ctx, txs):
        self.calls.append(("finalize_block", ctx, list(txs)))
        if b"boom" in txs:
            raise KeyError("a bug in the state machine")
        results = []
        for tx in txs:
            if tx.startswith(b"bad"):
                results.append(TxResult(code=7, codespace="test", log="bad tx"))
            else:
                self.count += 1
                results.append(TxResult(data=tx[::-1], events=(Event("counted", (("tx", tx.decode()),)),)))
        self.height = ctx.height
        return BlockResult(tx_results=tuple(results), app_hash=self.app_hash())

    def commit(self):
        self.calls.append("commit")

    def query(self, path, data, height, prove):
        return QueryResult(key=data, value=str(self.count).encode(), height=self.height,
                           proof=b"proof" if prove else None)


# --- framing, no sockets -------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 127, 128, 300, 16383, 16384, 2**31 - 1, 2**63])
def test_varint_round_trip(n):
    async def decode():
        reader = asyncio.StreamReader()
        reader.feed_data(encode_varint(n))
        reader.feed_eof()
        length, shift = 0, 0
        while byte := await reader.read(1):
            length |= (byte[0] & 0x7F) << shift
            shift += 7
        return length

    assert asyncio.run(decode()) == n
    assert len(encode_varint(n)) == max(1, (n.bit_length() + 6) // 7)


def test_frames_survive_any_chunking():
    payloads = [b"", b"x", bytes(range(256)) * 3, b"y" * 200]  # 768 and 200 bytes: two-byte prefixes
    stream = b"".join(frame(p) for p in payloads)

    async def read_all(chunk: int):
        reader = asyncio.StreamReader()

        async def feed():
            for i in range(0, len(stream), chunk):
                reader.feed_data(stream[i:i + chunk])
                await asyncio.sleep(0)  # let the reader run mid-frame
            reader.feed_eof()

        feeder = asyncio.create_task(feed())
        out = []
        while (p := await read_frame(reader)) is not None:
            out.append(p)
        await feeder
        return out

    for chunk in (1, 2, 3, 7, 100, len(stream)):
        assert asyncio.run(read_all(chunk)) == payloads


def test_truncated_frame_is_an_error():
    async def read(data):
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_frame(reader)

    with pytest.raises(FrameError):
        asyncio.run(read(frame(b"hello")[:-1]))
    with pytest.raises(FrameError):
        asyncio.run(read(b"\x80"))  # EOF inside the length prefix
    with pytest.raises(FrameError):
        asyncio.run(read(b"\xff" * 11))


# --- a real server on loopback -------------------------------------------------------------------
class Client:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port):
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def send(self, *requests: abci.Request) -> bytes:
        data = b"".join(frame(r.SerializeToString()) for r in requests)
        self.writer.write(data)
        return data

    async def send_trickle(self, *requests: abci.Request, chunk: int = 3):
        """Split the byte stream at arbitrary points, so frames straddle TCP reads."""
        data = b"".join(frame(r.SerializeToString()) for r in requests)
        for i in range(0, len(data), chunk):
            self.writer.write(data[i:i + chunk])
            await self.writer.drain()
            await asyncio.sleep(0.001)

    async def recv(self, timeout=5) -> abci.Response | None:
        payload = await asyncio.wait_for(read_frame(self.reader), timeout)
        return None if payload is None else abci.Response.FromString(payload)

    async def close(self):
        self.writer.close()
        await self.writer.wait_closed()


def run_with_server(test, app=None):
    """Run `await test(server, app)` against a fresh server on a free port."""
    app = app or FakeApp()

    async def main():
        server = AbciServer(app, CHAIN_ID, "127.0.0.1", 0)
        await server.start()
        serving = asyncio.create_task(server.serve())
        try:
            await test(server, app)
        finally:
            server.stop()
            await asyncio.wait_for(serving, 5)

    asyncio.run(main())
    return app


def req(**kw) -> abci.Request:
    return abci.Request(**kw)


def finalize(height, txs) -> abci.Request:
    r = abci.RequestFinalizeBlock(height=height, txs=txs, proposer_address=b"\x01" * 20)
    r.time.seconds, r.time.nanos = 1_700_000_000 + height, 5
    return req(finalize_block=r)


def test_responses_arrive_in_order_and_flush_comes_last():
    async def test(server, app):
        c = await Client.connect(server.port)
        requests = [req(echo=abci.RequestEcho(message="hi")), req(info=abci.RequestInfo(version="0.38.25"))]
        requests += [req(check_tx=abci.RequestCheckTx(tx=b"tx%d" % i)) for i in range(50)]
        requests += [req(check_tx=abci.RequestCheckTx(tx=b"bad", type=abci.RECHECK)), req(flush=abci.RequestFlush())]
        await c.send_trickle(*requests)
        got = [await c.recv() for _ in requests]
        kinds = [r.WhichOneof("value") for r in got]
        assert kinds == [r.WhichOneof("value") for r in requests]
        assert got[0].echo.message == "hi"
        assert got[1].info.last_block_height == 0 and got[1].info.app_version == 1
        assert [r.check_tx.gas_wanted for r in got[2:52]] == [len(b"tx%d" % i) for i in range(50)]
        assert (got[52].check_tx.code, got[52].check_tx.codespace) == (7, "test")
        assert app.calls[-1] == ("check_tx", b"bad", True)
        await c.close()

    run_with_server(test)


def test_block_lifecycle_and_conversions():
    async def test(server, app):
        c = await Client.connect(server.port)
        init = abci.RequestInitChain(chain_id=CHAIN_ID, initial_height=1, app_state_bytes=b"{}")
        init.time.seconds = 1_700_000_000
        c.send(req(init_chain=init), finalize(1, [b"a", b"bad", b"c"]), req(commit=abci.RequestCommit()),
               req(query=abci.RequestQuery(path="count", data=b"k", prove=True)), req(flush=abci.RequestFlush()))
        init_r, block, commit, query, flush = [await c.recv() for _ in range(5)]
        assert init_r.init_chain.app_hash == bytes(32)
        assert app.calls[0] == ("init_chain", CHAIN_ID, 1, b"{}", 1_700_000_000)

        fb = block.finalize_block
        assert [t.code for t in fb.tx_results] == [0, 7, 0]
        assert fb.tx_results[0].data == b"a" and fb.tx_results[1].codespace == "test"
        attr = fb.tx_results[2].events[0].attributes[0]
        assert (fb.tx_results[2].events[0].type, attr.key, attr.value, attr.index) == ("counted", "tx", "c", True)
        assert fb.app_hash == (2).to_bytes(8, "big") + bytes(24)
        ctx = app.calls[1][1]
        assert (ctx.chain_id, ctx.height, ctx.time_seconds, ctx.time_nanos, ctx.proposer) == \
            (CHAIN_ID, 1, 1_700_000_001, 5, b"\x01" * 20)

        assert commit.WhichOneof("value") == "commit"
        assert query.query.value == b"2" and query.query.height == 1
        assert [(op.type, op.key, op.data) for op in query.query.proof_ops.ops] == [("gradchain/smt", b"k", b"proof")]
        assert flush.WhichOneof("value") == "flush"
        await c.close()

    run_with_server(test)


def test_prepare_proposal_keeps_order_and_stops_at_the_byte_cap():
    async def test(server, app):
        c = await Client.connect(server.port)
        txs = [b"a" * 10, b"b" * 10, b"c" * 10, b"d"]
        # a 10-byte tx costs 12 bytes in a block (tag + length + bytes): two fit in 30, the third does
        # not, and the small fourth must not jump the queue
        c.send(req(prepare_proposal=abci.RequestPrepareProposal(max_tx_bytes=30, txs=txs)),
               req(process_proposal=abci.RequestProcessProposal(txs=txs)), req(flush=abci.RequestFlush()))
        prepared, processed, _ = [await c.recv() for _ in range(3)]
        assert list(prepared.prepare_proposal.txs) == txs[:2]
        assert processed.process_proposal.status == abci.ResponseProcessProposal.ACCEPT
        await c.close()

    run_with_server(test)


def test_connections_are_independent_and_serialized():
    async def test(server, app):
        clients = [await Client.connect(server.port) for _ in range(4)]
        for i, c in enumerate(clients):
            c.send(*[req(echo=abci.RequestEcho(message=f"{i}-{j}")) for j in range(20)], req(flush=abci.RequestFlush()))
        for i, c in enumerate(clients):
            got = [await c.recv() for _ in range(21)]
            assert [r.echo.message for r in got[:20]] == [f"{i}-{j}" for j in range(20)]
            assert got[20].WhichOneof("value") == "flush"
        for c in clients:
            await c.close()

    run_with_server(test)


def test_an_app_exception_stops_the_server_without_answering():
    async def main():
        app = FakeApp()
        server = AbciServer(app, CHAIN_ID, "127.0.0.1", 0)
        await server.start()
        serving = asyncio.create_task(server.serve())
        c = await Client.connect(server.port)
        other = await Client.connect(server.port)
        c.send(finalize(1, [b"ok", b"boom"]), req(flush=abci.RequestFlush()))
        assert await c.recv() is None  # connection closed, no ResponseException
        with pytest.raises(AppCrashed):
            await asyncio.wait_for(serving, 5)
        assert await other.recv() is None  # every connection is dropped, so CometBFT stops too
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", server.port)

    asyncio.run(main())


def test_unknown_request_gets_an_exception_response():
    async def test(server, app):
        c = await Client.connect(server.port)
        c.writer.write(frame(b""))  # a Request with no field set
        c.send(req(echo=abci.RequestEcho(message="still here")))
        c.send(req(flush=abci.RequestFlush()))  # CometBFT's socket client ends every batch with Flush
        first, second, third = await c.recv(), await c.recv(), await c.recv()
        assert first.WhichOneof("value") == "exception"
        assert second.echo.message == "still here"
        assert third.WhichOneof("value") == "flush"
        await c.close()

    run_with_server(test)
