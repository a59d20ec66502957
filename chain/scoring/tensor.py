"""The typed tensor envelope: dtype, shape, little-endian two's complement bytes. Never pickle.

    message Tensor { uint64 dtype = 1; repeated uint64 shape = 2 [packed = false]; bytes data = 3; }

One tensor has exactly one encoding: every dimension is >= 1, `data` holds exactly prod(shape) items,
and the dtype is the narrowest that holds every value (int64 only if some value lies outside int32),
so equal integer tensors always hash alike.
"""
from __future__ import annotations

import numpy as np

from chain.tx.errors import ChainError, TxDecodeError
from chain.tx.wire import Field, Message, message

DTYPE_INT32, DTYPE_INT64 = 1, 2
_NUMPY = {DTYPE_INT32: np.dtype("<i4"), DTYPE_INT64: np.dtype("<i8")}
MAX_RANK = 5
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


@message
class Tensor(Message):
    dtype: int = 0
    shape: tuple[int, ...] = ()
    data: bytes = b""
    SCHEMA = (Field(1, "dtype", "uint64"), Field(2, "shape", "uint64", repeated=True), Field(3, "data", "bytes"))


def tensor_from_array(array) -> Tensor:
    """Encode an integer array (any int dtype or Python ints) in its canonical envelope."""
    a = np.asarray(array)
    if a.dtype.kind not in "iu" or a.ndim < 1 or a.ndim > MAX_RANK or 0 in a.shape:
        raise ValueError(f"need a non-empty integer array of rank 1..{MAX_RANK}, got {a.dtype} {a.shape}")
    lo, hi = int(a.min()), int(a.max())
    if lo < -(1 << 63) or hi >= (1 << 63):
        raise ValueError("values must fit in int64")
    dtype = DTYPE_INT32 if INT32_MIN <= lo and hi <= INT32_MAX else DTYPE_INT64
    data = np.ascontiguousarray(a, dtype=_NUMPY[dtype]).tobytes()
    return Tensor(dtype=dtype, shape=tuple(int(d) for d in a.shape), data=data)


def array_from_tensor(t: Tensor, error: type[ChainError]) -> np.ndarray:
    """Decode to an int64 array; any non-canonical form raises `error` (the caller's decode error)."""
    if t.dtype not in _NUMPY:
        raise error(f"unknown tensor dtype {t.dtype} (1 = int32, 2 = int64)")
    if not 1 <= len(t.shape) <= MAX_RANK or any(d < 1 for d in t.shape):
        raise error(f"tensor shape {t.shape} must have rank 1..{MAX_RANK} and dimensions >= 1")
    count = 1
    for d in t.shape:
        count *= d
    if len(t.data) != count * _NUMPY[t.dtype].itemsize:
        raise error(f"tensor data is {len(t.data)} bytes, shape {t.shape} needs {count * _NUMPY[t.dtype].itemsize}")
    a = np.frombuffer(t.data, dtype=_NUMPY[t.dtype]).astype(np.int64).reshape(t.shape)
    if t.dtype == DTYPE_INT64 and INT32_MIN <= int(a.min()) and int(a.max()) <= INT32_MAX:
        raise error("tensor is int64 but every value fits int32: the canonical dtype is int32")
    return a


def decode_message(cls: type[Message], raw: bytes, error: type[ChainError]):
    """Decode with the strict wire codec, re-raising its errors as this module's `error` code."""
    try:
        return cls.decode(raw)
    except TxDecodeError as e:
        raise error(str(e)) from None
