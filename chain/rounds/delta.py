"""The update format (docs/rounds.md, "Update format"): an opened update's plaintext is a weight DELTA
against its parent version, in the same canonical envelope as the weights (chain/scoring/weights.py):

    message Weights { repeated Tensor tensors = 1; }   # tensors[i] = candidate[i] - parent[i]

with the parent's tensor count and shapes, on the spec's fixed-point grid (weights at the weight format's
scale, biases at the layer's accumulator scale). The candidate is parent + delta, exactly; if any value
leaves the spec's range the update is INVALID (no clipping). Errors (codespace rounds):
UpdateDecodeError (7), UpdateShapeMismatch (8), UpdateOutOfRange (9).

A delta may also come compressed (CompressedDelta: int8 values with a power-of-two scale per tensor, about
a quarter of the bytes), or that CompressedDelta deflated (DeflatedDelta, zlib: small trained deltas are far
from uniform bytes); both decode to the same int64 tensors, checked the same way.
"""
from __future__ import annotations

import hashlib
import zlib

import numpy as np

from chain.rounds.errors import UpdateDecodeError, UpdateOutOfRange, UpdateShapeMismatch
from chain.scoring.fixedpoint import signed_range
from chain.scoring.spec import ModelSpec, linear_layers
from chain.scoring.tensor import array_from_tensor, decode_message
from chain.scoring.weights import Weights, encode_weights
from chain.tx.wire import Field, Message, message


def _ranges(spec: ModelSpec) -> list[tuple[int, int]]:
    out = []
    for _ in linear_layers(spec):
        out += [signed_range(spec.weight_format.bits), signed_range(spec.bias_bits)]
    return out


@message
class ScaledTensor(Message):
    """A compressed delta tensor: int8 values q (in -127..127), each standing for q * 2**shift."""
    shape: tuple[int, ...] = ()
    shift: int = 0
    data: bytes = b""
    SCHEMA = (Field(1, "shape", "uint64", repeated=True), Field(2, "shift", "uint64"), Field(3, "data", "bytes"))


@message
class CompressedDelta(Message):
    """The compact delta format (docs/rounds.md "Compressed updates"): top-level field 2, so its bytes can
    never also decode as a Weights message (field 1) and every delta has one reading."""
    scaled: tuple[ScaledTensor, ...] = ()
    SCHEMA = (Field(2, "scaled", "message", ScaledTensor, repeated=True),)


@message
class DeflatedDelta(Message):
    """A CompressedDelta's canonical bytes, deflated (zlib stream, RFC 1950): top-level field 3, so its bytes
    read as no other delta format. Deflate has many encodings of one input, so whatever compares updates
    (copy detection) compares delta_key(), the decoded tensors, never these bytes."""
    deflated: bytes = b""
    SCHEMA = (Field(3, "deflated", "bytes"),)


MAX_INFLATED_BYTES = 64 << 20   # any inflation stops here; apply_delta passes its model's exact bound
MAX_SHIFT = 55          # 127 << 55 < 2**63: every value fits int64
_Q_MAX = 127


def _scaled_array(t: ScaledTensor) -> np.ndarray:
    if not 1 <= len(t.shape) <= 5 or any(d < 1 for d in t.shape):
        raise UpdateDecodeError(f"scaled tensor shape {t.shape} must have rank 1..5 and dimensions >= 1")
    count = int(np.prod(t.shape, dtype=np.int64))
    if len(t.data) != count:
        raise UpdateDecodeError(f"scaled tensor data is {len(t.data)} bytes, shape {t.shape} needs {count}")
    if t.shift > MAX_SHIFT:
        raise UpdateDecodeError(f"scale shift {t.shift} above {MAX_SHIFT}")
    q = np.frombuffer(t.data, dtype=np.int8).astype(np.int64)
    if int(q.min()) < -_Q_MAX:
        raise UpdateDecodeError("scaled values lie in -127..127 (-128 is not canonical)")
    if t.shift and int(np.abs(q).max()) < 64:    # a smaller shift would hold them: one encoding per delta
        raise UpdateDecodeError(f"scale shift {t.shift} is not the smallest that holds the values")
    return (q << t.shift).reshape(t.shape)


def decode_delta(raw: bytes, *, max_inflated: int | None = MAX_INFLATED_BYTES) -> tuple[np.ndarray, ...]:
    """The delta's tensors as int64 arrays, from any format: Weights (exact), CompressedDelta, DeflatedDelta
    (inflated to at most `max_inflated` bytes: a deflate bomb is refused before it is expanded). None: no
    bound, only for an update apply_delta already accepted (its parent's bound applied then)."""
    try:
        weights = decode_message(Weights, raw, UpdateDecodeError)
    except UpdateDecodeError as not_weights:
        try:
            compressed = decode_message(CompressedDelta, _inflated_or_self(raw, max_inflated), UpdateDecodeError)
        except UpdateDecodeError as e:
            raise (e if _is_deflated(raw) else not_weights) from None
        return tuple(_scaled_array(t) for t in compressed.scaled)
    return tuple(array_from_tensor(t, UpdateDecodeError) for t in weights.tensors)


def delta_key(raw: bytes, max_inflated: int) -> bytes:
    """What identifies a delta for copy detection: SHA-256 of the exact Weights encoding of the tensors it
    decodes to. Every format (exact, int8, deflated at any level) of one effective delta has one key, so a
    copier gains nothing by re-encoding; for an exact delta it is the hash of its own bytes."""
    return hashlib.sha256(encode_weights(decode_delta(raw, max_inflated=max_inflated))).digest()


def _is_deflated(raw: bytes) -> bool:
    return raw[:1] == b"\x1a"      # field 3, wire type 2: DeflatedDelta's only field


