"""omnimig: lint, convert, sample and upload Akinon (Omnitron) data-migration files.

The public API, documented in ``docs/api.md``::

    import omnimig

    report = omnimig.validate("bundle/")
    if not report.valid:
        report.write("report.xlsx")

Every name in ``__all__`` is loaded on first use (PEP 562), so ``import omnimig`` costs
milliseconds and ``omnimig --help`` does not pay for pandas and pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from omnimig.exceptions import (
    Error,
    ReadError,
    SampleError,
    SchemaError,
    TransformError,
    UploadError,
    UploadRefused,
    UsageError,
    WriteError,
)

__version__ = "0.1.0"

# name -> the module that defines it; loaded when first asked for.
_LAZY = {
    "validate": "omnimig.api",
    "fix": "omnimig.api",
    "transform": "omnimig.api",
    "samples": "omnimig.api",
    "test_set": "omnimig.api",
    "upload": "omnimig.api",
    "Token": "omnimig.uploader.credentials",
    "Report": "omnimig.validation.result",
    "Problem": "omnimig.validation.problem",
    "FileResult": "omnimig.validation.problem",
    "schemas": "omnimig.schemas",
}

__all__ = [
    "Error",
    "FileResult",
    "Problem",
    "ReadError",
    "Report",
    "SampleError",
    "SchemaError",
    "Token",
    "TransformError",
    "UploadError",
    "UploadRefused",
    "UsageError",
    "WriteError",
    "__version__",
    "fix",
    "samples",
    "schemas",
    "test_set",
    "transform",
    "upload",
    "validate",
]

if TYPE_CHECKING:
    from omnimig import schemas
    from omnimig.api import fix, samples, test_set, transform, upload, validate
    from omnimig.uploader.credentials import Token
    from omnimig.validation.problem import FileResult, Problem
    from omnimig.validation.result import Report


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'omnimig' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name])
    value = module if module.__name__ == f"omnimig.{name}" else getattr(module, name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
