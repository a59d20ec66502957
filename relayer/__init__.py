"""The bridge's off-chain side: EVM helpers, the orchestrator, set-up before genesis, a bridged testnet."""
