"""One suite every storage backend must pass: the in-memory reference and LevelDB."""
from __future__ import annotations

import pytest

from abci_app.leveldb import LevelDBKV
from chain.store.kv import MemoryKV, prefix_end


@pytest.fixture(params=["memory", "leveldb"])
def open_kv(request, tmp_path):
    """A function opening the backend; for LevelDB, calling it again reopens the same directory."""
    opened = []

    def open_():
        kv = MemoryKV() if request.param == "memory" else LevelDBKV(str(tmp_path / "db"))
        opened.append(kv)
        return kv

    yield open_
    for kv in opened:
        kv.close()


@pytest.fixture
def kv(open_kv):
    return open_kv()


def test_get_put_delete(kv):
    assert kv.get(b"a") is None
    kv.write({b"a": b"1", b"b": b""}, [])
    assert kv.get(b"a") == b"1"
    assert kv.get(b"b") == b""  # empty values are values, not absence
    kv.write({b"a": b"2"}, [b"b", b"never-there"])
    assert kv.get(b"a") == b"2"
    assert kv.get(b"b") is None


def test_iterate_ranges(kv):
    keys = [b"", b"a", b"a\x00", b"a\xff", b"ab", b"b", b"\xff", b"\xff\xff"]
    kv.write({k: b"v" + k for k in keys}, [])
    assert [k for k, _ in kv.iterate(b"", None)] == sorted(keys)
    assert [k for k, _ in kv.iterate(b"a", b"b")] == [b"a", b"a\x00", b"ab", b"a\xff"]
    assert [k for k, _ in kv.iterate(b"a\x00", b"a\xff")] == [b"a\x00", b"ab"]  # end is exclusive
    assert list(kv.iterate(b"b", b"b")) == []
    assert list(kv.iterate(b"c", b"a")) == []
    assert list(kv.iterate(b"ab", b"ab\x00")) == [(b"ab", b"vab")]
    assert [k for k, _ in kv.iterate(b"\xff", None)] == [b"\xff", b"\xff\xff"]


def test_iterate_prefix_with_prefix_end(kv):
    keys = [b"a", b"a\xff", b"a\xff\xff", b"a\xff\xff\x00", b"b", b"\xff", b"\xff\x01"]
    kv.write({k: b"" for k in keys}, [])

    def with_prefix(prefix):
        return [k for k, _ in kv.iterate(prefix, prefix_end(prefix))]

    assert with_prefix(b"a\xff") == [b"a\xff", b"a\xff\xff", b"a\xff\xff\x00"]
    assert with_prefix(b"\xff") == [b"\xff", b"\xff\x01"]
    assert with_prefix(b"") == sorted(keys)


def test_prefix_end_edge_cases():
    assert prefix_end(b"a") == b"b"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"a\xfe\xff\xff") == b"a\xff"
    assert prefix_end(b"\x00") == b"\x01"
    assert prefix_end(b"\xff") is None
    assert prefix_end(b"\xff\xff") is None
    assert prefix_end(b"") is None


def test_iteration_is_unaffected_by_later_writes(kv):
    kv.write({b"k1": b"1", b"k2": b"2"}, [])
    it = kv.iterate(b"k", None)
    kv.write({b"k3": b"3", b"k1": b"changed"}, [b"k2"])
    assert list(it) == [(b"k1", b"1"), (b"k2", b"2")]


def test_write_is_all_or_nothing(kv):
    kv.write({b"keep": b"1"}, [])
    with pytest.raises(TypeError):
        kv.write({b"x": b"1", b"y": "not bytes"}, [b"keep"])
    with pytest.raises(ValueError):
        kv.write({b"x": b"1", b"keep": b"2"}, [b"keep"])  # put and delete of one key is ambiguous
    assert kv.get(b"x") is None and kv.get(b"y") is None
    assert kv.get(b"keep") == b"1"


def test_reopen_keeps_writes(open_kv, request):
    if request.node.callspec.params["open_kv"] == "memory":
        pytest.skip("the in-memory backend does not persist")
    kv = open_kv()
    kv.write({b"a": b"1", b"b": b"2"}, [])
    kv.write({b"c": b"3"}, [b"a"])
    kv.close()
    reopened = open_kv()
    assert list(reopened.iterate(b"", None)) == [(b"b", b"2"), (b"c", b"3")]
