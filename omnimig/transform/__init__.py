"""omnimig transform: legacy exports into clean upload bundles."""
