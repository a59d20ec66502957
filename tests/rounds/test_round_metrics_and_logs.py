"""The node's metrics and event log over a real round's events (abci_app/metrics.py, abci_app/eventlog.py):
every FinalizeBlock result of two in-process rounds (one honest, one poisoned update; a new head, then its
payout) goes through Metrics.observe_block and eventlog.log_block, as the ABCI server does. Real events,
so a renamed event type or attribute in chain/ shows up here."""
import io
import json
import logging

import pytest

from test_settle import BOUNTY, play_round, setup  # noqa: F401 (setup: the module's trained updates)

from abci_app import eventlog
from abci_app.metrics import Metrics
from abci_app.node import JsonLinesFormatter
from chainutil import BOB, CAROL
from chain.tx.coins import Coin
from registryutil import VOUCHER, activate
from roundsutil import RoundsChain, delta

pytest.importorskip("torch")


@pytest.fixture
def event_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLinesFormatter())
    logger = logging.getLogger("gradchain.events")
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def total(metrics, name):
    """A counter summed over its labels."""
    return sum(sample.value for family in metrics.registry.collect() for sample in family.samples
               if sample.name == name)


def test_a_rounds_events_become_series_and_log_lines(setup, event_log):  # noqa: F811
    model, shards, _, _, updates = setup
    metrics = Metrics()
    chain = RoundsChain()
    chain.shards = shards
    finalize = chain.app.finalize_block

    def observed(ctx, txs):
        result = finalize(ctx, txs)
        metrics.observe_block(ctx.height, result, 0.01)
        eventlog.log_block(ctx.height, result)
        return result

    chain.app.finalize_block = observed   # from the registration on
    model_id = activate(chain, model, shards, bounty=Coin.of(VOUCHER, BOUNTY), round_blocks=20, reveal_blocks=10)
    play_round(chain, model_id, 0, [(BOB, updates["a"]), (CAROL, updates["poison"])], reveal_index=1)
    play_round(chain, model_id, 1, [(CAROL, delta(model), 1)], reveal_index=2)

    value = metrics.registry.get_sample_value
    assert value("gradchain_blocks_total") > 10
    assert value("gradchain_txs_total", {"codespace": "", "code": "0"}) >= 4   # 3 submissions, 2 reveals
    assert value("gradchain_rounds_opened_total") == 2
    assert value("gradchain_rounds_closed_total", {"outcome": "new_head"}) == 1
    assert value("gradchain_updates_submitted_total", {"mode": "open"}) == 3
    assert value("gradchain_updates_opened_total") == 3
    assert value("gradchain_updates_settled_total", {"outcome": "harmful"}) == 1
    assert value("gradchain_models_registered_total") == 1
    assert value("gradchain_payouts_total", {"denom": VOUCHER}) >= 1
    assert value("gradchain_payout_amount_total", {"denom": VOUCHER}) > 0
    assert total(metrics, "gradchain_forfeited_amount_total") > 0
    assert value("gradchain_scoring_jobs_total", {"kind": "update"}) == 3
    assert value("gradchain_scoring_samples_total") > 0
    assert value("gradchain_scoring_block_seconds_count") >= 1
    assert value("gradchain_events_total", {"type": "round_closed"}) >= 1

    lines = event_log()
    by_msg = {}
    for line in lines:
        by_msg.setdefault(line["msg"], []).append(line)
    closed = by_msg["round closed"]
    assert closed[0]["outcome"] == "new_head" and closed[0]["model_id"] == str(model_id) and closed[0]["round"] == "0"
    assert closed[0]["level"] == "info" and closed[0]["logger"] == "gradchain.events" and closed[0]["height"] > 0
    assert {line["seq"] for line in by_msg["update opened"] if line["round"] == "0"} == {"0", "1"}
    registered = by_msg["model registered"]
    assert len(registered) == 1 and registered[0]["model_id"] == str(model_id) and registered[0]["tx"] == 0
    forfeit = by_msg["forfeit"]
    assert len(forfeit) == 1 and forfeit[0]["trainer"] == CAROL.address and forfeit[0]["outcome"] == "harmful"
    payouts = by_msg["payout"]
    assert payouts and all(p["amount"].endswith(VOUCHER) for p in payouts)
    assert by_msg["scoring job done"]
    assert all(line["level"] != "debug" for line in lines)   # the logger is at info: no submit/transfer lines
