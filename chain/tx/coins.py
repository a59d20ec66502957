"""Coins: a denom and a positive integer amount below 2**256."""
from __future__ import annotations

import re

from chain.tx.errors import DuplicateDenom, InvalidAmount, InvalidDenom
from chain.tx.wire import Field, Message, message

MAX_AMOUNT = (1 << 256) - 1
# Native, module and bridged denoms alike: "ugrad", "bridge/31337/0xabc...". Lowercase letters first.
# The SDK's "100ugrad" parser (client/coins.py) is built from this pattern, so both sides agree on denoms.
DENOM_PATTERN = r"[a-z][a-z0-9/:._-]{2,127}"
_DENOM_RE = re.compile(DENOM_PATTERN)
_AMOUNT_RE = re.compile(r"[1-9][0-9]{0,77}")


def validate_denom(denom: str) -> None:
    if not _DENOM_RE.fullmatch(denom):
        raise InvalidDenom(f"invalid denom {denom!r}: 3-128 chars of [a-z0-9/:._-], starting with a letter")


def parse_amount(text: str) -> int:
    """Canonical base-10 string -> int in [1, 2**256-1]."""
    if not _AMOUNT_RE.fullmatch(text):
        raise InvalidAmount(f"invalid amount {text!r}: a positive integer without sign or leading zeros")
    value = int(text)
    if value > MAX_AMOUNT:
        raise InvalidAmount(f"amount {text} exceeds 2**256-1")
    return value


@message
class Coin(Message):
    denom: str = ""
    amount: str = ""
    SCHEMA = (Field(1, "denom", "string"), Field(2, "amount", "string"))

    @classmethod
    def of(cls, denom: str, amount: int) -> "Coin":
        return cls(denom=denom, amount=str(amount))

    def validate(self) -> int:
        """Checks the coin and returns its amount as int."""
        validate_denom(self.denom)
        return parse_amount(self.amount)

    def __str__(self) -> str:
        return f"{self.amount}{self.denom}"


def validate_coins(coins: tuple[Coin, ...]) -> list[tuple[str, int]]:
    """A coin list is sorted by denom, each denom once, each amount positive."""
    out: list[tuple[str, int]] = []
    for coin in coins:
        amount = coin.validate()
        if out and coin.denom <= out[-1][0]:
            if coin.denom == out[-1][0]:
                raise DuplicateDenom(f"denom {coin.denom} appears twice")
            raise InvalidDenom(f"coins must be sorted by denom: {coin.denom} after {out[-1][0]}")
        out.append((coin.denom, amount))
    return out
