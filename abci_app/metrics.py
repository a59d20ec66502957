"""The app's Prometheus series (docs/operations.md lists them). Metrics live here, never in chain/.

The domain counters (rounds, updates, payouts, bridge claims, ...) are derived from the events FinalizeBlock
returns, not counted inside the state machine: chain/ stays free of I/O and clocks, and the series count
exactly what the chain recorded, the same events CometBFT indexes. Durations are this node's wall clock
and differ between nodes; nothing here feeds back into consensus.

Each Metrics has its own registry rather than prometheus_client's global one, so several servers can run
in one process (tests) without clashing names.
"""
from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from chain.results import BlockResult, Event, TxResult

# seconds; CheckTx is sub-millisecond, a FinalizeBlock that scores can take seconds
_BUCKETS = (.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)
_COIN = re.compile(r"^(\d+)([a-zA-Z][a-zA-Z0-9/:._-]*)$")
_SCORING_EVENTS = ("scored", "scoring_progress")


def parse_coin(text: str) -> tuple[int, str] | None:
    """'123ugrad' -> (123, 'ugrad'); None for anything else (an empty or multi-coin attribute)."""
    match = _COIN.match(text or "")
    return (int(match[1]), match[2]) if match else None


class Metrics:
    def __init__(self):
        r = self.registry = CollectorRegistry()
        self._http = None
        self._children: dict[tuple, object] = {}
        self.blocks = Counter("gradchain_blocks", "Blocks finalized", registry=r)
        self.height = Gauge("gradchain_block_height", "Height of the last finalized block", registry=r)
        self.txs = Counter("gradchain_txs", "Txs delivered in FinalizeBlock, by result", ["codespace", "code"],
                           registry=r)
        self.check_txs = Counter("gradchain_check_txs", "CheckTx answers, by result and kind (new | recheck)",
                                 ["codespace", "code", "kind"], registry=r)
        self.finalize_seconds = Histogram("gradchain_finalize_block_seconds", "FinalizeBlock duration",
                                          buckets=_BUCKETS, registry=r)
        self.commit_seconds = Histogram("gradchain_commit_seconds", "Commit duration", buckets=_BUCKETS, registry=r)
        self.check_tx_seconds = Histogram("gradchain_check_tx_seconds", "CheckTx duration", buckets=_BUCKETS,
                                          registry=r)
        self.events = Counter("gradchain_events", "Events FinalizeBlock returned, by type", ["type"], registry=r)
        self.models = Counter("gradchain_models_registered", "Models registered", registry=r)
        self.rounds_opened = Counter("gradchain_rounds_opened", "Rounds that took their first submission or join",
                                     registry=r)
        self.rounds_closed = Counter("gradchain_rounds_closed", "Rounds closed, by outcome "
                                     "(new_head | no_improvement | void)", ["outcome"], registry=r)
        self.updates_submitted = Counter("gradchain_updates_submitted", "Sealed updates submitted and aggregate-"
                                         "mode joins, by mode (open | aggregate)", ["mode"], registry=r)
        self.updates_opened = Counter("gradchain_updates_opened", "Sealed updates opened", registry=r)
        self.updates_invalid = Counter("gradchain_updates_invalid", "Updates or members found invalid, by reason",
                                       ["reason"], registry=r)
        self.updates_settled = Counter("gradchain_updates_settled", "Updates settled, by outcome", ["outcome"],
                                       registry=r)
        self.payouts = Counter("gradchain_payouts", "Payouts to trainers, by denom", ["denom"], registry=r)
        self.payout_amount = Counter("gradchain_payout_amount", "Amount paid to trainers, by denom", ["denom"],
                                     registry=r)
        self.forfeited = Counter("gradchain_forfeited_amount", "Deposits forfeited, by denom", ["denom"], registry=r)
        self.slashes = Counter("gradchain_slashes", "Validator slashes, by reason", ["reason"], registry=r)
        self.slashed = Counter("gradchain_slashed_amount", "Bond slashed, by denom", ["denom"], registry=r)
        self.cohorts = Counter("gradchain_cohorts", "Aggregate-mode cohorts, by state "
                               "(formed | unmasked | invalid | void)", ["state"], registry=r)
        self.bridge_claims = Counter("gradchain_bridge_claims", "Bridge claims: validator votes, attested "
                                     "events, failed applications", ["result"], registry=r)
        self.scoring_jobs = Counter("gradchain_scoring_jobs", "Scoring jobs finished, by kind "
                                    "(version | update | aggregate)", ["kind"], registry=r)
        self.scoring_samples = Counter("gradchain_scoring_samples", "Validation samples scored by finished jobs",
                                       registry=r)
        self.scoring_seconds = Histogram("gradchain_scoring_block_seconds", "FinalizeBlock duration of blocks "
                                         "that ran scoring (an upper bound on the scoring time)",
                                         buckets=_BUCKETS, registry=r)
        self._on = {
            "register_model": lambda a: self.models.inc(),
            "submit_update": lambda a: self._submitted("open", a),
            "join_round": lambda a: self._submitted("aggregate", a),
            "round_closed": lambda a: self.rounds_closed.labels(
                "new_head" if a.get("new_version") else "no_improvement").inc(),
            "round_void": lambda a: self.rounds_closed.labels("void").inc(),
            "update_opened": lambda a: self.updates_opened.inc(),
            "update_invalid": lambda a: self.updates_invalid.labels(a.get("reason", "")).inc(),
            "member_invalid": lambda a: self.updates_invalid.labels(a.get("reason", "")).inc(),
            "update_settled": lambda a: self.updates_settled.labels(a.get("outcome", "")).inc(),
            "member_settled": lambda a: self.updates_settled.labels(a.get("outcome", "")).inc(),
            "payout": self._payout,
            "slash": lambda a: self._slash(a.get("reason", ""), a.get("amount", "")),
            "withholding_penalty": lambda a: self._slash("withholding", a.get("slashed", "")),
            "cohort_formed": lambda a: self.cohorts.labels("formed").inc(),
            "cohort_unmasked": lambda a: self.cohorts.labels("unmasked").inc(),
            "cohort_invalid": lambda a: self.cohorts.labels("invalid").inc(),
            "cohort_void": lambda a: self.cohorts.labels("void").inc(),
            "bridge_claim": lambda a: self.bridge_claims.labels("vote").inc(),
            "bridge_attested": lambda a: self.bridge_claims.labels("attested").inc(),
            "bridge_claim_failed": lambda a: self.bridge_claims.labels("failed").inc(),
            "scored": self._scored,
        }

    # --- what the server reports ----------------------------------------------------------------------
    def observe_block(self, height: int, result: BlockResult, seconds: float) -> None:
        self.blocks.inc()
        self.height.set(height)
        self.finalize_seconds.observe(seconds)
        for tx in result.tx_results:
            self._child(self.txs, tx.codespace, tx.code).inc()
        events = block_events(result)
        for e in events:
            self._event(e)
        if any(e.type in _SCORING_EVENTS for e in events):
            self.scoring_seconds.observe(seconds)

    def observe_check_tx(self, result: TxResult, recheck: bool, seconds: float) -> None:
        self.check_tx_seconds.observe(seconds)
        self._child(self.check_txs, result.codespace, result.code, "recheck" if recheck else "new").inc()

    def _child(self, metric, *labels):
        """metric.labels(*labels), remembered: the lookup costs more than the increment, once per tx.
        Bounded by the label values there are (codes are registered, kinds and event types fixed)."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*(str(v) for v in labels))
        return child

    def observe_commit(self, seconds: float) -> None:
        self.commit_seconds.observe(seconds)

    # --- the HTTP endpoint ----------------------------------------------------------------------------
    def serve(self, port: int) -> None:
        """Serve /metrics on 127.0.0.1:port (loopback only: an operator's scraper or tunnel reaches it)."""
        self._http, _ = start_http_server(port, addr="127.0.0.1", registry=self.registry)

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    # --- events ---------------------------------------------------------------------------------------
    def _event(self, e: Event) -> None:
        self._child(self.events, e.type).inc()
        handler = self._on.get(e.type)
        if handler is None and all(k != "forfeited" for k, _ in e.attributes):
            return  # most events (transfers, fees) count only by type
        attrs = dict(e.attributes)
        coin = parse_coin(attrs.get("forfeited", ""))   # update_invalid, member_invalid, a harmful update_settled
        if coin and coin[0]:
            self.forfeited.labels(coin[1]).inc(coin[0])
        if handler is not None:
            handler(attrs)

    def _submitted(self, mode: str, attrs: dict) -> None:
        self.updates_submitted.labels(mode).inc()
        if attrs.get("seq") == "0":   # seq counts a round's submissions (joins) from 0: the round's first
            self.rounds_opened.inc()

    def _payout(self, attrs: dict) -> None:
        coin = parse_coin(attrs.get("amount", ""))
        if coin:
            self.payouts.labels(coin[1]).inc()
            self.payout_amount.labels(coin[1]).inc(coin[0])

    def _slash(self, reason: str, amount: str) -> None:
        self.slashes.labels(reason).inc()
        coin = parse_coin(amount)
        if coin and coin[0]:
            self.slashed.labels(coin[1]).inc(coin[0])

    def _scored(self, attrs: dict) -> None:
        kind = "update" if "update_seq" in attrs else "aggregate" if "aggregate_of" in attrs else "version"
        self.scoring_jobs.labels(kind).inc()
        self.scoring_samples.inc(int(attrs.get("total") or attrs.get("samples") or 0))


def block_events(result: BlockResult) -> list[Event]:
    """Every event of a block: its txs' (in order), then the block's own (begin and end block)."""
    return [e for tx in result.tx_results for e in tx.events] + list(result.events)
