"""Message types, one oneof member each. Field numbers in `Msg` are never reused."""
from __future__ import annotations

from chain.errors import InvalidAddress, TooManyCoins, TxDecodeError
from chain.tx.coins import Coin, validate_coins
from chain.tx.wire import Field, Message, message

ADDRESS_LEN = 20
MAX_COINS_PER_SEND = 16


@message
class MsgSend(Message):
    to_address: bytes = b""
    amount: tuple[Coin, ...] = ()
    SCHEMA = (Field(1, "to_address", "bytes"), Field(2, "amount", "message", Coin, repeated=True))

    def validate_basic(self) -> None:
        if len(self.to_address) != ADDRESS_LEN:
            raise InvalidAddress(f"to_address must be {ADDRESS_LEN} bytes, got {len(self.to_address)}")
        if not self.amount:
            raise TooManyCoins("send needs at least one coin")
        if len(self.amount) > MAX_COINS_PER_SEND:
            raise TooManyCoins(f"at most {MAX_COINS_PER_SEND} denoms per send")
        validate_coins(self.amount)


@message
class Msg(Message):
    send: MsgSend | None = None
    SCHEMA = (Field(1, "send", "message", MsgSend),)

    def inner(self) -> Message:
        set_members = [getattr(self, f.name) for f in self.SCHEMA if getattr(self, f.name) is not None]
        if len(set_members) != 1:
            raise TxDecodeError(f"a Msg must set exactly one member, found {len(set_members)}")
        return set_members[0]

    @classmethod
    def wrap(cls, inner: Message) -> "Msg":
        for f in cls.SCHEMA:
            if f.message is type(inner):
                return cls(**{f.name: inner})
        raise TypeError(f"{type(inner).__name__} is not a Msg member")
