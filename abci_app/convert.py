"""Protobuf requests -> chain types, chain results -> protobuf responses. No logic beyond the mapping.

The two responses sent once per tx (ResponseCheckTx, and ExecTxResult inside ResponseFinalizeBlock) can
also be written straight to bytes (`Encoded`), the same bytes protobuf emits (tests/abci/
test_convert_encoding.py): building the protobuf objects for a tx's events costs more than its CheckTx.
"""
from __future__ import annotations

from abci_app.proto.tendermint.abci import types_pb2 as abci
from abci_app.proto.tendermint.crypto import keys_pb2, proof_pb2
from chain.tx.wire import encode_varint
from chain.results import (BlockContext, BlockResult, Event, InitResult, Misbehavior, QueryResult, TxResult,
                           ValidatorUpdate)

APP_NAME = "gradchain"
APP_VERSION = 1  # the app protocol version CometBFT records in block headers; bump on consensus changes
SOFTWARE_VERSION = "0.1.0"
PROOF_OP_TYPE = "gradchain/smt"


# --- requests -> chain ---------------------------------------------------------------------------
def block_context(req: abci.RequestFinalizeBlock, chain_id: str) -> BlockContext:
    # RequestFinalizeBlock does not carry the chain id; the node learns it from genesis.json.
    return BlockContext(
        chain_id=chain_id,
        height=req.height,
        time_seconds=req.time.seconds,
        time_nanos=req.time.nanos,  # the sub-second part, as in google.protobuf.Timestamp
        proposer=bytes(req.proposer_address),
        misbehavior=tuple(Misbehavior(kind=_MISBEHAVIOR_KINDS.get(m.type, "unknown"),
                                      validator_address=bytes(m.validator.address), height=m.height)
                          for m in req.misbehavior),
        block_hash=bytes(req.hash),
    )


_MISBEHAVIOR_KINDS = {abci.DUPLICATE_VOTE: "duplicate_vote", abci.LIGHT_CLIENT_ATTACK: "light_client_attack"}


# --- chain -> responses --------------------------------------------------------------------------
def info_response(height: int, app_hash: bytes) -> abci.ResponseInfo:
    return abci.ResponseInfo(data=APP_NAME, version=SOFTWARE_VERSION, app_version=APP_VERSION,
                             last_block_height=height, last_block_app_hash=app_hash)


def init_chain_response(result: InitResult) -> abci.ResponseInitChain:
    # An empty validator list tells CometBFT to keep genesis.json's validators.
    return abci.ResponseInitChain(app_hash=result.app_hash,
                                  validators=[validator_update(v) for v in result.validators])


def check_tx_response(result: TxResult) -> abci.ResponseCheckTx:
    # Without the tx's events: CometBFT's mempool reads only the code, broadcast_tx_sync returns code,
    # codespace, log and data, and CheckTx events are never indexed; the block's ExecTxResult has them.
    return abci.ResponseCheckTx(code=result.code, codespace=result.codespace, log=result.log,
                                data=result.data, gas_wanted=result.gas_wanted, gas_used=result.gas_used)


def exec_tx_result(result: TxResult) -> abci.ExecTxResult:
    return abci.ExecTxResult(code=result.code, codespace=result.codespace, log=result.log,
                             data=result.data, gas_wanted=result.gas_wanted, gas_used=result.gas_used,
                             events=[event(e) for e in result.events])


def finalize_block_response(result: BlockResult, tx_count: int) -> abci.ResponseFinalizeBlock:
    if len(result.tx_results) != tx_count:
        # CometBFT would halt on the mismatch anyway; fail here with a message that names the cause.
        raise RuntimeError(f"FinalizeBlock returned {len(result.tx_results)} results for {tx_count} txs")
    return abci.ResponseFinalizeBlock(
        tx_results=[exec_tx_result(r) for r in result.tx_results],
        events=[event(e) for e in result.events],
        validator_updates=[validator_update(v) for v in result.validator_updates],
        app_hash=result.app_hash,
    )


def query_response(result: QueryResult) -> abci.ResponseQuery:
    resp = abci.ResponseQuery(code=result.code, codespace=result.codespace, log=result.log,
                              key=result.key, value=result.value, height=result.height)
    if result.proof is not None:
        resp.proof_ops.ops.append(proof_pb2.ProofOp(type=PROOF_OP_TYPE, key=result.key, data=result.proof))
    return resp


