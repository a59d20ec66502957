"""The tx codec: one valid byte form per tx, byte-compatible with any protobuf library."""

import pytest
from hypothesis import given, settings, strategies as st

from chain.tx.errors import ChainError, TxDecodeError
from chain.bank.messages import MsgSend
from chain.messages import Msg
from chain.tx.coins import Coin
from chain.tx.envelope import Tx, TxBody, decode_tx
from chain.tx.wire import decode_varint, encode_varint
from client.wallet import Wallet

WALLET = Wallet.from_seed(bytes(range(32)))


def make_body(**kw) -> TxBody:
    base = dict(chain_id="test-1", public_key=WALLET.public_key, sequence=7, fee=Coin.of("ugrad", 500),
                messages=(Msg.wrap(MsgSend(to_address=b"\x11" * 20, amount=(Coin.of("ugrad", 5),))),), memo="hi")
    base.update(kw)
    return TxBody(**base)


def signed(body: TxBody) -> bytes:
    raw = body.encode()
    return Tx(body=raw, signature=WALLET.sign(raw)).encode()


def test_roundtrip_and_signature():
    raw = signed(make_body())
    tx = decode_tx(raw)
    assert tx.body == make_body()
    assert tx.signer == WALLET.address_bytes
    assert Tx.decode(raw).encode() == raw


@pytest.fixture(scope="module")
def pb(tx_pb):
    return tx_pb


def test_protobuf_library_builds_identical_bytes(pb):
    ours = make_body()
    theirs = pb.TxBody(chain_id="test-1", public_key=WALLET.public_key, sequence=7,
                       fee=pb.Coin(denom="ugrad", amount="500"), memo="hi",
                       messages=[pb.Msg(send=pb.MsgSend(to_address=b"\x11" * 20,
                                                        amount=[pb.Coin(denom="ugrad", amount="5")]))])
    assert theirs.SerializeToString(deterministic=True) == ours.encode()
    parsed = pb.TxBody.FromString(ours.encode())
    assert parsed.messages[0].send.amount[0].amount == "5"


@pytest.mark.parametrize("mutate, why", [
    (lambda b: b + b"\x00", "trailing garbage"),
    (lambda b: b"\x78\x01" + b, "unknown field first"),
])
def test_rejects_noncanonical_outer(mutate, why):
    with pytest.raises(TxDecodeError):
        decode_tx(mutate(signed(make_body())))


def test_rejects_explicit_default_and_reordering():
    # sequence=0 written out explicitly (field 3, varint 0) would be a second byte form of one body
    head = TxBody(chain_id="test-1", public_key=WALLET.public_key).encode()
    with pytest.raises(TxDecodeError, match="default"):
        TxBody.decode(head + b"\x18\x00")
    reordered = TxBody(public_key=WALLET.public_key).encode() + TxBody(chain_id="x").encode()
    with pytest.raises(TxDecodeError, match="order"):
        TxBody.decode(reordered)


def test_rejects_padded_varint():
    assert decode_varint(encode_varint(300), 0) == (300, 2)
    with pytest.raises(TxDecodeError, match="non-minimal"):
        decode_varint(b"\x81\x00", 0)
    with pytest.raises(TxDecodeError):
        decode_varint(b"\xff" * 10 + b"\x01", 0)


def test_msg_with_no_member_or_two_members_rejected():
    body = make_body(messages=(Msg(),))
    with pytest.raises(TxDecodeError, match="exactly one"):
        decode_tx(signed(body))


def test_signature_covers_body_bytes():
    raw = signed(make_body())
    tx = Tx.decode(raw)
    other = make_body(memo="hj").encode()
    with pytest.raises(ChainError, match="signature"):
        decode_tx(Tx(body=other, signature=tx.signature).encode())


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_only_chain_errors(data):
    try:
        decode_tx(data)
    except ChainError:
        pass


@settings(max_examples=3000, deadline=None)
@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=255))
def test_fuzz_single_byte_mutations_never_decode_to_another_form(pos, byte):
    raw = bytearray(signed(make_body()))
    pos = pos % len(raw)
    raw[pos] = byte
    try:
        tx = decode_tx(bytes(raw))
    except ChainError:
        return
    # If a mutated tx decodes at all, it is canonical: re-encoding gives the same bytes.
    assert Tx(body=tx.body.encode(), signature=Tx.decode(bytes(raw)).signature).encode() == bytes(raw)
