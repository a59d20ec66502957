"""The validator set an update is sealed to, and how the data key's shares are spread over it.

A sealing set is a list of (index, X25519 public key, voting power). Its hash is what an envelope names,
so an envelope stays tied to the set it was sealed to even if the active validators change mid-round.

Share plan: validator i holds `power_i // d` shares, where d = ceil(total power / max_total_shares), so the
total stays at most `max_total_shares` (d = 1, one share per unit of power, whenever the total power fits).
The threshold t is the fewest shares that any set holding at least the threshold fraction (2/3) of the
power can hold, so every such set can rebuild the key; with d = 1 no smaller set can. With d > 1 the
rounding lets some sets a little below 2/3 reach t as well: `min_power_to_reconstruct` says exactly how
little power suffices, and a plan where one third of the power would suffice is refused.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from chain.sealing.errors import InvalidSealingSet
from chain.sealing.derive import TAG_VALSET, X25519_BYTES, tagged_hash
from chain.tx.wire import U64_MAX, Field, Message, message

MAX_SEALING_VALIDATORS = 256
DEFAULT_MAX_TOTAL_SHARES = 256
MAX_TOTAL_SHARES_LIMIT = 1024       # hard cap: seal and rebuild cost grow with shares x threshold
TWO_THIRDS = (2, 3)

# A fixed, clamped scalar: X25519 with it yields all zeros exactly for the low-order points (clamped
# scalars are multiples of the cofactor 8), which `cryptography` reports as an error.
_PROBE = X25519PrivateKey.from_private_bytes(bytes(range(32)))


@message
class SealValidator(Message):
    index: int = 0
    encryption_pubkey: bytes = b""
    power: int = 0
    SCHEMA = (Field(1, "index", "uint64"), Field(2, "encryption_pubkey", "bytes"), Field(3, "power", "uint64"))


@message
class SealingSet(Message):
    validators: tuple[SealValidator, ...] = ()
    SCHEMA = (Field(1, "validators", "message", SealValidator, repeated=True),)


@lru_cache(maxsize=1024)
def is_usable_x25519_key(pubkey: bytes) -> bool:
    """32 bytes and not a low-order point (whose shared secret would be all zeros, known to everyone).
    Memoized: the same validator keys are checked for every envelope of a round."""
    if len(pubkey) != X25519_BYTES:
        return False
    try:
        _PROBE.exchange(X25519PublicKey.from_public_bytes(pubkey))
    except ValueError:
        return False
    return True


def sealing_set(validators: Iterable[SealValidator | tuple[int, bytes, int]]) -> tuple[SealValidator, ...]:
    """The canonical form of a sealing set: sorted by index, every entry checked. Input order is irrelevant."""
    entries = [v if isinstance(v, SealValidator) else SealValidator(int(v[0]), bytes(v[1]), int(v[2]))
               for v in validators]
    entries.sort(key=lambda v: v.index)
    if not entries or len(entries) > MAX_SEALING_VALIDATORS:
        raise InvalidSealingSet(f"a sealing set has 1 to {MAX_SEALING_VALIDATORS} validators, got {len(entries)}")
    for previous, v in zip([None] + entries, entries):
        if not 0 <= v.index <= U64_MAX or (previous is not None and previous.index == v.index):
            raise InvalidSealingSet(f"validator index {v.index} is repeated or out of range")
        if not 0 < v.power <= U64_MAX:
            raise InvalidSealingSet(f"validator {v.index} has power {v.power}; powers are 1 to 2**64-1")
        if not is_usable_x25519_key(v.encryption_pubkey):
            raise InvalidSealingSet(f"validator {v.index} has no usable X25519 key (32 bytes, not low-order)")
    if sum(v.power for v in entries) > U64_MAX:
        raise InvalidSealingSet("total power exceeds 2**64-1")
    return tuple(entries)


def validator_set_hash(validators: Iterable[SealValidator | tuple[int, bytes, int]]) -> bytes:
    """SHA-256 over the canonical SealingSet encoding (entries sorted by index), domain-tagged."""
    return _hash_canonical(sealing_set(validators))


def _hash_canonical(entries: tuple[SealValidator, ...]) -> bytes:
    return tagged_hash(TAG_VALSET, SealingSet(entries).encode())


@dataclass(frozen=True)
class SharePlan:
    validators: tuple[SealValidator, ...]   # sorted by index
    counts: tuple[int, ...]                 # shares held by each validator, same order (0 = none)
    threshold: int                          # shares needed to rebuild the key
    power_per_share: int                    # d
    total_power: int
    min_power_to_reconstruct: int           # least power of any set holding >= threshold shares
    valset_hash: bytes

    @property
    def total_shares(self) -> int:
        return sum(self.counts)

    def entries(self) -> tuple[tuple[int, int], ...]:
        """(validator index, share count) of every validator holding shares, in index order: the
        envelope's share entries, whose x coordinates run 1, 2, 3, ... in this order."""
        return tuple((v.index, c) for v, c in zip(self.validators, self.counts) if c)


