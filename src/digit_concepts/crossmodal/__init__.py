"""How the two senses relate: co-occurrence tables, the brain module, zones, fusion and generation."""
