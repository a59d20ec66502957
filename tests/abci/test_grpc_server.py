"""The ABCI gRPC server (abci_app/grpc_server.py) in process, over a real loopback gRPC channel: it answers
Echo, Info, CheckTx, FinalizeBlock, Commit and Query with exactly what the socket server's handlers give,
serves every RPC of CometBFT's ABCI service, stops answering after the app fails, and listens on
loopback only."""
from __future__ import annotations

import contextlib
import socket
import threading

import grpc
import pytest

from abci_app.grpc_server import RPC_KINDS, GrpcAbciServer
from abci_app.proto.tendermint.abci import types_pb2 as abci
from abci_app.proto.tendermint.abci import types_pb2_grpc
from abci_app.server import AbciHandlers
from chainutil import ALICE, BOB, CHAIN_ID, Chain, send_tx


@contextlib.contextmanager
def grpc_served(app):
    server = GrpcAbciServer(app, CHAIN_ID, "127.0.0.1", 0)
    server.start_in_thread()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield server, types_pb2_grpc.ABCIStub(channel)
    finally:
        channel.close()
        server.stop_now()


def finalize_request(height, txs=()):
    req = abci.RequestFinalizeBlock(height=height, txs=list(txs), proposer_address=bytes(20), hash=bytes(32))
    req.time.seconds = 1_700_000_000 + height
    return req


def test_grpc_servicer_answers_echo_info_and_check_tx():
    chain = Chain()
    tx = send_tx(ALICE, BOB, {"ugrad": 5}, sequence=0)
    bad = send_tx(ALICE, BOB, {"ugrad": 5}, sequence=7)
    with grpc_served(chain.app) as (_, stub):
        assert stub.Echo(abci.RequestEcho(message="hello")).message == "hello"
        assert stub.Flush(abci.RequestFlush()) == abci.ResponseFlush()
        info = stub.Info(abci.RequestInfo(version="0.38.25"))
        assert (info.last_block_height, info.last_block_app_hash) == (chain.height, chain.app.info()[1])
        assert stub.CheckTx(abci.RequestCheckTx(tx=tx)).code == 0
        refused = stub.CheckTx(abci.RequestCheckTx(tx=bad))
        assert refused.code != 0 and refused.log
        assert stub.CheckTx(abci.RequestCheckTx(tx=b"\xff\xff")).codespace == "tx"


def test_grpc_answers_equal_the_socket_handlers_answers_for_the_same_calls():
    over_grpc, direct = Chain(), Chain()
    handlers = AbciHandlers(direct.app, CHAIN_ID)   # what the socket server's _dispatch calls
    txs = [send_tx(ALICE, BOB, {"ugrad": 5 + i}, sequence=i) for i in range(3)]
    h = over_grpc.height + 1
    calls = [("CheckTx", abci.RequestCheckTx(tx=t)) for t in txs] + [
        ("PrepareProposal", abci.RequestPrepareProposal(height=h, txs=txs, max_tx_bytes=1 << 20)),
        ("ProcessProposal", abci.RequestProcessProposal(height=h, txs=txs)),
        ("FinalizeBlock", finalize_request(h, txs)),
        ("Commit", abci.RequestCommit()),
        ("Query", abci.RequestQuery(path="/bank/balance", data=BOB.address_bytes + b"ugrad", prove=True)),
        ("Query", abci.RequestQuery(path="/bank/balances", data=BOB.address_bytes)),
        ("Query", abci.RequestQuery(path="/nope")),
        ("Info", abci.RequestInfo()),
        ("ListSnapshots", abci.RequestListSnapshots()),
        ("OfferSnapshot", abci.RequestOfferSnapshot()),
    ]
    with grpc_served(over_grpc.app) as (_, stub):
        for rpc, request in calls:
            got = getattr(stub, rpc)(request)
            want = handlers.handle(RPC_KINDS[rpc], request)
            assert got.SerializeToString(deterministic=True) == want.SerializeToString(deterministic=True), rpc
    assert over_grpc.app.info() == direct.app.info() and over_grpc.app.info()[0] == h


def test_grpc_service_serves_every_rpc_of_cometbfts_abci_service():
    service = abci.DESCRIPTOR.services_by_name["ABCI"]
    rpcs = {m.name for m in service.methods}
    assert rpcs == set(RPC_KINDS) | {"Flush"}
    handlers = AbciHandlers(object(), CHAIN_ID)
    for rpc, kind in RPC_KINDS.items():
        assert handlers.handles(kind), rpc
        assert service.methods_by_name[rpc].input_type.name == abci.Request.DESCRIPTOR.fields_by_name[
            kind].message_type.name


class CrashingApp:
    def __init__(self):
        self.calls = 0

    def info(self):
        self.calls += 1
        raise KeyError("a bug in the state machine")


def test_grpc_after_an_app_crash_every_call_fails_and_the_app_is_not_called_again():
    app = CrashingApp()
    with grpc_served(app) as (server, stub):
        for _ in range(2):
            with pytest.raises(grpc.RpcError) as err:
                stub.Info(abci.RequestInfo())
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(grpc.RpcError):
            stub.Echo(abci.RequestEcho(message="still there?"))
        assert app.calls == 1 and isinstance(server._failure, KeyError)


class SlowApp:
    """Records overlapping calls: with the app lock there are none."""

    def __init__(self):
        self.inside, self.overlaps, self.calls = 0, 0, 0
        self.guard = threading.Lock()

    def check_tx(self, raw, recheck):
        from chain.results import TxResult
        with self.guard:
            self.inside += 1
            self.overlaps += self.inside > 1
            self.calls += 1
        threading.Event().wait(0.002)
        with self.guard:
            self.inside -= 1
        return TxResult()


def test_grpc_calls_from_several_connections_reach_the_app_one_at_a_time():
    app = SlowApp()
    with grpc_served(app) as (server, _):
        def client():
            with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                stub = types_pb2_grpc.ABCIStub(channel)
                for i in range(25):
                    stub.CheckTx(abci.RequestCheckTx(tx=bytes([i])))
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert app.calls == 100 and app.overlaps == 0


def test_grpc_server_listens_on_loopback_only_and_reports_a_busy_port():
    with pytest.raises(ValueError, match="loopback"):
        GrpcAbciServer(object(), CHAIN_ID, "0.0.0.0", 0)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = GrpcAbciServer(object(), CHAIN_ID, "127.0.0.1", busy.getsockname()[1])
        with pytest.raises(OSError):
            server.start_in_thread()


def test_grpc_transport_setting_is_checked_and_its_proxy_app_is_a_bare_host_port(tmp_path):
    from abci_app.node import proxy_app_address
    from abci_app.settings import NodeSettings, SettingsError, load_settings
    assert load_settings(_saved(tmp_path / "a", NodeSettings(abci="grpc"))).abci == "grpc"
    assert NodeSettings().abci == "socket"
    with pytest.raises(SettingsError, match="abci must be one of"):
        load_settings(_saved(tmp_path / "b", NodeSettings(abci="quic")))
    # CometBFT v0.38's gRPC client cannot dial a tcp:// target; its socket client takes either
    assert proxy_app_address("grpc", "127.0.0.1", 26658) == "127.0.0.1:26658"
    assert proxy_app_address("socket", "127.0.0.1", 26658) == "tcp://127.0.0.1:26658"


def _saved(home, settings):
    from abci_app.settings import save_settings
    home.mkdir()
    save_settings(home, settings)
    return home
