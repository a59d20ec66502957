"""Registry test helpers: a funded genesis with small registry limits, a tiny digits model, message
builders, a chain driver that signs with the minimum fee, and an in-process RPC for the SDK."""
from __future__ import annotations

import base64
import hashlib
import json

from chain.auth.ante import sequence
from chain.codec import u64  # noqa: F401  (the tests import it from here)
from chain.registry import keeper
from chain.store.kv import prefix_end
from chain.tx.coins import Coin
from chain.tx.envelope import tx_hash
from chain.registry.messages import CurvePoint, MsgRegisterModel, MsgUploadWeights
from chainutil import ALICE, BOB, CAROL, CHAIN_ID, Chain, genesis
from client.txbuilder import sign_with_min_fee

VOUCHER = "bridge/31337/0x" + "ab" * 20   # a bridged denom, held like any other
AUTH = {"fee_denom": "ugrad", "min_fee_base": 10, "min_fee_per_byte": 1, "max_tx_bytes": 1 << 20}
REGISTRY = {"max_params": 1_000_000, "max_chunk_bytes": 1024, "max_shards": 16, "max_shard_samples": 150,
            "scoring_work_per_block": 50_000, "fee_per_work_unit": 1}
HIDDEN = 16                                # digits MLP 64-16-10: 1184 multiply-adds per sample
SHARD_SIZE = 100                           # 118,400 work per shard: 3 blocks at 50,000 per block


def registry_genesis(**registry_params) -> dict:
    g = genesis()
    g["auth"]["params"] = dict(AUTH)
    g["bank"]["balances"] = sorted([
        {"address": ALICE.address, "coins": sorted([{"denom": "stake", "amount": "500"},
                                                   {"denom": "ugrad", "amount": "1000000000"},
                                                   {"denom": VOUCHER, "amount": "1000000"}], key=lambda c: c["denom"])},
        {"address": BOB.address, "coins": [{"denom": "ugrad", "amount": "10000000"}]},
        {"address": CAROL.address, "coins": [{"denom": VOUCHER, "amount": "5000"},
                                             {"denom": "ugrad", "amount": "10000000"}]},
    ], key=lambda b: b["address"])
    g["registry"] = {"params": {**REGISTRY, **registry_params}}
    return g


class RegistryChain(Chain):
    """A Chain whose txs are signed with the minimum fee and the signer's next sequence."""

    def __init__(self, app_state: dict | None = None, query_retention: int = 0, **registry_params):
        super().__init__(app_state=app_state or registry_genesis(**registry_params), query_retention=query_retention)
        self.params = app_state["auth"]["params"] if app_state else AUTH

    def sign(self, wallet, *msgs, seq: int | None = None) -> bytes:
        seq = sequence(self.app.store, wallet.address_bytes) if seq is None else seq
        return sign_with_min_fee(wallet, CHAIN_ID, seq, list(msgs), self.params)

    def run(self, wallet, *msgs):
        """One tx in its own block; returns (tx result, block result)."""
        block = self.block([self.sign(wallet, *msgs)])
        return block.tx_results[0], block

    def until(self, height: int) -> list:
        """Empty blocks until the last committed height is `height`; returns their results."""
        results = []
        while self.height < height:
            results.append(self.block([]))
        return results

    def query(self, path: str, data: bytes = b"", prove: bool = False):
        return self.app.query(path, data, prove=prove)

    def query_json(self, path: str, data: bytes = b""):
        result = self.query(path, data)
        assert result.code == 0, (result.codespace, result.code, result.log)
        return json.loads(result.value)

    def model(self, model_id: int) -> dict:
        return self.query_json("/registry/model", model_id.to_bytes(8, "big"))


def code(result) -> tuple[str, int]:
    return result.codespace, result.code


def registry_snapshot(chain) -> dict:
    """Every registry key and the escrow's balances: what a failed message must leave untouched."""
    state = chain.app.store
    stored = dict(state.iterate(b"reg/", prefix_end(b"reg/")))
    from chain.bank import keeper as bank
    return {"keys": stored, "escrow": bank.balances(state, keeper.ESCROW)}


