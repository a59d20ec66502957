"""The inversion attack against aggregate mode (issue 14; docs/privacy.md, "The attack against aggregate
mode"). The same trainers and steps as tests/privacy/test_inversion.py's open-mode test (one SGD step,
lr 0.5, on ONE private digit each, the digits MLP 64-16-10 of seed 5), but the model is registered with
privacy="aggregate", cohort_size=3: the members join, submit masked updates, and the validators release
one secret per member. An outsider then reads everything the chain stored for the round at every height
(every value under rnd/, as a node that keeps history serves it; the round runs to its close, so
the scoring and settlement records are in), every block's txs (the join and masked
txs, the release txs with the validators' shares), and every query for the round (/rounds/round,
/rounds/submission, /rounds/update, /rounds/envelope of every seq), and runs the attack on every vector it
can decode as a delta:

* the cohort's mean (/rounds/update), the only delta the chain stores;
* every state value, at any height, that decodes as a delta of the model's shapes;
* each member's masked vector y_i (rnd/jm/, during the window) read as a delta;
* y_i with its self mask removed: the outsider rebuilds the self seed b_i from the shares the release
  txs carried and the sealed seed envelope (rnd/je/), which leaves x_i under its pair masks.

Run with -s for the figures."""
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "rounds"))

from aggregateutil import TRAINERS, AggregateChain, play_aggregate_round, round_info  # noqa: E402
from inversion import best_cosines, first_layer_rows, relative_error, rows_of_arrays  # noqa: E402
from test_inversion import one_sgd_step  # noqa: E402

from chain.rounds import keys  # noqa: E402
from chain.rounds.aggregate_mode import KEY, SEED, secret_context  # noqa: E402
from chain.rounds.delta import decode_delta  # noqa: E402
from chain.rounds.release import RELEASE_PREFIX, decode_release, is_release  # noqa: E402
from chain.sealing.envelope import decode_envelope  # noqa: E402
from chain.sealing.open import open_update, reconstruct  # noqa: E402
from chain.secagg import masks  # noqa: E402
from chain.store.kv import prefix_end  # noqa: E402
from chain.tx.address import from_bech32  # noqa: E402
from chain.tx.coins import Coin  # noqa: E402
from chainutil import ALICE, CHAIN_ID  # noqa: E402
from registryutil import VOUCHER, activate, code, digits, tiny_model, u64, validation  # noqa: E402
from test_registry_chain import reveal_msg  # noqa: E402

torch = pytest.importorskip("torch")

SAMPLES = (7, 40, 90, 124)   # the private digits: outside the validation split (its last 300 samples)
OPEN_MODE_COSINE = 0.999     # what the same attack gives on each member's own update (open mode)


class RecordingChain(AggregateChain):
    """An AggregateChain that keeps, after every block, every rnd/ key and value and the block's txs:
    everything a node that keeps history serves."""

    def __init__(self):
        self.history: list[tuple[int, dict[bytes, bytes]]] = []
        self.txs: list[bytes] = []
        super().__init__()

    def block(self, txs, *args, **kwargs):
        result = super().block(txs, *args, **kwargs)
        self.txs += list(txs)
        self.history.append((self.height, dict(self.app.store.iterate(b"rnd/", prefix_end(b"rnd/")))))
        return result


@pytest.fixture(scope="module")
def setup():
    net, model = tiny_model(seed=5)
    _, _, shards = validation(model)
    X, y = digits()
    return net, model, shards, X[:200], y[:200]


def as_delta(arrays, shapes) -> tuple | None:
    """`arrays` if they have the model's tensor shapes, else None."""
    if len(arrays) != len(shapes) or any(a.shape != s for a, s in zip(arrays, shapes)):
        return None
    return tuple(arrays)


