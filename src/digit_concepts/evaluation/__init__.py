"""Scoring against the labels (only here), the coherence classifiers, the transfer proxies, the LOSO
summary and sweeps of many runs."""
