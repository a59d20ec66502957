"""Scores, progress and the owner's reward curve, in exact integers (docs/rounds.md, "Closing a round").

* A score record's value is in the model's score units (chain.registry.model.score_value); `gain` turns
  two values into "how much better", so accuracy (higher is better) and loss (lower is better) read alike.
* Progress accumulates the gains of accepted heads, each measured against the old head on the same
  fresh shard (a paired comparison: an easy shard lifts both scores and pays nobody). It runs from 0 to
  `span` = how far the target lies beyond version 0's first score; progress = min(gained, span) / span.
* The reward curve F maps progress in basis points to payout in basis points, piecewise linear and
  monotone. A new head pays bounty * (F(p_new) - F(p_old)) / 10000, rounded down. F(0) = 0 and
  F(1) <= 1, so the payouts of a model telescope to at most the bounty.
"""
from __future__ import annotations

from chain.registry.model import Model, score_value
from chain.scoring.kernel import Score

BPS = 10_000


def value(model: Model, record: dict) -> int:
    """A score record {correct, total, loss} in the model's score units."""
    return score_value(model.metric, Score(correct=record["correct"], total=record["total"], loss=int(record["loss"])))


def gain(model: Model, new: int, old: int) -> int:
    """How much better `new` is than `old`, in score units (negative: worse)."""
    return new - old if model.metric == "accuracy" else old - new


def span(model: Model, initial: int) -> int:
    """The distance from version 0's score to the target; <= 0 means the target was met from the start."""
    return gain(model, model.target_score, initial)


def curve_at(curve: list, gained: int, span_: int) -> tuple[int, int]:
    """F(progress) in basis points as an exact fraction (numerator, denominator)."""
    if span_ <= 0 or gained <= 0:
        return 0, 1
    p = min(gained, span_) * BPS                   # progress in bps, times span_
    for (x0, y0), (x1, y1) in zip(curve, curve[1:]):
        if p <= x1 * span_:
            den = (x1 - x0) * span_
            return y0 * den + (y1 - y0) * (p - x0 * span_), den
    return curve[-1][1], 1


def payout(model: Model, bounty: int, gained_old: int, gained_new: int, initial: int) -> int:
    """bounty * (F(p_new) - F(p_old)) / 10000, rounded down (0 when progress does not grow)."""
    s = span(model, initial)
    n_new, d_new = curve_at(model.reward_curve, gained_new, s)
    n_old, d_old = curve_at(model.reward_curve, gained_old, s)
    diff = n_new * d_old - n_old * d_new
    return max(0, bounty * diff // (BPS * d_new * d_old))


def split(total: int, weights: list[tuple[int, int]]) -> dict[int, int]:
    """Split `total` among seqs in proportion to their positive weights, rounding down; the remainder of
    the rounding goes to the earliest seq, so the parts add up to `total` exactly."""
    weight_sum = sum(w for _, w in weights)
    parts = {seq: total * w // weight_sum for seq, w in weights}
    first = min(seq for seq, _ in weights)
    parts[first] += total - sum(parts.values())
    return parts
