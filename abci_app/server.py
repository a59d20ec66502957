"""ABCI 2.0 request handling (AbciHandlers) and the socket server (AbciServer) for CometBFT v0.38.
The gRPC transport (abci_app/grpc_server.py) answers through the same AbciHandlers.

Wire format (cometbft abci/types/messages.go, libs/protoio): each Request and Response is an unsigned
varint length prefix followed by that many protobuf bytes. CometBFT opens four connections (consensus,
mempool, query, snapshot); each gets its answers strictly in request order. Every call into the
Application is made synchronously on the event loop's thread, so the app sees one call at a time.

An exception escaping the Application is a bug or a corrupted state: answering it would let this node
diverge from the others, so the server logs it, drops every connection (which stops CometBFT) and
`serve()` raises AppCrashed.
"""
from __future__ import annotations

import asyncio
import logging
import time

from abci_app import convert, eventlog
from abci_app.metrics import Metrics, block_events
from abci_app.snapshots import FORMAT, ChunkRefused, Restore, Snapshot, SnapshotRejected, SnapshotStore
from chain.tx.wire import encode_varint  # the same unsigned varint as protobuf's
from abci_app.proto.tendermint.abci import types_pb2 as abci
from chain.tx.errors import ChainError
from chain.rounds.release import RELEASE_PREFIX

log = logging.getLogger("gradchain.abci")

MAX_FRAME_BYTES = 2**31 - 1   # CometBFT's own limit (maxMsgSize in abci/types/messages.go)
_MAX_VARINT_BYTES = 10
_WRITE_HIGH_WATER = 4 << 20   # drain before Flush if this much is queued, to bound memory


class AppCrashed(RuntimeError):
    """The Application raised; the node must stop rather than answer."""


class FrameError(ValueError):
    """The peer sent bytes that are not a valid length-prefixed frame."""