def _inflated_or_self(raw: bytes, max_inflated: int | None) -> bytes:
    """zlib is part of consensus here: RFC 1950/1951 fix what a stream inflates to, and the verdict never
    depends on where an implementation stops: up to max_inflated + 1 bytes are inflated and more than
    max_inflated refused, then the stream must have ended exactly (eof, nothing after it)."""
    if not _is_deflated(raw):
        return raw
    deflated = decode_message(DeflatedDelta, raw, UpdateDecodeError).deflated
    inflater = zlib.decompressobj()
    try:
        inner = inflater.decompress(deflated) if max_inflated is None else \
            inflater.decompress(deflated, max(max_inflated, 0) + 1)    # max_length 0 would mean "no limit"
    except zlib.error as e:
        raise UpdateDecodeError(f"deflated delta: {e}") from None
    if max_inflated is not None and len(inner) > max_inflated:
        raise UpdateDecodeError(f"deflated delta inflates beyond {max_inflated} bytes")
    if not inflater.eof or inflater.unused_data:
        raise UpdateDecodeError("deflated delta: the zlib stream is truncated or followed by other bytes")
    if _is_deflated(inner):
        raise UpdateDecodeError("deflated delta: a deflated delta inside a deflated delta")
    return inner


def compress_delta(arrays) -> bytes:
    """The CompressedDelta bytes nearest to integer delta tensors `arrays` (SDK side; lossy): per tensor the
    smallest shift s with max|d| <= 127 * 2**s, and q = d / 2**s rounded half up. What the chain then
    applies is q * 2**s (decode_delta), never the original."""
    out = []
    for a in arrays:
        a = np.asarray(a, dtype=np.int64)
        m, shift = int(np.abs(a).max(initial=0)), 0
        while m > _Q_MAX << shift:
            shift += 1
        q = (a + ((1 << shift) >> 1)) >> shift if shift else a
        q = np.clip(q, -_Q_MAX, _Q_MAX)
        if shift and int(np.abs(q).max()) < 64:      # rounding down moved every value below 64: one less
            shift -= 1
            q = np.clip((a + ((1 << shift) >> 1)) >> shift if shift else a, -_Q_MAX, _Q_MAX)
        out.append(ScaledTensor(shape=tuple(int(d) for d in a.shape), shift=shift, data=q.astype(np.int8).tobytes()))
    return CompressedDelta(scaled=tuple(out)).encode()


def deflate_delta(compressed: bytes) -> bytes:
    """The DeflatedDelta of CompressedDelta bytes (SDK side; lossless, zlib level 9)."""
    return DeflatedDelta(deflated=zlib.compress(compressed, 9)).encode()


def inflated_bound(parent: tuple[np.ndarray, ...]) -> int:
    """The longest CompressedDelta any delta of `parent`'s shapes can have: one byte per value, and per
    tensor at most 64 bytes of framing (shape of rank <= 5, shift, lengths)."""
    return sum(int(p.size) for p in parent) + 64 * len(parent) + 16


def apply_delta(spec: ModelSpec, parent: tuple[np.ndarray, ...], raw: bytes) -> tuple[np.ndarray, ...]:
    """parent + delta(raw), or raise a rounds error. `parent` is a validated version of `spec`."""
    delta = decode_delta(raw, max_inflated=inflated_bound(parent))
    if len(delta) != len(parent):
        raise UpdateShapeMismatch(f"expected {len(parent)} delta tensors, got {len(delta)}")
    out = []
    for i, (p, d, (lo, hi)) in enumerate(zip(parent, delta, _ranges(spec))):
        if d.shape != p.shape:
            raise UpdateShapeMismatch(f"delta tensor {i} has shape {d.shape}, the parent's is {p.shape}")
        # |d| <= hi - lo < 2**62 and |p| <= 2**61 (bits <= 62), so p + d cannot overflow int64
        if int(d.min()) < lo - hi or int(d.max()) > hi - lo:
            raise UpdateOutOfRange(f"delta tensor {i} leaves [{lo}, {hi}] from any parent value")
        c = p + d
        if int(c.min()) < lo or int(c.max()) > hi:
            raise UpdateOutOfRange(f"tensor {i} of parent + delta lies in [{int(c.min())}, {int(c.max())}], "
                                   f"outside [{lo}, {hi}]")
        out.append(c)
    return tuple(out)


def make_delta(parent: tuple[np.ndarray, ...], candidate: tuple[np.ndarray, ...]) -> bytes:
    """The canonical delta bytes taking `parent` to `candidate` (int arrays of equal shapes)."""
    if len(parent) != len(candidate):
        raise ValueError(f"{len(parent)} parent tensors but {len(candidate)} candidate tensors")
    deltas = []
    for p, c in zip(parent, candidate):
        p, c = np.asarray(p, dtype=np.int64), np.asarray(c, dtype=np.int64)
        if p.shape != c.shape:
            raise ValueError(f"shape {c.shape} differs from the parent's {p.shape}")
        deltas.append(c - p)
    return encode_weights(deltas)


def mean_half_even(arrays: list[np.ndarray]) -> np.ndarray:
    """The element-wise mean of integer arrays, rounded half to even: FedAvg on the fixed-point grid. The sum
    runs over Python integers when int64 could overflow (many wide tensors)."""
    n = len(arrays)
    wide = max(int(np.abs(a).max(initial=0)) for a in arrays) * n >= 1 << 62
    total = sum(a.astype(object) if wide else a for a in arrays)
    q = total // n
    r = total - q * n                              # 0 <= r < n
    up = (2 * r > n) | ((2 * r == n) & (q % 2 == 1))
    return (q + up.astype(np.int64)).astype(np.int64)
