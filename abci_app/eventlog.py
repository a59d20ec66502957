"""One structured log line per domain event of a finalized block (logger `gradchain.events`).

The lines come from the events FinalizeBlock returns, like the metrics (abci_app/metrics.py), so chain/
never logs. They go through the node's JSON-lines handler (abci_app/node.py): `msg` is a fixed phrase to
grep for, `event` the chain's event type, `height` the block, `tx` the tx's index in the block (absent for
begin/end-block events), then the event's own attributes as they are on chain. Events not in the table
below (transfers, votes, scoring progress, ...) are logged at debug level.
"""
from __future__ import annotations

import logging

from abci_app.metrics import block_events
from chain.results import BlockResult, Event

log = logging.getLogger("gradchain.events")

INFO, WARNING = logging.INFO, logging.WARNING
# event type -> (level, message). Warnings are what an operator may have to act on.
MESSAGES = {
    "register_model": (INFO, "model registered"),
    "model_active": (INFO, "model active"),
    "close_model": (INFO, "model closed"),
    "round_closed": (INFO, "round closed"),
    "round_void": (INFO, "round closed"),
    "new_head": (INFO, "new head"),
    "update_opened": (INFO, "update opened"),
    "update_invalid": (INFO, "update invalid"),
    "update_void": (INFO, "update void"),
    "update_settled": (INFO, "update settled"),
    "member_invalid": (INFO, "update invalid"),
    "payout": (INFO, "payout"),
    "scored": (INFO, "scoring job done"),
    "cohort_formed": (INFO, "cohort formed"),
    "cohort_unmasked": (INFO, "cohort unmasked"),
    "cohort_invalid": (INFO, "cohort invalid"),
    "cohort_void": (INFO, "cohort void"),
    "bridge_attested": (INFO, "bridge claim attested"),
    "bridge_deposit": (INFO, "bridge deposit"),
    "bridge_claim_failed": (WARNING, "bridge claim failed"),
    "slash": (WARNING, "slash"),
    "withholding_penalty": (WARNING, "slash"),
    "jail": (WARNING, "validator jailed"),
}
# LogRecord attributes and the formatter's own keys: an event attribute by one of these names is renamed
# attr_<name> (logging refuses to overwrite a record attribute; the formatter's keys must stay the node's).
_TAKEN = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "ts", "level", "logger", "msg", "event", "height", "tx"}


def log_block(height: int, result: BlockResult) -> None:
    for index, tx in enumerate(result.tx_results):
        for e in tx.events:
            log_event(height, e, tx=index)
    for e in result.events:
        log_event(height, e)


def log_event(height: int, e: Event, tx: int | None = None) -> None:
    level, message = MESSAGES.get(e.type, (logging.DEBUG, e.type.replace("_", " ")))
    if not log.isEnabledFor(level):
        return
    attrs = {(f"attr_{k}" if k in _TAKEN else k): v for k, v in e.attributes}
    if e.type == "round_closed":
        attrs["outcome"] = "new_head" if attrs.get("new_version") else "no_improvement"
    elif e.type == "round_void":
        attrs["outcome"] = "void"
    elif e.type == "update_settled" and "forfeited" in attrs:
        message = "forfeit"   # a harmful update: its deposit goes to the community pool
    extra = {"event": e.type, "height": height, **({} if tx is None else {"tx": tx}), **attrs}
    log.log(level, message, extra=extra)


def is_empty(result: BlockResult) -> bool:
    """No txs and no events: logged at debug level, so an idle chain does not fill app.log."""
    return not result.tx_results and not block_events(result)
