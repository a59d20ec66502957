"""bank: multi-denom balances, transfers and total supply per denom."""