# --- the model and its validation data ----------------------------------------------------------------
def digits():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def tiny_model(seed: int = 0):
    """A digits MLP 64-16-10 (untrained; scores need not be good, only exact) as a ChainModel."""
    import torch
    from client.model import to_chain
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10))
    return net, to_chain(net, input_shape=(64,))


def train_digits(net, X, y, epochs: int = 60, lr: float = 0.01):
    """A copy of `net` trained full-batch with Adam on (X, y): deterministic, no sampling involved."""
    import copy

    import torch
    net = copy.deepcopy(net)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
    for _ in range(epochs):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    return net


def validation(model, samples: int = 300, shard_size: int = SHARD_SIZE):
    from client.model import build_shards
    X, y = digits()
    X, y = X[-samples:], y[-samples:]
    return X, y, build_shards(X, y, model.spec, shard_size)


def curve(*points) -> tuple[CurvePoint, ...]:
    return tuple(CurvePoint(progress_bps=p, payout_bps=q) for p, q in points)


def register_msg(model, shards, **overrides) -> MsgRegisterModel:
    raw = model.weights_bytes
    fields = dict(spec=model.spec_bytes, weights_hash=hashlib.sha256(raw).digest(), weights_size=len(raw),
                  shard_root=shards.root, shard_count=len(shards.shards), bounty=Coin.of(VOUCHER, 100_000),
                  bond=Coin.of("ugrad", 50_000), round_blocks=5, reveal_blocks=3, min_improvement=1000,
                  deposit=Coin.of("ugrad", 100), target_score=900_000, metric="accuracy",
                  reward_curve=curve((0, 0), (5000, 7000), (10_000, 10_000)), expiry_height=200)
    fields.update(overrides)
    return MsgRegisterModel(**fields)


def chunks(raw: bytes, size: int) -> list[bytes]:
    return [raw[i:i + size] for i in range(0, len(raw), size)]


def upload_msgs(model_id: int, raw: bytes, size: int = REGISTRY["max_chunk_bytes"]) -> list[MsgUploadWeights]:
    return [MsgUploadWeights(model_id=model_id, index=i, data=c) for i, c in enumerate(chunks(raw, size))]


def registered_id(block) -> int:
    for event in block.tx_results[0].events:
        if event.type == "register_model":
            return int(dict(event.attributes)["model_id"])
    raise AssertionError("no register_model event")


def activate(chain: RegistryChain, model, shards, owner=ALICE, **overrides) -> int:
    """Register and upload (chunks in reverse order, one block); returns the model id."""
    result, block = chain.run(owner, register_msg(model, shards, **overrides))
    assert code(result) == ("", 0), result.log
    model_id = registered_id(block)
    seq = sequence(chain.app.store, owner.address_bytes)
    msgs = upload_msgs(model_id, model.weights_bytes)[::-1]
    txs = [chain.sign(owner, m, seq=seq + i) for i, m in enumerate(msgs)]
    results = chain.block(txs).tx_results
    assert all(r.code == 0 for r in results), [r.log for r in results]
    return model_id


def err(exc) -> tuple[str, int]:
    """(codespace, code) of a ChainError class: what a result's code() is compared with."""
    return exc.codespace, exc.code


def tiny_model_and_shards():
    """The tiny digits model (chain form) and its validation shards: what most round tests register."""
    _, model = tiny_model()
    _, _, shards = validation(model)
    return model, shards


