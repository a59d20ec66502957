"""bridge messages (Msg fields 60-79)."""
from __future__ import annotations

from chain.tx.coins import parse_amount
from chain.bank.messages import ADDRESS_LEN
from chain.tx.errors import InvalidAddress
from chain.bridge.errors import (InvalidClaim, InvalidEvmAddress, InvalidEvmSignature, UnknownBatch, UnknownValset,
                                 WithdrawalNotCancellable)
from chain.tx.wire import Field, Message, message

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
