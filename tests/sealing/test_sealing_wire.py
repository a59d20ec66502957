"""The envelope has one byte form; the .proto in docs/sealing.md builds exactly those bytes."""
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from chain.sealing.errors import MalformedEnvelope
from chain.sealing.envelope import SealContext, SealedUpdate, decode_envelope, seal_context
from client.seal import seal
from sealingutil import CONTEXT, validators

ROOT = Path(__file__).resolve().parents[2]
ENVELOPE = seal(b"update bytes", validators([3, 4, 5]), CONTEXT)
RAW = ENVELOPE.encode()


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    """The schema as published in docs/sealing.md, compiled by protoc: what another language would use."""
    doc = (ROOT / "docs" / "sealing.md").read_text()
    schema = re.search(r"```proto\n(.*?)```", doc, re.S).group(1)
    assert (ROOT / "proto/gradchain/sealing/v1/sealing.proto").read_text() == schema, \
        "proto/gradchain/sealing/v1/sealing.proto must match the schema in docs/sealing.md"
    out = tmp_path_factory.mktemp("pb")
    (out / "gradchain" / "sealing" / "v1").mkdir(parents=True)
    (out / "gradchain" / "sealing" / "v1" / "sealing.proto").write_text(schema)
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{out}", f"--python_out={out}",
                    "gradchain/sealing/v1/sealing.proto"], check=True)
    sys.path.insert(0, str(out))
    try:
        return importlib.import_module("gradchain.sealing.v1.sealing_pb2")
    finally:
        sys.path.remove(str(out))


def test_protobuf_library_builds_identical_bytes(pb):
    e = ENVELOPE
    theirs = pb.SealedUpdate(
        version=e.version, context_hash=e.context_hash, valset_hash=e.valset_hash, threshold=e.threshold,
        key_commitment=e.key_commitment, ephemeral_pubkey=e.ephemeral_pubkey, ciphertext=bytes(e.ciphertext),
        shares=[pb.SealedShare(validator_index=s.validator_index, count=s.count, commitment=s.commitment,
                               ciphertext=s.ciphertext) for s in e.shares])
    assert theirs.SerializeToString(deterministic=True) == RAW
    ctx = pb.SealContext(chain_id="gradchain-test-1", model_id=7, round=3, submitter=bytes.fromhex("11" * 20))
    assert ctx.SerializeToString(deterministic=True) == CONTEXT


@settings(max_examples=50, deadline=None)
@given(chain_id=st.text(max_size=20), model_id=st.integers(0, 2**64 - 1), round_=st.integers(0, 2**64 - 1),
       submitter=st.binary(max_size=32))
def test_context_round_trips(chain_id, model_id, round_, submitter):
    raw = seal_context(chain_id, model_id, round_, submitter)
    assert SealContext.decode(raw) == SealContext(chain_id, model_id, round_, submitter)


@pytest.mark.parametrize("mutate, why", [
    (lambda b: b + b"\x00", "trailing byte"),
    (lambda b: b"\x08\x00" + b[2:], "explicit default version"),
    (lambda b: b"\x08\x81\x00" + b[2:], "padded varint"),
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\x50\x01", "unknown field 10"),
    (lambda b: SealedUpdate(version=1).encode() + b, "repeated field"),
])
def test_non_canonical_bytes_are_refused(mutate, why):
    assert RAW[:2] == b"\x08\x02"
    with pytest.raises(MalformedEnvelope):
        decode_envelope(mutate(RAW))


def test_canonical_bytes_decode_to_the_same_envelope():
    assert decode_envelope(RAW) == ENVELOPE and decode_envelope(RAW).encode() == RAW


def test_zero_copy_decode_gives_the_generic_verdict_and_cannot_be_mutated_under_the_chain():
    """The payload is a read-only view into the decoded bytes: same envelope, same re-encoding; a caller
    that hands in a bytearray and then changes it does not change the decoded envelope."""
    from chain.tx.wire import Message
    decoded = SealedUpdate.decode(RAW)
    assert decoded == Message.decode.__func__(SealedUpdate, RAW) and decoded.encode() == RAW
    assert isinstance(decoded.ciphertext, memoryview) and decoded.ciphertext.readonly
    mutable = bytearray(RAW)
    from_mutable = SealedUpdate.decode(mutable)
    mutable[-1] ^= 1
    assert from_mutable.encode() == RAW

def test_bytes_field_from_any_buffer_encodes_its_byte_length():
    """A bytes field given as a memoryview of wider items is framed by its byte length, not its item count."""
    import array
    from chain.sealing.envelope import SealedShare
    words = array.array("i", range(8))
    assert SealedShare(1, 1, b"c" * 32, memoryview(words)).encode() == SealedShare(1, 1, b"c" * 32, words.tobytes()).encode()
