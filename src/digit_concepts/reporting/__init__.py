"""The plot stage's figures, sounds and offline HTML report."""
