"""The validation engine: field rules, problems and reports."""
