"""Coins from text: "100ugrad", and lists like "100ugrad,5uusdc". The one parser: the SDK (client/owner.py)
and the `gradchain` command (cli/common.py) both call it. A denom is the chain's own pattern
(chain/tx/coins.py DENOM_PATTERN), so text parses to a denom exactly when the chain accepts that denom;
amounts are digits here, and the chain checks their range when the coin reaches it."""
from __future__ import annotations

import re

from chain.tx.coins import DENOM_PATTERN
from client.errors import CoinFormatError

_COIN = re.compile(rf"([0-9]+)({DENOM_PATTERN})")


def parse_coin(text: str) -> tuple[str, int]:
    """"100ugrad" -> ("ugrad", 100); surrounding whitespace is ignored. Raises CoinFormatError."""
    m = _COIN.fullmatch(text.strip())
    if not m:
        raise CoinFormatError(f"{text!r} is not AMOUNTDENOM, e.g. 100ugrad")
    return m.group(2), int(m.group(1))


def parse_coins(text: str) -> dict[str, int]:
    """"100ugrad,5uusdc" -> {"ugrad": 100, "uusdc": 5}. Raises CoinFormatError for a part that is not
    AMOUNTDENOM or a denom given twice."""
    out: dict[str, int] = {}
    for part in text.split(","):
        denom, amount = parse_coin(part)
        if denom in out:
            raise CoinFormatError(f"denom {denom} given twice")
        out[denom] = amount
    return out