# --- framing -------------------------------------------------------------------------------------
def frame(payload: bytes) -> bytes:
    return encode_varint(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """Next frame's payload, or None if the peer closed the connection between frames."""
    length, shift = 0, 0
    for i in range(_MAX_VARINT_BYTES):
        byte = await reader.read(1)
        if not byte:
            if i == 0:
                return None
            raise FrameError("connection closed inside a length prefix")
        length |= (byte[0] & 0x7F) << shift
        shift += 7
        if byte[0] < 0x80:
            break
    else:
        raise FrameError("length prefix longer than 10 bytes")
    if length > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {length} bytes exceeds the {MAX_FRAME_BYTES} byte limit")
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as e:
        raise FrameError(f"connection closed after {len(e.partial)} of {length} frame bytes") from None


def _tx_size_in_block(tx: bytes) -> int:
    # CometBFT measures proposal txs by their protobuf size inside tendermint.types.Data
    # (types.Txs.Validate): field tag + length prefix + bytes.
    return 1 + len(encode_varint(len(tx))) + len(tx)


def _observe(report, *args) -> None:
    # Metrics and event logs must never stop a validator: an exception here would reach _dispatch, which
    # treats it as the app failing and drops CometBFT. Log it and go on.
    try:
        report(*args)
    except Exception:
        log.exception("metrics or event log failed", extra={"report": getattr(report, "__qualname__", str(report))})


# --- request handling, shared by both transports -------------------------------------------------
class AbciHandlers:
    """One function per ABCI request type: convert in, call the app once, convert out. The socket server
    (AbciServer, below) and the gRPC server (abci_app/grpc_server.py) both answer every request through
    `handle`, so the app sees the same calls whichever transport CometBFT uses. The caller serializes
    calls (one at a time, as CometBFT's connections each wait for their answers).
    With `encoded_responses` (the socket server) CheckTx and FinalizeBlock answer with convert.Encoded
    bytes instead of protobuf objects: the same bytes, without building an object per event."""

    encoded_responses = False

    def __init__(self, app, chain_id: str, encryption_key: bytes | None = None, metrics: Metrics | None = None,
                 snapshots: SnapshotStore | None = None):
        self.app = app
        self.snapshots = snapshots  # state sync (abci_app/snapshots.py): None takes and serves none
        self._restore: Restore | None = None
        self.metrics = metrics or Metrics()  # served over HTTP only if the node asks (abci_app/node.py)
        self.encryption_key = encryption_key  # this validator's X25519 private key: releases its key shares
        self.chain_id = chain_id
        self._failure: BaseException | None = None
        self._handlers = {
            "echo": lambda r: abci.ResponseEcho(message=r.message),
            "info": self._info,
            "init_chain": self._init_chain,
            "check_tx": self._check_tx,
            "finalize_block": self._finalize_block,
            "commit": self._commit,
            "query": self._query,
            "prepare_proposal": self._prepare_proposal,
            "process_proposal": self._process_proposal,
            "extend_vote": self._extend_vote,
            "verify_vote_extension": self._verify_vote_extension,
            "list_snapshots": self._list_snapshots,
            "offer_snapshot": self._offer_snapshot,
            "load_snapshot_chunk": self._load_snapshot_chunk,
            "apply_snapshot_chunk": self._apply_snapshot_chunk,
        }

    def handles(self, kind: str | None) -> bool:
        return kind in self._handlers

    def handle(self, kind: str, request):
        """The response (e.g. ResponseCheckTx) to one request (RequestCheckTx) of type `kind` (the
        Request oneof's field name, "check_tx"). None if the app failed, in this call or before: then
        nothing more may be answered, and the transport stops."""
        if self._failure is not None:
            return None
        try:
            return self._handlers[kind](request)
        except ChainError as e:  # an expected failure the app should have turned into a result
            log.error("application rejected %s: %s", kind, e, extra={"request": kind})
            self._fail(e)
        except Exception as e:
            log.exception("application crashed in %s; stopping the node", kind, extra={"request": kind})
            self._fail(e)
        return None

    def _fail(self, exc: BaseException) -> None:
        self._failure = exc

    # --- the handlers -----------------------------------------------------------------------------
    def _info(self, req: abci.RequestInfo) -> abci.ResponseInfo:
        height, app_hash = self.app.info()
        log.info("info", extra={"height": height, "app_hash": app_hash.hex(), "cometbft": req.version})
        return convert.info_response(height, app_hash)

    def _init_chain(self, req: abci.RequestInitChain) -> abci.ResponseInitChain:
        result = self.app.init_chain(req.chain_id, req.initial_height, req.app_state_bytes, req.time.seconds)
        log.info("init chain", extra={"chain_id": req.chain_id, "app_hash": result.app_hash.hex()})
        return convert.init_chain_response(result)

    def _check_tx(self, req: abci.RequestCheckTx) -> abci.ResponseCheckTx:
        started = time.perf_counter()
        recheck = req.type == abci.RECHECK
        result = self.app.check_tx(req.tx, recheck)
        _observe(self.metrics.observe_check_tx, result, recheck, time.perf_counter() - started)
        if self.encoded_responses:
            return convert.check_tx_encoded(result)
        return convert.check_tx_response(result)

    def _finalize_block(self, req: abci.RequestFinalizeBlock) -> abci.ResponseFinalizeBlock:
        started = time.perf_counter()
        result = self.app.finalize_block(convert.block_context(req, self.chain_id), list(req.txs))
        if self.encoded_responses:
            response = convert.finalize_block_encoded(result, len(req.txs))
        else:
            response = convert.finalize_block_response(result, len(req.txs))
        seconds = time.perf_counter() - started
        _observe(self.metrics.observe_block, req.height, result, seconds)
        _observe(eventlog.log_block, req.height, result)
        log.log(logging.DEBUG if eventlog.is_empty(result) else logging.INFO, "finalized block", extra={
            "height": req.height, "txs": len(req.txs), "events": len(block_events(result)),
            "app_hash": result.app_hash.hex(), "ms": round(seconds * 1000, 1)})
        return response

    def _commit(self, req: abci.RequestCommit) -> abci.ResponseCommit:
        started = time.perf_counter()
        self.app.commit()
        _observe(self.metrics.observe_commit, time.perf_counter() - started)
        store = getattr(self.app, "store", None)        # test doubles of the app keep no committed store
        if self.snapshots is not None and store is not None and self.snapshots.due(store.height):
            _observe(self.snapshots.take, store)  # a failed snapshot costs peers a snapshot, not us a block
        return abci.ResponseCommit()  # retain_height 0: CometBFT keeps every block

    # --- state sync (abci_app/snapshots.py) -------------------------------------------------------
    def _list_snapshots(self, req: abci.RequestListSnapshots) -> abci.ResponseListSnapshots:
        found = self.snapshots.list() if self.snapshots is not None else []
        return abci.ResponseListSnapshots(snapshots=[
            abci.Snapshot(height=s.height, format=s.format, chunks=s.chunks, hash=s.hash, metadata=s.metadata)
            for s in found])

    def _load_snapshot_chunk(self, req: abci.RequestLoadSnapshotChunk) -> abci.ResponseLoadSnapshotChunk:
        chunk = self.snapshots.load_chunk(req.height, req.format, req.chunk) if self.snapshots is not None else b""
        return abci.ResponseLoadSnapshotChunk(chunk=chunk)

    def _offer_snapshot(self, req: abci.RequestOfferSnapshot) -> abci.ResponseOfferSnapshot:
        result = abci.ResponseOfferSnapshot
        if not hasattr(self.app, "restore"):   # an app without state sync (test doubles)
            return result(result=result.REJECT)
        if self.app.store.height != 0:  # CometBFT state-syncs only an empty node; this app is not one
            log.error("snapshot offered to an app that has state", extra={"height": self.app.store.height})
            return result(result=result.ABORT)
        offered = req.snapshot
        if offered.format != FORMAT:
            return result(result=result.REJECT_FORMAT)
        snapshot = Snapshot(offered.height, offered.format, offered.chunks, offered.hash, offered.metadata)
        try:
            self._restore = Restore(snapshot, req.app_hash)
        except ValueError as e:
            log.warning("snapshot refused", extra={"height": offered.height, "reason": str(e)})
            self._restore = None
            return result(result=result.REJECT)
        log.info("snapshot accepted", extra={"height": offered.height, "chunks": offered.chunks,
                                             "app_hash": req.app_hash.hex()})
        return result(result=result.ACCEPT)

    def _apply_snapshot_chunk(self, req: abci.RequestApplySnapshotChunk) -> abci.ResponseApplySnapshotChunk:
        result = abci.ResponseApplySnapshotChunk
        restore = self._restore
        if restore is None:
            return result(result=result.ABORT)  # a chunk without an accepted offer: CometBFT is confused
        try:
            restore.add(req.index, req.chunk)
        except ChunkRefused as e:
            log.warning("snapshot chunk refused; fetching it again", extra={
                "height": restore.snapshot.height, "chunk": req.index, "sender": req.sender, "reason": str(e)})
            return result(result=result.RETRY, refetch_chunks=[req.index],
                          reject_senders=[req.sender] if req.sender else [])
        if not restore.complete:
            return result(result=result.ACCEPT)
        self._restore = None
        try:
            restore.write_into(self.app)
        except SnapshotRejected as e:
            log.error("snapshot rejected", extra={"height": restore.snapshot.height, "reason": str(e)})
            return result(result=result.REJECT_SNAPSHOT)
        return result(result=result.ACCEPT)

    def _query(self, req: abci.RequestQuery) -> abci.ResponseQuery:
        return convert.query_response(self.app.query(req.path, req.data, req.height, req.prove))

    def _prepare_proposal(self, req: abci.RequestPrepareProposal) -> abci.ResponsePrepareProposal:
        # The app puts the key-share release tx (from the previous height's vote extensions) first.
        # Keep mempool order and stop at the first tx that does not fit: skipping it and taking a later
        # one could put a sender's sequence n+1 in the block without n.
        txs, total = [], 0
        proposed = list(req.txs)
        if hasattr(self.app, "prepare_proposal"):  # apps without share release (test doubles) keep mempool order
            proposed = self.app.prepare_proposal(req.height, proposed, convert.commit_extensions(req.local_last_commit))
        for tx in proposed:
            size = _tx_size_in_block(tx)
            if total + size > req.max_tx_bytes:
                if not txs and tx.startswith(RELEASE_PREFIX):
                    continue  # an oversized share release waits (shares stay releasable); the mempool goes on
                break
            total += size
            txs.append(tx)
        return abci.ResponsePrepareProposal(txs=txs)

    def _process_proposal(self, req: abci.RequestProcessProposal) -> abci.ResponseProcessProposal:
        ok = not hasattr(self.app, "process_proposal") or self.app.process_proposal(req.height, list(req.txs))
        return abci.ResponseProcessProposal(status=abci.ResponseProcessProposal.ACCEPT if ok
                                            else abci.ResponseProcessProposal.REJECT)

    def _extend_vote(self, req: abci.RequestExtendVote) -> abci.ResponseExtendVote:
        if not hasattr(self.app, "extend_vote"):
            return abci.ResponseExtendVote()
        return abci.ResponseExtendVote(vote_extension=self.app.extend_vote(req.height, self.encryption_key))

    def _verify_vote_extension(self, req: abci.RequestVerifyVoteExtension) -> abci.ResponseVerifyVoteExtension:
        ok = not hasattr(self.app, "verify_vote_extension") or \
            self.app.verify_vote_extension(req.height, req.validator_address, req.vote_extension)
        return abci.ResponseVerifyVoteExtension(status=abci.ResponseVerifyVoteExtension.ACCEPT if ok
                                                else abci.ResponseVerifyVoteExtension.REJECT)


# --- socket server -------------------------------------------------------------------------------
# A Response is a oneof of messages, so its encoding is one field: tag, length, the inner response's
# bytes (what protobuf itself emits; tests/abci/test_framing.py checks it). Writing it directly spares
# copying the inner response into a Response first.
_RESPONSE_TAGS = {f.name: encode_varint(f.number << 3 | 2) for f in abci.Response.DESCRIPTOR.fields}
_FLUSH_RESPONSE = frame(abci.Response(flush=abci.ResponseFlush()).SerializeToString())


def response_frame(kind: str, response) -> bytes:
    """The framed bytes of Response{kind: response}."""
    body = response.SerializeToString()
    inner = _RESPONSE_TAGS[kind] + encode_varint(len(body)) + body
    return encode_varint(len(inner)) + inner


def split_frames(buf: bytearray | bytes, pos: int = 0) -> tuple[list[bytes], int]:
    """The payloads of the complete frames in buf[pos:], and the position after the last of them.
    Raises FrameError for a length prefix longer than 10 bytes or a frame above MAX_FRAME_BYTES."""
    out, end = [], len(buf)
    while pos < end:
        length, shift, i = 0, 0, pos
        while True:
            if i >= end:
                if i - pos >= _MAX_VARINT_BYTES:
                    raise FrameError("length prefix longer than 10 bytes")
                return out, pos          # the prefix is still arriving
            byte = buf[i]
            i += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
            if i - pos >= _MAX_VARINT_BYTES:
                raise FrameError("length prefix longer than 10 bytes")
        if length > MAX_FRAME_BYTES:
            raise FrameError(f"frame of {length} bytes exceeds the {MAX_FRAME_BYTES} byte limit")
        if end - i < length:
            return out, pos              # the payload is still arriving
        out.append(bytes(buf[i:i + length]))
        pos = i + length
    return out, pos


class AbciServer(AbciHandlers):
    """The ABCI socket transport (CometBFT's default, `abci = "socket"`).

    Each connection is an asyncio Protocol: every complete frame that arrives is answered at once, on the
    event loop's thread, so the app sees one call at a time across all connections; answers are
    collected and written once per Flush. CometBFT's mempool sends CheckTx and Flush for nearly every tx,
    and a burst of rechecks after each block: parsing frames straight from the received bytes, without a
    coroutine step per request, halves the server's own CPU per CheckTx."""

    encoded_responses = True

    def __init__(self, app, chain_id: str, host: str = "127.0.0.1", port: int = 26658,
                 encryption_key: bytes | None = None, metrics: Metrics | None = None, snapshots=None):
        super().__init__(app, chain_id, encryption_key, metrics, snapshots)
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._stopped = asyncio.Event()

    @property
    def address(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind and accept connections. With port=0 the OS picks a port; read it from .port afterwards."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("abci server listening", extra={"address": self.address})

    async def serve(self) -> None:
        """Run until stop(); raise AppCrashed if the Application failed."""
        if self._server is None:
            await self.start()
        await self._stopped.wait()
        await self._shutdown()
        if self._failure is not None:
            raise AppCrashed(f"application failed: {self._failure!r}") from self._failure

    def stop(self) -> None:
        self._stopped.set()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.close()
        if self._server is not None:
            await self._server.wait_closed()

    def answer(self, kind: str | None, request: abci.Request) -> bytes | None:
        """The framed response to one (non-Flush) request; None if the app failed."""
        if not self.handles(kind):
            log.error("unsupported abci request", extra={"request": kind})
            return frame(abci.Response(exception=abci.ResponseException(
                error=f"unsupported request {kind}")).SerializeToString())
        response = self.handle(kind, getattr(request, kind))
        return None if response is None else response_frame(kind, response)

    def _fail(self, exc: BaseException) -> None:
        super()._fail(exc)
        self._stopped.set()


class _Connection(asyncio.Protocol):
    """One CometBFT connection: answers in request order, written at each Flush (or when more than
    _WRITE_HIGH_WATER bytes wait). While the socket's send buffer is full, reading pauses, so a peer
    that does not read its answers cannot grow this process's memory."""

    def __init__(self, server: AbciServer):
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.peer = None
        self._buf = bytearray()
        self._pending = bytearray()
        self._closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        self.server._connections.add(self)
        log.debug("abci connection opened", extra={"peer": str(self.peer)})

    def connection_lost(self, exc) -> None:
        self._closed = True
        self.server._connections.discard(self)
        if exc is not None and not self.server._stopped.is_set():
            log.warning("abci connection dropped", extra={"peer": str(self.peer), "error": str(exc)})
        log.debug("abci connection closed", extra={"peer": str(self.peer)})

    def close(self) -> None:
        self._closed = True
        if self.transport is not None:
            self.transport.close()

    def pause_writing(self) -> None:
        if self.transport is not None and not self._closed:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self._closed:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self._closed or self.server._stopped.is_set():
            return
        buf = self._buf
        buf += data
        try:
            payloads, used = split_frames(buf)
            del buf[:used]
            for payload in payloads:
                if not self._answer(payload):
                    return
        except FrameError as e:
            log.warning("abci connection dropped", extra={"peer": str(self.peer), "error": str(e)})
            self.close()
        except Exception:  # a protobuf decode error or a bug here: close this connection, keep serving
            log.exception("abci connection failed", extra={"peer": str(self.peer)})
            self.close()

    def _answer(self, payload: bytes) -> bool:
        """Answer one request; False once the connection is closed (the app failed, or the server stops)."""
        if self._closed or self.server._stopped.is_set():
            self.close()
            return False
        request = abci.Request.FromString(payload)
        kind = request.WhichOneof("value")
        pending = self._pending
        if kind == "flush":
            pending += _FLUSH_RESPONSE
            self.transport.write(bytes(pending))
            pending.clear()
            return True
        answer = self.server.answer(kind, request)
        if answer is None:  # the app failed: answer nothing more (the server drops every connection)
            pending.clear()
            self.close()
            return False
        pending += answer
        if len(pending) > _WRITE_HIGH_WATER:
            self.transport.write(bytes(pending))
            pending.clear()
        return True