def share_plan(validators: Iterable[SealValidator | tuple[int, bytes, int]], *,
               max_total_shares: int = DEFAULT_MAX_TOTAL_SHARES,
               threshold: tuple[int, int] = TWO_THIRDS) -> SharePlan:
    return _plan(sealing_set(validators), max_total_shares, tuple(threshold))


@lru_cache(maxsize=32)
def _plan(entries: tuple[SealValidator, ...], max_total_shares: int, threshold: tuple[int, int]) -> SharePlan:
    """The plan of a canonical set. Memoized: every envelope of a round (and every seal of a trainer) uses the
    same set, and the knapsack costs ~0.7 ms at 20 validators (a pure function: timing changes, never a
    result; a refused plan raises again, since exceptions are not cached)."""
    numerator, denominator = threshold
    if not 0 < numerator <= denominator:
        raise InvalidSealingSet(f"threshold {numerator}/{denominator} must lie in (0, 1]")
    if not 1 <= max_total_shares <= MAX_TOTAL_SHARES_LIMIT:
        raise InvalidSealingSet(f"max_total_shares must be 1 to {MAX_TOTAL_SHARES_LIMIT}")
    powers = [v.power for v in entries]
    total_power = sum(powers)
    per_share = -(-total_power // max_total_shares)
    counts = [p // per_share for p in powers]
    # most_power[c] / least_power[c]: the most and least power of any set holding exactly c shares
    most_power, least_power = _power_by_share_count(powers, counts)
    qualifying = [c for c, p in enumerate(most_power) if p is not None and p * denominator >= numerator * total_power]
    t = min(qualifying)
    if t == 0:
        raise InvalidSealingSet("validators holding no shares alone reach the threshold; raise max_total_shares")
    min_power = min(p for p in least_power[t:] if p is not None)
    if 3 * min_power <= total_power:
        raise InvalidSealingSet(f"with {max_total_shares} shares, validators with {min_power} of {total_power} "
                                "power could rebuild keys (at most one third); raise max_total_shares")
    return SharePlan(entries, tuple(counts), t, per_share, total_power, min_power, _hash_canonical(entries))


def _power_by_share_count(powers: list[int], counts: list[int]) -> tuple[list, list]:
    """0/1 knapsack over validators, indexed by share count: O(validators x total shares), integers only."""
    size = sum(counts) + 1
    most: list[int | None] = [0] + [None] * (size - 1)
    least: list[int | None] = [0] + [None] * (size - 1)
    for power, count in zip(powers, counts):
        new_most, new_least = list(most), list(least)
        for c in range(size - count):
            if most[c] is not None:
                candidate = most[c] + power
                if new_most[c + count] is None or candidate > new_most[c + count]:
                    new_most[c + count] = candidate
                candidate = least[c] + power
                if new_least[c + count] is None or candidate < new_least[c + count]:
                    new_least[c + count] = candidate
        most, least = new_most, new_least
    return most, least