def event(e: Event) -> abci.Event:
    # index=True so CometBFT's tx indexer can search by any attribute (tx_search "transfer.sender=...").
    return abci.Event(type=e.type, attributes=[abci.EventAttribute(key=k, value=v, index=True)
                                               for k, v in e.attributes])


def validator_update(v: ValidatorUpdate) -> abci.ValidatorUpdate:
    return abci.ValidatorUpdate(pub_key=keys_pb2.PublicKey(ed25519=v.ed25519_public_key), power=v.power)


def commit_extensions(commit: abci.ExtendedCommitInfo) -> list[tuple[bytes, bytes]]:
    """(validator address, vote extension) of every precommit for the block in the extended commit."""
    return [(v.validator.address, v.vote_extension) for v in commit.votes
            if v.block_id_flag == 2 and v.vote_extension]  # BLOCK_ID_FLAG_COMMIT


# --- chain -> response bytes (the per-tx responses, without protobuf objects) -----------------------
_U64 = (1 << 64) - 1


class Encoded:
    """A response already serialized: what the socket server frames (its SerializeToString). Reading a
    field (`.code`, `.tx_results`) parses it as `message_type` first, for callers that inspect it."""
    __slots__ = ("data", "message_type", "_parsed")

    def __init__(self, data: bytes, message_type=None):
        self.data, self.message_type, self._parsed = data, message_type, None

    def SerializeToString(self) -> bytes:  # noqa: N802 (protobuf's name)
        return self.data

    def parsed(self):
        if self._parsed is None:
            self._parsed = self.message_type.FromString(self.data)
        return self._parsed

    def __getattr__(self, name: str):
        if name.startswith("_") or self.message_type is None:
            raise AttributeError(name)
        return getattr(self.parsed(), name)


def _string(tag: bytes, text: str) -> bytes:
    if not text:
        return b""
    raw = text.encode()
    return tag + encode_varint(len(raw)) + raw


def event_bytes(e: Event) -> bytes:
    """tendermint.abci.Event: type = 1, attributes = 2 (key = 1, value = 2, index = 3, always true)."""
    out = _string(b"\x0a", e.type)
    for k, v in e.attributes:
        attr = _string(b"\x0a", k) + _string(b"\x12", v) + b"\x18\x01"
        out += b"\x12" + encode_varint(len(attr)) + attr
    return out


def tx_result_bytes(result: TxResult, events: bool = True) -> bytes:
    """ResponseCheckTx or ExecTxResult (the same fields): code = 1, data = 2, log = 3, gas_wanted = 5,
    gas_used = 6, events = 7, codespace = 8; proto3 defaults left out, as protobuf does."""
    out = bytearray()
    if result.code:
        out += b"\x08" + encode_varint(result.code)
    if result.data:
        out += b"\x12" + encode_varint(len(result.data)) + result.data
    out += _string(b"\x1a", result.log)
    if result.gas_wanted:
        out += b"\x28" + encode_varint(result.gas_wanted & _U64)
    if result.gas_used:
        out += b"\x30" + encode_varint(result.gas_used & _U64)
    if events:
        for e in result.events:
            raw = event_bytes(e)
            out += b"\x3a" + encode_varint(len(raw)) + raw
    out += _string(b"\x42", result.codespace)
    return bytes(out)


def check_tx_encoded(result: TxResult) -> Encoded:
    """check_tx_response's bytes (no events)."""
    return Encoded(tx_result_bytes(result, events=False), abci.ResponseCheckTx)


def finalize_block_encoded(result: BlockResult, tx_count: int) -> Encoded:
    """finalize_block_response's bytes: fields 1 (events), 2 (tx_results), 3 and 5 in field order."""
    if len(result.tx_results) != tx_count:
        raise RuntimeError(f"FinalizeBlock returned {len(result.tx_results)} results for {tx_count} txs")
    head = abci.ResponseFinalizeBlock(events=[event(e) for e in result.events]).SerializeToString()
    txs = bytearray()
    for r in result.tx_results:
        raw = tx_result_bytes(r)
        txs += b"\x12" + encode_varint(len(raw)) + raw
    tail = abci.ResponseFinalizeBlock(validator_updates=[validator_update(v) for v in result.validator_updates],
                                      app_hash=result.app_hash).SerializeToString()
    return Encoded(head + bytes(txs) + tail, abci.ResponseFinalizeBlock)
