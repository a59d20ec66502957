"""registry: models, their committed validation shards, bounty escrows, reveals and the scoring queue.

An owner registers a spec (data, never code), commits to the initial weights by hash and to hidden
validation shards by a Merkle root, and escrows a bounty (any denom) plus a native bond in the module
account `registry_escrow`. The weights are uploaded in chunks; once complete and valid the model is
ACTIVE and its rounds run back to back. After a round's submissions close the owner reveals one shard
with its proof; the chain queues "score the head version on this shard" and works through the queue
at the end of each block within a work budget. docs/registry.md has the rules and the state layout.
"""