# --- an in-process transport for the SDK ---------------------------------------------------------------
class InProcessRPC:
    """The CometRPC calls the SDK uses, answered by an in-process Chain. Broadcast txs wait in a mempool
    (after CheckTx) until someone asks for a tx's result or a height: then they go into one block."""

    def __init__(self, chain: Chain):
        self.chain = chain
        self.mempool: list[bytes] = []
        self.results: dict[bytes, dict] = {}
        self._headers: dict = {}   # height -> LightBlock, signed once

    def close(self) -> None:
        pass

    def status(self) -> dict:
        return {"node_info": {"network": CHAIN_ID}, "sync_info": {"latest_block_height": str(self.chain.height)}}

    def latest_height(self) -> int:
        return self.chain.height

    def broadcast_tx_sync(self, tx: bytes) -> dict:
        result = self.chain.app.check_tx(tx)
        if result.code == 0:
            self.mempool.append(tx)
        return {"code": result.code, "codespace": result.codespace, "log": result.log,
                "hash": tx_hash(tx).hex().upper()}

    def flush(self) -> None:
        if not self.mempool:
            return
        txs, self.mempool = self.mempool, []
        block = self.chain.block(txs)
        for tx, r in zip(txs, block.tx_results):
            self.results[tx_hash(tx)] = {"height": str(self.chain.height), "tx": base64.b64encode(tx).decode(),
                                         "tx_result": {
                "code": r.code, "codespace": r.codespace, "log": r.log, "gas_used": str(r.gas_used),
                "events": [{"type": e.type, "attributes": [{"key": k, "value": v, "index": True}
                                                           for k, v in e.attributes]} for e in r.events]}}

    def tx(self, digest: bytes) -> dict | None:
        self.flush()
        return self.results.get(digest)

    def abci_query(self, path: str, data: bytes, height: int = 0, prove: bool = False) -> dict:
        r = self.chain.app.query(path, data, height=height, prove=prove)
        response = {"code": r.code, "codespace": r.codespace, "log": r.log, "height": str(r.height),
                    "key": base64.b64encode(r.key).decode(), "value": base64.b64encode(r.value).decode()}
        if r.proof is not None:
            response["proofOps"] = {"ops": [{"type": "gradchain/smt", "key": response["key"],
                                             "data": base64.b64encode(r.proof).decode()}]}
        return response

    def wait_for_height(self, height: int, timeout: float = 30.0) -> None:
        self.flush()
        while self.chain.height < height:
            self.chain.block([])

    # --- a light-client provider: headers signed by the in-process validators' consensus keys ----------
    def earliest_height(self) -> int:
        return min(h for h in self.chain.app_hashes) + 1

    def light_block(self, height: int):
        """The signed header of block `height` (app hash: the state after height - 1) and the validator set
        of the chain's state, signed by every validator with a known consensus key (lightutil.Key seeds)."""
        import time as _time
        from client.errors import RpcError
        from lightutil import make_block
        if height in self._headers:
            return self._headers[height]
        if height > self.chain.height or height - 1 not in self.chain.app_hashes:
            raise RpcError(f"commit: height {height} is not available")
        for h in range(max([self.earliest_height(), *self._headers]), height + 1):   # in order: linked, times rising
            if h in self._headers:
                continue
            prev = self._headers.get(h - 1)
            stamp = max(_time.time_ns(), prev.header.time + 1 if prev else 0)
            self._headers[h] = make_block(validator_keys(self.chain), h, time=stamp, prev=prev, chain_id=CHAIN_ID,
                                          app_hash=self.chain.app_hashes[h - 1])
        return self._headers[height]


def validator_keys(chain: Chain) -> list:
    """lightutil.Keys for the chain's active validators, with their state powers (seeds 0-15 are known)."""
    from chain.validators import keeper as validators
    from chain.validators import params as vparams
    from lightutil import Key
    params = vparams.load(chain.app.store)
    known = {Key(i).pubkey: i for i in range(16)}
    keys = []
    for v in validators.all_validators(chain.app.store):
        power = v.power(params)
        if power <= 0:
            continue
        seed = known.get(bytes.fromhex(v.consensus_pubkey))
        if seed is None:
            raise AssertionError(f"validator {v.operator} has a consensus key with no known seed: cannot sign")
        keys.append(Key(seed, power=power))
    if not keys:
        raise AssertionError("the in-process chain has no active validator to sign headers")
    return keys


def in_process_client(chain: Chain):
    from client.client import Client
    client = Client("http://in-process")
    client.rpc.close()
    client.rpc = InProcessRPC(chain)
    return client
