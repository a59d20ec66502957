"""How likely an honest member's cohort is all colluders but it, and what distributed DP still gives it then.

    .venv/bin/python bench/cohort_collusion.py            # exact, approximation, and 20000 / 2000 simulated rounds
    .venv/bin/python bench/cohort_collusion.py --quick    # fewer simulated rounds

Part 1. n joiners of which an attacker holds a fraction f (A = round(f n) Sybils); cohorts as
chain/secagg/cohorts.py forms them: a uniformly random order (the hash order under a seed nobody could
choose), cut into floor(n / k) cohorts of k to 2k-1 members. An honest member lands in a cohort of size s
with probability s c_s / n (c_s cohorts of that size), and its s - 1 cohort-mates are drawn without
replacement from the other n - 1 joiners, A of them colluders:

    P(exposed) = sum_s (s c_s / n) * C(A, s - 1) / C(n - 1, s - 1)         (exact, hypergeometric)
               ~ f^(k - 1)                                                 (large n, every cohort of size k)

"simulated" runs cohorts.assign itself on random seeds and counts honest members whose cohort-mates are
all Sybils; "P(any)" is the simulated chance that at least one honest member of the round is exposed.
Cohorts are fresh every round, so a member who joins R rounds is exposed at least once with 1 - (1 - P)^R.

Part 2. In that cohort, the Sybils know their own updates and their own noise (adding none is the same),
so the published cohort sum minus theirs is the honest member's update plus its own noise share alone:
variance sigma^2 / k (privatize(..., noise_share=k)), i.e. noise multiplier z / sqrt(k) instead of z.
Epsilon by client.dp.PrivacyAccountant (dp-accounting's RDP accountant, GaussianDpEvent per round,
add_remove adjacency: what client/dp.py and client/privacy_ledger.py record), for bench/dp_accuracy.py's
digits setting: clip 1.0, noise multiplier 1.1, 10 rounds, delta 1e-5. Also for a single curious member
of a cohort of k honest members: subtracting its own update and noise leaves each other member under
(k - 1) sigma^2 / k, noise multiplier z sqrt((k - 1) / k).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from collections import Counter
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# bench/dp_accuracy.py's digits setting
CLIP, NOISE, ROUNDS, DELTA = 1.0, 1.1, 10, 1e-5


def cohort_sizes(n: int, k: int) -> Counter:
    """size -> number of cohorts of that size, as cohorts.assign cuts n joiners."""
    count = n // k
    if count == 0:
        return Counter()
    base, extra = divmod(n, count)
    return Counter({base + 1: extra, base: count - extra}) - Counter()


def exact(n: int, attackers: int, k: int) -> Fraction:
    total = Fraction(0)
    for s, c in cohort_sizes(n, k).items():
        total += Fraction(s * c, n) * Fraction(math.comb(attackers, s - 1), math.comb(n - 1, s - 1))
    return total


def simulate(n: int, attackers: int, k: int, trials: int, seed: int = 0) -> tuple[float, float]:
    """(fraction of honest members exposed, fraction of rounds with any honest member exposed)."""
    import random

    from chain.secagg.cohorts import assign
    rng = random.Random(seed)
    members = [i.to_bytes(4, "big") for i in range(n)]
    sybil = set(members[:attackers])
    exposed = rounds_any = 0
    for _ in range(trials):
        hit = 0
        for cohort in assign(members, rng.randbytes(32), k):
            honest = [m for m in cohort if m not in sybil]
            if len(honest) == 1:
                hit += 1
        exposed += hit
        rounds_any += hit > 0
    return exposed / (trials * (n - attackers)), rounds_any / trials


def epsilon(noise_multiplier: float, rounds: int, full_rounds: int = 0) -> float:
    """`rounds` rounds at `noise_multiplier` composed with `full_rounds` at NOISE."""
    from client.dp import PrivacyAccountant
    accountant = PrivacyAccountant()
    accountant.record(noise_multiplier, rounds=rounds)
    if full_rounds:
        accountant.record(NOISE, rounds=full_rounds)
    return accountant.epsilon(DELTA)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="200 / 20 simulated rounds (n = 50 / 1000) instead of 20000 / 2000")
    args = ap.parse_args()

    print("Part 1: P(an honest member's cohort-mates are all Sybils)")
    print(f"{'n':>5} {'f':>4} {'A':>4} {'k':>2}  {'cohort sizes':<16} {'exact':>10} {'f^(k-1)':>10} "
          f"{'simulated':>10} {'rounds':>6} {'P(any)':>7} {'E[exposed]':>10} {'in 10 rounds':>12}")
    for n in (50, 1000):
        trials = (200 if n == 50 else 20) if args.quick else (20000 if n == 50 else 2000)
        for f in (0.1, 0.3):
            attackers = round(f * n)
            for k in (3, 5):
                p = exact(n, attackers, k)
                sim, any_ = simulate(n, attackers, k, trials)
                sizes = " ".join(f"{c}x{s}" for s, c in sorted(cohort_sizes(n, k).items()))
                print(f"{n:>5} {f:>4} {attackers:>4} {k:>2}  {sizes:<16} {float(p):>10.3e} {f ** (k - 1):>10.3e} "
                      f"{sim:>10.3e} {trials:>6} {any_:>7.3f} {float(p) * (n - attackers):>10.3g} "
                      f"{1 - (1 - float(p)) ** ROUNDS:>12.3e}")
    print("E[exposed]: expected honest members exposed per round (exact P x honest joiners); in 10 rounds: the chance "
          "that one honest member\nwho joins 10 rounds (fresh cohorts each) is exposed in at least one, 1 - (1 - P)^10")

    print(f"\nPart 2: epsilon at delta {DELTA:g} after {ROUNDS} rounds (and 1), clip {CLIP}, noise multiplier {NOISE}, "
          f"when the other members subtract their updates and noise")
    full, full1 = epsilon(NOISE, ROUNDS), epsilon(NOISE, 1)
    print(f"  full noise (z = {NOISE}):{'':>14} epsilon {full:7.2f}  (1 round: {full1:.2f})")
    for k in (3, 5):
        z = NOISE / math.sqrt(k)
        e, e1 = epsilon(z, ROUNDS), epsilon(z, 1)
        print(f"  k = {k}, only own share (z = {z:.3f}): epsilon {e:7.2f}  (1 round: {e1:.2f}), {e / full:.2f}x full; "
              f"exposed in 1 of {ROUNDS} rounds: {epsilon(z, 1, ROUNDS - 1):.2f}")
        zm = NOISE * math.sqrt((k - 1) / k)
        print(f"  k = {k}, one curious cohort-mate subtracts its own (z = {zm:.3f} for each other member): "
              f"epsilon {epsilon(zm, ROUNDS):.2f}")
        print(f"ratio epsilon_colluded_vs_full_k{k} {e / full:.3f}")


if __name__ == "__main__":
    main()
