"""Chain events over CometBFT's websocket: subscribe to a query, or wait for one event.

    with subscribe("http://127.0.0.1:26657", "tm.event='Tx' AND submit_update.model_id='1'") as events:
        for event in events:                       # ChainEvent(kind, attributes, height, tx_hash)
            print(event.kind, event.attributes)

    opened = wait_for(url, "update_opened", {"model_id": "1", "round": "0"}, timeout=120,
                      since_height=receipt.height)      # also finds it if it happened before the call

The chain's events are ABCI events with string attributes, emitted in FinalizeBlock: per tx (bank's
`transfer`, registry's `register_model`, rounds' `submit_update`, ...) and per block (`update_opened`,
`scored`, `new_head`, ... from end-of-block work). CometBFT publishes a tx's events as a `Tx` message and
a block's as `NewBlock` and `NewBlockEvents` messages; a subscription yields each ABCI event of every
message its query matches, in order. Queries use CometBFT's language: conditions joined by AND, e.g.
`tm.event='Tx' AND transfer.recipient='grad1...'`, `new_head.model_id='1'`, `transfer EXISTS`.
Consensus-internal messages (votes, round steps, headers) carry no ABCI events and yield nothing.

Why reconnect-safe: a websocket drops (node restart, network, CometBFT cancelling a slow subscriber)
and CometBFT keeps nothing for a client that is gone. On a drop the subscription reconnects,
re-subscribes, then reads the blocks committed meanwhile through the RPC (`block_results`, and `block`
for tx hashes) and matches them against the same query locally, so no event is lost and none is
yielded twice. `since_height` uses the same path to replay history first: subscribe, then read the
committed blocks from that height, so an event that happened just before subscribing is not missed.
This needs the node to keep ABCI results (CometBFT's default; not `discard_abci_responses`).
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import AsyncIterator, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

from client.errors import GradchainError, RpcError
from client.rpc import CometRPC

SUBSCRIPTION_ID = 1
MAX_MESSAGE_BYTES = 64 << 20     # a NewBlock message carries the whole block (txs up to 1 MiB each)
RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)   # then 4 s between attempts
TX_MESSAGE, BLOCK_MESSAGES = "Tx", ("NewBlock", "NewBlockEvents")
_RETRYABLE = (OSError, RpcError, TimeoutError, ConnectionError)


class EventTimeout(GradchainError, TimeoutError):
    """No matching event arrived in time."""


class SubscriptionClosed(GradchainError):
    """The subscription was closed (by close(), from any thread)."""


@dataclass(frozen=True)
class ChainEvent:
    kind: str                    # the ABCI event type, e.g. "transfer", "submit_update", "new_head"
    attributes: dict[str, str]   # its attributes (the last value wins if a key repeats)
    height: int                  # the block that emitted it
    tx_hash: str | None = None   # upper-case hex of the tx that emitted it; None for block events

    def matches(self, kind: str, match: dict | None = None) -> bool:
        return self.kind == kind and all(self.attributes.get(k) == str(v) for k, v in (match or {}).items())


# --- CometBFT's query language, for matching replayed blocks locally ---------------------------------------
_TOKEN = re.compile(r"\s*(?:(?P<string>'[^']*')|(?P<number>\d+(?:\.\d+)?)(?![\w.-])|(?P<op><=|>=|<|>|=)"
                    r"|(?P<word>[^\W][\w.-]*))")
_LEADING_NUMBER = re.compile(r"^\d+(\.\d+)?")


@dataclass(frozen=True)
class Query:
    """A parsed CometBFT (v0.38) event query, matched as CometBFT's pubsub does: every condition must hold
    for some attribute of the message's flattened events ("type.key" -> values)."""
    text: str
    conditions: tuple[tuple[str, str, str | Decimal | None], ...]   # (tag, op, argument)

    @classmethod
    def parse(cls, text: str) -> Query:
        tokens, pos = [], 0
        while text[pos:].strip():
            m = _TOKEN.match(text, pos)
            if not m:
                raise ValueError(f"query {text!r}: cannot read {text[pos:].strip()[:20]!r}")
            tokens.append((m.lastgroup, m.group(m.lastgroup)))
            pos = m.end()
        conditions = []
        for condition in _split_and(tokens, text):
            conditions.append(_condition(condition, text))
        return cls(text, tuple(conditions))

    def matches(self, flat: dict[str, list[str]]) -> bool:
        expanded = [(key.rsplit(".", 1)[0] if "." in key else "", key, values) for key, values in flat.items()]
        return bool(flat) and all(self._holds(tag, op, arg, expanded) for tag, op, arg in self.conditions)

    @staticmethod
    def _holds(tag, op, arg, expanded) -> bool:
        for event_type, key, values in expanded:
            if not tag.startswith(event_type):
                continue
            if tag == event_type:      # CometBFT: a bare event type matches as if its value were ""
                candidates = [""]
            elif key == tag:
                candidates = values
            else:
                continue
            if any(_compare(op, arg, v) for v in candidates):
                return True
        return False


