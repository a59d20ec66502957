"""Typed state records (chain/record.py): one canonical byte form per record, exactly as docs/state.md
documents it, and strict decoding of anything else."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.record import (CorruptRecord, Record, _Bool, _Dec, _Evm, _Hex, _Int, _List, _Null, _Pair, _Rec,
                          _Str, _U64, example_record)
from chain.state_records import record_types

ROOT = Path(__file__).resolve().parents[2]
TYPES = record_types()


def _gen_docs():
    spec = importlib.util.spec_from_file_location("gen_state_docs", ROOT / "scripts/gen_state_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def values(kind):
    if isinstance(kind, _U64):
        return st.integers(0, (1 << 64) - 1)
    if isinstance(kind, _Dec):
        return st.integers(-(1 << 300), 1 << 300).map(str)
    if isinstance(kind, _Int):
        return st.integers(-(1 << 300), 1 << 300)
    if isinstance(kind, _Bool):
        return st.booleans()
    if isinstance(kind, _Str):
        return st.text(max_size=12)
    if isinstance(kind, _Hex):
        return st.binary(max_size=24).map(bytes.hex)
    if isinstance(kind, _Evm):
        return st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
    if isinstance(kind, _List):
        return st.lists(values(kind.item), max_size=3)
    if isinstance(kind, _Pair):
        return st.tuples(values(kind.first), values(kind.second)).map(list)
    if isinstance(kind, _Null):
        return st.none() | values(kind.item)
    if isinstance(kind, _Rec):
        return records(kind.record)
    raise AssertionError(kind)


def records(cls):
    fields = {f.name: (st.none() | values(f.kind)) if f.opt else values(f.kind) for f in cls.FIELDS}
    optional = {f.name for f in cls.FIELDS if f.opt}

    def build(drawn):
        return cls({k: v for k, v in drawn.items() if not (k in optional and v is None)})
    return st.fixed_dictionaries(fields).map(build)


@pytest.mark.parametrize("cls", TYPES, ids=lambda c: c.__name__)
def test_record_roundtrips_both_ways(cls):
    @settings(max_examples=60, deadline=None)
    @given(records(cls))
    def check(record):
        raw = record.encode()
        again = cls.decode(raw)
        assert again == record and type(again) is cls
        assert again.encode() == raw
    check()


@pytest.mark.parametrize("cls", TYPES, ids=lambda c: c.__name__)
def test_record_random_bytes_decode_canonically_or_are_refused(cls):
    @settings(max_examples=150, deadline=None)
    @given(st.binary(max_size=200) | records(cls).map(lambda r: r.encode()[:-1] + b"\x05"))
    def check(raw):
        try:
            record = cls.decode(raw)
        except CorruptRecord:
            return
        assert record.encode() == raw
    check()


def test_record_docs_state_md_matches_the_bytes():
    """docs/state.md's Records section is what the record types encode (regenerate with
    scripts/gen_state_docs.py), and each documented example decodes to the example and encodes back."""
    text = (ROOT / "docs/state.md").read_text()
    assert _gen_docs().updated(text) == text, "docs/state.md is stale: run scripts/gen_state_docs.py"
    for cls in TYPES:
        section = text[text.index(f"### {cls.__name__}\n"):]
        documented = section[section.index("Example: `") + 10:].split("`", 1)[0]
        assert cls.decode(bytes.fromhex(documented)) == example_record(cls)
        assert example_record(cls).encode().hex() == documented
        for i, f in enumerate(cls.FIELDS):
            assert f"| {i} | `{f.name}` | {f.kind.name}" in section.split("\n### ", 1)[0]


def test_record_every_stored_value_is_typed():
    """No module writes JSON records to state any more: the old codec functions are gone."""
    import chain.codec as codec
    assert not hasattr(codec, "encode_record") and not hasattr(codec, "decode_record")


@pytest.mark.parametrize("raw, why", [
    (bytes.fromhex("0000000000000001") + b"\x00", "trailing byte"),
    (bytes.fromhex("00000000000001"), "short"),
])
def test_record_counters_refuse_malformed_bytes(raw, why):
    from chain.registry.records import Counters
    with pytest.raises(CorruptRecord):
        Counters.decode(raw)


def test_record_kinds_refuse_non_canonical_values():
    from chain.record import DEC, EVM, HEX, INT, F
    cases = [(INT, b"\x01\x00\x00"), (INT, b"\x00\x00\x01\x00"), (DEC, b"\x02\x00\x00")]
    for kind, raw in cases:
        class One(Record):
            FIELDS = (F("x", kind),)
        with pytest.raises(CorruptRecord):
            One.decode(raw)
    for kind, bad in [(HEX, "AB"), (HEX, "abc"), (EVM, "0x" + "AA" * 20), (DEC, "007"), (DEC, "-0")]:
        class Two(Record):
            FIELDS = (F("x", kind),)
        with pytest.raises(CorruptRecord):
            Two(x=bad)


def test_record_is_immutable_and_checks_its_fields():
    from chain.registry.records import Reveal
    r = Reveal(shard_index=1, height=2, version=0)
    with pytest.raises(TypeError):
        r["height"] = 3
    with pytest.raises(CorruptRecord):
        Reveal(shard_index=1, height=2)                # a field is missing
    with pytest.raises(CorruptRecord):
        Reveal(shard_index=1, height=2, version=0, extra=1)
    with pytest.raises(CorruptRecord):
        Reveal(shard_index=-1, height=2, version=0)    # u64 is unsigned
    assert r.with_(height=3).height == 3 and r.height == 2