def outsider_candidates(chain, model_id: int, shapes) -> dict[str, tuple]:
    """name -> a delta's tensors: every vector the outsider can decode as one, from public data only."""
    n = sum(int(np.prod(s)) for s in shapes)
    info = round_info(chain, model_id, 0)
    out: dict[str, tuple] = {}
    # the queries for the round
    for sub in info["submission_list"]:
        data = u64(model_id, 0, sub["seq"])
        chain.query_json("/rounds/submission", data)
        for path in ("/rounds/update", "/rounds/envelope"):
            answer = chain.query(path, data)
            if answer.code == 0 and answer.value:
                try:
                    d = as_delta(decode_delta(answer.value), shapes)
                except Exception:  # noqa: BLE001 - not a delta
                    d = None
                if d is not None:
                    out[f"{path} seq {sub['seq']} (the cohort mean)"] = d
    # every rnd/ value at every height
    seen: set[bytes] = set()
    masked: dict[int, bytes] = {}
    envelopes: dict[tuple[int, int], bytes] = {}
    for height, values in chain.history:
        for key, value in values.items():
            if key.startswith(keys.MASKED):
                masked[int.from_bytes(key[-8:], "big")] = value
            if key.startswith(keys.MEMBER_SECRET):
                envelopes[(int.from_bytes(key[-9:-1], "big"), key[-1])] = value
            if value in seen:
                continue
            seen.add(value)
            try:
                d = as_delta(decode_delta(value), shapes)
            except Exception:  # noqa: BLE001 - most values are JSON records
                d = None
            if d is not None and not any(all(np.array_equal(a, b) for a, b in zip(d, c)) for c in out.values()):
                out[f"state {key[:7]!r}... at height {height}"] = d
            if len(value) == 8 * n and not key.startswith(keys.MASKED):
                out[f"state {key[:7]!r}... at height {height} as a raw vector"] = masks.unflatten(
                    masks.decode_vector(value).view(np.int64), shapes)
    for seq, raw in sorted(masked.items()):
        out[f"masked y_{seq} (rnd/jm/) as a delta"] = masks.unflatten(masks.decode_vector(raw).view(np.int64), shapes)
    # the released shares (release txs) rebuild each submitter's self seed b_i: y_i - PRG(b_i)
    shares: dict[tuple[int, int], dict[int, bytes]] = {}
    for tx in chain.txs:
        if is_release(tx):
            for s in decode_release(tx[len(RELEASE_PREFIX):]).shares:
                if s.kind:
                    shares.setdefault((s.seq, s.kind), {})[s.validator_index] = s.share
    members = {m["seq"]: m for m in info["member_list"]}
    seeds = 0
    for (seq, kind), released in sorted(shares.items()):
        envelope = decode_envelope(envelopes[(seq, kind)], max_payload_bytes=32)
        context = secret_context(CHAIN_ID, model_id, 0, from_bech32(members[seq]["member"]), kind)
        secret = open_update(envelope, reconstruct(envelope, released), context)
        assert kind == SEED or kind == KEY
        if kind == SEED and seq in masked:
            seeds += 1
            ctx = masks.context(CHAIN_ID, model_id, 0, members[seq]["cohort"])
            y = masks.decode_vector(masked[seq]) - masks.stream(masks.self_key(secret, ctx, seq), n)
            out[f"y_{seq} - PRG(b_{seq}) (seed rebuilt from the release txs)"] = masks.unflatten(y.view(np.int64), shapes)
    assert seeds == len(masked)       # the outsider did rebuild every submitter's self seed
    return out


def run_round(setup, count: int, batch: int = 1, dp=None):
    """An aggregate-mode round (k = 3) of `count` members, each one SGD step (lr 0.5) on `batch` private
    digits, privatized with `dp` (a DPConfig, noise_share = k) if given. Returns the chain, the model id, the
    model, the private samples (one array per member) and the members' updates."""
    from client.dp import encode_delta, privatize
    from client.trainer import delta_from_torch
    net, model, shards, X, y = setup
    chain = RecordingChain()
    chain.shards = shards
    model_id = activate(chain, model, shards, bounty=Coin.of(VOUCHER, 100_000), privacy="aggregate", cohort_size=3,
                        round_blocks=12, reveal_blocks=8, min_improvement=0)
    wallets = TRAINERS[:count]
    starts = SAMPLES if batch == 1 else [20 + batch * i for i in range(count)]
    private, updates = [], {}
    for i, (w, at) in enumerate(zip(wallets, starts)):
        xs, ys = X[at:at + batch], y[at:at + batch]
        update = delta_from_torch(model, one_sgd_step(net, xs, ys, lr=0.5))
        if dp is not None:
            update = encode_delta(privatize(update, model, replace(dp, seed=i), noise_share=3)[0])
        private.append((xs, ys))
        updates[w] = update
    info = play_aggregate_round(chain, model_id, 0, updates)
    [cohort] = info["cohort_list"]
    assert cohort["status"] == "unmasked" and len(cohort["submitted"]) == count
    # the owner reveals the round's shard; the mean is scored, the round closes and settles: the outsider
    # reads those records too
    result, _ = chain.run(ALICE, reveal_msg(model_id, 0, shards, 0))
    assert code(result) == ("", 0), result.log
    for _ in range(40):
        if "closed_height" in round_info(chain, model_id, 0):
            break
        chain.block([])
    assert "closed_height" in round_info(chain, model_id, 0)
    return chain, model_id, model, private, updates


def attack(chain, model_id, model, samples, only_mean=False) -> dict[str, tuple[list[float], list[float]]]:
    """name -> (best cosine, best relative error) per private sample, for every candidate the outsider has
    (printed; `only_mean`: print the cohort mean's only)."""
    figures = {}
    for name, arrays in outsider_candidates(chain, model_id, [w.shape for w in model.weights]).items():
        rows = rows_of_arrays(arrays, model.spec)
        figures[name] = (best_cosines(rows, samples),
                         [min((relative_error(r, x) for r in rows), default=float("inf")) for x in samples])
        cos, err = figures[name]
        if not only_mean or name.startswith("/rounds/update"):
            print(f"  {name}: best cosine {' '.join(f'{c:.3f}' for c in cos)}; "
                  f"best relative error {' '.join(f'{e:.2g}' for e in err)} ({len(rows)} rows)")
    return figures


