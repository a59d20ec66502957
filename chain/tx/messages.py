"""Message types, one oneof member each. Field numbers in `Msg` are never reused."""
from __future__ import annotations

from chain.errors import (InvalidAddress, InvalidAmount, InvalidClaim, InvalidEvmAddress, InvalidEvmSignature,
                          InvalidPublicKey, TooManyCoins, TxDecodeError, UnknownBatch, UnknownValset,
                          WithdrawalNotCancellable)
from chain.tx.coins import Coin, parse_amount, validate_coins
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


# --- bridge (Msg fields 60-79) ----------------------------------------------------------------
EVM_ADDRESS_LEN = 20
EVM_SIGNATURE_LEN = 65  # r(32) || s(32) || v(1), v in {27, 28}


def _evm_address(name: str, value: bytes) -> None:
    if len(value) != EVM_ADDRESS_LEN or not any(value):
        raise InvalidEvmAddress(f"{name} must be a non-zero {EVM_ADDRESS_LEN}-byte EVM address")


def _evm_signature(value: bytes) -> None:
    if len(value) != EVM_SIGNATURE_LEN:
        raise InvalidEvmSignature(f"signature must be {EVM_SIGNATURE_LEN} bytes (r, s, v)")


def _claim_header(msg) -> None:
    if msg.evm_chain_id == 0 or msg.event_nonce == 0:
        raise InvalidClaim("a claim needs evm_chain_id and event_nonce (both start at 1)")


@message
class MsgSetEvmAddress(Message):
    """A validator operator registers the EVM key its orchestrator signs batches and valsets with.
    `signature` is that key's signature over chain.bridge.evm.address_proof_digest (proof of possession)."""
    evm_address: bytes = b""
    signature: bytes = b""
    SCHEMA = (Field(1, "evm_address", "bytes"), Field(2, "signature", "bytes"))

    def validate_basic(self) -> None:
        _evm_address("evm_address", self.evm_address)
        _evm_signature(self.signature)


@message
class MsgDepositClaim(Message):
    """A validator attests a Deposit event of the bridge contract."""
    evm_chain_id: int = 0
    event_nonce: int = 0
    evm_height: int = 0
    token: bytes = b""
    sender: bytes = b""
    destination: bytes = b""  # gradchain address credited
    amount: str = ""
    decimals: int = 0
    SCHEMA = (Field(1, "evm_chain_id", "uint64"), Field(2, "event_nonce", "uint64"), Field(3, "evm_height", "uint64"),
              Field(4, "token", "bytes"), Field(5, "sender", "bytes"), Field(6, "destination", "bytes"),
              Field(7, "amount", "string"), Field(8, "decimals", "uint64"))

    def validate_basic(self) -> None:
        _claim_header(self)
        _evm_address("token", self.token)
        _evm_address("sender", self.sender)
        if len(self.destination) != ADDRESS_LEN:
            raise InvalidAddress(f"destination must be {ADDRESS_LEN} bytes")
        parse_amount(self.amount)
        if self.decimals > 255:
            raise InvalidClaim("decimals must be at most 255")


@message
class MsgValsetUpdatedClaim(Message):
    """A validator attests a ValsetUpdated event: the contract now mirrors valset `valset_nonce`."""
    evm_chain_id: int = 0
    event_nonce: int = 0
    evm_height: int = 0
    valset_nonce: int = 0
    SCHEMA = (Field(1, "evm_chain_id", "uint64"), Field(2, "event_nonce", "uint64"), Field(3, "evm_height", "uint64"),
              Field(4, "valset_nonce", "uint64"))

    def validate_basic(self) -> None:
        _claim_header(self)
        if self.valset_nonce == 0:
            raise InvalidClaim("valset_nonce starts at 1")


