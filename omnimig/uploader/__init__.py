"""Upload a validated bundle to Omnitron: ordered, resumable, and logged (see DESIGN.md, "Upload safety").

Every name below is loaded on first use (PEP 562), as in ``omnimig/__init__.py``: importing
``omnimig.uploader.credentials`` for ``omnimig.Token`` runs this file, and it must not drag in
httpx (the client) and pandas (the planner) for a script that only reads its token.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> the module of this package that defines it; loaded when first asked for.
_LAZY = {
    "PromptInterrupted": "api",
    "Skipped": "api",
    "UploadResult": "api",
    "read_token": "api",
    "upload_bundle": "api",
    "BadAnswer": "client",
    "HttpError": "client",
    "InsecureUrl": "client",
    "OmnitronClient": "client",
    "Progress": "client",
    "RetryPolicy": "client",
    "UncertainStart": "client",
    "Unreachable": "client",
    "UploadError": "client",
    "UploadRefused": "client",
    "BadToken": "credentials",
    "Token": "credentials",
    "JournalError": "journal",
    "RunLocked": "lock",
    "TEST_SET_CHECKS": "run",
    "ParameterError": "run",
    "PlanError": "run",
    "PollTimeout": "run",
    "RichReporter": "run",
    "UploadEvent": "run",
    "UploadPlan": "run",
    "UploadSummary": "run",
    "ValidationRefused": "run",
    "plan_upload": "run",
    "run_upload": "run",
}

__all__ = [
    "TEST_SET_CHECKS",
    "BadAnswer",
    "BadToken",
    "HttpError",
    "InsecureUrl",
    "JournalError",
    "OmnitronClient",
    "ParameterError",
    "PlanError",
    "PollTimeout",
    "Progress",
    "PromptInterrupted",
    "RetryPolicy",
    "RichReporter",
    "RunLocked",
    "Skipped",
    "Token",
    "UncertainStart",
    "Unreachable",
    "UploadError",
    "UploadEvent",
    "UploadPlan",
    "UploadRefused",
    "UploadResult",
    "UploadSummary",
    "ValidationRefused",
    "plan_upload",
    "read_token",
    "run_upload",
    "upload_bundle",
]

if TYPE_CHECKING:
    from omnimig.uploader.api import PromptInterrupted, Skipped, UploadResult, read_token, upload_bundle
    from omnimig.uploader.client import (
        BadAnswer,
        HttpError,
        InsecureUrl,
        OmnitronClient,
        Progress,
        RetryPolicy,
        UncertainStart,
        Unreachable,
        UploadError,
        UploadRefused,
    )
    from omnimig.uploader.credentials import BadToken, Token
    from omnimig.uploader.journal import JournalError
    from omnimig.uploader.lock import RunLocked
    from omnimig.uploader.run import (
        TEST_SET_CHECKS,
        ParameterError,
        PlanError,
        PollTimeout,
        RichReporter,
        UploadEvent,
        UploadPlan,
        UploadSummary,
        ValidationRefused,
        plan_upload,
        run_upload,
    )


def __getattr__(name: str) -> Any:
    # An unknown name must raise AttributeError: ``from omnimig.uploader import run`` relies on it
    # to fall back to importing the submodule.
    if name not in _LAZY:
        raise AttributeError(f"module 'omnimig.uploader' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"omnimig.uploader.{_LAZY[name]}"), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
