"""The application: InitChain, CheckTx, FinalizeBlock, Commit, Query over an authenticated store.

Block state lives in memory (an Overlay) from InitChain/FinalizeBlock until Commit, which writes the
block's changes, the height and the app hash in one atomic write. A crash before Commit replays the block.
"""
from __future__ import annotations

import json
from collections import OrderedDict

from chain import genesis
from chain.bridge import handlers as bridge
from chain.auth import params as auth_params
from chain.auth.ante import apply_ante
from chain.tx.errors import ChainError, HeightNotAvailable, InvalidGenesis, TxTooLarge
from chain.queries import check_provable, json_query, provable_key
from chain.results import BlockContext, BlockResult, InitResult, QueryResult, TxResult
from chain.rounds import close as rounds_close
from chain.rounds import handlers as rounds
from chain.rounds import release, scoring_queue
from chain.router import process_message
from chain.store.state import CommittedStore, Overlay
from chain.tx.envelope import DecodedTx, decode_tx, tx_hash
from chain.validators import genesis as validators_genesis
from chain.validators import handlers as validators

_DECODED_CACHE_SIZE = 20000


def error_result(e: ChainError, gas: int = 0) -> TxResult:
    return TxResult(code=e.code, codespace=e.codespace, log=str(e), gas_wanted=gas, gas_used=gas)


