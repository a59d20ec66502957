"""Protobuf requests -> chain types, chain results -> protobuf responses. No logic beyond the mapping."""
from __future__ import annotations

from abci_app.proto.tendermint.abci import types_pb2 as abci
from abci_app.proto.tendermint.crypto import keys_pb2, proof_pb2
from chain.results import (BlockContext, BlockResult, Event, InitResult, Misbehavior, QueryResult, TxResult,
                           ValidatorUpdate)

APP_NAME = "gradchain"
APP_VERSION = 1  # the app protocol version CometBFT records in block headers; bump on consensus changes
SOFTWARE_VERSION = "0.1.0"
PROOF_OP_TYPE = "gradchain/smt"


# --- requests -> chain ---------------------------------------------------------------------------
def block_context(req: abci.RequestFinalizeBlock, chain_id: str) -> BlockContext:
    # RequestFinalizeBlock does not carry the chain id; the node learns it from genesis.json.
    return BlockContext(
        chain_id=chain_id,
        height=req.height,
        time_seconds=req.time.seconds,
        time_nanos=req.time.nanos,  # the sub-second part, as in google.protobuf.Timestamp
        proposer=bytes(req.proposer_address),
        misbehavior=tuple(Misbehavior(kind=_MISBEHAVIOR_KINDS.get(m.type, "unknown"),
                                      validator_address=bytes(m.validator.address), height=m.height)
                          for m in req.misbehavior),
        block_hash=bytes(req.hash),
    )


_MISBEHAVIOR_KINDS = {abci.DUPLICATE_VOTE: "duplicate_vote", abci.LIGHT_CLIENT_ATTACK: "light_client_attack"}


# --- chain -> responses --------------------------------------------------------------------------
def info_response(height: int, app_hash: bytes) -> abci.ResponseInfo:
    return abci.ResponseInfo(data=APP_NAME, version=SOFTWARE_VERSION, app_version=APP_VERSION,
                             last_block_height=height, last_block_app_hash=app_hash)


def init_chain_response(result: InitResult) -> abci.ResponseInitChain:
    # An empty validator list tells CometBFT to keep genesis.json's validators.
    return abci.ResponseInitChain(app_hash=result.app_hash,
                                  validators=[validator_update(v) for v in result.validators])


def check_tx_response(result: TxResult) -> abci.ResponseCheckTx:
    return abci.ResponseCheckTx(code=result.code, codespace=result.codespace, log=result.log,
                                data=result.data, gas_wanted=result.gas_wanted, gas_used=result.gas_used,
                                events=[event(e) for e in result.events])


def exec_tx_result(result: TxResult) -> abci.ExecTxResult:
    return abci.ExecTxResult(code=result.code, codespace=result.codespace, log=result.log,
                             data=result.data, gas_wanted=result.gas_wanted, gas_used=result.gas_used,
                             events=[event(e) for e in result.events])


def finalize_block_response(result: BlockResult, tx_count: int) -> abci.ResponseFinalizeBlock:
    if len(result.tx_results) != tx_count:
        # CometBFT would halt on the mismatch anyway; fail here with a message that names the cause.
        raise RuntimeError(f"FinalizeBlock returned {len(result.tx_results)} results for {tx_count} txs")
    return abci.ResponseFinalizeBlock(
        tx_results=[exec_tx_result(r) for r in result.tx_results],
        events=[event(e) for e in result.events],
        validator_updates=[validator_update(v) for v in result.validator_updates],
        app_hash=result.app_hash,
    )


def query_response(result: QueryResult) -> abci.ResponseQuery:
    resp = abci.ResponseQuery(code=result.code, codespace=result.codespace, log=result.log,
                              key=result.key, value=result.value, height=result.height)
    if result.proof is not None:
        resp.proof_ops.ops.append(proof_pb2.ProofOp(type=PROOF_OP_TYPE, key=result.key, data=result.proof))
    return resp


def event(e: Event) -> abci.Event:
    # index=True so CometBFT's tx indexer can search by any attribute (tx_search "transfer.sender=...").
    return abci.Event(type=e.type, attributes=[abci.EventAttribute(key=k, value=v, index=True)
                                               for k, v in e.attributes])


def validator_update(v: ValidatorUpdate) -> abci.ValidatorUpdate:
    return abci.ValidatorUpdate(pub_key=keys_pb2.PublicKey(ed25519=v.ed25519_public_key), power=v.power)


def commit_extensions(commit: abci.ExtendedCommitInfo) -> list[tuple[bytes, bytes]]:
    """(validator address, vote extension) of every precommit for the block in the extended commit."""
    return [(v.validator.address, v.vote_extension) for v in commit.votes
            if v.block_id_flag == 2 and v.vote_extension]  # BLOCK_ID_FLAG_COMMIT