@message
class MsgBatchExecutedClaim(Message):
    """A validator attests a BatchExecuted event: the contract released batch `batch_nonce`."""
    evm_chain_id: int = 0
    event_nonce: int = 0
    evm_height: int = 0
    token: bytes = b""
    batch_nonce: int = 0
    SCHEMA = (Field(1, "evm_chain_id", "uint64"), Field(2, "event_nonce", "uint64"), Field(3, "evm_height", "uint64"),
              Field(4, "token", "bytes"), Field(5, "batch_nonce", "uint64"))

    def validate_basic(self) -> None:
        _claim_header(self)
        _evm_address("token", self.token)
        if self.batch_nonce == 0:
            raise InvalidClaim("batch_nonce starts at 1")


@message
class MsgWithdraw(Message):
    """Escrow `amount` vouchers of `token` and queue their release to `evm_recipient` on the EVM chain."""
    evm_chain_id: int = 0
    token: bytes = b""
    amount: str = ""
    evm_recipient: bytes = b""
    SCHEMA = (Field(1, "evm_chain_id", "uint64"), Field(2, "token", "bytes"), Field(3, "amount", "string"),
              Field(4, "evm_recipient", "bytes"))

    def validate_basic(self) -> None:
        if self.evm_chain_id == 0:
            raise InvalidClaim("evm_chain_id is required")
        _evm_address("token", self.token)
        _evm_address("evm_recipient", self.evm_recipient)
        parse_amount(self.amount)


@message
class MsgCancelWithdraw(Message):
    """Take back a withdrawal that is still queued (not yet in a batch)."""
    withdrawal_id: int = 0
    SCHEMA = (Field(1, "withdrawal_id", "uint64"),)

    def validate_basic(self) -> None:
        if self.withdrawal_id == 0:
            raise WithdrawalNotCancellable("withdrawal ids start at 1")


@message
class MsgConfirmBatch(Message):
    """A validator's EVM-key signature over a pending batch's digest."""
    batch_nonce: int = 0
    signature: bytes = b""
    SCHEMA = (Field(1, "batch_nonce", "uint64"), Field(2, "signature", "bytes"))

    def validate_basic(self) -> None:
        if self.batch_nonce == 0:
            raise UnknownBatch("batch nonces start at 1")
        _evm_signature(self.signature)


@message
class MsgConfirmValset(Message):
    """A validator's EVM-key signature over a new valset's digest (signed by the previous valset)."""
    valset_nonce: int = 0
    signature: bytes = b""
    SCHEMA = (Field(1, "valset_nonce", "uint64"), Field(2, "signature", "bytes"))

    def validate_basic(self) -> None:
        if self.valset_nonce == 0:
            raise UnknownValset("valset nonces start at 1")
        _evm_signature(self.signature)


# Field numbers are grouped by module: bank 1-9, validators 10-19, registry 20-39, rounds 40-59,
# bridge 60-79. Never reuse a number.
@message
class Msg(Message):
    send: MsgSend | None = None
    create_validator: MsgCreateValidator | None = None
    unbond: MsgUnbond | None = None
    set_evm_address: MsgSetEvmAddress | None = None
    deposit_claim: MsgDepositClaim | None = None
    valset_updated_claim: MsgValsetUpdatedClaim | None = None
    batch_executed_claim: MsgBatchExecutedClaim | None = None
    withdraw: MsgWithdraw | None = None
    cancel_withdraw: MsgCancelWithdraw | None = None
    confirm_batch: MsgConfirmBatch | None = None
    confirm_valset: MsgConfirmValset | None = None
    SCHEMA = (Field(1, "send", "message", MsgSend),
              Field(10, "create_validator", "message", MsgCreateValidator),
              Field(11, "unbond", "message", MsgUnbond),
              Field(60, "set_evm_address", "message", MsgSetEvmAddress),
              Field(61, "deposit_claim", "message", MsgDepositClaim),
              Field(62, "valset_updated_claim", "message", MsgValsetUpdatedClaim),
              Field(63, "batch_executed_claim", "message", MsgBatchExecutedClaim),
              Field(64, "withdraw", "message", MsgWithdraw),
              Field(65, "cancel_withdraw", "message", MsgCancelWithdraw),
              Field(66, "confirm_batch", "message", MsgConfirmBatch),
              Field(67, "confirm_valset", "message", MsgConfirmValset))

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
