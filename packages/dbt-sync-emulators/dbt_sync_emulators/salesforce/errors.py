"""Error values shared by every layer of the Salesforce emulator.

Salesforce reports problems in two shapes: a whole request fails with an HTTP
status and a JSON array of ``{message, errorCode[, fields]}``, or one record
of a batch fails and the batch carries on. Keeping the two as distinct types
stops a per-record problem from accidentally aborting a batch (and the other
way round).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordError:
    """Why one record could not be written (Collections ``statusCode`` / Bulk ``sf__Error``)."""

    code: str
    message: str
    fields: tuple[str, ...] = ()

    def as_collection_error(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}

    def as_rest_error(self) -> dict[str, Any]:
        return {"message": self.message, "errorCode": self.code, "fields": list(self.fields)}

    def as_bulk_error(self) -> str:
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"


@dataclass
class ApiError(Exception):
    """A whole request fails; rendered as ``status`` + ``[{"message","errorCode"[,"fields"]}]``."""

    status: int
    code: str
    message: str
    fields: list[str] | None = None
    extra: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item, *self.extra]


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> ApiError:
    # Always the list form: simple-salesforce indexes result.json()[0] on any 401.
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


ROW_LOCK = RecordError("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")
ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)
