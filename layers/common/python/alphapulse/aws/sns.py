"""A small SNS client for publishing (the Query protocol over HTTP(S), signed with SigV4).

Why not botocore: the rules function publishes its alerts with it, and importing botocore and building a
client cost 140 ms of its first invocation, more than the rest of its cold start (docs/decisions.md,
issue #15). Like `alphapulse.aws.sqs`, it is a `sigv4.ServiceClient`: one keep-alive connection per thread;
throttling, server errors and broken connections retried with backoff and full jitter.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

from alphapulse.aws.sigv4 import ServiceClient

API_VERSION = "2010-03-31"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
REQUEST_ATTEMPTS = 3
RETRYABLE_CODES = frozenset({"Throttling", "Throttled", "ThrottlingException", "RequestThrottled",
                             "InternalError", "InternalFailure", "ServiceUnavailable"})  # fmt: skip
# Publish's optional string parameters, passed through as they are.
PUBLISH_STRINGS = ("Subject", "MessageStructure", "MessageGroupId", "MessageDeduplicationId", "PhoneNumber")


class SnsError(Exception):
    """SNS refused the request (`code`), or could not be reached after the retries (`code` empty)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"SNS: {code}: {message}" if code else f"SNS: {message}")
        self.code = code


def publish_form(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Publish's parameters, as botocore takes them, in the Query protocol's form fields."""
    unknown = set(params) - {"TopicArn", "TargetArn", "Message", "MessageAttributes", *PUBLISH_STRINGS}
    if unknown:
        raise SnsError("InvalidParameter", f"unsupported Publish parameters: {', '.join(sorted(unknown))}")
    if not isinstance(params.get("Message"), str):
        raise SnsError("InvalidParameter", "Message must be a string")
    form = [("Action", "Publish"), ("Version", API_VERSION)]
    form += [(name, str(params[name])) for name in ("TopicArn", "TargetArn", "Message", *PUBLISH_STRINGS)
             if params.get(name) is not None]  # fmt: skip
    for index, (name, value) in enumerate(params.get("MessageAttributes", {}).items(), start=1):
        entry = f"MessageAttributes.entry.{index}"
        form += [(f"{entry}.Name", name), (f"{entry}.Value.DataType", value["DataType"])]
        if "StringValue" in value:
            form.append((f"{entry}.Value.StringValue", value["StringValue"]))
    return form


def _query_answer(payload: bytes) -> tuple[dict[str, Any], str]:
    """The leaves of a Query-protocol XML answer by tag (`MessageId`; an error's `Code` and `Message`)."""
    from xml.etree import ElementTree  # AWS's own answer, over the signed connection

    if not payload:
        return {}, ""
    try:
        root = ElementTree.fromstring(payload)  # noqa: S314 (expat refuses entity expansion bombs; no external entities)
    except ElementTree.ParseError:
        return {"Message": payload[:200].decode("utf-8", "replace")}, "UnknownError"
    leaves = {element.tag.rsplit("}", 1)[-1]: element.text or "" for element in root.iter() if len(element) == 0}
    return leaves, leaves.get("Code", "UnknownError" if root.tag.endswith("ErrorResponse") else "")


class SnsClient(ServiceClient):
    """Thread-safe; `publish` takes botocore's parameters and returns its answer's MessageId."""

    SERVICE = "sns"

    @classmethod
    def unreachable(cls, message: str) -> Exception:
        return SnsError("", message)

    def publish(self, **params: Any) -> dict[str, Any]:
        """Publish (TopicArn or TargetArn, Message, and MessageAttributes of String values and the like)."""
        body = urlencode(publish_form(params), quote_via=quote).encode()
        status, answer = self._exchange("Publish", body, {"content-type": FORM_CONTENT_TYPE},
                                        decode=_query_answer, attempts=REQUEST_ATTEMPTS,
                                        retryable_codes=RETRYABLE_CODES)  # fmt: skip
        if status < 300:
            return {"MessageId": answer.get("MessageId", "")}
        raise SnsError(answer.get("Code", "UnknownError"), answer.get("Message") or str(status))


@lru_cache(maxsize=1)
def client() -> SnsClient:
    """The process's SNS client, created at first use and reused across invocations."""
    return SnsClient.from_environment()


def reset() -> None:
    """Forget the client (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
