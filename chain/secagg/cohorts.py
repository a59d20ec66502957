"""Grouping a round's joiners into cohorts (issue 14, "Cohorts").

When joining closes, the joiners are ordered by H(tag, seed, member) and cut into floor(n / k) cohorts
whose sizes differ by at most one, so every cohort has k to 2k-1 members (n = m k + r with r < k gives
sizes of at most k + r). Fewer than k joiners make no cohort: the round is void for them. `seed` must be
consensus data nobody could know when joining (chain/rounds decides which); the order of `members` and
of anything else never matters.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

from chain.secagg.errors import SecaggError

TAG = b"gradchain/secagg/v1/cohorts\x00"
MIN_COHORT = 2   # a cohort of one would publish a single update


def assign(members: Iterable[bytes], seed: bytes, k: int) -> list[list[bytes]]:
    """Cohorts (lists of members) of one round, in cohort order; members are distinct byte strings."""
    if not isinstance(k, int) or k < MIN_COHORT:
        raise SecaggError(f"cohort size k must be an integer of at least {MIN_COHORT}")
    members = list(members)
    if len(set(members)) != len(members):
        raise SecaggError("a member joined twice")
    order = sorted(members, key=lambda m: (hashlib.sha256(TAG + seed + len(m).to_bytes(2, "big") + m).digest(), m))
    count = len(order) // k
    if count == 0:
        return []
    base, extra = divmod(len(order), count)
    cohorts, at = [], 0
    for c in range(count):
        size = base + (1 if c < extra else 0)
        cohorts.append(order[at:at + size])
        at += size
    return cohorts
