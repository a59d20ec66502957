"""registry messages (Msg fields 20-22): registering a model, its weights, its bounty."""
from __future__ import annotations

from chain.tx.coins import Coin
from chain.tx.errors import InvalidAmount
from chain.registry.errors import InvalidModelTerms, InvalidRewardCurve, UnknownModel, WrongChunkSize
from chain.tx.wire import Field, Message, message
from chain.registry.model import AGGREGATE, AGGREGATORS, FEDAVG, OPEN, PRIVACY_MODES

HASH_LEN = 32
BPS = 10_000                 # reward curves are in basis points: progress and payout both run 0..10000
MAX_CURVE_POINTS = 32
METRICS = ("accuracy", "loss")
MAX_ACCURACY_PPM = 1_000_000  # accuracy scores are parts per million of samples correct


def validate_model_id(model_id: int) -> None:
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
    privacy: str = ""               # "open" (the default when empty) or "aggregate" (docs/privacy.md)
    cohort_size: int = 0            # aggregate mode: k, cohorts hold k..2k-1 members (registry params bound it)
    aggregator: str = ""            # "fedavg" (default when empty), "median" or "trimmed_mean": scored beside FedAvg
    SCHEMA = (Field(1, "spec", "bytes"), Field(2, "weights_hash", "bytes"), Field(3, "weights_size", "uint64"),
              Field(4, "shard_root", "bytes"), Field(5, "shard_count", "uint64"), Field(6, "bounty", "message", Coin),
              Field(7, "bond", "message", Coin), Field(8, "round_blocks", "uint64"),
              Field(9, "reveal_blocks", "uint64"), Field(10, "min_improvement", "uint64"),
              Field(11, "deposit", "message", Coin), Field(12, "target_score", "uint64"), Field(13, "metric", "string"),
              Field(14, "reward_curve", "message", CurvePoint, repeated=True), Field(15, "expiry_height", "uint64"),
              Field(16, "max_regression", "uint64"), Field(17, "privacy", "string"),
              Field(18, "cohort_size", "uint64"), Field(19, "aggregator", "string"))

    @property
    def privacy_mode(self) -> str:
        return self.privacy or OPEN

    @property
    def aggregator_kind(self) -> str:
        return self.aggregator or FEDAVG

    def validate_basic(self) -> None:
        if self.aggregator_kind not in AGGREGATORS:
            raise InvalidModelTerms(f"aggregator must be one of {AGGREGATORS}, got {self.aggregator!r}")
        if self.privacy_mode not in PRIVACY_MODES:
            raise InvalidModelTerms(f"privacy must be one of {PRIVACY_MODES}, got {self.privacy!r}")
        if self.privacy_mode == OPEN and self.cohort_size:
            raise InvalidModelTerms("cohort_size is for privacy \"aggregate\" only")
        if self.privacy_mode == AGGREGATE and self.round_blocks < 2:
            raise InvalidModelTerms("an aggregate-mode round needs round_blocks >= 2: a join phase and a masked "
                                    "submission phase")
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
        validate_model_id(self.model_id)
        if not self.data:
            raise WrongChunkSize("a chunk holds at least one byte")


@message
class MsgFundBounty(Message):
    """Anyone adds to a model's bounty escrow, in the bounty's denom."""
    model_id: int = 0
    amount: Coin | None = None
    SCHEMA = (Field(1, "model_id", "uint64"), Field(2, "amount", "message", Coin))

    def validate_basic(self) -> None:
        validate_model_id(self.model_id)
        if self.amount is None:
            raise InvalidAmount("amount is required")
        self.amount.validate()
