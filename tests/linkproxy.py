"""A TCP relay that behaves like a slow, lossy link: the user-space stand-in for `tc netem`, which this
kernel lacks (tests/netns.py explains where it sits).

Each segment read from one side is written to the other after `delay_ms` plus a uniform jitter in
[-jitter_ms, +jitter_ms]. With probability `loss` a segment is "lost": as on a real TCP stream, it still
arrives, but one retransmission timeout (RTO_MS) later, and everything behind it on that stream waits
(TCP delivers in order, so jitter and losses never reorder bytes). Each direction has its own clock.
The random draws come from a seeded generator, so a failing run can be replayed.
"""
from __future__ import annotations

import asyncio
import random
import threading
import time

RTO_MS = 200   # Linux's minimum retransmission timeout


class LinkProxy:
    def __init__(self, listen: tuple[str, int], target: tuple[str, int], *, delay_ms: int, jitter_ms: int = 0,
                 loss: float = 0.0, seed: int = 0):
        self.listen, self.target = listen, target
        self.delay, self.jitter, self.loss = delay_ms / 1000, jitter_ms / 1000, loss
        self.random = random.Random(seed)
        self.segments = self.lost = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server = None
        self._tasks: set = set()

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._serve(), self._loop)
        future.result(10)

    def stop(self) -> None:
        async def close():
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _serve(self) -> None:
        self._server = await asyncio.start_server(self._accept, *self.listen)

    async def _accept(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pump(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, source, sink) -> None:
        """Read segments, stamp each with its delivery time, deliver in order."""
        queue: asyncio.Queue = asyncio.Queue()
        deliver = asyncio.ensure_future(self._deliver(queue, sink))
        last = 0.0
        try:
            while data := await source.read(65536):
                due = time.monotonic() + self.delay + self.random.uniform(-self.jitter, self.jitter)
                self.segments += 1
                if self.random.random() < self.loss:
                    self.lost += 1
                    due += RTO_MS / 1000
                last = max(last, due)
                queue.put_nowait((last, data))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            queue.put_nowait((last, None))
            try:
                await deliver
            except asyncio.CancelledError:
                pass

    @staticmethod
    async def _deliver(queue: asyncio.Queue, sink) -> None:
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    break
                sink.write(data)
                await sink.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            sink.close()
