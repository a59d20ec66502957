"""validators messages (Msg fields 10-19)."""
from __future__ import annotations

from chain.tx.coins import Coin
from chain.tx.errors import InvalidAmount, InvalidPublicKey
from chain.tx.wire import Field, Message, message


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