def mean_of(figures):
    [name] = [n for n in figures if n.startswith("/rounds/update")]
    return figures[name]


@pytest.fixture(scope="module")
def played(setup):
    cache = {}

    def play(count, **kw):
        key = (count, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = run_round(setup, count, **kw)
        return cache[key]
    return play


@pytest.mark.parametrize("count", [3, 4])
def test_inversion_aggregate_mode_nothing_but_the_cohort_mean_decodes_to_a_delta(played, count):
    """Every masked vector, with its self mask removed or not, and every other stored value: noise to the
    attack (cosine of random rows); no state value at any height (nor any tx) holds a member's delta, and
    none after the unmask holds a masked vector."""
    chain, model_id, model, private, updates = played(count)
    samples = np.concatenate([xs for xs, _ in private])
    print(f"\n{count} members, k = 3, one SGD step on one digit each (labels "
          f"{[int(ys[0]) for _, ys in private]}); what the outsider decodes:")
    figures = attack(chain, model_id, model, samples)
    others = {n: f for n, f in figures.items() if not n.startswith("/rounds/update")}
    assert sum(n.startswith("masked y_") for n in others) == count
    assert sum(n.startswith("y_") for n in others) == count       # self seeds rebuilt from the release txs
    for name, (cos, _) in others.items():
        assert max(cos) < 0.5, (name, cos)
    unmask_height = next(h for h, values in chain.history if any(k.startswith(keys.SUBMISSION) for k in values))
    masked = {v for _, values in chain.history for k, v in values.items() if k.startswith(keys.MASKED)}
    assert len(masked) == count
    final = dict(chain.app.store.iterate(b"", b"\xff" * 8))
    for height, values in chain.history + [(chain.height, final)]:
        for value in values.values():
            assert not any(update in value for update in updates.values()), height
            assert height < unmask_height or not any(m in value for m in masked), height
    assert not any(update in tx for tx in chain.txs for update in updates.values())   # nor any block's tx


@pytest.mark.parametrize("count", [3, 4])
def test_inversion_aggregate_mode_mean_of_one_sample_updates_still_gives_the_digits_back(played, count):
    """The honest result: the cohort's mean of one-sample updates is a batch gradient of `count` samples,
    and with ReLU most first-layer units fire for one sample only, so dW[i,:]/db[i] is that sample again.
    Aggregate mode hides whose sample it is (the mean is symmetric in the members), not the sample."""
    chain, model_id, model, private, updates = played(count)
    samples = np.concatenate([xs for xs, _ in private])
    labels = sorted(int(ys[0]) for _, ys in private)
    single = []
    for update, (xs, _) in zip(updates.values(), private):
        rows = first_layer_rows(update, model.spec)
        single.append((best_cosines(rows, xs)[0], relative_error(rows[0], xs[0])))
    print(f"\n{count} members: open mode, each member's own update: best cosine "
          + " ".join(f"{c:.6f}" for c, _ in single) + " | relative error " + " ".join(f"{e:.2e}" for _, e in single))
    assert all(c > OPEN_MODE_COSINE for c, _ in single)
    cos, err = mean_of(attack(chain, model_id, model, samples, only_mean=True))
    mean = decode_delta(chain.query("/rounds/update", u64(model_id, 0, 0)).value)
    positive = sorted(np.flatnonzero(mean[-1] > 0).tolist())
    print(f"  labels: the mean's last bias is positive at {positive}; the members' labels are {labels}")
    assert positive == sorted(set(labels))            # every label, as a set
    assert sum(c > 0.99 for c in cos) >= 2 and min(err) < 1e-3   # at least two digits back, one almost exactly


def test_inversion_aggregate_mode_batches_of_eight_mix_the_samples(played):
    """3 members, one SGD step on 8 digits each: the mean is one step on 24 samples."""
    chain, model_id, model, private, _ = played(3, batch=8)
    samples = np.concatenate([xs for xs, _ in private])
    print("\n3 members, one SGD step on 8 digits each (24 samples):")
    cos, err = mean_of(attack(chain, model_id, model, samples, only_mean=True))
    print(f"  the mean: median best cosine {np.median(cos):.2f}, samples above 0.99: {sum(c > 0.99 for c in cos)} "
          f"of {len(cos)}, best relative error {min(err):.2g}")
    assert np.median(cos) < 0.95 and max(cos) > 0.95   # a mixture, yet still one sample nearly exact


def test_inversion_aggregate_mode_with_distributed_dp_hides_the_samples(played):
    """Each member privatizes with noise_share = k (clip 1.0, noise multiplier 1.1): the mean carries the
    full sigma, and the attack on it gets noise back."""
    from client.dp import DPConfig
    chain, model_id, model, private, _ = played(3, dp=DPConfig(clip_norm=1.0, noise_multiplier=1.1))
    samples = np.concatenate([xs for xs, _ in private])
    print("\n3 members, one digit each, distributed DP (clip 1.0, noise 1.1, noise_share 3):")
    cos, _ = mean_of(attack(chain, model_id, model, samples, only_mean=True))
    assert max(cos) < 0.6, cos
