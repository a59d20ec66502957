"""The chain's one Ed25519 rule (chain/tx/ed25519.py, docs/tx-format.md "Signature rule"): strict RFC 8032
with small-order, mixed-order and non-canonical keys refused, whatever OpenSSL build `cryptography` has.
The attack first: a small-order public key (the identity point) with R = identity and S = 0 "verifies" for
any message, so an account at that key's address could be spent by anyone."""
from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidSignature as OpenSSLRefused
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chain.bank.messages import MsgSend
from chain.messages import Msg
from chain.tx import ed25519
from chain.tx.coins import Coin
from chain.tx.envelope import Tx, TxBody, address_of
from chain.tx.errors import InvalidPublicKey, InvalidSignature
from chainutil import ALICE, CHAIN_ID, Chain, genesis

# The eight points of small order and the canonical encodings of them ("Taming the many EdDSAs",
# Chalkias et al. 2020, table of small-order points), plus non-canonical encodings of the same points.
SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",  # identity (order 1)
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "0000000000000000000000000000000000000000000000000000000000000080",  # order 4, x = -0 (non-canonical)
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
]
NON_CANONICAL = [
    "0100000000000000000000000000000000000000000000000000000000000080",  # identity with x = -0
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p + 1: the identity again
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = 2^255 - 1
]
IDENTITY = bytes.fromhex(SMALL_ORDER[0])
FORGED = IDENTITY + bytes(32)   # R = identity, S = 0


def _public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_small_order_identity_key_forgery_is_refused_by_the_chain_rule():
    """The attack: on this build OpenSSL may accept the forgery; the chain's rule never does."""
    message = b"spend everything"
    try:
        Ed25519PublicKey.from_public_bytes(IDENTITY).verify(FORGED, message)
        openssl_accepts = True
    except (OpenSSLRefused, ValueError):
        openssl_accepts = False
    print(f"OpenSSL under cryptography accepts the identity-key forgery: {openssl_accepts}")
    with pytest.raises(InvalidPublicKey, match="small-order"):
        ed25519.verify(IDENTITY, message, FORGED)


def test_small_order_account_cannot_be_spent_without_a_private_key():
    """A funded account at the identity key's address; a tx 'signed' with R = identity, S = 0 is refused
    (tx/10) in CheckTx and in a block, and the account keeps every coin."""
    victim = address_of(IDENTITY)
    from chain.tx.address import to_bech32
    state = genesis()
    state["bank"]["balances"].append({"address": to_bech32(victim), "coins": [{"denom": "ugrad", "amount": "900000"}]})
    chain = Chain(app_state=state)
    body = TxBody(chain_id=CHAIN_ID, public_key=IDENTITY, sequence=0, fee=Coin.of("ugrad", 5000),
                  messages=(Msg.wrap(MsgSend(to_address=ALICE.address_bytes, amount=(Coin.of("ugrad", 800000),))),)
                  ).encode()
    tx = Tx(body=body, signature=FORGED).encode()
    checked = chain.app.check_tx(tx)
    assert (checked.codespace, checked.code) == ("tx", 10)
    result = chain.block([tx]).tx_results[0]
    assert (result.codespace, result.code) == ("tx", 10)
    from chain.bank import keeper
    assert keeper.balance(chain.app.store, victim, "ugrad") == 900000


@pytest.mark.parametrize("encoding", SMALL_ORDER, ids=range(len(SMALL_ORDER)))
def test_small_order_public_keys_are_refused(encoding):
    raw = bytes.fromhex(encoding)
    point = ed25519.decode_point(raw)
    assert point is None or ed25519.has_small_order(point)
    with pytest.raises(InvalidPublicKey):
        ed25519.check_public_key(raw)


@pytest.mark.parametrize("encoding", NON_CANONICAL, ids=range(len(NON_CANONICAL)))
def test_small_order_non_canonical_key_encodings_are_refused(encoding):
    assert ed25519.decode_point(bytes.fromhex(encoding)) is None
    with pytest.raises(InvalidPublicKey, match="canonical"):
        ed25519.check_public_key(bytes.fromhex(encoding))


def test_small_order_mixed_order_key_is_refused():
    """An honest key plus a point of order 8 is on the curve and not of small order, but has a torsion
    component: verifiers that multiply by the cofactor and those that do not could disagree on it."""
    honest = ed25519.decode_point(_public(Ed25519PrivateKey.generate()))
    torsion = ed25519.decode_point(bytes.fromhex(SMALL_ORDER[4]))
    x, y, z, _ = ed25519._add(honest, torsion)
    zi = pow(z, ed25519.P - 2, ed25519.P)
    x, y = x * zi % ed25519.P, y * zi % ed25519.P
    mixed = (y | ((x & 1) << 255)).to_bytes(32, "little")
    assert not ed25519.has_small_order(ed25519.decode_point(mixed))
    with pytest.raises(InvalidPublicKey, match="prime-order"):
        ed25519.check_public_key(mixed)


def test_small_order_rule_accepts_every_honest_signature():
    for _ in range(25):
        key = Ed25519PrivateKey.generate()
        message = os.urandom(64)
        ed25519.verify(_public(key), message, key.sign(message))


def test_small_order_non_canonical_s_and_r_are_refused():
    key = Ed25519PrivateKey.generate()
    message = b"m"
    signature = key.sign(message)
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + ed25519.L).to_bytes(32, "little")   # the same equation, second form
    with pytest.raises(InvalidSignature, match="group order"):
        ed25519.verify(_public(key), message, malleated)
    bad_r = (ed25519.P + 1).to_bytes(32, "little") + signature[32:]
    with pytest.raises(InvalidSignature, match="canonical"):
        ed25519.verify(_public(key), message, bad_r)
    with pytest.raises(InvalidSignature, match="does not verify"):
        ed25519.verify(_public(key), b"other", signature)
