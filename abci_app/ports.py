"""Picking free loopback ports for local nodes (tests, benchmarks, scripted testnets).

Ports are chosen below the kernel's ephemeral range: outgoing connections (clients, the nodes' own
dials to peers) take ephemeral ports and could grab one of ours between the check and the node's bind.
"""
from __future__ import annotations

import random
import socket
from pathlib import Path


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port_base(span: int) -> int:
    """A base port such that base .. base+span-1 are all free on 127.0.0.1 right now."""
    low, high = ephemeral_range()
    rng = random.SystemRandom()
    for _ in range(200):
        base = rng.randrange(10000, low - span) if low - span > 10000 else rng.randrange(high + 1, 65000 - span)
        if all(port_free(base + i) for i in range(span)):
            return base
    raise RuntimeError("no free loopback port range found")


def free_ports(n: int) -> list[int]:
    """n distinct free ports, outside the ephemeral range."""
    base = free_port_base(n)
    return list(range(base, base + n))
