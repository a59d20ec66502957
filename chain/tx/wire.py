"""A strict, canonical subset of the protobuf wire format.

The schema lives in proto/gradchain/tx/v1/tx.proto, so any protobuf library can build a tx.
The chain decodes with this module instead of a protobuf runtime because a runtime accepts many
byte forms of one message (unknown fields, reordered fields, padded varints, explicit defaults).
Here exactly one form decodes: the one a proto3 serializer emits for these types, which is:

* fields in strictly ascending field-number order (a repeated field's records are adjacent);
* scalars equal to their default (0, "", b"") are omitted, so an explicit default is rejected;
* varints are minimal and below 2**64; wire types match the schema; no unknown fields;
* strings are valid UTF-8.
"""
from __future__ import annotations

from dataclasses import dataclass, fields as dc_fields
from typing import Any, ClassVar

from chain.tx.errors import TxDecodeError

VARINT, LEN = 0, 2
U64_MAX = (1 << 64) - 1


_ONE_BYTE = tuple(bytes((i,)) for i in range(0x80))


def encode_varint(n: int) -> bytes:
    if 0 <= n < 0x80:
        return _ONE_BYTE[n]   # tags, flags and small lengths: most varints
    if n < 0 or n > U64_MAX:
        raise ValueError(f"varint out of range: {n}")
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def decode_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Returns (value, new_pos). Rejects truncated, padded (non-minimal) and >64-bit varints."""
    result = shift = 0
    start = pos
    while True:
        if pos >= len(buf):
            raise TxDecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift >= 70:
            raise TxDecodeError("varint too long")
    if pos - start > 1 and buf[pos - 1] == 0:
        raise TxDecodeError("non-minimal varint")
    if result > U64_MAX:
        raise TxDecodeError("varint exceeds 64 bits")
    return result, pos


@dataclass(frozen=True)
class Field:
    number: int
    name: str
    kind: str  # "uint64" | "bool" | "bytes" | "string" | "message"
    message: type | None = None
    repeated: bool = False


class Message:
    """Base for schema-declared messages. Subclasses are frozen dataclasses with a SCHEMA tuple."""

    SCHEMA: ClassVar[tuple[Field, ...]] = ()

    def encode(self) -> bytes:
        """Canonical bytes. Parts are joined once, so a large bytes field (a sealed update of megabytes) is
        copied exactly once, even from a memoryview."""
        parts: list = []
        for f in self.SCHEMA:
            value = getattr(self, f.name)
            items = value if f.repeated else (value,)
            for item in items:
                if not f.repeated and _is_default(f, item):
                    continue
                parts.append(encode_varint((f.number << 3) | (VARINT if f.kind in ("uint64", "bool") else LEN)))
                if f.kind in ("uint64", "bool"):
                    parts.append(encode_varint(int(item)))
                else:
                    raw = item.encode() if f.kind == "message" else (
                        item.encode("utf-8") if f.kind == "string" else item)
                    parts.append(encode_varint(len(raw) if type(raw) is bytes else memoryview(raw).nbytes))
                    parts.append(raw)
        return b"".join(parts)

    @classmethod
    def decode(cls, buf: bytes):
        # bytes are immutable: no copy (a megabytes-long envelope would pay one); anything else is copied once
        return cls._decode(buf if type(buf) is bytes else memoryview(buf).tobytes(), depth=0)

    @classmethod
    def _decode(cls, buf: bytes, depth: int):
        if depth > 8:
            raise TxDecodeError("message nesting too deep")
        plan = cls.__dict__.get("_PLAN") or _plan(cls)
        name = cls.__name__
        values: dict[str, Any] = {}
        repeated: dict[str, list] = {}
        pos, last, end = 0, 0, len(buf)
        while pos < end:
            tag = buf[pos]
            if tag < 0x80:
                pos += 1
            else:
                tag, pos = decode_varint(buf, pos)
            number, wire_type = tag >> 3, tag & 7
            step = plan.get(number)
            if step is None:
                raise TxDecodeError(f"{name}: unknown field {number}")
            fname, kind, sub, is_repeated, expected = step
            if number < last or (number == last and not is_repeated):
                raise TxDecodeError(f"{name}: field {fname} out of order or repeated")
            last = number
            if wire_type != expected:
                raise TxDecodeError(f"{name}: field {fname} has wire type {wire_type}")
            if expected == VARINT:
                raw_int, pos = decode_varint(buf, pos)
                if kind == "bool":
                    if raw_int > 1:
                        raise TxDecodeError(f"{name}: field {fname} is not a bool")
                    item: Any = bool(raw_int)
                else:
                    item = raw_int
            else:
                if pos < end and buf[pos] < 0x80:
                    length = buf[pos]
                    pos += 1
                else:
                    length, pos = decode_varint(buf, pos)
                if length > end - pos:
                    raise TxDecodeError(f"{name}: field {fname} truncated")
                raw = buf[pos:pos + length]
                pos += length
                if kind == "message":
                    item = sub._decode(raw, depth + 1)
                elif kind == "string":
                    try:
                        item = raw.decode("utf-8", errors="strict")
                    except UnicodeDecodeError:
                        raise TxDecodeError(f"{name}: field {fname} is not UTF-8") from None
                else:
                    item = raw
            if is_repeated:
                repeated.setdefault(fname, []).append(item)
            else:
                if kind != "message" and not item:
                    raise TxDecodeError(f"{name}: field {fname} encodes its default value")
                values[fname] = item
        for fname, items in repeated.items():
            values[fname] = tuple(items)
        return cls(**values)


def _plan(cls) -> dict[int, tuple]:
    """field number -> (name, kind, message class, repeated, wire type): the schema as _decode reads it.
    Fields absent from the bytes keep the dataclass defaults (0, "", b"", None, ())."""
    plan = {f.number: (f.name, f.kind, f.message, f.repeated, VARINT if f.kind in ("uint64", "bool") else LEN)
            for f in cls.SCHEMA}
    cls._PLAN = plan
    return plan


def _is_default(f: Field, value: Any) -> bool:
    if f.kind == "message":
        return value is None
    return not value  # 0, False, "", b""


def message(cls):
    """Decorator: frozen dataclass whose field defaults follow proto3 and whose SCHEMA is checked."""
    cls = dataclass(frozen=True)(cls)
    names = [f.name for f in dc_fields(cls)]
    schema_names = [f.name for f in cls.SCHEMA]
    numbers = [f.number for f in cls.SCHEMA]
    if names != schema_names or numbers != sorted(set(numbers)):
        raise TypeError(f"{cls.__name__}: SCHEMA must list the dataclass fields in field-number order")
    return cls