def _split_and(tokens: list, text: str) -> list[list]:
    groups, current = [], []
    for token in tokens + [("word", "AND")]:
        if token == ("word", "AND"):
            if not current:
                raise ValueError(f"query {text!r}: empty condition (conditions are joined by AND)")
            groups.append(current)
            current = []
        else:
            current.append(token)
    return groups


def _condition(tokens: list, text: str) -> tuple[str, str, str | Decimal | None]:
    """tag EXISTS | tag = 'text' | tag = / < / <= / > / >= number | tag CONTAINS 'text'"""
    (kind, tag), rest = tokens[0], tokens[1:]
    if kind != "word" or tag in ("EXISTS", "CONTAINS"):
        raise ValueError(f"query {text!r}: expected an event key such as transfer.recipient, got {tag!r}")
    if tag in ("TIME", "DATE"):
        raise ValueError(f"query {text!r}: TIME and DATE values are not supported here")
    if rest == [("word", "EXISTS")]:
        return tag, "EXISTS", None
    if len(rest) == 2:
        (op_kind, op), (arg_kind, arg) = rest
        if (op_kind, op) == ("word", "CONTAINS") and arg_kind == "string":
            return tag, "CONTAINS", arg[1:-1]
        if op_kind == "op" and arg_kind == "number":
            return tag, op, Decimal(arg)
        if (op_kind, op) == ("op", "=") and arg_kind == "string":
            return tag, "=", arg[1:-1]
    raise ValueError(f"query {text!r}: after {tag!r} expected = 'text', a comparison with a number, "
                     f"CONTAINS 'text' or EXISTS")


def _compare(op: str, arg, value: str) -> bool:
    if op == "EXISTS":
        return True
    if op == "CONTAINS":
        return arg in value
    if isinstance(arg, str):
        return value == arg
    m = _LEADING_NUMBER.match(value)
    if not m:
        return False
    try:
        number = Decimal(value) if value.isdigit() else Decimal(m.group(0))
    except InvalidOperation:
        return False
    return {"=": number == arg, "<": number < arg, "<=": number <= arg, ">": number > arg, ">=": number >= arg}[op]


def event_query(kind: str, match: dict | None = None) -> str:
    """A query for messages carrying an event `kind` whose attributes equal `match` (values that the query
    language cannot quote are left to the caller's own filtering)."""
    if not re.fullmatch(r"[^\W][\w-]*", kind):
        raise ValueError(f"event kind {kind!r} must be letters, digits, '_' or '-'")
    parts = [f"{kind} EXISTS"]
    for key, value in (match or {}).items():
        if re.fullmatch(r"[\w-]+", str(key)) and "'" not in str(value):
            parts.append(f"{kind}.{key}='{value}'")
    return " AND ".join(parts)


# --- messages and replayed blocks -> units of events --------------------------------------------------------
@dataclass(frozen=True)
class _Unit:
    """The events of one tx or one block: the granularity at which CometBFT matches a query."""
    height: int
    key: tuple                    # ("tx", index in block) or ("block",)
    events: tuple[ChainEvent, ...]


def _chain_events(raw_events, height: int, tx_hash: str | None) -> tuple[ChainEvent, ...]:
    return tuple(ChainEvent(e["type"], {a.get("key", ""): a.get("value", "") for a in e.get("attributes") or []},
                            height, tx_hash)
                 for e in raw_events or [] if e.get("type"))


def _flatten(raw_events) -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for e in raw_events or []:
        for a in e.get("attributes") or []:
            if e.get("type") and a.get("key"):
                flat.setdefault(f"{e['type']}.{a['key']}", []).append(a.get("value", ""))
    return flat


