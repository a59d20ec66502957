"""The `Msg` oneof: every module's messages with their field numbers, the one place that lists them.

Field numbers are grouped by module: bank 1-9, validators 10-19, registry 20-22, rounds 23-24 and 40-59
(the shard reveal and model close were the registry's before rounds owned them), bridge 60-79.
Never reuse a number. The tx envelope (`chain.tx.envelope`) carries each message as these bytes.
"""
from __future__ import annotations

from chain.bank.messages import MsgSend
from chain.bridge.messages import (MsgBatchExecutedClaim, MsgCancelWithdraw, MsgConfirmBatch, MsgConfirmValset,
                                   MsgDepositClaim, MsgSetEvmAddress, MsgValsetUpdatedClaim, MsgWithdraw)
from chain.registry.messages import MsgFundBounty, MsgRegisterModel, MsgUploadWeights
from chain.rounds.messages import (MsgCloseModel, MsgJoinRound, MsgProveWithholding, MsgRevealShard, MsgSubmitMasked,
                                   MsgSubmitUpdate)
from chain.tx.errors import TxDecodeError
from chain.tx.wire import Field, Message, message
from chain.validators.messages import MsgCreateValidator, MsgUnbond


@message
class Msg(Message):
    send: MsgSend | None = None
    create_validator: MsgCreateValidator | None = None
    unbond: MsgUnbond | None = None
    register_model: MsgRegisterModel | None = None
    upload_weights: MsgUploadWeights | None = None
    fund_bounty: MsgFundBounty | None = None
    reveal_shard: MsgRevealShard | None = None
    close_model: MsgCloseModel | None = None
    submit_update: MsgSubmitUpdate | None = None
    prove_withholding: MsgProveWithholding | None = None
    join_round: MsgJoinRound | None = None
    submit_masked: MsgSubmitMasked | None = None
    set_evm_address: MsgSetEvmAddress | None = None
    deposit_claim: MsgDepositClaim | None = None
    valset_updated_claim: MsgValsetUpdatedClaim | None = None
    batch_executed_claim: MsgBatchExecutedClaim | None = None
    withdraw: MsgWithdraw | None = None
    cancel_withdraw: MsgCancelWithdraw | None = None
    confirm_batch: MsgConfirmBatch | None = None
    confirm_valset: MsgConfirmValset | None = None
    SCHEMA = (Field(1, "send", "message", MsgSend),
              Field(10, "create_validator", "message", MsgCreateValidator),
              Field(11, "unbond", "message", MsgUnbond),
              Field(20, "register_model", "message", MsgRegisterModel),
              Field(21, "upload_weights", "message", MsgUploadWeights),
              Field(22, "fund_bounty", "message", MsgFundBounty),
              Field(23, "reveal_shard", "message", MsgRevealShard),
              Field(24, "close_model", "message", MsgCloseModel),
              Field(40, "submit_update", "message", MsgSubmitUpdate),
              Field(41, "prove_withholding", "message", MsgProveWithholding),
              Field(42, "join_round", "message", MsgJoinRound),
              Field(43, "submit_masked", "message", MsgSubmitMasked),
              Field(60, "set_evm_address", "message", MsgSetEvmAddress),
              Field(61, "deposit_claim", "message", MsgDepositClaim),
              Field(62, "valset_updated_claim", "message", MsgValsetUpdatedClaim),
              Field(63, "batch_executed_claim", "message", MsgBatchExecutedClaim),
              Field(64, "withdraw", "message", MsgWithdraw),
              Field(65, "cancel_withdraw", "message", MsgCancelWithdraw),
              Field(66, "confirm_batch", "message", MsgConfirmBatch),
              Field(67, "confirm_valset", "message", MsgConfirmValset))

    def inner(self) -> Message:
        set_members = [getattr(self, f.name) for f in self.SCHEMA if getattr(self, f.name) is not None]
        if len(set_members) != 1:
            raise TxDecodeError(f"a Msg must set exactly one member, found {len(set_members)}")
        return set_members[0]

    @classmethod
    def wrap(cls, inner: Message) -> "Msg":
        for f in cls.SCHEMA:
            if f.message is type(inner):
                return cls(**{f.name: inner})
        raise TypeError(f"{type(inner).__name__} is not a Msg member")
