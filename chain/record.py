"""Typed state records and their one canonical byte codec (docs/state.md, "Record encoding").

A record type names its fields in order, each with a kind. A stored record is the concatenation of its
fields in that order:

    u64       8 bytes, big-endian
    int       1 sign byte (0 non-negative, 1 negative) + 2-byte big-endian length + minimal magnitude
              (zero has length 0; negative zero and leading zero bytes are refused)
    dec       an integer held as its decimal string (amounts), encoded as `int`
    bool      1 byte, 0 or 1
    str       4-byte big-endian length + UTF-8
    hex       a byte string held as lowercase hex, encoded as 4-byte length + the raw bytes
    evm       an EVM address held as "0x" + 40 lowercase hex digits, encoded as its 20 raw bytes
    list(k)   4-byte big-endian count + the items
    pair(a,b) a then b (held as a two-item list)
    null(k)   1 byte: 0 = None, 1 = the value follows
    rec(R)    the nested record's fields, inline
    an optional field (`opt=True`) starts with a presence byte: 0 = absent, 1 = present.

Decoding is strict, so every record has exactly one byte form: decode(encode(r)) == r and
encode(decode(b)) == b, and bytes that are not such an encoding (trailing bytes, a bool of 2, a
non-minimal integer, bad UTF-8) raise CorruptRecord.

A record is an immutable mapping from field names to values, its JSON form: a dict subclass whose
construction checks every field's kind, so queries and genesis export it as JSON unchanged, while the
state holds only the typed bytes. Fields are also attributes (`round.model_id`).
"""
from __future__ import annotations

from dataclasses import dataclass


class CorruptRecord(ValueError):
    """Stored bytes or a value do not fit the record type: a bug or a corrupt store, never user input."""


# --- kinds -----------------------------------------------------------------------------------------------
class Kind:
    name = ""

    def check(self, value):  # returns the canonical Python value or raises CorruptRecord
        raise NotImplementedError

    def encode(self, value, out: bytearray) -> None:
        raise NotImplementedError

    def decode(self, buf: bytes, pos: int):
        raise NotImplementedError


def _take(buf: bytes, pos: int, n: int) -> tuple[bytes, int]:
    if pos + n > len(buf):
        raise CorruptRecord("record bytes end early")
    return buf[pos:pos + n], pos + n


def _length(buf: bytes, pos: int, size: int) -> tuple[int, int]:
    raw, pos = _take(buf, pos, size)
    return int.from_bytes(raw, "big"), pos


class _U64(Kind):
    name = "u64"

    def check(self, value):
        if type(value) is not int or not 0 <= value < 1 << 64:
            raise CorruptRecord(f"u64 expected, got {value!r}")
        return value

    def encode(self, value, out):
        out += value.to_bytes(8, "big")

    def decode(self, buf, pos):
        return _length(buf, pos, 8)


class _Int(Kind):
    name = "int"
    MAX_BYTES = 0xFFFF

    def check(self, value):
        if type(value) is not int or value.bit_length() > 8 * self.MAX_BYTES:
            raise CorruptRecord(f"integer expected, got {value!r}")
        return value

    def encode(self, value, out):
        magnitude = abs(value)
        raw = magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big")
        out += bytes([1 if value < 0 else 0]) + len(raw).to_bytes(2, "big") + raw

    def decode(self, buf, pos):
        sign, pos = _take(buf, pos, 1)
        n, pos = _length(buf, pos, 2)
        raw, pos = _take(buf, pos, n)
        if sign not in (b"\x00", b"\x01") or (raw and raw[0] == 0) or (sign == b"\x01" and not raw):
            raise CorruptRecord("non-canonical integer")
        magnitude = int.from_bytes(raw, "big")
        return (-magnitude if sign == b"\x01" else magnitude), pos


class _Dec(_Int):
    name = "dec"

    def check(self, value):
        if type(value) is not str or str(_int_of(value)) != value:
            raise CorruptRecord(f"canonical decimal string expected, got {value!r}")
        return value

    def encode(self, value, out):
        super().encode(int(value), out)

    def decode(self, buf, pos):
        n, pos = super().decode(buf, pos)
        return str(n), pos


