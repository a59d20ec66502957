"""Generated ABCI protobuf messages (CometBFT v0.38.25). Do not edit: regenerate with scripts/gen_proto.sh.

Import as `from abci_app.proto.tendermint.abci import types_pb2 as abci`.
"""
