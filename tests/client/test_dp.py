"""Client-side differential privacy (client/dp.py): clipping bounds the real-unit L2 norm, the noise is a
discrete Gaussian of the documented std on each tensor's grid, parent + delta stays in the chain's range,
and epsilon is dp_accounting's own figure."""
from fractions import Fraction

import numpy as np
import pytest

from chain.rounds.delta import apply_delta, decode_delta
from chain.scoring.fixedpoint import signed_range
from client.dp import (DPConfig, DPError, PrivacyAccountant, encode_delta, l2_norm, make_rng, privatize,
                       sample_discrete_gaussian, tensor_frac_bits)
from client.model import ChainModel

torch = pytest.importorskip("torch")
dp_accounting = pytest.importorskip("dp_accounting")


def mlp(hidden=16, seed=0) -> ChainModel:
    from client.model import to_chain
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
    return to_chain(net, input_shape=(64,))


def random_delta(model: ChainModel, real_std: float, seed=1) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple(np.rint(rng.normal(0, real_std, w.shape) * 2.0 ** f).astype(np.int64)
                 for w, f in zip(model.weights, tensor_frac_bits(model.spec)))


def exact_norm_squared(arrays, fracs) -> Fraction:
    return sum((Fraction(int(v)) ** 2 / 4 ** f for a, f in zip(arrays, fracs) for v in a.ravel()), Fraction(0))


def test_scales_follow_the_spec():
    model = mlp()
    # weights at 2**-16; biases at the accumulator scale: 16 + input frac (16), then 16 + activation frac (16)
    assert tensor_frac_bits(model.spec) == [16, 32, 16, 32]


def test_clipping_bounds_the_real_norm_exactly_and_keeps_direction():
    model = mlp()
    delta = random_delta(model, real_std=0.05)
    fracs = tensor_frac_bits(model.spec)
    clip_norm = 0.5
    assert l2_norm(delta, fracs) > 2 * clip_norm
    out, report = privatize(encode_delta(delta), model, DPConfig(clip_norm=clip_norm, noise_multiplier=0.0))
    assert report.clipped and report.norm_before == pytest.approx(l2_norm(delta, fracs))
    exact = exact_norm_squared(out, fracs)
    assert exact <= Fraction(clip_norm) ** 2                          # never above the clip, in exact arithmetic
    # rounding toward zero loses less than one grid step per coordinate, plus the documented 1e-6 margin
    slack = sum(a.size * 4.0 ** -f for a, f in zip(delta, fracs)) ** 0.5
    assert float(exact) ** 0.5 >= clip_norm * (1 - 1e-6) - slack
    assert report.norm_clipped == pytest.approx(float(exact) ** 0.5)
    for d, c in zip(delta, out):   # a scaled copy: same signs, no coordinate grew
        assert np.all(np.abs(c) <= np.abs(d)) and np.all(np.sign(c) * np.sign(d) >= 0)


def test_no_noise_and_norm_under_the_clip_changes_nothing():
    model = mlp()
    delta = random_delta(model, real_std=0.001)
    raw = encode_delta(delta)
    out, report = privatize(raw, model, DPConfig(clip_norm=10.0, noise_multiplier=0.0))
    assert not report.clipped and report.clamped_values == 0
    assert encode_delta(out) == raw
    assert report.epsilon == float("inf")   # no noise, no privacy: reported honestly


def test_noise_has_the_documented_std_on_every_grid():
    model = mlp(hidden=64)
    zero = tuple(np.zeros_like(w) for w in model.weights)
    config = DPConfig(clip_norm=0.02, noise_multiplier=1.5, seed=1234)    # sigma = 0.03 in real units
    out, report = privatize(zero, model, config)
    assert report.sigma == pytest.approx(0.03) and report.clamped_values == 0
    fracs = tensor_frac_bits(model.spec)
    real = np.concatenate([np.ldexp(a.astype(np.float64).ravel(), -f) for a, f in zip(out, fracs)])
    assert real.size == 64 * 64 + 64 + 64 * 10 + 10
    assert real.std() == pytest.approx(0.03, rel=0.05)
    assert abs(real.mean()) < 5 * 0.03 / real.size ** 0.5
    # weights (2**-16) and biases (2**-32) each get the same real-unit std
    weights = np.ldexp(out[0].astype(np.float64), -16).ravel()
    biases = np.concatenate([np.ldexp(out[i].astype(np.float64), -32) for i in (1, 3)])
    assert weights.std() == pytest.approx(0.03, rel=0.05)
    assert biases.std() == pytest.approx(0.03, rel=0.35)            # only 74 values
    again, _ = privatize(zero, model, config)
    assert all(np.array_equal(a, b) for a, b in zip(out, again))     # a seed reproduces (tests only)
    fresh = [privatize(zero, model, DPConfig(clip_norm=0.02, noise_multiplier=1.5))[0][0] for _ in range(2)]
    assert not np.array_equal(fresh[0], fresh[1])                    # default: fresh OS entropy each time


