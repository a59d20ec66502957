"""What a threshold identity-based sealing (format v3, docs/sealing.md section 15 item 7) would cost per
operation, on BLS12-381 through py-arkworks-bls12381, as ratios to X25519, the operation format v2 runs once
per sealing-set member when it opens an update (verify_all_shares), measured in the same run.

Nothing here is chain code, and no scheme is implemented: these are the primitives a Boneh-Franklin style
threshold IBE would spend, one per line, each the median of `--reps` calls:

  x25519          X25519 exchange (`cryptography`): the baseline
  hash_to_g1      Q = H1(chain, model, round) on G1 (RFC 9380, SSWU): once per round, by everyone
  g1_mul          sigma_i = s_i * Q: a validator's whole release for a round (48 bytes compressed)
  g2_mul          U = r * G2 (trainer, per update), and the Fujisaki-Okamoto re-encryption check at open
  pairing         e(sigma, U): the chain's per-update decryption (then HKDF + AES-GCM as today)
  pairing_check2  e(sigma_i, G2) == e(Q, P_i): checking one validator's release against its public share
  multiexp_t      sigma = sum lambda_i sigma_i over t shares (Lagrange in the exponent): once per round
                  (t = 30, 126, 160: the thresholds of the sets below)
  g1_decompress   a released 48-byte G1 point, with its subgroup check

Derived lines: per update at open (pairing + g2_mul for the FO check, whatever the validator count), and per
round per node for bench/round_10k.py's sealing sets under share_plan's defaults (4 x 10: 40 shares, t = 30;
20 scaled: 243, t = 160; 100 scaled: 206, t = 126), with the power weighting kept as today: a member holding
c_i shares releases c_i G1 points (48 bytes each), every point is checked on its own (decompress + two-pairing
check; batching a member's points with random weights would cut this to about one check per member), and
the first t valid points are combined by one multi-exponentiation.

    .venv/bin/python bench/threshold_ibe_costs.py            # 200 reps
    .venv/bin/python bench/threshold_ibe_costs.py --quick    # 30 reps

Last lines: `ratio pairing_vs_x25519 X` and `ratio tibe_open_per_update_vs_x25519 X` (our time / X25519's).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

try:
    import py_arkworks_bls12381 as bls
except ImportError:  # pragma: no cover - an optional, measurement-only dependency
    raise SystemExit("py-arkworks-bls12381 is not installed: .venv/bin/pip install py-arkworks-bls12381==0.5.0")

DST = b"GRADCHAIN-SEALING-V3-BENCH_BLS12381G1_XMD:SHA-256_SSWU_RO_"


def sealing_plans() -> dict:
    """bench/round_10k.py's sets, planned as today (share_plan's defaults)."""
    from chain.sealing.valset import share_plan
    sets = {"4 x 10": [10] * 4, "20 scaled": [(i * 7919 % 97 + 3) * 10**6 for i in range(20)],
            "100 scaled": [(i * 7919 % 97 + 3) * 10**6 for i in range(100)]}
    out = {}
    for name, powers in sets.items():
        keys = [X25519PrivateKey.from_private_bytes(hashlib.sha256(b"ibe %d" % i).digest()).public_key()
                .public_bytes_raw() for i in range(len(powers))]
        out[name] = share_plan([(i, k, p) for i, (k, p) in enumerate(zip(keys, powers))])
    return out


def scalar(tag: bytes) -> "bls.Scalar":
    return bls.Scalar.from_le_bytes_mod_order(hashlib.sha512(tag).digest())


def median_seconds(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int, default=None)
    args = parser.parse_args()
    reps = args.reps or (30 if args.quick else 200)

    a = X25519PrivateKey.from_private_bytes(hashlib.sha256(b"a").digest())
    b_pub = X25519PrivateKey.from_private_bytes(hashlib.sha256(b"b").digest()).public_key()
    g2 = bls.G2Point()
    s_i, r = scalar(b"share"), scalar(b"r")
    q = bls.G1Point.hash_to_curve(DST, b"chain|model|round")
    sigma_i, p_i, u = q * s_i, g2 * s_i, g2 * r
    packed = sigma_i.to_compressed_bytes()
    plans = sealing_plans()
    shares = {p.threshold: ([q * scalar(b"s%d" % k) for k in range(p.threshold)],
                            [scalar(b"l%d" % k) for k in range(p.threshold)]) for p in plans.values()}
    assert bls.GT.pairing_check([sigma_i, -q], [g2, p_i])        # the release check holds for an honest share

    t = {
        "x25519": median_seconds(lambda: a.exchange(X25519PublicKey.from_public_bytes(
            b_pub.public_bytes_raw())), reps),
        "hash_to_g1": median_seconds(lambda: bls.G1Point.hash_to_curve(DST, b"chain|model|round"), reps),
        "g1_mul": median_seconds(lambda: q * s_i, reps),
        "g2_mul": median_seconds(lambda: g2 * r, reps),
        "pairing": median_seconds(lambda: bls.GT.pairing(sigma_i, u), reps),
        "pairing_check2": median_seconds(lambda: bls.GT.pairing_check([sigma_i, -q], [g2, p_i]), reps),
        "g1_decompress": median_seconds(lambda: bls.G1Point.from_compressed_bytes(packed), reps),
    }
    for k, (points, lambdas) in shares.items():
        t[f"multiexp_{k}"] = median_seconds(lambda p=points, l=lambdas: bls.G1Point.multiexp_unchecked(p, l),
                                            max(5, reps // 10))
    base = t["x25519"]
    print(f"BLS12-381 primitives (py-arkworks-bls12381) vs X25519, median of {reps} calls")
    print(f"{'operation':>16} {'ms':>8} {'x X25519':>9}")
    for name, seconds in t.items():
        print(f"{name:>16} {seconds * 1e3:8.3f} {seconds / base:9.1f}")
    open_update = t["pairing"] + t["g2_mul"]
    print(f"\nper update at open: pairing + g2_mul (FO check) = {open_update * 1e3:.2f} ms "
          f"(x 10,000 updates: {open_update * 1e4:.0f} s on one core), independent of the validator count")
    for name, plan in plans.items():
        total, k = plan.total_shares, plan.threshold
        per_round = t["hash_to_g1"] + total * (t["g1_decompress"] + t["pairing_check2"]) + t[f"multiexp_{k}"]
        most = max(plan.counts)
        print(f"per round and node, {name:>10} ({total} shares, t = {k}): hash + {total} x (decompress + pairing "
              f"check) + multiexp over {k} = {per_round * 1e3:.0f} ms; a member releases 48 x c_i bytes "
              f"(at most {48 * most} here, c_i = {most}), whatever the updates")
    print(f"\nratio pairing_vs_x25519 {t['pairing'] / base:.1f}")
    print(f"ratio tibe_open_per_update_vs_x25519 {open_update / base:.1f}")


if __name__ == "__main__":
    main()
