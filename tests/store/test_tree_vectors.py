"""Regression vectors: app hashes and proofs recorded from the hash-keyed tree (before issue 15 changed how
tree nodes are stored, keyed and pruned). Storage may change; these bytes may not: they are consensus (the
app hash) and what light clients verify (the proofs)."""
from __future__ import annotations

import hashlib
import random

import pytest

from chain.store.kv import MemoryKV
from chain.store.state import CommittedStore
from chain.tx.proof import verify_proof

# (height, app hash, SHA-256 over the proofs of keys k/0..k/219 at that height), recorded with the
# hash-keyed layout at commit 93ac920
RECORDED = [
    (1, "9224c0bc1c192a61980fe8ec74cf10de3dd4026e1d30bdb9e694a63cefa9314e",
     "e87885bc398e299fd95c26df4ff49a3e3610b6368466df3bf231e720d9992667"),
    (2, "eb4e9d9c4964b5b2158ccb5ab553cc7dd4707c44e4133aea1b51437ea2071686",
     "162332b7e52990c009c3fc7b4f6fdc8a4510669b4913a66301c67dff3b3de7ac"),
    (3, "d40a5a2e7815c4af7594ed17d1491f73451dd9271b6cf929a6be33cae392717f",
     "fa76ea461145220b6bea1c8787589cc66d11399fcc5ee66993cfe80cdf1559fa"),
    (4, "ed1e0ea6e74f850200ecbd33d554b8a6152a5c784011695ea53fbff3de2abfd1",
     "a3f51d12b1aa761ace41351c731d0b86185bae7462cfbad459599a7e0dbc1d5a"),
    (5, "e41ecea9896490333ffd10eaa1acd01b25b92ad1a281f04429bdca587e417c28",
     "8ecbbc67562180e60c039aed308b6c6e5d86248e6a3ca84462f8106af68745ef"),
    (6, "bba1ee50a26ce34f069c451b8a1906731b71312eb49712323d9d4d2eba26cbbc",
     "e3dfbf7493e86b226540f00300807ebfb63e4dfd08295eb4b77e30b5683ce4ac"),
    (7, "2157e369e13b25f1ba7c1c148f104a5ad52183518ce018da67d246e0220ffd87",
     "9c46de21f7dd0c8c74747f828883ced9fd6ef487f257bc55b47e09b0a6df2665"),
    (8, "55bb15f87c4c9dbdefb7d6c99c9d9654ed000ee1320457b8dc1611e5a2327a19",
     "f955036d628303634ce65ca512e18576f1b4989ac118f4150406ab274c26fd76"),
    (9, "974498fa2a119f7f4d3b232e8f27893f8480a14b253ccd8ce272733136763124",
     "df5c8a4872a386852af41f92444d4e7c261967a3131f147331b538525a8c41d1"),
    (10, "369f4078fbb6b5175bbc02f17d3e100e133fa7727326f78cc455d8b19fd751b4",
     "466a0ffcefdf1220c6c7a3ce4147d78683347f20ac63c892cf79fe0a2caf7fec"),
    (11, "78cf3e66e8721e664a408864a5baec23146ded38c10a681b5d4e1e032d939a65",
     "33084c94747c82ce5ed8cf0bac88d27504b8b05018343e65dd111bc9722471ae"),
    (12, "e29e129a9f12788df71959134c57191124755bf7ed337639b3cb9935791d5795",
     "3a70a4e493e562ecf04e43da14285faa7c92a309dca34fecede611aace11da03"),
    (13, "35d92ff31a0439045f619873f906a0dd6605b5813a310afce655b733028e020d",
     "8886940cc9ba7c430c77bc768f83ad6b6cc42946ef1a7eb681c57319819845e5"),
    (14, "6d377507c11831a2aedf13d1593ce4c3d8b2ad1cfb26f0ac1e506ab3c97523f0",
     "3712be6d117f82caee99125ebb5ea3b079e1d84cee0941b332b1b1b3307c1960"),
    (15, "6d377507c11831a2aedf13d1593ce4c3d8b2ad1cfb26f0ac1e506ab3c97523f0",
     "3712be6d117f82caee99125ebb5ea3b079e1d84cee0941b332b1b1b3307c1960"),
    (16, "0f2214ca4daf235a60b04c1199a49d17881cdc7e204e9cf861445ca927f5c02f",
     "d3821c7674c3fa295ed7bcf20a9ae263be64b64a8e94adcc89fd2d74a9bfa1f0"),
    (17, "ec2dcd21fc2df47f7198e2121bb71bf86acf6da5bf59c3fbca84fb299c94dcf5",
     "be5e183a049141009ec495250d2906008f5e21fac120d2a658635139e3aedbe8"),
    (18, "6829e9147bc70de6533fa8a5a94e73b488d5fb9ce09e4d04b572d05d3631839d",
     "3c06d0ca42625c3abeae47f57e712b43b98ec746d85aca5322e6fe1f5b3d4df5"),
    (19, "0288359c827d41390d1c23356783612c293b55714fde02704e7b77428e705b39",
     "0ca10ab4918fadd834c50ff191fa4d2884500b402d53d219d5449e9bfbf4ea63"),
    (20, "1e3bc8aa390cc30e9f46c0097d354d4e34bd14be81e7b40481a169e08dd46771",
     "b69600e8696f5adf15adb80288de81ade1838996b9f72c39b2fd68fe0ad6bb29"),
    (21, "d2f2e39b243cb9a280200064e5d3515cca0484e3fe7f3d89a3b7b2ec7a587bd0",
     "e88e0137e3c4d0c1669f8ae6f316adda6fdeedd3a52ad65798067fa35ea12103"),
    (22, "6040e872e416cd049283e40573b4c9e21d10b844919d4850b50a9ddebad92565",
     "3a85c7ba13d7e5e8c0bdb5f2697151e39d10d18e825beb6ec421ebe144f56caa"),
    (23, "1c5a101c380cb064c64f55429ed52870d43b7e38ecb1bc9bd67c31b7f0c75ee8",
     "9610bbeeb6cae8cb388fa8d8e66c02f4164c2bbada1a643d563229fca61c6dad"),
    (24, "575ee34a09f307fd331241b3a9d56a36bdefe51493cc0f7274a48da63ba59b93",
     "5d48790c8d5f4aeb0979a604c04dc494eabd264b9d4c0bf706f378502190e214"),
    (25, "41fe1a4eb00fe51f56c2c1c4b9336b2dae3bf8a9f9f4dd2c498fb231c1191cce",
     "9147cdd18640a834b3658d8aad4be50a0440897c3b4895c8d821d273b93d7c73"),
    (26, "92b7003b6396216584881c554c6a15f4913256f75cf66d2ff52dec4ddc4b61e4",
     "5e31fd17e80f522ce1d48ca597761c7763cddec20cc7b2c0987bd603a33e5e8a"),
    (27, "feb6a9eead672493251b55a78b9cd118eca054b75c81115d8aa0525732df5742",
     "8e5f6de83d946965e29dce1fa3bc9edcad8d491c6bc0d2204f801d722d2295ca"),
    (28, "efd072ff1455adaf8811a04e895886ea0e369612dda60eb1d4e5080b8041de24",
     "43a674c9e2ee3a6b0e1345d8a418cdbc4f1628e49010c604e087afc8eb28117c"),
    (29, "7c9e4571b74f3c43a09e4f4b955cbf7f937f773fd0ea871135f3d2a612293303",
     "060064ccb4c90b6017d063dbe57231c59bc4c8f818183021dcc75aa514bb9a37"),
    (30, "765680858883af93f6b14c6048ae7a1787ca6768d44b587f5cd23f485d63add3",
     "b8bde094fa045de71a24639d5763e566ede3fc7b592f10d9d1d9232ea869332b"),
]
PROVED_KEYS = [b"k/%d" % i for i in range(220)]


