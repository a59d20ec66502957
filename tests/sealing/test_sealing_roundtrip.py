"""Seal in the SDK, release in each validator node, open in block execution: the update comes back."""
import pytest
from hypothesis import given, settings, strategies as st

from chain.sealing.errors import EnvelopeTooLarge, NotEnoughShares
from chain.sealing.envelope import check_envelope, decode_envelope, envelope_hash
from chain.sealing.open import open_sealed, reconstruct, valid_share_count
from chain.sealing.valset import share_plan
from client.seal import seal
from sealingutil import CONTEXT, StreamRandom, release_all, validators

FOUR = validators([10, 10, 10, 10])


def test_round_trip_through_canonical_bytes():
    update = b"fixed-point weight deltas" * 100
    envelope = seal(update, FOUR, CONTEXT)
    received = decode_envelope(envelope.encode())
    assert received == envelope
    check_envelope(received, CONTEXT, share_plan(FOUR))
    assert open_sealed(received, release_all(received), CONTEXT) == update


@settings(max_examples=25, deadline=None)
@given(update=st.binary(max_size=4096), powers=st.lists(st.integers(1, 40), min_size=1, max_size=6),
       seed=st.binary(min_size=1, max_size=8))
def test_any_update_round_trips_for_any_set(update, powers, seed):
    vals = validators(powers)
    envelope = seal(update, vals, CONTEXT, random_bytes=StreamRandom(seed))
    check_envelope(envelope, CONTEXT, share_plan(vals))
    assert open_sealed(decode_envelope(envelope.encode()), release_all(envelope), CONTEXT) == update


def test_empty_update_round_trips():
    envelope = seal(b"", FOUR, CONTEXT)
    assert open_sealed(envelope, release_all(envelope), CONTEXT) == b""


def test_a_validator_alone_reads_nothing():
    envelope = seal(b"secret update", FOUR, CONTEXT)
    one = release_all(envelope, [2])
    assert valid_share_count(envelope, one) == 10 < envelope.threshold
    with pytest.raises(NotEnoughShares):
        reconstruct(envelope, one)


def test_envelope_hash_identifies_the_envelope():
    a, b = seal(b"u", FOUR, CONTEXT), seal(b"u", FOUR, CONTEXT)
    assert envelope_hash(a) == envelope_hash(decode_envelope(a.encode()))
    assert envelope_hash(a) != envelope_hash(b)  # fresh key and ephemeral key every time


def test_oversized_updates_are_refused(monkeypatch):
    import client.seal
    monkeypatch.setattr(client.seal, "MAX_PAYLOAD_BYTES", 10)
    with pytest.raises(EnvelopeTooLarge):
        seal(b"x" * 11, FOUR, CONTEXT)
    with pytest.raises(EnvelopeTooLarge):     # the whole envelope, before parsing
        decode_envelope(b"\x00" * (10 + (64 << 10) + 1), max_payload_bytes=10)
    with pytest.raises(EnvelopeTooLarge):     # the payload, under a chain bound below the SDK's
        decode_envelope(seal(b"x" * 100, FOUR, CONTEXT).encode(), max_payload_bytes=10)