def test_distributed_dp_noise_shares_sum_to_sigma():
    """noise_share=k: each of k members adds variance sigma**2 / k, so their sum carries sigma (aggregate mode)."""
    model = mlp(hidden=64)
    zero = tuple(np.zeros_like(w) for w in model.weights)
    config = DPConfig(clip_norm=0.02, noise_multiplier=1.5)                # sigma = 0.03
    k = 4
    members = [privatize(zero, model, config, noise_share=k)[0][0] for _ in range(k)]
    one = np.ldexp(members[0].astype(np.float64), -16).ravel()
    total = np.ldexp(sum(m.astype(np.float64) for m in members), -16).ravel()
    assert one.std() == pytest.approx(0.03 / k ** 0.5, rel=0.05)
    assert total.std() == pytest.approx(0.03, rel=0.05)
    with pytest.raises(DPError):
        privatize(zero, model, config, noise_share=0)


def test_discrete_gaussian_matches_its_pmf():
    sigma = 1.5
    samples = sample_discrete_gaussian(sigma, 200_000, make_rng(7))
    assert samples.dtype == np.int64
    ks = np.arange(-12, 13)
    pmf = np.exp(-ks ** 2 / (2 * sigma ** 2))
    pmf /= pmf.sum()
    freq = np.array([(samples == k).mean() for k in ks])
    assert np.max(np.abs(freq - pmf)) < 0.005
    assert samples.var() == pytest.approx(float((pmf * ks ** 2).sum()), rel=0.03)
    assert sample_discrete_gaussian(0.0, (3, 2), make_rng(1)).tolist() == [[0, 0], [0, 0], [0, 0]]


def test_result_stays_in_range_so_the_chain_accepts_it():
    model = mlp()
    w_lo, w_hi = signed_range(model.spec.weight_format.bits)
    b_lo, b_hi = signed_range(model.spec.bias_bits)
    # a parent sitting at the edges of its ranges: any noise pushes half its values out
    edge = tuple(np.full_like(w, (w_hi if i % 2 else w_lo) if w.ndim == 2 else (b_hi if i % 2 else b_lo))
                 for i, w in enumerate(model.weights))
    parent = ChainModel(model.spec, edge)
    delta = random_delta(model, real_std=0.01)
    out, report = privatize(delta, parent, DPConfig(clip_norm=1.0, noise_multiplier=1.0, seed=5))
    assert report.clamped_values > 0
    raw = encode_delta(out)
    candidate = apply_delta(model.spec, parent.weights, raw)           # raises UpdateOutOfRange otherwise
    assert len(candidate) == len(parent.weights)
    assert all(np.array_equal(a, b) for a, b in zip(decode_delta(raw), out))


def test_epsilon_composes_over_rounds_and_matches_dp_accounting():
    model = mlp()
    delta = random_delta(model, real_std=0.01)

    def run(noise_multiplier, rounds, sampling_rate=1.0, adjacency="add_remove"):
        accountant = PrivacyAccountant(adjacency)
        config = DPConfig(clip_norm=1.0, noise_multiplier=noise_multiplier, sampling_rate=sampling_rate, seed=3)
        reports = [privatize(delta, model, config, accountant)[1] for _ in range(rounds)]
        assert [r.rounds for r in reports] == list(range(1, rounds + 1))
        assert reports[-1].epsilon == accountant.epsilon(1e-5)
        return [r.epsilon for r in reports]

    def direct(event, rounds):
        accountant = dp_accounting.rdp.RdpAccountant()
        accountant.compose(event, rounds)
        return accountant.get_epsilon(1e-5)

    eps = run(1.1, 5)
    assert eps == sorted(eps) and eps[0] < eps[-1]                    # grows with rounds
    assert eps[-1] == pytest.approx(direct(dp_accounting.GaussianDpEvent(1.1), 5), rel=1e-12)
    assert run(2.0, 5)[-1] < eps[-1]                                  # shrinks with more noise
    sampled = run(1.1, 5, sampling_rate=0.1)[-1]
    assert sampled == pytest.approx(direct(dp_accounting.PoissonSampledDpEvent(
        0.1, dp_accounting.GaussianDpEvent(1.1)), 5), rel=1e-12)
    assert sampled < eps[-1]
    replace = run(1.1, 5, adjacency="replace")[-1]                    # sensitivity 2 * clip_norm
    assert replace == pytest.approx(direct(dp_accounting.GaussianDpEvent(0.55), 5), rel=1e-12)
    assert replace > eps[-1]
    assert PrivacyAccountant().epsilon() == 0.0


def test_bad_settings_say_what_to_change():
    model = mlp()
    with pytest.raises(DPError, match="clip_norm"):
        DPConfig(clip_norm=0, noise_multiplier=1.0)
    with pytest.raises(DPError, match="sampling_rate"):
        DPConfig(clip_norm=1.0, noise_multiplier=1.0, sampling_rate=0)
    with pytest.raises(DPError, match="adjacency"):
        PrivacyAccountant("neighbours")
    with pytest.raises(DPError, match="add_remove"):
        PrivacyAccountant("replace").record(1.0, sampling_rate=0.5)
    with pytest.raises(DPError, match="shapes"):
        privatize(model.weights[:2], model, DPConfig(clip_norm=1.0, noise_multiplier=1.0))
    with pytest.raises(DPError, match="integers"):
        privatize(tuple(w.astype(np.float64) for w in model.weights), model,
                  DPConfig(clip_norm=1.0, noise_multiplier=1.0))
    with pytest.raises(DPError, match="canonical"):
        privatize(b"\xff\xff", model, DPConfig(clip_norm=1.0, noise_multiplier=1.0))
