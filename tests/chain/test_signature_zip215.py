"""ZIP-215 against the chain's rule (chain/tx/ed25519.py): which signatures the two rules disagree on.

The issue allowed either ZIP-215 (cofactored verification, non-canonical encodings accepted) or strict
RFC 8032 with small-order and non-canonical keys refused; the chain uses the second. These tests build the
signatures ZIP-215 accepts and strict RFC 8032 does not, check them against a small reference ZIP-215
verifier written here (so the vectors are really ZIP-215-valid, not just odd bytes), and show the chain
refuses each one, whatever OpenSSL does. Honest signatures pass both rules: the difference only ever
refuses signatures no honest signer produces."""
from __future__ import annotations

import hashlib
import os

import pytest

from chain.tx import ed25519
from chain.tx.errors import InvalidPublicKey, InvalidSignature

P, L = ed25519.P, ed25519.L
BASE = ed25519.decode_point((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))   # y = 4/5, x even
ORDER_8 = ed25519.decode_point(bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"))
IDENTITY_ENC = (1).to_bytes(32, "little")


def _encode(point) -> bytes:
    x, y, z, _ = point
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _h(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little") % L


def _zip215_decode(raw: bytes):
    """ZIP-215 decoding: y may be >= p (reduced), and x = 0 with the sign bit set is accepted."""
    n = int.from_bytes(raw, "little")
    sign, y = n >> 255, (n & ((1 << 255) - 1)) % P
    point = ed25519.decode_point((y | (sign << 255)).to_bytes(32, "little"))
    if point is None:
        point = ed25519.decode_point(y.to_bytes(32, "little"))   # the "-0" case: x = 0 either way
        if point is None or point[0] % P:
            return None
    return point


def zip215_accepts(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Reference ZIP-215: S < L, A and R decoded leniently, [8]([S]B - R - [k]A) = identity, with k hashed
    over the encodings as given."""
    a, r = _zip215_decode(public_key), _zip215_decode(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= L:
        return False
    k = _h(signature[:32], public_key, message)
    neg = lambda pt: ((-pt[0]) % P, pt[1], pt[2], (-pt[3]) % P)   # noqa: E731
    diff = ed25519._add(ed25519._add(ed25519._multiply(BASE, s), neg(r)), neg(ed25519._multiply(a, k)))
    return ed25519.is_identity(ed25519._multiply(diff, 8))


class Signer:
    """RFC 8032 signing from a seed, with the public key and R optionally shifted by a torsion point."""

    def __init__(self, seed: bytes):
        h = hashlib.sha512(seed).digest()
        scalar = int.from_bytes(h[:32], "little")
        scalar &= (1 << 254) - 8
        scalar |= 1 << 254
        self.scalar, self.prefix = scalar, h[32:]
        self.point = ed25519._multiply(BASE, scalar)

    def sign(self, message: bytes, key_torsion=None, r_torsion=None) -> tuple[bytes, bytes]:
        a_point = self.point if key_torsion is None else ed25519._add(self.point, key_torsion)
        a_enc = _encode(a_point)
        r = _h(self.prefix, message)
        r_point = ed25519._multiply(BASE, r)
        if r_torsion is not None:
            r_point = ed25519._add(r_point, r_torsion)
        r_enc = _encode(r_point)
        s = (r + _h(r_enc, a_enc, message) * self.scalar) % L
        return a_enc, r_enc + s.to_bytes(32, "little")


def test_zip215_reference_and_chain_rule_agree_on_honest_signatures():
    for _ in range(10):
        signer, message = Signer(os.urandom(32)), os.urandom(40)
        key, signature = signer.sign(message)
        assert zip215_accepts(key, message, signature)
        ed25519.verify(key, message, signature)
        assert not zip215_accepts(key, message + b"!", signature)
        with pytest.raises(InvalidSignature):
            ed25519.verify(key, message + b"!", signature)


def test_zip215_accepts_the_identity_key_forgery_the_chain_refuses():
    forged = IDENTITY_ENC + bytes(32)   # R = identity, S = 0: valid for every message under ZIP-215
    for message in (b"spend everything", b"anything else"):
        assert zip215_accepts(IDENTITY_ENC, message, forged)
        with pytest.raises(InvalidPublicKey, match="small-order"):
            ed25519.verify(IDENTITY_ENC, message, forged)


def test_zip215_accepts_a_non_canonical_identity_encoding_the_chain_refuses():
    key = (P + 1).to_bytes(32, "little")   # y = p + 1: the identity again, in a second byte form
    forged = IDENTITY_ENC + bytes(32)
    assert zip215_accepts(key, b"m", forged)
    with pytest.raises(InvalidPublicKey, match="canonical"):
        ed25519.verify(key, b"m", forged)


def test_zip215_accepts_a_mixed_order_key_signature_the_chain_refuses():
    """Key A + T (T of order 8), signed with A's scalar: only the cofactored equation holds."""
    signer = Signer(b"\x07" * 32)
    for i in range(4):
        message = b"mixed %d" % i
        key, signature = signer.sign(message, key_torsion=ORDER_8)
        assert zip215_accepts(key, message, signature)
        with pytest.raises(InvalidPublicKey, match="prime-order"):
            ed25519.verify(key, message, signature)


def test_zip215_accepts_a_small_order_component_in_r_the_chain_refuses():
    """An honest key, R = rB + T: ZIP-215 accepts; the chain's equation check (cofactorless, with A of
    prime order) cannot, so OpenSSL and the pure-integer pre-checks give the same verdict."""
    signer = Signer(b"\x09" * 32)
    for i in range(8):
        message = b"torsion in R %d" % i
        key, signature = signer.sign(message, r_torsion=ORDER_8)
        assert zip215_accepts(key, message, signature)
        with pytest.raises(InvalidSignature, match="does not verify"):
            ed25519.verify(key, message, signature)