def blocks():
    rng = random.Random(15)
    live = set()
    for height in range(1, 31):
        changes = {}
        for _ in range(rng.randrange(1, 40)):
            k = b"k/%d" % rng.randrange(200)
            r = rng.random()
            if r < 0.3 and live:
                changes[sorted(live)[rng.randrange(len(live))]] = None
            elif r < 0.35:
                changes[k] = None
            else:
                changes[k] = b"v%d" % rng.randrange(1000)
        if height % 10 == 0:   # wipe most keys: long collapses
            for k in sorted(live)[:-3]:
                changes[k] = None
        if height == 15:
            changes = {}
        for k, v in changes.items():
            (live.discard if v is None else live.add)(k)
        yield height, changes


def proofs_digest(view) -> str:
    digest = hashlib.sha256()
    for key in PROVED_KEYS:
        value, proof = view.prove(key)
        verify_proof(view.app_hash, key, value, proof)
        digest.update(proof)
    return digest.hexdigest()


@pytest.mark.parametrize("retention", [0, 5, 40])
def test_recorded_roots_and_proofs_are_unchanged(retention):
    """The same blocks give the recorded app hash and proof bytes at every height, and, at the end, at
    every height the store still keeps (pruned or not)."""
    store = CommittedStore(MemoryKV(), history_blocks=retention)
    for (height, changes), (recorded_height, app_hash, digest) in zip(blocks(), RECORDED, strict=True):
        store.commit(store.prepare(changes), height)
        assert (height, store.app_hash.hex()) == (recorded_height, app_hash)
        assert proofs_digest(store) == digest
    for height, app_hash, digest in RECORDED:
        if height >= store.oldest_height():
            view = store.at(height)
            assert view.app_hash.hex() == app_hash
            assert proofs_digest(view) == digest, height
