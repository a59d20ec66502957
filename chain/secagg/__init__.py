"""Secure aggregation for aggregate-mode rounds (issue 14): pairwise and self masks that cancel in a
cohort's sum (masks.py, Bonawitz et al. 2017 with double masking) and the assignment of a round's joiners
to cohorts (cohorts.py). Pure and deterministic: the chain and the SDK compute the same bits."""
