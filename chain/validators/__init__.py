"""validators: the bonded validator set, joining and leaving, and slashing on evidence.

Power changes reach CometBFT through FinalizeBlock's validator updates, which take effect two
blocks later (CometBFT's rule).
"""
