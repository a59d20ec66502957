"""Message types, one oneof member each. Field numbers in `Msg` are never reused."""
from __future__ import annotations

from chain.errors import InvalidAddress, InvalidAmount, InvalidPublicKey, TooManyCoins, TxDecodeError
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


CONSENSUS_KEY_LEN = 32   # Ed25519 public key CometBFT signs votes with
ENCRYPTION_KEY_LEN = 32  # X25519 public key trainers seal update-key shares to


@message
class MsgCreateValidator(Message):
    """The signer becomes a validator operator, bonding `bond` of the bond denom."""
    consensus_pubkey: bytes = b""
    encryption_pubkey: bytes = b""
    bond: Coin | None = None
    SCHEMA = (Field(1, "consensus_pubkey", "bytes"), Field(2, "encryption_pubkey", "bytes"),
              Field(3, "bond", "message", Coin))

    def validate_basic(self) -> None:
        if len(self.consensus_pubkey) != CONSENSUS_KEY_LEN:
            raise InvalidPublicKey(f"consensus_pubkey must be a {CONSENSUS_KEY_LEN}-byte Ed25519 key")
        if len(self.encryption_pubkey) != ENCRYPTION_KEY_LEN:
            raise InvalidPublicKey(f"encryption_pubkey must be a {ENCRYPTION_KEY_LEN}-byte X25519 key")
        if self.bond is None:
            raise InvalidAmount("bond is required")
        self.bond.validate()


@message
class MsgUnbond(Message):
    """The signer's validator leaves: power drops to 0 at the end of the block; the bond returns
    to the operator after the unbonding period (slashable until then)."""
    SCHEMA = ()

    def validate_basic(self) -> None:
        pass


# Field numbers are grouped by module: bank 1-9, validators 10-19, registry 20-39, rounds 40-59,
# bridge 60-79. Never reuse a number.
@message
class Msg(Message):
    send: MsgSend | None = None
    create_validator: MsgCreateValidator | None = None
    unbond: MsgUnbond | None = None
    SCHEMA = (Field(1, "send", "message", MsgSend),
              Field(10, "create_validator", "message", MsgCreateValidator),
              Field(11, "unbond", "message", MsgUnbond))

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