class Application:
    def __init__(self, kv, query_retention: int = 0):
        # query_retention: how many recent heights stay queryable with proofs (an operator setting, not
        # consensus: it changes no app hash)
        self.store = CommittedStore(kv, history_blocks=query_retention)
        self._block: Overlay | None = None      # the block being executed (or genesis), until Commit
        self._pending = None                    # PendingCommit prepared by FinalizeBlock
        self._pending_height = 0
        self._check = Overlay(self.store)       # mempool view: committed state + accepted CheckTx effects
        self._chain_id: str | None = None       # written once, by InitChain's genesis import: read once
        # Signature checks are the costliest stateless step; a tx CheckTx accepted need not be checked
        # again in FinalizeBlock. Keyed by the tx's hash, so the result is a pure function of its bytes.
        self._decoded: OrderedDict[bytes, DecodedTx] = OrderedDict()  # cheap oldest-first eviction

    # --- lifecycle -------------------------------------------------------------------------
    def info(self) -> tuple[int, bytes]:
        return self.store.height, self.store.app_hash

    def init_chain(self, chain_id: str, initial_height: int, app_state_bytes: bytes,
                   time_seconds: int = 0) -> InitResult:
        if self.store.height != 0:
            raise RuntimeError("InitChain on a store that already has committed blocks")
        try:
            app_state = json.loads(app_state_bytes or b"{}")
        except ValueError as e:
            raise InvalidGenesis(f"genesis app_state is not JSON: {e}") from None
        block = Overlay(self.store)
        genesis.import_genesis(block, chain_id, app_state)
        self._block = block
        # a tx can reach the mempool before block 1 commits the genesis state: check it against that state
        # (CheckTx used to find no chain id there and crash the node)
        self._check = Overlay(block)
        return InitResult(app_hash=self.store.prepare(block.changes()).app_hash,
                          validators=validators_genesis.initial_validators(block))

    def finalize_block(self, ctx: BlockContext, txs: list[bytes]) -> BlockResult:
        if self.store.height and ctx.height != self.store.height + 1:
            raise RuntimeError(f"FinalizeBlock for height {ctx.height} after committed {self.store.height}")
        block = self._block if self._block is not None else Overlay(self.store)
        chain_id = genesis.chain_id(block)
        params = auth_params.load(block)
        events = validators.begin_block(block, ctx)
        results = tuple(self._release(block, ctx, raw) if release.is_release(raw)
                        else self._deliver(block, ctx, raw, chain_id, params) for raw in txs)
        updates, end_events = validators.end_block(block, ctx)
        end_events += bridge.end_block(block, ctx)
        end_events += scoring_queue.run_block(block, ctx)
        end_events += rounds.end_block(block, ctx)       # release deadlines, void rounds, round closes
        end_events += rounds_close.close_expired(block, ctx)
        self._block = block
        self._pending = self.store.prepare(block.changes())
        self._pending_height = ctx.height
        return BlockResult(tx_results=results, app_hash=self._pending.app_hash, events=events + end_events,
                           validator_updates=updates)

    def commit(self) -> None:
        if self._pending is None:
            raise RuntimeError("Commit without FinalizeBlock")
        self.store.commit(self._pending, self._pending_height)
        self._block, self._pending = None, None
        self._check = Overlay(self.store)  # CometBFT rechecks the remaining mempool txs against this

    def restore(self, items, height: int, app_hash: bytes) -> bool:
        """State sync: an empty app takes a whole state as of `height` (abci_app/snapshots.py), written only
        if its tree root equals `app_hash` (the light-client-verified header's). False if it does not."""
        if self._block is not None or self._pending is not None:
            raise RuntimeError("restore during a block")
        if not self.store.restore(items, height, app_hash):
            return False
        self._check = Overlay(self.store)
        return True

    def _state_at(self, height: int):
        """The committed state to answer a query at `height` (0: the latest)."""
        if height in (0, self.store.height):
            return self.store
        oldest = self.store.oldest_height()
        if not oldest <= height <= self.store.height:
            raise HeightNotAvailable(f"height {height} is not kept: this node answers heights {oldest}.."
                                     f"{self.store.height} (its query_retention_blocks setting)")
        return self.store.at(height)

    # --- vote extensions and proposals: key-share release (chain.rounds.release) ----------------
    def extend_vote(self, height: int, encryption_private_key: bytes | None) -> bytes:
        """This node's shares for the sealed updates of rounds closed at `height` (committed state only)."""
        if encryption_private_key is None:
            return b""
        return release.extension(self.store, height, encryption_private_key)

    def verify_vote_extension(self, height: int, validator_address: bytes, extension: bytes) -> bool:
        return release.verify_extension(self.store, height, extension, validator_address)

    def prepare_proposal(self, height: int, txs: list[bytes], extensions: list[tuple[bytes, bytes]]) -> list[bytes]:
        """The mempool's txs, preceded by one release tx built from the previous height's extensions."""
        carried = release.release_tx(self.store, height, extensions)
        rest = [tx for tx in txs if not release.is_release(tx)]
        return ([carried] if carried else []) + rest

    def process_proposal(self, height: int, txs: list[bytes]) -> bool:
        return release.check_proposal(self.store, height, txs)

    def _release(self, state: Overlay, ctx: BlockContext, raw: bytes) -> TxResult:
        branch = state.branch()
        try:
            events = release.apply_release(branch, ctx, raw)
        except ChainError as e:
            return error_result(e)
        branch.write_to_parent()
        return TxResult(events=events)

    # --- transactions ----------------------------------------------------------------------
    def check_tx(self, raw: bytes, recheck: bool = False) -> TxResult:
        """A recheck (CometBFT's, after each Commit, of the txs left in its mempool) runs the same path:
        the signature check is skipped only because the decoded-tx cache holds these exact bytes, while
        the stateful ante checks (sequence, fee, balance) and the messages run again on the new state."""
        state = self._check
        chain_id = self._chain_id or self._read_chain_id(state)
        params = auth_params.load(state)
        # The mempool runs messages as if in the next block; its effects are discarded at Commit. In
        # check mode _deliver writes to `state` only for an admitted tx (code 0).
        ctx = BlockContext(chain_id, self.store.height + 1, 0, 0, b"")
        return self._deliver(state, ctx, raw, chain_id, params, check=True)

    def _read_chain_id(self, state) -> str:
        self._chain_id = genesis.chain_id(state)
        return self._chain_id

    def _decode(self, raw: bytes, params) -> DecodedTx:
        if len(raw) > params.max_tx_bytes:
            raise TxTooLarge(f"tx is {len(raw)} bytes; the limit is {params.max_tx_bytes}")
        key = tx_hash(raw)
        tx = self._decoded.get(key)
        if tx is None:
            tx = decode_tx(raw)
            if len(self._decoded) >= _DECODED_CACHE_SIZE:
                self._decoded.popitem(last=False)
            self._decoded[key] = tx
        return tx

    def _deliver(self, state: Overlay, ctx: BlockContext, raw: bytes, chain_id: str, params,
                 check: bool = False) -> TxResult:
        """Ante effects (fee, sequence) survive a failing message; a failing message leaves nothing."""
        gas = len(raw)
        try:
            tx = self._decode(raw, params)
            tx_state = state.branch()
            events = apply_ante(tx_state, tx, chain_id, params)
        except ChainError as e:
            return error_result(e, gas)
        msg_state = tx_state.branch()
        try:
            for index, msg in enumerate(tx.messages):
                try:
                    events += process_message(msg_state, ctx, tx.signer, msg)
                except ChainError as e:
                    wrapped = type(e)(f"message {index}: {e}")
                    wrapped.on_failure = getattr(e, "on_failure", None)
                    raise wrapped from None
        except ChainError as e:
            # A failing message leaves nothing behind, except a deliberate `on_failure` effect applied next to
            # the fee and sequence (a rejected weights upload deletes its stored chunks so it can start over).
            on_failure = getattr(e, "on_failure", None)
            if check and on_failure is None:
                return error_result(e, gas)  # not admitted to the mempool: discard the fee too
            if on_failure is not None:
                on_failure(tx_state)
            tx_state.write_to_parent()
            if check:  # admitted: in its block it fails with this code and its on_failure effect applies
                return TxResult(gas_wanted=gas, gas_used=gas, log=f"admitted; will fail: {e}")
            return error_result(e, gas)
        msg_state.write_to_parent()
        tx_state.write_to_parent()
        return TxResult(gas_wanted=gas, gas_used=gas, events=events)

    # --- queries ---------------------------------------------------------------------------
    def query(self, path: str, data: bytes, height: int = 0, prove: bool = False) -> QueryResult:
        try:
            state = self._state_at(height)
            key = provable_key(path, data)
            if key is None:
                return QueryResult(value=json_query(state, path, data), height=state.height)
            check_provable(state, path, data)
            if prove:
                value, proof = state.prove(key)
            else:
                value, proof = state.get(key), None
            return QueryResult(key=key, value=value or b"", proof=proof, height=state.height)
        except ChainError as e:
            return QueryResult(code=e.code, codespace=e.codespace, log=str(e), height=self.store.height)
