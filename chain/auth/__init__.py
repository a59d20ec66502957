"""auth: accounts' sequence numbers, the fee and the ordered ante pipeline."""
