"""Upload a validated bundle to Omnitron: ordered, resumable, and logged (see DESIGN.md, "Upload safety")."""

from omnimig.uploader.api import PromptInterrupted, Skipped, UploadResult, read_token, upload_bundle
from omnimig.uploader.client import (
    BadAnswer,
    BadToken,
    HttpError,
    InsecureUrl,
    OmnitronClient,
    Progress,
    RetryPolicy,
    Token,
    UncertainStart,
    Unreachable,
    UploadError,
    UploadRefused,
)
from omnimig.uploader.journal import JournalError
from omnimig.uploader.lock import RunLocked
from omnimig.uploader.run import (
    TEST_SET_CHECKS,
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

__all__ = [
    "TEST_SET_CHECKS",
    "BadAnswer",
    "BadToken",
    "HttpError",
    "InsecureUrl",
    "JournalError",
    "OmnitronClient",
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
