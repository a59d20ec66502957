"""The socket server's hand-written response bytes are exactly what protobuf emits for the same response."""
from __future__ import annotations

import pytest

from abci_app import convert
from abci_app.proto.tendermint.abci import types_pb2 as abci
from abci_app.server import response_frame, split_frames, FrameError, frame
from chain.results import BlockResult, Event, TxResult, ValidatorUpdate

RESULTS = [
    TxResult(),
    TxResult(code=0, gas_wanted=171, gas_used=171),
    TxResult(code=5, codespace="tx", log="sequence 3 but account expects 2", gas_wanted=170, gas_used=170),
    TxResult(code=2**32 - 1, codespace="bank", log="ünïcode ✓", data=b"\x00\x01canonical", gas_wanted=2**62,
             gas_used=-1),
    TxResult(events=(Event("tx", (("signer", "grad1abc"), ("sequence", "0"), ("fee", "1000ugrad"))),
                     Event("transfer", (("sender", "grad1abc"), ("recipient", ""), ("amount", "3ugrad"))),
                     Event("", ()), Event("empty_values", (("", ""),)))),
    TxResult(log="admitted; will fail: message 0: insufficient", gas_wanted=1 << 20, gas_used=1 << 20,
             events=(Event("x" * 300, (("k" * 200, "v" * 1000),)),)),
]


@pytest.mark.parametrize("result", RESULTS)
def test_tx_result_bytes_are_protobufs(result):
    assert convert.tx_result_bytes(result) == convert.exec_tx_result(result).SerializeToString()
    assert convert.check_tx_encoded(result).SerializeToString() == \
        convert.check_tx_response(result).SerializeToString()


@pytest.mark.parametrize("result", RESULTS)
def test_a_check_tx_answer_is_the_block_result_without_events(result):
    got = abci.ResponseCheckTx.FromString(convert.check_tx_encoded(result).SerializeToString())
    want = abci.ResponseCheckTx.FromString(convert.exec_tx_result(result).SerializeToString())
    del want.events[:]
    assert got == want and not got.events


@pytest.mark.parametrize("n_txs", [0, 1, 5])
def test_finalize_block_bytes_are_protobufs(n_txs):
    block = BlockResult(tx_results=tuple(RESULTS[i % len(RESULTS)] for i in range(n_txs)),
                        app_hash=bytes(range(32)),
                        events=(Event("validator_joined", (("operator", "grad1x"),)),) if n_txs else (),
                        validator_updates=(ValidatorUpdate(ed25519_public_key=b"\x07" * 32, power=10),
                                           ValidatorUpdate(ed25519_public_key=b"\x08" * 32, power=0))[:n_txs])
    assert convert.finalize_block_encoded(block, n_txs).SerializeToString() == \
        convert.finalize_block_response(block, n_txs).SerializeToString()
    with pytest.raises(RuntimeError):
        convert.finalize_block_encoded(block, n_txs + 1)


@pytest.mark.parametrize("kind,response", [
    ("check_tx", abci.ResponseCheckTx(code=3, log="x")), ("check_tx", abci.ResponseCheckTx()),
    ("commit", abci.ResponseCommit()), ("info", abci.ResponseInfo(data="gradchain", last_block_height=7)),
    ("finalize_block", abci.ResponseFinalizeBlock(app_hash=b"h" * 32)), ("echo", abci.ResponseEcho(message="m"))])
def test_a_response_frame_is_the_framed_protobuf_response(kind, response):
    want = frame(abci.Response(**{kind: response}).SerializeToString())
    assert response_frame(kind, response) == want
    assert response_frame(kind, convert.Encoded(response.SerializeToString())) == want


def test_split_frames_takes_complete_frames_only():
    payloads = [b"", b"a", b"b" * 127, b"c" * 128, b"d" * 20000]
    stream = b"".join(frame(p) for p in payloads)
    for cut in range(0, len(stream) + 1, 97):
        got, used = split_frames(stream[:cut])
        rest, used2 = split_frames(stream, used)
        assert got + rest == payloads and used2 == len(stream)
    assert split_frames(b"\x80\x80") == ([], 0)           # a prefix still arriving
    with pytest.raises(FrameError):
        split_frames(b"\xff" * 10 + b"\x01")
    with pytest.raises(FrameError):
        split_frames(b"\xff" * 10)
    with pytest.raises(FrameError):
        split_frames(b"\x80\x80\x80\x80\x08")             # 2**31: above CometBFT's frame limit
