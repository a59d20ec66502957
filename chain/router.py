"""Message type -> handler. Handlers take (state, block context, signer, msg) and return events."""
from __future__ import annotations

from chain.bank.handlers import process_send
from chain.bridge import handlers as bridge
from chain.tx.errors import UnknownMessage
from chain.registry import handlers as registry
from chain.results import BlockContext
from chain.rounds import close as rounds_close
from chain.rounds import handlers as rounds
from chain.rounds import reveal as rounds_reveal
from chain.rounds import aggregate_mode as rounds_aggregate
from chain.rounds import withhold as rounds_withhold
from chain.bank.messages import MsgSend
from chain.bridge.messages import (MsgBatchExecutedClaim, MsgCancelWithdraw, MsgConfirmBatch, MsgConfirmValset,
                                   MsgDepositClaim, MsgSetEvmAddress, MsgValsetUpdatedClaim, MsgWithdraw)
from chain.registry.messages import MsgFundBounty, MsgRegisterModel, MsgUploadWeights
from chain.rounds.messages import (MsgCloseModel, MsgJoinRound, MsgProveWithholding, MsgRevealShard, MsgSubmitMasked,
                                   MsgSubmitUpdate)
from chain.validators.messages import MsgCreateValidator, MsgUnbond
from chain.validators.handlers import process_create_validator, process_unbond

HANDLERS = {
    MsgSend: process_send,
    MsgCreateValidator: process_create_validator,
    MsgUnbond: process_unbond,
    MsgRegisterModel: registry.process_register_model,
    MsgUploadWeights: registry.process_upload_weights,
    MsgFundBounty: registry.process_fund_bounty,
    MsgRevealShard: rounds_reveal.process_reveal_shard,
    MsgCloseModel: rounds_close.process_close_model,
    MsgSubmitUpdate: rounds.process_submit_update,
    MsgProveWithholding: rounds_withhold.process_prove_withholding,
    MsgJoinRound: rounds_aggregate.process_join_round,
    MsgSubmitMasked: rounds_aggregate.process_submit_masked,
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
