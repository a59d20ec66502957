"""Transfer load for the testnet fault tests: 1-ugrad sends in a loop until stopped, counted and recorded.

    with TransferLoad(urls, faucet) as load:
        ... kill, pause, partition ...
    load.committed, load.tx_hashes   # what the clients saw committed

Each sender talks to one node and moves to the next one after an error (its node may be down), so the
load goes on through any single fault. A send that errors is retried later with a fresh sequence; the
tests decide from the chain itself whether anything was lost or applied twice.
"""
from __future__ import annotations

import threading
import time

from client import Client, GradchainError
from client.wallet import Wallet


class TransferLoad:
    def __init__(self, urls: list[str], faucet: Wallet, senders: int = 2, seed: int = 0x60,
                 fund: int = 10_000_000):
        self.urls, self.faucet, self.fund = list(urls), faucet, fund
        self.recipient = Wallet.generate()
        self.senders = [Wallet.from_seed(bytes([seed + i]) * 32) for i in range(senders)]
        self.tx_hashes: list[str] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(w, i), daemon=True)
                        for i, w in enumerate(self.senders)]

    @property
    def committed(self) -> int:
        with self.lock:
            return len(self.tx_hashes)

    def run(self, wallet: Wallet, start: int) -> None:
        node = start
        while not self.stop.is_set():
            with Client(self.urls[node % len(self.urls)], timeout=20) as c:
                while not self.stop.is_set():
                    try:
                        receipt = c.send(wallet, self.recipient.address, {"ugrad": 1})
                    except (GradchainError, OSError) as e:  # counted; the tests decide if it matters
                        self.errors.append(f"{type(e).__name__}: {e}")
                        time.sleep(0.3)
                        node += 1
                        break
                    with self.lock:
                        self.tx_hashes.append(receipt.tx_hash)

    def __enter__(self) -> "TransferLoad":
        with Client(self.urls[0]) as c:
            for w in self.senders:
                c.send(self.faucet, w.address, {"ugrad": self.fund})
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(40)
