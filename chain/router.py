"""Message type -> handler. Handlers take (state, block context, signer, msg) and return events."""
from __future__ import annotations

from chain.bank.handlers import process_send
from chain.bridge import handlers as bridge
from chain.errors import UnknownMessage
from chain.registry import handlers as registry
from chain.results import BlockContext
from chain.rounds import handlers as rounds
from chain.tx.messages import (MsgBatchExecutedClaim, MsgCancelWithdraw, MsgCloseModel, MsgConfirmBatch,
                               MsgConfirmValset, MsgCreateValidator, MsgDepositClaim, MsgFundBounty, MsgRegisterModel,
                               MsgRevealShard, MsgSend, MsgSetEvmAddress, MsgSubmitUpdate, MsgUnbond, MsgUploadWeights,
                               MsgValsetUpdatedClaim, MsgWithdraw)
from chain.validators.handlers import process_create_validator, process_unbond

HANDLERS = {
    MsgSend: process_send,
    MsgCreateValidator: process_create_validator,
    MsgUnbond: process_unbond,
    MsgRegisterModel: registry.process_register_model,
    MsgUploadWeights: registry.process_upload_weights,
    MsgFundBounty: registry.process_fund_bounty,
    MsgRevealShard: registry.process_reveal_shard,
    MsgCloseModel: registry.process_close_model,
    MsgSubmitUpdate: rounds.process_submit_update,
    MsgSetEvmAddress: bridge.process_set_evm_address,
    MsgDepositClaim: bridge.process_deposit_claim,
    MsgValsetUpdatedClaim: bridge.process_valset_updated_claim,
    MsgBatchExecutedClaim: bridge.process_batch_executed_claim,
    MsgWithdraw: bridge.process_withdraw,
    MsgCancelWithdraw: bridge.process_cancel_withdraw,
    MsgConfirmBatch: bridge.process_confirm_batch,
    MsgConfirmValset: bridge.process_confirm_valset,
}


def process_message(state, ctx: BlockContext, signer: bytes, msg):
    handler = HANDLERS.get(type(msg))
    if handler is None:
        raise UnknownMessage(f"no handler for {type(msg).__name__}")
    return handler(state, ctx, signer, msg)
