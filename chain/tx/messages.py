"""Message types, one oneof member each. Field numbers in `Msg` are never reused."""
from __future__ import annotations

from chain.errors import (InvalidAddress, InvalidAmount, InvalidClaim, InvalidEvmAddress, InvalidEvmSignature,
                          InvalidModelTerms, InvalidPublicKey, MalformedEnvelope, InvalidRewardCurve, ShardDecodeError, TooManyCoins,
                          TxDecodeError, UnknownBatch, UnknownModel, UnknownValset, WithdrawalNotCancellable,
                          WrongChunkSize)
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


# --- registry (Msg fields 20-39) --------------------------------------------------------------
HASH_LEN = 32
BPS = 10_000                 # reward curves are in basis points: progress and payout both run 0..10000
MAX_CURVE_POINTS = 32
METRICS = ("accuracy", "loss")
MAX_ACCURACY_PPM = 1_000_000  # accuracy scores are parts per million of samples correct


def _model_id(model_id: int) -> None:
    if model_id == 0:
        raise UnknownModel("model ids start at 1")


@message
class CurvePoint(Message):
    """One point of the owner's reward curve: at `progress_bps` of the way from the initial score to the
    target, `payout_bps` of the bounty has been paid out. Linear in between."""
    progress_bps: int = 0
    payout_bps: int = 0
    SCHEMA = (Field(1, "progress_bps", "uint64"), Field(2, "payout_bps", "uint64"))


def validate_reward_curve(points: tuple[CurvePoint, ...]) -> None:
    if not 2 <= len(points) <= MAX_CURVE_POINTS:
        raise InvalidRewardCurve(f"a reward curve has 2..{MAX_CURVE_POINTS} points, got {len(points)}")
    if (points[0].progress_bps, points[0].payout_bps) != (0, 0) or \
            (points[-1].progress_bps, points[-1].payout_bps) != (BPS, BPS):
        raise InvalidRewardCurve(f"a reward curve starts at (0, 0) and ends at ({BPS}, {BPS})")
    for before, after in zip(points, points[1:]):
        if after.progress_bps <= before.progress_bps:
            raise InvalidRewardCurve(f"progress must strictly increase: {after.progress_bps} after {before.progress_bps}")
        if after.payout_bps < before.payout_bps:
            raise InvalidRewardCurve(f"payout must not decrease (the curve is monotone): {after.payout_bps} at "
                                     f"progress {after.progress_bps} after {before.payout_bps}")
        if after.payout_bps > BPS:
            raise InvalidRewardCurve(f"payout above {BPS} bps")


@message
class MsgRegisterModel(Message):
    """The signer registers a model: spec, commitments to the initial weights and to the validation
    shards, a bounty escrowed in any denom, a native bond, and the round and reward terms."""
    spec: bytes = b""               # canonical ModelSpec bytes (docs/scoring.md)
    weights_hash: bytes = b""       # SHA-256 of the canonical Weights bytes
    weights_size: int = 0           # length of those bytes
    shard_root: bytes = b""         # Merkle root over the validation shard hashes
    shard_count: int = 0
    bounty: Coin | None = None      # escrowed; any denom the owner holds (native, other, bridge/...)
    bond: Coin | None = None        # native; escrowed; compensates trainers if a shard is not revealed
    round_blocks: int = 0           # submission window of each round
    reveal_blocks: int = 0          # after a round closes, the owner reveals its shard within this many blocks
    min_improvement: int = 0        # score units a new version must beat the head by
    deposit: Coin | None = None     # native; what each submitted update must deposit
    target_score: int = 0           # score units; progress 10000 bps means reaching it
    metric: str = ""                # "accuracy" (ppm correct, higher is better) or "loss" (mean loss, lower)
    reward_curve: tuple[CurvePoint, ...] = ()
    expiry_height: int = 0          # from this height on the model can be closed; it is closed automatically
    max_regression: int = 0         # score units an update may fall below its parent before it is harmful
                                    # (forfeits its deposit); 0 means min_improvement
    SCHEMA = (Field(1, "spec", "bytes"), Field(2, "weights_hash", "bytes"), Field(3, "weights_size", "uint64"),
              Field(4, "shard_root", "bytes"), Field(5, "shard_count", "uint64"), Field(6, "bounty", "message", Coin),
              Field(7, "bond", "message", Coin), Field(8, "round_blocks", "uint64"),
              Field(9, "reveal_blocks", "uint64"), Field(10, "min_improvement", "uint64"),
              Field(11, "deposit", "message", Coin), Field(12, "target_score", "uint64"), Field(13, "metric", "string"),
              Field(14, "reward_curve", "message", CurvePoint, repeated=True), Field(15, "expiry_height", "uint64"),
              Field(16, "max_regression", "uint64"))

    def validate_basic(self) -> None:
        if not self.spec:
            raise InvalidModelTerms("spec is required")
        if len(self.weights_hash) != HASH_LEN or len(self.shard_root) != HASH_LEN:
            raise InvalidModelTerms(f"weights_hash and shard_root must be {HASH_LEN}-byte SHA-256 digests")
        if self.weights_size == 0 or self.shard_count == 0:
            raise InvalidModelTerms("weights_size and shard_count must be at least 1")
        if self.round_blocks == 0 or self.reveal_blocks == 0:
            raise InvalidModelTerms("round_blocks and reveal_blocks must be at least 1")
        if self.metric not in METRICS:
            raise InvalidModelTerms(f"metric must be one of {METRICS}, got {self.metric!r}")
        if self.metric == "accuracy" and not 0 < self.target_score <= MAX_ACCURACY_PPM:
            raise InvalidModelTerms(f"an accuracy target is in parts per million: 1..{MAX_ACCURACY_PPM}")
        if self.expiry_height == 0:
            raise InvalidModelTerms("expiry_height is required")
        for name in ("bounty", "bond", "deposit"):
            coin = getattr(self, name)
            if coin is None:
                raise InvalidAmount(f"{name} is required")
            coin.validate()
        validate_reward_curve(self.reward_curve)


