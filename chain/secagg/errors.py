"""Result codes of codespace "secagg" (secure aggregation). Part of consensus: never renumber, never reuse."""
from __future__ import annotations

from chain.tx.errors import ChainError


class SecaggError(ChainError):
    """A secure-aggregation input is malformed: a round key, seed, vector length or member set."""
    codespace, code = "secagg", 1
