"""The `gradchain` command (click), on top of the SDK (client), the node (abci_app) and the relayer."""
