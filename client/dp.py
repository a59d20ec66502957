"""Client-side differential privacy for a weight delta (DESIGN section 7 item 7): clip, add noise on the
chain's integer grid, and keep count of the privacy spent.

    accountant = PrivacyAccountant()
    config = DPConfig(clip_norm=1.0, noise_multiplier=1.1)
    raw = delta_from_torch(head, trained_net)                        # client.trainer
    arrays, report = privatize(raw, head, config, accountant)        # head: the parent ChainModel
    Trainer(client, wallet).submit(model_id, encode_delta(arrays))
    report.epsilon                                                   # (epsilon, target_delta) so far

Why each step is the way it is:

* **Clip in real units.** A delta is a tuple of int64 tensors on the spec's fixed-point grid: weights at
  2**-weight_frac, biases at their layer's accumulator scale 2**-(weight_frac + input frac of the layer)
  (chain/scoring/spec.py). The L2 norm is taken over the real values (integer / 2**frac) so that a bias
  step and a weight step count for what they mean. A delta over `clip_norm` is scaled by
  clip_norm / norm * (1 - CLIP_MARGIN) and rounded toward zero, so its norm is at most `clip_norm`
  despite floating-point error in computing the norm; a delta within `clip_norm` is left bit for bit.
* **Discrete Gaussian noise on the grid** (Canonne, Kamath, Steinke 2020, "The Discrete Gaussian for
  Differential Privacy"), not rounded Gaussian: each coordinate gets an integer drawn with probability
  proportional to exp(-k**2 / (2 sigma_grid**2)), sigma_grid = noise_multiplier * clip_norm * 2**frac.
  A delta has to be integers, and the discrete Gaussian's Renyi-DP curve is the continuous Gaussian's
  (their Theorem 14/15 for vectors under L2 sensitivity), so the standard Gaussian accountant applies to
  what is actually sent, with no rounding step whose effect on privacy needs arguing. Its variance is
  sigma_grid**2 to within a relative 1e-30 once sigma_grid >= 2 (the grid step is 2**-16 or finer, so
  any useful sigma is thousands of steps).
* **Clamp into range after the noise.** The chain has no clipping: an update whose parent + delta leaves
  the weight or bias range is INVALID and forfeits its deposit (chain/rounds/delta.py apply_delta). So
  parent + noisy delta is clamped into the spec's range. Clamping depends only on the public parent and
  the already-noised delta: post-processing, which costs no privacy. The report counts clamped values.
* **Accounting with a maintained library**: Google's dp-accounting, RDP accountant, one GaussianDpEvent
  (or PoissonSampledDpEvent) per round, composed.

What the reported epsilon means (the unit is the trainer's whole contribution in a round, as in
DP-FedAvg's user-level DP): with the default adjacency "add_remove", the released delta of a trainer
who trained on their data versus one who contributed nothing (a zero delta), sensitivity clip_norm.
Telling apart any two datasets of the same trainer (a single changed record included) is the
"replace" adjacency: sensitivity 2 * clip_norm, so the accountant uses noise_multiplier / 2.
`sampling_rate` < 1 (Poisson sampling of rounds a trainer joins) amplifies privacy only while whether
the trainer took part stays hidden; on today's chain each opened update is public with its submitter,
so keep it at 1.0 until an aggregate-only mode exists. The amplified figure is the continuous
Gaussian's analysis, which the discrete Gaussian matches closely at sigma_grid >> 1 but that this module
does not prove.

Randomness: by default the generator is seeded with 256 bits from os.urandom. The stream itself is
numpy's PCG64, fast but not a cryptographic generator, and acceptance tests use float64
probabilities; a `seed` is for tests only: reusing a seed across rounds reuses the noise, which an
observer can cancel by subtracting two rounds.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from chain.tx.errors import ChainError
from chain.rounds.delta import decode_delta
from chain.scoring.fixedpoint import signed_range
from chain.scoring.spec import LAYER_LINEAR, ModelSpec
from chain.scoring.weights import encode_weights
from client.errors import GradchainError

CLIP_MARGIN = 1e-6   # relative; covers float64 error in a norm over up to ~10**8 values with room to spare
ADJACENCIES = ("add_remove", "replace")
_MAX_NOISE_GRID = float(1 << 50)   # keeps delta + noise far inside int64 (the tail past 40 sigma never occurs)


class DPError(GradchainError, ValueError):
    """A differential-privacy setting cannot be applied; the message says what to change."""


@dataclass(frozen=True)
class DPConfig:
    """clip_norm: the L2 bound of the delta in real units. noise_multiplier: noise std / clip_norm.
    target_delta: the delta of the (epsilon, delta) guarantee reported. sampling_rate: the probability
    that the trainer joins a round (see the module docstring before lowering it). seed: tests only."""
    clip_norm: float
    noise_multiplier: float
    target_delta: float = 1e-5
    sampling_rate: float = 1.0
    seed: int | None = None

    def __post_init__(self):
        if not (math.isfinite(self.clip_norm) and self.clip_norm > 0):
            raise DPError(f"clip_norm must be a positive number, got {self.clip_norm!r}")
        if not (math.isfinite(self.noise_multiplier) and self.noise_multiplier >= 0):
            raise DPError(f"noise_multiplier must be >= 0, got {self.noise_multiplier!r}")
        if not 0 < self.target_delta < 1:
            raise DPError(f"target_delta must be in (0, 1), got {self.target_delta!r}")
        if not 0 < self.sampling_rate <= 1:
            raise DPError(f"sampling_rate must be in (0, 1], got {self.sampling_rate!r}")

    @property
    def sigma(self) -> float:
        """The noise standard deviation in real units."""
        return self.noise_multiplier * self.clip_norm


@dataclass(frozen=True)
class DPReport:
    norm_before: float      # L2 norm of the delta (real units) as given
    norm_clipped: float     # after clipping: <= clip_norm
    clipped: bool           # whether clipping changed the delta
    sigma: float            # noise std in real units (noise_multiplier * clip_norm)
    clamped_values: int     # values pulled back into the spec's range after the noise
    rounds: int             # rounds composed in the accountant, this one included
    epsilon: float          # cumulative epsilon at target_delta (inf without noise)
    target_delta: float


class PrivacyAccountant:
    """The cumulative (epsilon, delta) of every round privatized with it (dp_accounting's RdpAccountant).
    Keep one per trainer and model across rounds; `privatize` records each round."""

    def __init__(self, adjacency: str = "add_remove"):
        if adjacency not in ADJACENCIES:
            raise DPError(f"adjacency must be one of {ADJACENCIES}, got {adjacency!r}")
        from dp_accounting.rdp import RdpAccountant
        self.adjacency = adjacency
        self.rounds = 0
        self._rdp = RdpAccountant()

    def record(self, noise_multiplier: float, sampling_rate: float = 1.0, rounds: int = 1) -> None:
        """Compose `rounds` rounds of the Gaussian mechanism with this noise multiplier and sampling rate."""
        import dp_accounting
        if self.adjacency == "replace":
            if sampling_rate != 1.0:
                raise DPError("sampling amplification is analysed for add_remove adjacency only")
            noise_multiplier = noise_multiplier / 2   # sensitivity 2 * clip_norm
        event = dp_accounting.GaussianDpEvent(noise_multiplier)
        if sampling_rate < 1.0:
            event = dp_accounting.PoissonSampledDpEvent(sampling_rate, event)
        self._rdp.compose(event, rounds)
        self.rounds += rounds

    def epsilon(self, target_delta: float = 1e-5) -> float:
        """Cumulative epsilon at `target_delta` (0 before any round, inf if a round had no noise)."""
        if self.rounds == 0:
            return 0.0
        return float(self._rdp.get_epsilon(target_delta))


def tensor_frac_bits(spec: ModelSpec) -> list[int]:
    """The fractional bits of each weight tensor, in order: per Linear layer, its weight at the weight
    format's scale, then its bias at the accumulator scale (weight frac + the layer input's frac)."""
    out, frac_in = [], spec.input_format.frac_bits
    for layer in spec.layers:
        if layer.kind == LAYER_LINEAR:
            out += [spec.weight_format.frac_bits, spec.weight_format.frac_bits + frac_in]
            frac_in = spec.activation_format.frac_bits
    return out


def tensor_ranges(spec: ModelSpec) -> list[tuple[int, int]]:
    """The representable [lo, hi] of each weight tensor (weights: weight_format.bits, biases: bias_bits)."""
    ranges = []
    for layer in spec.layers:
        if layer.kind == LAYER_LINEAR:
            ranges += [signed_range(spec.weight_format.bits), signed_range(spec.bias_bits)]
    return ranges


def l2_norm(arrays: Sequence[np.ndarray], frac_bits: Sequence[int]) -> float:
    """The L2 norm in real units of integer tensors at the given fractional bits."""
    total = 0.0
    for a, f in zip(arrays, frac_bits):
        x = np.ldexp(np.asarray(a, dtype=np.float64).ravel(), -f)   # exact for |a| < 2**53
        total += float(np.dot(x, x))
    return math.sqrt(total)


def clip(arrays: Sequence[np.ndarray], frac_bits: Sequence[int], clip_norm: float) -> tuple[np.ndarray, ...]:
    """Scale down to L2 norm <= clip_norm (real units), rounding toward zero; unchanged if already within."""
    arrays = tuple(np.asarray(a, dtype=np.int64) for a in arrays)
    norm = l2_norm(arrays, frac_bits)
    while norm > clip_norm:   # one pass in practice; a second only if float error defeated the margin
        factor = clip_norm / norm * (1 - CLIP_MARGIN)
        arrays = tuple(np.trunc(a.astype(np.float64) * factor).astype(np.int64) for a in arrays)
        norm = l2_norm(arrays, frac_bits)
    return arrays


def sample_discrete_gaussian(sigma: float, size, rng: np.random.Generator) -> np.ndarray:
    """int64 samples of the discrete Gaussian: P(k) proportional to exp(-k**2 / (2 sigma**2)), k integer.

    Canonne-Kamath-Steinke 2020, Algorithm 3, vectorised: draw a discrete Laplace of scale
    t = floor(sigma) + 1 (the difference of two geometric variables) and accept it with probability
    exp(-(|y| - sigma**2 / t)**2 / (2 sigma**2)); on average fewer than 2 draws per value."""
    count = int(np.prod(size, dtype=np.int64))
    out = np.zeros(count, dtype=np.int64)
    if sigma == 0 or count == 0:
        return out.reshape(size)
    if not (math.isfinite(sigma) and 0 < sigma <= _MAX_NOISE_GRID):
        raise DPError(f"noise of {sigma:g} grid steps is outside (0, 2**50]: lower noise_multiplier or clip_norm")
    t = math.floor(sigma) + 1
    p = -math.expm1(-1.0 / t)          # geometric success probability: P(G = k) ~ exp(-k / t)
    todo = np.arange(count)
    while todo.size:
        y = rng.geometric(p, todo.size) - rng.geometric(p, todo.size)
        keep = np.exp(-((np.abs(y) - sigma * sigma / t) ** 2) / (2 * sigma * sigma))
        ok = rng.random(todo.size) < keep
        out[todo[ok]] = y[ok]
        todo = todo[~ok]
    return out.reshape(size)


def make_rng(seed: int | None = None) -> np.random.Generator:
    """A numpy Generator seeded from os.urandom (256 bits), or from `seed` for reproducible tests."""
    if seed is None:
        seed = int.from_bytes(os.urandom(32), "big")
    return np.random.Generator(np.random.PCG64(seed))


def encode_delta(arrays: Sequence[np.ndarray]) -> bytes:
    """The canonical update bytes (chain Weights envelope) of delta tensors, for Trainer.submit."""
    return encode_weights(tuple(np.asarray(a, dtype=np.int64) for a in arrays))


def privatize(delta, parent, config: DPConfig, accountant: PrivacyAccountant | None = None,
              rng: np.random.Generator | None = None, noise_share: int = 1) -> tuple[tuple[np.ndarray, ...], DPReport]:
    """Clip `delta` to config.clip_norm, add discrete Gaussian noise of std config.sigma (real units) on
    each tensor's grid, clamp parent + delta into the spec's range, and record the round in `accountant`
    (a fresh one if None: the report then covers this round alone).

    delta: canonical delta bytes (client.trainer.delta_from_torch / make_delta) or int tensors.
    parent: the client.model.ChainModel the delta applies to (its spec gives scales and ranges).
    Returns the new delta tensors (encode_delta() makes update bytes) and a DPReport.

    noise_share k > 1 is distributed DP for aggregate mode (Kairouz, Liu, Steinke 2021): this member adds
    discrete Gaussian noise of variance sigma**2 / k, so the sum of k members' updates, which is all the
    chain ever releases, carries variance sigma**2 and the accountant records noise_multiplier for it. The
    guarantee needs k members that each added their share (colluders who add none weaken it: docs/privacy.md),
    and it is for the released sum; the sum of k discrete Gaussians is not exactly one, but at the sigmas
    used here (thousands of grid steps per member) their bound makes the difference negligible. An
    update with noise_share > 1 sent in open mode is published alone and is NOT protected at sigma."""
    if not isinstance(noise_share, int) or noise_share < 1:
        raise DPError(f"noise_share must be a positive integer, got {noise_share!r}")
    spec, parent_weights = parent.spec, tuple(np.asarray(w, dtype=np.int64) for w in parent.weights)
    arrays = _delta_arrays(delta)
    if len(arrays) != len(parent_weights) or any(a.shape != p.shape for a, p in zip(arrays, parent_weights)):
        raise DPError("the delta's tensors do not match the parent's count and shapes: was it made against "
                      "this parent (client.trainer.delta_from_torch(parent, net))?")
    fracs = tensor_frac_bits(spec)
    norm_before = l2_norm(arrays, fracs)
    clipped = clip(arrays, fracs, config.clip_norm)
    norm_clipped = l2_norm(clipped, fracs)
    rng = rng if rng is not None else make_rng(config.seed)
    out, clamped = [], 0
    for d, p, f, (lo, hi) in zip(clipped, parent_weights, fracs, tensor_ranges(spec)):
        noisy = d + sample_discrete_gaussian(math.ldexp(config.sigma, f) / math.sqrt(noise_share), d.shape, rng)
        # Bounding the delta by the range's width first changes no clamped result and keeps p + noisy in int64.
        candidate = p + np.clip(noisy, lo - hi, hi - lo)
        inside = np.clip(candidate, lo, hi)
        clamped += int(np.count_nonzero(inside != candidate))
        out.append(inside - p)
    if accountant is None:
        accountant = PrivacyAccountant()
    accountant.record(config.noise_multiplier, config.sampling_rate)
    report = DPReport(norm_before=norm_before, norm_clipped=norm_clipped, clipped=norm_clipped != norm_before,
                      sigma=config.sigma, clamped_values=clamped, rounds=accountant.rounds,
                      epsilon=accountant.epsilon(config.target_delta), target_delta=config.target_delta)
    return tuple(out), report


def _delta_arrays(delta) -> tuple[np.ndarray, ...]:
    if isinstance(delta, (bytes, bytearray)):
        try:
            return decode_delta(bytes(delta))
        except ChainError as e:
            raise DPError(f"the delta bytes are not a canonical Weights message: {e}") from None
    arrays = tuple(np.asarray(a) for a in delta)
    if any(not np.issubdtype(a.dtype, np.integer) for a in arrays):
        raise DPError("delta tensors must be integers on the chain's grid (use client.trainer.delta_from_torch)")
    return tuple(a.astype(np.int64) for a in arrays)


__all__ = ["DPConfig", "DPReport", "DPError", "PrivacyAccountant", "privatize", "encode_delta", "clip", "l2_norm",
           "sample_discrete_gaussian", "tensor_frac_bits", "tensor_ranges", "make_rng"]