def _int_of(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise CorruptRecord(f"not a decimal integer: {text!r}") from None


class _Bool(Kind):
    name = "bool"

    def check(self, value):
        if type(value) is not bool:
            raise CorruptRecord(f"bool expected, got {value!r}")
        return value

    def encode(self, value, out):
        out += b"\x01" if value else b"\x00"

    def decode(self, buf, pos):
        raw, pos = _take(buf, pos, 1)
        if raw not in (b"\x00", b"\x01"):
            raise CorruptRecord("bool byte is not 0 or 1")
        return raw == b"\x01", pos


class _Str(Kind):
    name = "str"

    def check(self, value):
        if type(value) is not str:
            raise CorruptRecord(f"string expected, got {value!r}")
        return value

    def encode(self, value, out):
        raw = value.encode()
        out += len(raw).to_bytes(4, "big") + raw

    def decode(self, buf, pos):
        n, pos = _length(buf, pos, 4)
        raw, pos = _take(buf, pos, n)
        try:
            return raw.decode(), pos
        except UnicodeDecodeError:
            raise CorruptRecord("string is not UTF-8") from None


class _Hex(Kind):
    name = "hex"

    def check(self, value):
        if type(value) is not str or len(value) % 2 or value != value.lower():
            raise CorruptRecord(f"lowercase hex expected, got {value!r}")
        try:
            bytes.fromhex(value)
        except ValueError:
            raise CorruptRecord(f"lowercase hex expected, got {value!r}") from None
        return value

    def encode(self, value, out):
        raw = bytes.fromhex(value)
        out += len(raw).to_bytes(4, "big") + raw

    def decode(self, buf, pos):
        n, pos = _length(buf, pos, 4)
        raw, pos = _take(buf, pos, n)
        return raw.hex(), pos


class _Evm(Kind):
    name = "evm"

    def check(self, value):
        if type(value) is not str or len(value) != 42 or not value.startswith("0x") or value != value.lower():
            raise CorruptRecord(f"0x-prefixed lowercase EVM address expected, got {value!r}")
        _Hex().check(value[2:])
        return value

    def encode(self, value, out):
        out += bytes.fromhex(value[2:])

    def decode(self, buf, pos):
        raw, pos = _take(buf, pos, 20)
        return "0x" + raw.hex(), pos


@dataclass(frozen=True)
class _List(Kind):
    item: Kind

    @property
    def name(self):
        return f"list({self.item.name})"

    def check(self, value):
        if not isinstance(value, (list, tuple)):
            raise CorruptRecord(f"list expected, got {value!r}")
        return [self.item.check(v) for v in value]

    def encode(self, value, out):
        out += len(value).to_bytes(4, "big")
        for v in value:
            self.item.encode(v, out)

    def decode(self, buf, pos):
        n, pos = _length(buf, pos, 4)
        items = []
        for _ in range(n):
            v, pos = self.item.decode(buf, pos)
            items.append(v)
        return items, pos


@dataclass(frozen=True)
class _Pair(Kind):
    first: Kind
    second: Kind

    @property
    def name(self):
        return f"pair({self.first.name},{self.second.name})"

    def check(self, value):
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise CorruptRecord(f"pair expected, got {value!r}")
        return [self.first.check(value[0]), self.second.check(value[1])]

    def encode(self, value, out):
        self.first.encode(value[0], out)
        self.second.encode(value[1], out)

    def decode(self, buf, pos):
        a, pos = self.first.decode(buf, pos)
        b, pos = self.second.decode(buf, pos)
        return [a, b], pos


@dataclass(frozen=True)
class _Null(Kind):
    item: Kind

    @property
    def name(self):
        return f"null({self.item.name})"

    def check(self, value):
        return None if value is None else self.item.check(value)

    def encode(self, value, out):
        if value is None:
            out += b"\x00"
        else:
            out += b"\x01"
            self.item.encode(value, out)

    def decode(self, buf, pos):
        tag, pos = _take(buf, pos, 1)
        if tag == b"\x00":
            return None, pos
        if tag != b"\x01":
            raise CorruptRecord("null tag is not 0 or 1")
        return self.item.decode(buf, pos)


@dataclass(frozen=True)
class _Rec(Kind):
    record: type

    @property
    def name(self):
        return self.record.__name__

    def check(self, value):
        return value if type(value) is self.record else self.record(value)

    def encode(self, value, out):
        value.encode_into(out)

    def decode(self, buf, pos):
        return self.record.decode_from(buf, pos)


U64, INT, DEC, BOOL, STR, HEX, EVM = _U64(), _Int(), _Dec(), _Bool(), _Str(), _Hex(), _Evm()


def list_of(kind: Kind) -> Kind:
    return _List(kind)


def pair(first: Kind, second: Kind) -> Kind:
    return _Pair(first, second)


def null(kind: Kind) -> Kind:
    return _Null(kind)


def rec(record: type) -> Kind:
    return _Rec(record)


@dataclass(frozen=True)
class F:
    """A field: its name, its kind, and whether it may be absent."""
    name: str
    kind: Kind
    opt: bool = False


# --- records ---------------------------------------------------------------------------------------------
class Record(dict):
    """An immutable, kind-checked mapping with one canonical byte form. Subclasses set FIELDS."""
    FIELDS: tuple[F, ...] = ()

    def __init__(self, value=None, /, **fields):
        source = dict(value or {}, **fields)
        known = {f.name for f in self.FIELDS}
        unknown = sorted(set(source) - known)
        if unknown:
            raise CorruptRecord(f"{type(self).__name__} has no field(s) {unknown}")
        checked = {}
        for f in self.FIELDS:
            if f.name in source:
                checked[f.name] = f.kind.check(source[f.name])
            elif not f.opt:
                raise CorruptRecord(f"{type(self).__name__} needs field {f.name!r}")
        super().__init__(checked)

    def __getattr__(self, name):
        if name in type(self).field_names():
            return self.get(name)
        raise AttributeError(name)

    @classmethod
    def field_names(cls) -> frozenset[str]:
        names = cls.__dict__.get("_names")
        if names is None:
            names = frozenset(f.name for f in cls.FIELDS)
            cls._names = names
        return names

    def _refuse(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} is immutable: build a new one with .with_(...)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse

    def __hash__(self):
        return hash(self.encode())

    def __reduce__(self):
        return (type(self), (dict(self),))

    def with_(self, **changes) -> "Record":
        """A copy with some fields changed (None for an optional field removes it)."""
        merged = dict(self)
        for name, value in changes.items():
            field = next((f for f in self.FIELDS if f.name == name), None)
            if value is None and field is not None and field.opt and not isinstance(field.kind, _Null):
                merged.pop(name, None)
            else:
                merged[name] = value
        return type(self)(merged)

    def encode_into(self, out: bytearray) -> None:
        for f in self.FIELDS:
            if f.opt:
                if f.name not in self:
                    out += b"\x00"
                    continue
                out += b"\x01"
            f.kind.encode(self[f.name], out)

    def encode(self) -> bytes:
        out = bytearray()
        self.encode_into(out)
        return bytes(out)

    @classmethod
    def decode_from(cls, buf: bytes, pos: int) -> tuple["Record", int]:
        values = {}
        for f in cls.FIELDS:
            if f.opt:
                tag, pos = _take(buf, pos, 1)
                if tag == b"\x00":
                    continue
                if tag != b"\x01":
                    raise CorruptRecord(f"{cls.__name__}.{f.name}: presence byte is not 0 or 1")
            values[f.name], pos = f.kind.decode(buf, pos)
        return cls(values), pos

    @classmethod
    def decode(cls, raw: bytes) -> "Record":
        record, pos = cls.decode_from(raw, 0)
        if pos != len(raw):
            raise CorruptRecord(f"{cls.__name__}: {len(raw) - pos} trailing bytes")
        return record

    @classmethod
    def layout(cls) -> str:
        """One line per field, as docs/state.md lists them."""
        return "\n".join(f"{f.name}: {f.kind.name}{' (optional)' if f.opt else ''}" for f in cls.FIELDS)




# --- examples (docs/state.md's example bytes) ----------------------------------------------------------------
def example_value(kind: Kind):
    """A small, fixed value of a kind: the documented examples."""
    if isinstance(kind, _List):
        return [example_value(kind.item)]
    if isinstance(kind, _Pair):
        return [example_value(kind.first), example_value(kind.second)]
    if isinstance(kind, _Null):
        return example_value(kind.item)
    if isinstance(kind, _Rec):
        return example_record(kind.record)
    return {"u64": 1, "int": -2, "dec": "300", "bool": True, "str": "ugrad", "hex": "ab12",
            "evm": "0x" + "11" * 20}[kind.name]


def example_record(cls: type[Record]) -> Record:
    return cls({f.name: example_value(f.kind) for f in cls.FIELDS})
