"""The chain's one Ed25519 validation rule: strict RFC 8032, with small-order and mixed-order keys refused.

Edge cases of Ed25519 verification (small-order keys, non-canonical encodings, points with a torsion
component) are where implementations disagree, and `cryptography` inherits whatever its OpenSSL build
does. A consensus rule cannot depend on that: with the small-order public key (the identity point),
R = identity and S = 0 "verify" for every message, so an account at that key's address is spendable by
anyone. So before `cryptography` checks the equation, the chain checks, in pure integer arithmetic:

1. the public key A is a canonical encoding (y < p; no "negative zero" x) of a point on the curve;
2. A is in the prime-order subgroup: [L]A is the identity (this refuses the 8 small-order points and every
   mixed-order point; a key passing it is cached, since keys repeat across txs);
3. R (the signature's first half) has its y below p: an encoding some verifiers would reduce mod p
   before comparing is refused, so none can accept a second byte form of the same signature;
4. S (the second half) is below the group order L (no malleable second form).

With A of prime order, [S]B - [k]A is a point of prime order, so the equation holds only for the one R
that is its canonical encoding: a small-order, mixed-order or off-curve R can never verify, and
cofactorless and cofactored verification give the same verdict on everything that passes. Any correct
RFC 8032 verifier agrees with this rule, whatever its build. Honest keys (from a private key, as RFC 8032 derives them)
always pass. ZIP-215 would accept more signatures; we refuse them instead, which only ever refuses
signatures no honest signer produces. Hand-written, because no maintained Python package exposes these
checks without a native build (`py-ed25519-zebra-bindings` implements ZIP-215, a different rule).
"""
from __future__ import annotations

from collections import OrderedDict

from cryptography.exceptions import InvalidSignature as _BadSig
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chain.tx.errors import InvalidPublicKey, InvalidSignature

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493   # order of the prime subgroup
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1, 1, 0)   # extended coordinates (X, Y, Z, T)

_GOOD_KEYS: OrderedDict[bytes, Ed25519PublicKey | None] = OrderedDict()   # good key -> its verifier once built
_GOOD_KEYS_MAX = 4096


def decode_point(raw: bytes) -> tuple[int, int, int, int] | None:
    """The point a 32-byte encoding names, or None if it is not a canonical encoding of a curve point."""
    if len(raw) != 32:
        return None
    n = int.from_bytes(raw, "little")
    sign, y = n >> 255, n & ((1 << 255) - 1)
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P   # candidate sqrt(u/v)
    if v * x * x % P == u:
        pass
    elif v * x * x % P == (-u) % P:
        x = x * SQRT_M1 % P
    else:
        return None
    if x == 0 and sign:
        return None     # "-0": a second encoding of a point with x = 0
    if x & 1 != sign:
        x = P - x
    return x, y, 1, x * y % P


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    A = (y1 - x1) * (y2 - x2) % P
    B = (y1 + x1) * (y2 + x2) % P
    C = 2 * D * t1 * t2 % P
    Dd = 2 * z1 * z2 % P
    E, F, G, H = B - A, Dd - C, Dd + C, B + A
    return E * F % P, G * H % P, F * G % P, E * H % P


def _multiply(point, scalar: int):
    result = IDENTITY
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def is_identity(point) -> bool:
    x, y, z, _ = point
    return x % P == 0 and (y - z) % P == 0


def has_small_order(point) -> bool:
    return is_identity(_multiply(point, 8))


def check_public_key(public_key: bytes) -> None:
    """Raise InvalidPublicKey unless the key is a canonical encoding of a point of prime order L."""
    if public_key in _GOOD_KEYS:
        _GOOD_KEYS.move_to_end(public_key)
        return
    point = decode_point(public_key)
    if point is None:
        raise InvalidPublicKey("public_key is not a canonical encoding of an Ed25519 curve point")
    if has_small_order(point):
        raise InvalidPublicKey("public_key is a small-order Ed25519 point")
    if not is_identity(_multiply(point, L)):
        raise InvalidPublicKey("public_key is not in Ed25519's prime-order subgroup (it has a torsion component)")
    _GOOD_KEYS[public_key] = None
    if len(_GOOD_KEYS) > _GOOD_KEYS_MAX:
        _GOOD_KEYS.popitem(last=False)


def verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    """The chain's signature rule (module docstring). Raises InvalidPublicKey or InvalidSignature."""
    check_public_key(public_key)
    if len(signature) != 64:
        raise InvalidSignature("signature must be 64 bytes")
    if int.from_bytes(signature[:32], "little") & ((1 << 255) - 1) >= P:
        raise InvalidSignature("signature R is not a canonical encoding (y is not below p)")
    if int.from_bytes(signature[32:], "little") >= L:
        raise InvalidSignature("signature S is not below the group order (non-canonical)")
    try:
        key = _GOOD_KEYS.get(public_key)   # the key's `cryptography` object, once built (keys repeat)
        if key is None:
            key = Ed25519PublicKey.from_public_bytes(public_key)
            if public_key in _GOOD_KEYS:
                _GOOD_KEYS[public_key] = key
        key.verify(signature, message)
    except (_BadSig, ValueError):
        raise InvalidSignature("signature does not verify against body and public_key") from None
