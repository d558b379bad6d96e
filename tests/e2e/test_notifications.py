"""Notification channels through `make run`'s stack: the template's webhook, email and SMS subscriptions of the
alerts topic, from --parameter-overrides, delivered as SNS delivers them and filtered on `severity`."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.conftest import DEMO_USERS, ROOT
from tests.e2e.conftest import RunningStack, start_stack, stop_stack
from tests.sns_endpoint import SnsEndpoint

pytestmark = pytest.mark.e2e

TIMEOUT = 30.0


def confirm(subscribe_url: str) -> None:
    """What a webhook does with its SubscriptionConfirmation: fetch the SubscribeURL."""
    httpx.get(subscribe_url, timeout=10).raise_for_status()


@pytest.fixture(scope="module")
def webhook() -> Iterator[SnsEndpoint]:
    with SnsEndpoint(tls=True, confirm=confirm) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def stack(webhook: SnsEndpoint, outbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack("--parameter-overrides", f"AlertWebhookUrl={webhook.url}", "AlertWebhookSeverities=critical",
                          "AlertEmail=ops@example.com", "AlertSmsNumber=+15551234567",
                          logs=tmp_path_factory.mktemp("stack"), DEVSTACK_CA_BUNDLE=str(webhook.ca_file),
                          DEVSTACK_OUTBOX=str(outbox))  # fmt: skip
    yield running
    stop_stack(running)


def publish_alert(stack: RunningStack, severity: str, dedup_key: str) -> None:
    """`python -m devstack alert`, as a person would publish one."""
    message = {"tenant_id": "default", "title": f"{severity} test", "message": f"a {severity} alert",
               "severity": severity, "source": "e2e", "dedup_key": dedup_key, "status": "firing",
               "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}  # fmt: skip
    ports = {"HTTP_PORT": stack.base_url.rsplit(":", 1)[1], "AWS_PORT": stack.aws_endpoint.rsplit(":", 1)[1]}
    result = subprocess.run([sys.executable, "-m", "devstack", "alert", json.dumps(message)], cwd=ROOT,
                            env={**os.environ, **ports}, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def stored_alert(stack: RunningStack, dedup_key: str) -> dict[str, Any]:
    """The alert with this dedup key, once alert ingest has stored it (read over REST)."""
    login = {"username": "admin", "password": DEMO_USERS["admin"][2]}
    token = httpx.post(f"{stack.base_url}/api/v1/auth/token", data=login, timeout=20).json()["access_token"]
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        reply = httpx.get(f"{stack.base_url}/api/v1/alerts", params={"limit": 100}, timeout=20,
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert reply.status_code == 200, reply.text
        found = [alert for alert in reply.json()["items"] if alert.get("dedup_key") == dedup_key]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no alert {dedup_key} stored within {TIMEOUT} s")


def outbox_records(outbox: Path, protocol: str, dedup_keys: set[str], count: int) -> list[dict[str, Any]]:
    """The outbox's records of `protocol` for these alerts, once there are `count` (fails after TIMEOUT)."""
    path, records = outbox / f"{protocol}.jsonl", []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        records = [r for r in map(json.loads, lines) if json.loads(r["message"])["dedup_key"] in dedup_keys]
        if len(records) >= count:
            return records
        time.sleep(0.2)
    raise AssertionError(f"{protocol}: {len(records)} records, expected {count}")


def test_webhook_confirms_then_gets_critical_alerts_only_and_email_sms_follow_their_filters(
    stack: RunningStack, webhook: SnsEndpoint, outbox: Path
) -> None:
    (confirmation,) = webhook.wait_for("SubscriptionConfirmation", timeout=TIMEOUT)
    assert confirmation.json()["TopicArn"] == stack.outputs["AlertsTopicArn"]
    run = uuid.uuid4().hex[:8]
    keys = {severity: f"e2e:{run}:{severity}" for severity in ("warning", "error", "critical")}

    # Given a warning and an error alert that the stack has processed (stored, readable over REST)...
    publish_alert(stack, "warning", keys["warning"])
    publish_alert(stack, "error", keys["error"])
    assert stored_alert(stack, keys["warning"])["severity"] == "warning"
    assert stored_alert(stack, keys["error"])["severity"] == "error"
    # ...when a critical one follows, the webhook gets it, and it alone (one endpoint's deliveries are in order).
    publish_alert(stack, "critical", keys["critical"])

    (delivery,) = webhook.wait_for("Notification", timeout=TIMEOUT)
    notice = delivery.json()
    assert json.loads(notice["Message"])["dedup_key"] == keys["critical"]
    assert notice["MessageAttributes"]["severity"] == {"Type": "String", "Value": "critical"}
    assert delivery.headers["x-amz-sns-topic-arn"] == stack.outputs["AlertsTopicArn"]
    assert delivery.headers["x-amz-sns-subscription-arn"] in notice["UnsubscribeURL"]
    assert stored_alert(stack, keys["critical"])["severity"] == "critical"
    # Signed as SNS signs (SignatureVersion 1, SHA1withRSA), with the certificate at SigningCertURL.
    certificate = x509.load_pem_x509_certificate(httpx.get(notice["SigningCertURL"], timeout=10).content)
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and notice["SignatureVersion"] == "1"
    signed = "".join(f"{name}\n{notice[name]}\n" for name in ("Message", "MessageId", "Timestamp", "TopicArn", "Type"))
    key.verify(base64.b64decode(notice["Signature"]), signed.encode(), padding.PKCS1v15(), hashes.SHA1())  # noqa: S303

    # Email takes error and critical (its default), SMS critical only.
    emails = outbox_records(outbox, "email", set(keys.values()), 2)
    assert sorted(json.loads(e["message"])["severity"] for e in emails) == ["critical", "error"]
    assert {e["endpoint"] for e in emails} == {"ops@example.com"}
    (sms,) = outbox_records(outbox, "sms", set(keys.values()), 1)
    assert (sms["endpoint"], json.loads(sms["message"])["severity"]) == ("+15551234567", "critical")
    assert len(webhook.of("Notification")) == 1
