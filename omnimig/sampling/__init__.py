"""Sample bundles: generated ones (valid or with planted defects) and test sets picked from real bundles."""
