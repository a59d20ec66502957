"""bank messages (Msg fields 1-9)."""
from __future__ import annotations

from chain.tx.coins import Coin, validate_coins
from chain.tx.errors import InvalidAddress, TooManyCoins
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