def _unit_of_message(result: dict) -> _Unit | None:
    data = result.get("data") or {}
    kind, value = str(data.get("type", "")).rsplit("/", 1)[-1], data.get("value") or {}
    if kind == TX_MESSAGE:
        tx = value["TxResult"]
        height = int(tx["height"])
        hashes = (result.get("events") or {}).get("tx.hash")
        tx_hash = hashes[0] if hashes else hashlib.sha256(base64.b64decode(tx.get("tx", ""))).hexdigest().upper()
        events = _chain_events((tx.get("result") or {}).get("events"), height, tx_hash)
        return _Unit(height, ("tx", int(tx.get("index", 0))), events)   # CometBFT omits index 0
    if kind == "NewBlock":
        height = int(value["block"]["header"]["height"])
        events = (value.get("result_finalize_block") or {}).get("events")
        return _Unit(height, ("block",), _chain_events(events, height, None))
    if kind == "NewBlockEvents":
        height = int(value["height"])
        return _Unit(height, ("block",), _chain_events(value.get("events"), height, None))
    return None


def committed_units(rpc: CometRPC, height: int, query: Query) -> list[_Unit] | None:
    """The units of committed block `height` that `query` matches, in CometBFT's publishing order (block
    events, then txs in order); None if the node has no results for it yet."""
    try:
        results = rpc.call("block_results", height=str(height))
    except RpcError as e:
        if "could not find results" in str(e) or "must be less than or equal" in str(e):
            return None
        raise
    units = []
    block_events = results.get("finalize_block_events")
    flat = _flatten(block_events)
    if any(query.matches({**flat, "tm.event": [kind]}) for kind in BLOCK_MESSAGES):
        units.append(_Unit(height, ("block",), _chain_events(block_events, height, None)))
    tx_results = results.get("txs_results") or []
    if tx_results:
        txs = rpc.call("block", height=str(height))["block"]["data"].get("txs") or []
        for index, (raw, tx) in enumerate(zip(txs, tx_results)):
            tx_hash = hashlib.sha256(base64.b64decode(raw)).hexdigest().upper()
            flat = {**_flatten(tx.get("events")), "tm.event": [TX_MESSAGE]}
            flat.setdefault("tx.hash", []).append(tx_hash)
            flat.setdefault("tx.height", []).append(str(height))
            if query.matches(flat):
                units.append(_Unit(height, ("tx", index), _chain_events(tx.get("events"), height, tx_hash)))
    return units


class _Cursor:
    """What has been yielded, so that live messages and replayed blocks never repeat or skip a unit.

    CometBFT sends one subscription's messages in height order. `top` is the highest height covered (seen
    live or replayed) and `seen` the units yielded at it; anything below `top` was covered already."""

    def __init__(self):
        self.top: int | None = None
        self.seen: set[tuple] = set()

    def _raise_top(self, height: int) -> None:
        if self.top is None or height > self.top:
            self.top, self.seen = height, set()

    def admit(self, unit: _Unit) -> tuple[ChainEvent, ...]:
        if self.top is not None and unit.height < self.top:
            return ()
        self._raise_top(unit.height)
        if unit.key in self.seen:
            return ()
        self.seen.add(unit.key)
        return unit.events

    def replay(self, rpc: CometRPC, query: Query, start: int | None, latest: int) -> list[ChainEvent]:
        """After (re)subscribing: replay committed blocks from `start` (default: the height covered last,
        again, skipping what was yielded) to `latest`. Blocks whose results are not stored yet come live:
        the subscription is already open."""
        if start is None:
            if self.top is None:   # a fresh subscription without history: what commits from now comes live
                self._raise_top(latest)
                return []
            start = self.top
        elif self.top is None:
            self.top = start - 1
        out: list[ChainEvent] = []
        for height in range(max(start, 1), latest + 1):
            units = committed_units(rpc, height, query)
            if units is None:
                if height < latest:
                    raise RpcError(f"the node keeps no results for block {height} (pruned, or "
                                   f"discard_abci_responses): start from a later height")
                break
            for unit in units:
                out.extend(self.admit(unit))
            self._raise_top(height)
        return out


def ws_url(rpc_url: str) -> str:
    """http://host:port -> ws://host:port/websocket (https -> wss)."""
    parts = urlsplit(rpc_url if "://" in rpc_url else "http://" + rpc_url)
    scheme = {"http": "ws", "https": "wss", "tcp": "ws", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"cannot derive a websocket URL from {rpc_url!r}: give http://host:port")
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, parts.netloc, path if path.endswith("/websocket") else path + "/websocket", "", ""))


