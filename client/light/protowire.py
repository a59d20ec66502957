"""The few protobuf encodings a light client hashes and signs over, written out by hand.

Why not the generated bindings in abci_app/proto: the SDK must not import the node (pyproject.toml's
import-linter contracts), and a light client needs only six small messages whose wire form is fixed by
CometBFT's .proto files (proto/tendermint/{types,version,crypto}/*.proto at v0.38.25):

    tendermint.version.Consensus        block=1 uint64, app=2 uint64
    tendermint.types.PartSetHeader      total=1 uint32, hash=2 bytes
    tendermint.types.BlockID            hash=1 bytes, part_set_header=2 PartSetHeader (non-nullable)
    google.protobuf.Timestamp           seconds=1 int64, nanos=2 int32
    tendermint.crypto.PublicKey         oneof: ed25519=1 bytes
    tendermint.types.SimpleValidator    pub_key=1 PublicKey, voting_power=2 int64
    tendermint.types.CanonicalVote      type=1 enum, height=2 sfixed64, round=3 sfixed64,
                                        block_id=4 CanonicalBlockID (nullable), timestamp=5 (non-nullable),
                                        chain_id=6 string
    tendermint.types.CanonicalBlockID   hash=1 bytes, part_set_header=2 CanonicalPartSetHeader (non-nullable)
    gogoproto StringValue/Int64Value/BytesValue (cdcEncode in types/encoding_helper.go): value=1

Proto3 rules used: a scalar field equal to its default (0, empty) is left out; a gogoproto non-nullable
message field is always written, even when empty (so an empty BlockID is `12 00`). tests/client/
test_light_client.py checks these against headers and commits of a real CometBFT node.
"""
from __future__ import annotations

import struct

VARINT, FIXED64, LENGTH = 0, 1, 2


def varint(value: int) -> bytes:
    """Unsigned LEB128; a negative int64 is written as its 64-bit two's complement (10 bytes)."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def uint_field(number: int, value: int) -> bytes:
    return _tag(number, VARINT) + varint(value) if value else b""


def sfixed64_field(number: int, value: int) -> bytes:
    return _tag(number, FIXED64) + struct.pack("<q", value) if value else b""


def bytes_field(number: int, value: bytes) -> bytes:
    return _tag(number, LENGTH) + varint(len(value)) + value if value else b""


def message_field(number: int, encoded: bytes) -> bytes:
    """An embedded message that is present (non-nullable or non-nil): written even when empty."""
    return _tag(number, LENGTH) + varint(len(encoded)) + encoded


# --- the messages ------------------------------------------------------------------------------------------
def consensus_version(block: int, app: int) -> bytes:
    return uint_field(1, block) + uint_field(2, app)


def timestamp(seconds: int, nanos: int) -> bytes:
    return uint_field(1, seconds) + uint_field(2, nanos)


def part_set_header(total: int, hash_: bytes) -> bytes:
    return uint_field(1, total) + bytes_field(2, hash_)


def block_id(hash_: bytes, parts_total: int, parts_hash: bytes) -> bytes:
    """tendermint.types.BlockID; CanonicalBlockID has the same field numbers and types."""
    return bytes_field(1, hash_) + message_field(2, part_set_header(parts_total, parts_hash))


def string_value(value: str) -> bytes:
    return bytes_field(1, value.encode())


def int64_value(value: int) -> bytes:
    return uint_field(1, value)


def bytes_value(value: bytes) -> bytes:
    return bytes_field(1, value)


def simple_validator(ed25519_pubkey: bytes, voting_power: int) -> bytes:
    return message_field(1, bytes_field(1, ed25519_pubkey)) + uint_field(2, voting_power)


PRECOMMIT = 2   # tendermint.types.SignedMsgType: commits carry precommits


def canonical_vote(chain_id: str, height: int, round_: int, block: bytes | None, seconds: int, nanos: int) -> bytes:
    """CanonicalVote for a precommit; `block` is the encoded CanonicalBlockID, None for a nil vote."""
    return (uint_field(1, PRECOMMIT) + sfixed64_field(2, height) + sfixed64_field(3, round_)
            + (message_field(4, block) if block is not None else b"")
            + message_field(5, timestamp(seconds, nanos)) + bytes_field(6, chain_id.encode()))


def length_delimited(encoded: bytes) -> bytes:
    """protoio.MarshalDelimited: what a validator signs is the vote's length as a varint, then the vote."""
    return varint(len(encoded)) + encoded
