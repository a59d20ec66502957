"""The model record and the pure rules that follow from it: chunking, round timing, score units."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from chain.scoring.kernel import Score

UPLOADING, ACTIVE, CLOSED = "uploading", "active", "closed"
OPEN, AGGREGATE = "open", "aggregate"      # privacy modes
PRIVACY_MODES = (OPEN, AGGREGATE)
FEDAVG, MEDIAN, TRIMMED_MEAN = "fedavg", "median", "trimmed_mean"   # aggregators
AGGREGATORS = (FEDAVG, MEDIAN, TRIMMED_MEAN)
ACCURACY_SCALE = 1_000_000  # accuracy in score units: parts per million of samples correct


@dataclass(frozen=True)
class Model:
    id: int
    owner: str                  # hex of the 20-byte owner address
    status: str                 # uploading | active | closed
    spec_hash: str              # hex SHA-256 of the spec bytes (stored under reg/spec/)
    weights_hash: str           # hex SHA-256 of version 0's weight bytes
    weights_size: int
    chunk_size: int             # the param max_chunk_bytes when the model registered
    chunks_received: int        # while uploading
    shard_root: str             # hex Merkle root over the validation shard hashes
    shard_count: int
    bounty_denom: str
    escrow: str                 # unspent bounty, in bounty_denom (decimal string)
    bond_denom: str             # native
    bond: str
    deposit_denom: str          # native
    deposit: str                # per submitted update
    round_blocks: int
    reveal_blocks: int
    min_improvement: int
    target_score: int
    metric: str                 # accuracy | loss
    reward_curve: list          # [[progress_bps, payout_bps], ...]
    expiry_height: int
    registered_height: int
    activated_height: int = 0   # the block whose upload completed the weights (0 while uploading)
    head_version: int = 0
    version_count: int = 0      # versions 0..version_count-1 exist
    revealed_count: int = 0
    max_regression: int = 0     # score units below its parent an update may score and not be harmful (0: min_improvement)
    # rewards (chain/rounds/reward.py): version 0's score on the first round that closed, the progress
    # gained by accepted heads (score units), and the bounty paid out so far (escrow + paid = bounty funded)
    initial_score: int | None = None
    gained: int = 0
    paid: str = "0"
    # the last new head, paid once a later round's shard confirms its gain (chain/rounds/settle.py):
    # {"version", "base", "round", "gain", "weights": [[seq, weight], ...]}
    pending: dict | None = None
    # privacy mode, chosen at registration (docs/privacy.md): "open" opens and publishes every update;
    # "aggregate" publishes only the sums of cohorts of cohort_size..2*cohort_size-1 masked updates
    privacy: str = "open"
    cohort_size: int = 0
    # the robust aggregate scored beside FedAvg when three or more updates improve (chain/rounds/candidates.py)
    aggregator: str = "fedavg"

    @property
    def aggregate(self) -> bool:
        return self.privacy == AGGREGATE

    def join_end(self, round_: int) -> int:
        """Aggregate mode: the first height of round `round_` that takes masked updates instead of joins.
        Joins take the first half of the window, masked updates the rest."""
        return join_end(self.activated_height, self.round_blocks, round_)

    @property
    def owner_bytes(self) -> bytes:
        return bytes.fromhex(self.owner)

    @property
    def chunk_count(self) -> int:
        return -(-self.weights_size // self.chunk_size)

    def chunk_length(self, index: int) -> int:
        """Every chunk but the last holds chunk_size bytes; the last holds the rest."""
        return self.chunk_size if index < self.chunk_count - 1 else self.weights_size - self.chunk_size * index

    @property
    def first_round_start(self) -> int:
        """Round 0 starts at the block after the one that completed the weights."""
        return window_start(self.activated_height, self.round_blocks, 0)

    def round_start(self, round_: int) -> int:
        return window_start(self.activated_height, self.round_blocks, round_)

    def round_end(self, round_: int) -> int:
        """The first height after round `round_`'s submission window; its reveal window starts here."""
        return window_end(self.activated_height, self.round_blocks, round_)

    def reveal_deadline(self, round_: int) -> int:
        """The first height at which round `round_` can no longer be revealed."""
        return reveal_deadline(self.activated_height, self.round_blocks, self.reveal_blocks, round_)

    def current_round(self, height: int) -> int | None:
        """The round accepting submissions at `height` (None unless active and started)."""
        if self.status != ACTIVE or height < self.first_round_start:
            return None
        return (height - self.first_round_start) // self.round_blocks

    @property
    def harm_margin(self) -> int:
        """An update scoring more than this below its parent is harmful (forfeits its deposit)."""
        return self.max_regression or self.min_improvement

    def with_(self, **changes) -> "Model":
        return replace(self, **changes)

    def record(self) -> dict:
        return asdict(self)


# Round timing, the one copy of the rule: Model's methods above and the SDK (client/owner.py round_end,
# client/trainer.py), which has only the queried record's fields, call these.
def window_start(activated_height: int, round_blocks: int, round_: int) -> int:
    """The first height of round `round_`'s submission window: round 0 starts at the block after the one
    that completed the weights, and rounds of round_blocks blocks follow back to back."""
    return activated_height + 1 + round_ * round_blocks


def window_end(activated_height: int, round_blocks: int, round_: int) -> int:
    """The first height after round `round_`'s submission window (the next round's start); its reveal
    window starts here."""
    return window_start(activated_height, round_blocks, round_ + 1)


def reveal_deadline(activated_height: int, round_blocks: int, reveal_blocks: int, round_: int) -> int:
    """The first height at which round `round_` can no longer be revealed."""
    return window_end(activated_height, round_blocks, round_) + reveal_blocks


def score_value(metric: str, score: Score) -> int:
    """A score in the model's score units (what target_score and min_improvement are in):
    accuracy = correct * 10**6 // total (higher is better); loss = loss // total, the mean per-sample loss
    at the spec's loss scale (lower is better). Integer division rounds down."""
    if metric == "accuracy":
        return score.correct * ACCURACY_SCALE // score.total
    return score.loss // score.total


def join_end(activated_height: int, round_blocks: int, round_: int) -> int:
    """Aggregate mode: round `round_` takes joins at [window_start, join_end) and masked updates at
    [join_end, window_end); round_blocks >= 2 (checked at registration) leaves both phases a block."""
    return window_start(activated_height, round_blocks, round_) + max(1, round_blocks // 2)
