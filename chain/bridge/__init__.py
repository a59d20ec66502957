"""bridge: vouchers for ERC-20 tokens locked in an EVM bridge contract, Gravity-Bridge style.

Validators attest the contract's events (deposits, valset updates, executed batches) in gapless
event-nonce order; an event takes effect when validators holding more than 2/3 of the voting power
attest the same content. Withdrawals escrow vouchers and leave in batches the validators sign with
their EVM keys; the vouchers are burnt once the executed batch is attested. See docs/bridge.md.
"""