def http_url(rpc_url: str) -> str:
    parts = urlsplit(rpc_url if "://" in rpc_url else "http://" + rpc_url)
    scheme = {"ws": "http", "wss": "https", "tcp": "http"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/")
    path = path[:-len("/websocket")] if path.endswith("/websocket") else path
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def _subscribe_request(query: str) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": SUBSCRIPTION_ID, "method": "subscribe", "params": {"query": query}})


def _read_reply(raw, query: str) -> dict | None:
    """An event message's result; None for the subscribe acknowledgement; raises on a subscribe error.
    A cancellation (CometBFT drops a slow subscriber) is reported as a ConnectionError: reconnect."""
    reply = json.loads(raw)
    if "error" in reply:
        detail = f"{reply['error'].get('message', '')} {reply['error'].get('data', '')}".strip()
        if "canceled" in detail or "cancelled" in detail:
            raise ConnectionError(detail)
        raise RpcError(f"subscribe {query!r}: {detail}")
    result = reply.get("result") or {}
    return result if "data" in result else None


def _delays(deadline: float) -> Iterator[float]:
    for i in range(1 << 30):
        delay = RECONNECT_DELAYS[min(i, len(RECONNECT_DELAYS) - 1)]
        if time.monotonic() + delay > deadline:
            return
        yield delay


class Subscription:
    """A live iterator of ChainEvents for one query (see the module docstring). Close it (or use `with`);
    close() is idempotent and may be called from another thread to end a blocked iteration."""

    def __init__(self, rpc_url: str, query: str, *, since_height: int | None = None, reconnect: bool = True,
                 reconnect_timeout: float = 60.0, open_timeout: float = 10.0):
        self.query = Query.parse(query)
        self.ws_url, self.reconnect, self.reconnect_timeout = ws_url(rpc_url), reconnect, reconnect_timeout
        self.open_timeout = open_timeout
        self.reconnects = 0
        self._rpc = CometRPC(http_url(rpc_url), timeout=open_timeout)
        self._cursor = _Cursor()
        self._pending: list[ChainEvent] = []
        self._stack: contextlib.ExitStack | None = None
        self._conn = None
        self._closed = False
        try:
            self._open(since_height)
        except BaseException:
            self.close()
            raise

    def _open(self, start: int | None) -> None:
        from websockets.sync.client import connect
        stack = contextlib.ExitStack()
        try:
            conn = stack.enter_context(connect(self.ws_url, open_timeout=self.open_timeout, max_size=MAX_MESSAGE_BYTES))
            conn.send(_subscribe_request(self.query.text))
            while _read_reply(conn.recv(timeout=self.open_timeout), self.query.text) is not None:
                pass   # nothing is published before the acknowledgement; be lenient all the same
        except BaseException:
            stack.close()
            raise
        self._stack, self._conn = stack, conn
        # Subscribed first, then read the chain: whatever commits from here on also arrives live.
        self._pending += self._cursor.replay(self._rpc, self.query, start, self._rpc.latest_height())

    def _reconnect(self) -> None:
        from websockets.exceptions import WebSocketException
        if self._stack is not None:
            self._stack.close()
        deadline = time.monotonic() + self.reconnect_timeout
        last: Exception | None = None
        for delay in _delays(deadline):
            if self._closed:
                raise SubscriptionClosed("the subscription was closed")
            time.sleep(delay)
            try:
                self._open(None)
                self.reconnects += 1
                return
            except _RETRYABLE + (WebSocketException,) as e:
                last = e
        raise RpcError(f"lost the event subscription at {self.ws_url} and could not reconnect within "
                       f"{self.reconnect_timeout:g}s ({last}). Is the node running?")

    def next(self, timeout: float | None = None) -> ChainEvent:
        """The next event; EventTimeout after `timeout` seconds (None: wait), SubscriptionClosed once closed."""
        from websockets.exceptions import ConnectionClosed
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._pending:
            if self._closed:
                raise SubscriptionClosed("the subscription was closed")
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                result = _read_reply(self._conn.recv(timeout=remaining), self.query.text)
            except TimeoutError:
                raise EventTimeout(f"no event for {self.query.text!r} within {timeout:g}s") from None
            except (ConnectionClosed, ConnectionError, OSError) as e:
                if self._closed:
                    raise SubscriptionClosed("the subscription was closed") from None
                if not self.reconnect:
                    raise RpcError(f"event subscription at {self.ws_url} dropped: {e}") from None
                self._reconnect()
                continue
            unit = _unit_of_message(result) if result is not None else None
            if unit is not None:
                self._pending += self._cursor.admit(unit)
        return self._pending.pop(0)

    def __iter__(self) -> Iterator[ChainEvent]:
        return self

    def __next__(self) -> ChainEvent:
        try:
            return self.next()
        except SubscriptionClosed:
            raise StopIteration from None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._stack is not None:
            with contextlib.suppress(Exception):
                self._stack.close()   # CometBFT unsubscribes a client whose connection ends
        self._rpc.close()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def subscribe(rpc_url: str, query: str, *, since_height: int | None = None, reconnect: bool = True) -> Subscription:
    """Subscribe to `query` on the node at `rpc_url` (http://host:port). With `since_height`, events of
    blocks committed from that height on come first. Use as a context manager or close() it."""
    return Subscription(rpc_url, query, since_height=since_height, reconnect=reconnect)


async def subscribe_async(rpc_url: str, query: str, *, since_height: int | None = None, reconnect: bool = True,
                          reconnect_timeout: float = 60.0, open_timeout: float = 10.0) -> AsyncIterator[ChainEvent]:
    """The asyncio form of subscribe(): `async for event in subscribe_async(url, query): ...`. Leaving the
    loop (break, an exception, or aclose()) closes the connection."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    parsed, url = Query.parse(query), ws_url(rpc_url)
    rpc, cursor = CometRPC(http_url(rpc_url), timeout=open_timeout), _Cursor()

    async def open_(start):
        conn = await connect(url, open_timeout=open_timeout, max_size=MAX_MESSAGE_BYTES)
        try:
            await conn.send(_subscribe_request(query))
            while _read_reply(await asyncio.wait_for(conn.recv(), open_timeout), query) is not None:
                pass
            latest = await asyncio.to_thread(rpc.latest_height)
            replayed = await asyncio.to_thread(cursor.replay, rpc, parsed, start, latest)
        except BaseException:
            await conn.close()
            raise
        return conn, replayed

    conn = None
    try:
        conn, replayed = await open_(since_height)
        for event in replayed:
            yield event
        while True:
            try:
                result = _read_reply(await conn.recv(), query)
            except (ConnectionClosed, ConnectionError, OSError) as e:
                if not reconnect:
                    raise RpcError(f"event subscription at {url} dropped: {e}") from None
                await conn.close()
                conn, replayed = await _reopen(open_, reconnect_timeout, url)
                for event in replayed:
                    yield event
                continue
            unit = _unit_of_message(result) if result is not None else None
            for event in cursor.admit(unit) if unit is not None else ():
                yield event
    finally:
        if conn is not None:
            await conn.close()
        rpc.close()


async def _reopen(open_: Callable, reconnect_timeout: float, url: str):
    from websockets.exceptions import WebSocketException
    last: Exception | None = None
    for delay in _delays(time.monotonic() + reconnect_timeout):
        await asyncio.sleep(delay)
        try:
            return await open_(None)
        except _RETRYABLE + (WebSocketException, asyncio.TimeoutError) as e:   # refused, handshake, RPC
            last = e
    raise RpcError(f"lost the event subscription at {url} and could not reconnect within {reconnect_timeout:g}s "
                   f"({last}). Is the node running?")


def wait_for(rpc_url: str, kind: str, match: dict | None = None, *, timeout: float = 60.0,
             since_height: int | None = None) -> ChainEvent:
    """The first event `kind` whose attributes include `match` (values compared as strings), from blocks
    committed since `since_height` (default: from now on) or arriving within `timeout` seconds.

    Subscribes first, then replays the committed blocks from `since_height` through block_results, so an
    event that happened before the call is found; raises EventTimeout if none comes in time."""
    wanted = {str(k): str(v) for k, v in (match or {}).items()}
    deadline = time.monotonic() + timeout
    with Subscription(rpc_url, event_query(kind, wanted), since_height=since_height) as events:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                event = events.next(timeout=remaining)
            except EventTimeout:
                break
            if event.matches(kind, wanted):
                return event
    raise EventTimeout(f"no {kind} event with {wanted} within {timeout:g}s")


__all__ = ["ChainEvent", "EventTimeout", "Query", "Subscription", "SubscriptionClosed", "event_query",
           "subscribe", "subscribe_async", "wait_for", "ws_url"]