@message
class MsgUploadWeights(Message):
    """One chunk of a model's initial weights (owner only; any order; each index once)."""
    model_id: int = 0
    index: int = 0
    data: bytes = b""
    SCHEMA = (Field(1, "model_id", "uint64"), Field(2, "index", "uint64"), Field(3, "data", "bytes"))

    def validate_basic(self) -> None:
        _model_id(self.model_id)
        if not self.data:
            raise WrongChunkSize("a chunk holds at least one byte")


@message
class MsgFundBounty(Message):
    """Anyone adds to a model's bounty escrow, in the bounty's denom."""
    model_id: int = 0
    amount: Coin | None = None
    SCHEMA = (Field(1, "model_id", "uint64"), Field(2, "amount", "message", Coin))

    def validate_basic(self) -> None:
        _model_id(self.model_id)
        if self.amount is None:
            raise InvalidAmount("amount is required")
        self.amount.validate()


@message
class MsgRevealShard(Message):
    """The owner reveals the validation shard of a closed round, with its Merkle proof (docs/registry.md)."""
    model_id: int = 0
    round: int = 0
    shard: bytes = b""        # canonical Shard bytes
    shard_index: int = 0
    proof: bytes = b""        # canonical MerkleProof bytes (chain.scoring.shards); its index is shard_index
    SCHEMA = (Field(1, "model_id", "uint64"), Field(2, "round", "uint64"), Field(3, "shard", "bytes"),
              Field(4, "shard_index", "uint64"), Field(5, "proof", "bytes"))

    def validate_basic(self) -> None:
        _model_id(self.model_id)
        if not self.shard:
            raise ShardDecodeError("shard is required")


@message
class MsgCloseModel(Message):
    """The owner closes a model from its expiry height on (or any time while uploading): the unspent
    escrow and the bond return to the owner."""
    model_id: int = 0
    SCHEMA = (Field(1, "model_id", "uint64"),)

    def validate_basic(self) -> None:
        _model_id(self.model_id)


# --- rounds (Msg fields 40-59) ----------------------------------------------------------------
@message
class MsgSubmitUpdate(Message):
    """A trainer submits a sealed update (docs/sealing.md envelope) for round `round` of a model, trained
    from version `parent_version`; the model's per-update deposit is escrowed (docs/rounds.md)."""
    model_id: int = 0
    round: int = 0
    parent_version: int = 0
    envelope: bytes = b""     # canonical SealedUpdate bytes, sealed to the round's sealing set
    SCHEMA = (Field(1, "model_id", "uint64"), Field(2, "round", "uint64"), Field(3, "parent_version", "uint64"),
              Field(4, "envelope", "bytes"))

    def validate_basic(self) -> None:
        _model_id(self.model_id)
        if not self.envelope:
            raise MalformedEnvelope("envelope is required")


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
    register_model: MsgRegisterModel | None = None
    upload_weights: MsgUploadWeights | None = None
    fund_bounty: MsgFundBounty | None = None
    reveal_shard: MsgRevealShard | None = None
    close_model: MsgCloseModel | None = None
    submit_update: MsgSubmitUpdate | None = None
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
              Field(20, "register_model", "message", MsgRegisterModel),
              Field(21, "upload_weights", "message", MsgUploadWeights),
              Field(22, "fund_bounty", "message", MsgFundBounty),
              Field(23, "reveal_shard", "message", MsgRevealShard),
              Field(24, "close_model", "message", MsgCloseModel),
              Field(40, "submit_update", "message", MsgSubmitUpdate),
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
