"""``omnimig fix``: safe, unambiguous corrections of Akinon-shaped files, through the transform normalisers.

``engine`` derives each field's fixer from the rule files and checks every correction with the
validator's own column check; ``run`` reads the files, corrects the failing cells, writes the
corrected copies and ``changes.csv``, and validates the result.
"""
