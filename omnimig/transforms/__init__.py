"""Legacy exports into clean migration bundles: sources, normalisers, mapping files."""
