"""The router's endpoint subscriptions on the moto server: https with confirmation, signatures, filter policies
and retries; email, email-json and sms recorded in the outbox; the /_local/sns answers."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from devstack.events.notifications import CERTIFICATE, PATH, DeliverySettings, Notifier
from devstack.events.router import EventRouter, provision_messaging
from devstack.template.resolve import LocalResolver, read_template
from tests.devstack.events.conftest import FIXTURES, POLL_WAIT, Calls
from tests.sns_endpoint import SnsEndpoint

BASE_URL = "http://127.0.0.1:1"  # the stack's HTTP server; the tests call Notifier.answer themselves
RETRY_DELAYS = (0.05, 0.05)


class Notifications:
    """The fixture template's topic and its endpoint subscriptions, routed to `endpoint` (https)."""

    def __init__(self, moto_server: str, outbox: Path) -> None:
        self.moto_server, self.outbox = moto_server, outbox
        self.router: EventRouter | None = None
        self.topic = ""
        self.sns: Any = None

    def start(self, endpoint: SnsEndpoint, *, ca_bundle: Path | None, severities: str = "critical") -> EventRouter:
        import boto3

        template, parameters = read_template(FIXTURES / "notifications.yaml",
                                             {"WebhookUrl": endpoint.url, "WebhookSeverities": severities})  # fmt: skip
        provisioned = provision_messaging(template, self.moto_server, values=parameters)
        self.topic = provisioned["Topic"]
        self.sns = boto3.client("sns", endpoint_url=self.moto_server, region_name="us-east-1")
        delivery = DeliverySettings(base_url=BASE_URL, outbox=self.outbox, ca_bundle=ca_bundle,
                                    retry_delays=RETRY_DELAYS)  # fmt: skip
        self.router = EventRouter(template, LocalResolver(template, {**parameters, **provisioned}), self.moto_server,
                                  Calls(), poll_wait=POLL_WAIT, delivery=delivery)  # fmt: skip
        self.router.start()
        self.notifier.subscribe()  # as the stack does once it serves the SubscribeURLs
        return self.router

    @property
    def notifier(self) -> Notifier:
        assert self.router is not None and self.router.notifier is not None
        return self.router.notifier

    def get(self, url: str) -> tuple[int, bytes, list[tuple[str, str]]]:
        """What the stack's HTTP server answers to a GET of one of the notifier's URLs."""
        parts = urlsplit(url)
        assert url.startswith(BASE_URL + PATH), url
        return self.notifier.answer(parts.path, dict(parse_qsl(parts.query)))

    def confirm(self, url: str) -> None:
        status, body, _ = self.get(url)
        assert status == 200, body

    def publish(self, severity: str, message: str = "", subject: str | None = None) -> str:
        options = {"Subject": subject} if subject else {}
        attributes = {"severity": {"DataType": "String", "StringValue": severity}}
        published = self.sns.publish(TopicArn=self.topic, Message=message or f"{severity} alert", **options,
                                     MessageAttributes=attributes)  # fmt: skip
        message_id: str = published["MessageId"]
        return message_id

    def outbox_of(self, protocol: str, count: int) -> list[dict[str, Any]]:
        """The outbox's records of `protocol`, once there are `count`."""
        path = self.outbox / f"{protocol}.jsonl"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
            if len(records) >= count:
                return records
            time.sleep(0.05)
        raise AssertionError(f"{protocol}: fewer than {count} records in the outbox")

    def stop(self) -> None:
        if self.router is not None:
            self.router.stop()


@pytest.fixture
def notifications(moto_server: str, tmp_path: Path) -> Iterator[Notifications]:
    before = set(threading.enumerate())
    running = Notifications(moto_server, tmp_path / "outbox")
    yield running
    running.stop()
    assert not [thread for thread in set(threading.enumerate()) - before if thread.name.startswith("events-")]


def endpoint_confirming(notifications: Notifications) -> SnsEndpoint:
    return SnsEndpoint(tls=True, confirm=notifications.confirm)


def verify_signature(notifications: Notifications, body: dict[str, Any], signed: str, digest: Any) -> None:
    """`signed` (the fields SNS signs, written out by the test) verifies against the certificate at SigningCertURL."""
    status, pem, _ = notifications.get(body["SigningCertURL"])
    assert status == 200
    key = x509.load_pem_x509_certificate(pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(body["Signature"]), signed.encode(), padding.PKCS1v15(), digest)


# --- https ---


def test_https_endpoint_gets_a_signed_confirmation_then_only_the_severities_it_filters(
    notifications: Notifications,
) -> None:
    with endpoint_confirming(notifications) as endpoint:
        notifications.start(endpoint, ca_bundle=endpoint.ca_file)

        (confirmation,) = endpoint.wait_for("SubscriptionConfirmation")
        body = confirmation.json()
        assert confirmation.headers["x-amz-sns-topic-arn"] == notifications.topic
        assert confirmation.headers["x-amz-sns-message-id"] == body["MessageId"]
        assert confirmation.headers["content-type"] == "text/plain; charset=UTF-8"
        assert "x-amz-sns-subscription-arn" not in confirmation.headers
        assert (body["Type"], body["TopicArn"]) == ("SubscriptionConfirmation", notifications.topic)
        assert body["Token"] in body["SubscribeURL"] and body["SubscribeURL"].startswith(BASE_URL + PATH)
        signed = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
        verify_signature(notifications, body, "".join(f"{key}\n{body[key]}\n" for key in signed), hashes.SHA256())
        _wait_confirmed(notifications)

        notifications.publish("warning")
        critical_id = notifications.publish("critical", "disk full", subject="Disk")

        (delivery,) = endpoint.wait_for("Notification")  # in order: the warning was passed over before
        notice = delivery.json()
        assert delivery.headers["x-amz-sns-message-id"] == critical_id == notice["MessageId"]
        assert delivery.headers["x-amz-sns-topic-arn"] == notifications.topic
        assert delivery.headers["x-amz-sns-subscription-arn"].startswith(notifications.topic + ":")
        assert delivery.headers["content-type"] == "text/plain; charset=UTF-8"
        assert set(notice) == {"Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                               "Signature", "SigningCertURL", "UnsubscribeURL", "MessageAttributes"}  # fmt: skip
        assert (notice["Subject"], notice["Message"], notice["SignatureVersion"]) == ("Disk", "disk full", "2")
        assert notice["MessageAttributes"] == {"severity": {"Type": "String", "Value": "critical"}}
        assert delivery.headers["x-amz-sns-subscription-arn"] in notice["UnsubscribeURL"]
        verify_signature(notifications, notice, f"Message\ndisk full\nMessageId\n{critical_id}\nSubject\nDisk\n"
                         f"Timestamp\n{notice['Timestamp']}\nTopicArn\n{notifications.topic}\nType\nNotification\n",
                         hashes.SHA256())  # fmt: skip
        time.sleep(0.3)
        assert len(endpoint.of("Notification")) == 1


def _wait_confirmed(notifications: Notifications) -> None:
    """The endpoint confirms on a thread of its own, once it has answered the confirmation."""
    deadline = time.monotonic() + 10
    while not all(endpoint.confirmed for endpoint in notifications.notifier._endpoints.values()):
        assert time.monotonic() < deadline, "the endpoint did not confirm"
        time.sleep(0.02)


def test_unconfirmed_endpoint_gets_no_notification(notifications: Notifications) -> None:
    with SnsEndpoint(tls=True) as endpoint:  # never fetches its SubscribeURL
        notifications.start(endpoint, ca_bundle=endpoint.ca_file)
        (confirmation,) = endpoint.wait_for("SubscriptionConfirmation")

        notifications.publish("critical", "before")
        notifications.outbox_of("sms", 1)  # the message was routed: the SMS subscription has it
        assert endpoint.of("Notification") == []

        notifications.confirm(confirmation.json()["SubscribeURL"])
        notifications.publish("critical", "after")
        (delivery,) = endpoint.wait_for("Notification")
        assert delivery.json()["Message"] == "after"  # SNS keeps nothing for a pending subscription


def test_failures_and_5xx_are_retried_and_4xx_is_not(notifications: Notifications) -> None:
    with endpoint_confirming(notifications) as endpoint:
        notifications.start(endpoint, ca_bundle=endpoint.ca_file)
        endpoint.wait_for("SubscriptionConfirmation")
        _wait_confirmed(notifications)

        endpoint.statuses[:] = [500, 503, 200, 400]
        retried = notifications.publish("critical", "retried")
        endpoint.wait_for("Notification", 3)
        refused = notifications.publish("critical", "refused")
        notifications.publish("critical", "last")
        deliveries = endpoint.wait_for("Notification", 5)

        ids = [delivery.headers["x-amz-sns-message-id"] for delivery in deliveries]
        assert ids[:3] == [retried] * 3  # two failures, then delivered
        assert ids[3] == refused and [d.json()["Message"] for d in deliveries[4:]] == ["last"]  # 400: final


def test_retries_end_after_the_last_delay(notifications: Notifications) -> None:
    with endpoint_confirming(notifications) as endpoint:
        notifications.start(endpoint, ca_bundle=endpoint.ca_file)
        endpoint.wait_for("SubscriptionConfirmation")
        _wait_confirmed(notifications)

        endpoint.statuses[:] = [500] * (1 + len(RETRY_DELAYS))
        notifications.publish("critical", "lost")
        notifications.publish("critical", "next")

        deliveries = endpoint.wait_for("Notification", 1 + len(RETRY_DELAYS) + 1)
        assert [d.json()["Message"] for d in deliveries] == ["lost"] * (1 + len(RETRY_DELAYS)) + ["next"]


def test_https_certificate_from_an_untrusted_authority_is_refused_and_nothing_secret_is_logged(
    notifications: Notifications, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="devstack.events.notifications")
    with endpoint_confirming(notifications) as endpoint:
        notifications.start(endpoint, ca_bundle=None)  # the system's trust store only

        deadline = time.monotonic() + 10
        while len(_failures(caplog)) < 1 + len(RETRY_DELAYS):
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)

        assert endpoint.deliveries == []  # the TLS handshake failed: no request reached it
        assert "ConnectError" in _failures(caplog)[0]
        token = parse_qsl(urlsplit(notifications.notifier._confirmation(
            next(iter(notifications.notifier._endpoints.values())))["SubscribeURL"]).query)  # fmt: skip
        assert dict(token)["Token"] not in caplog.text
        assert endpoint.url not in caplog.text and str(endpoint.port) not in caplog.text


def _failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if "failed" in record.getMessage()]


def test_unsubscribe_url_stops_deliveries(notifications: Notifications) -> None:
    with endpoint_confirming(notifications) as endpoint:
        notifications.start(endpoint, ca_bundle=endpoint.ca_file)
        endpoint.wait_for("SubscriptionConfirmation")
        _wait_confirmed(notifications)
        notifications.publish("critical", "first")
        (first,) = endpoint.wait_for("Notification")

        status, body, _ = notifications.get(first.json()["UnsubscribeURL"])
        assert status == 200 and b"<UnsubscribeResponse" in body
        notifications.publish("critical", "second")

        assert [record["message"] for record in notifications.outbox_of("sms", 2)] == ["first", "second"]
        assert len(endpoint.of("Notification")) == 1


# --- email, email-json, sms ---


def test_email_and_sms_deliveries_are_recorded_after_their_filter_policies(notifications: Notifications) -> None:
    with SnsEndpoint(tls=True) as endpoint:
        notifications.start(endpoint, ca_bundle=endpoint.ca_file)
        info = notifications.publish("info", "fyi")
        warning = notifications.publish("warning", "careful", subject="Heads up")
        critical = notifications.publish("critical", "now")

        (sms,) = notifications.outbox_of("sms", 1)
        emails = notifications.outbox_of("email", 2)
        feeds = notifications.outbox_of("email-json", 3)

    assert (sms["endpoint"], sms["message_id"], sms["message"]) == ("+15550100", critical, "now")
    assert sms["message_attributes"] == {"severity": {"Type": "String", "Value": "critical"}}
    assert [(e["message_id"], e["subject"], e["message"]) for e in emails] == [
        (warning, "Heads up", "careful"), (critical, "AWS Notification Message", "now")]  # fmt: skip
    assert {e["endpoint"] for e in emails} == {"ops@example.com"}
    assert [feed["message_id"] for feed in feeds] == [info, warning, critical]  # no filter policy
    notice = feeds[0]["message"]
    assert (notice["Type"], notice["MessageId"], notice["Message"]) == ("Notification", info, "fyi")
    assert {"Signature", "SigningCertURL", "UnsubscribeURL"} <= set(notice)
    assert len(notifications.outbox_of("sms", 1)) == 1  # every message had been routed: info and warning were not


# --- /_local/sns ---


def test_local_sns_answers_refuse_wrong_tokens_unknown_subscriptions_and_actions(
    notifications: Notifications,
) -> None:
    with SnsEndpoint(tls=True) as endpoint:
        notifications.start(endpoint, ca_bundle=endpoint.ca_file)
        (confirmation,) = endpoint.wait_for("SubscriptionConfirmation")
        url = confirmation.json()["SubscribeURL"]
        token = confirmation.json()["Token"]

        assert notifications.get(url.replace(token, "0" * len(token)))[0] == 400
        other_topic = url.replace(urlsplit(url).query, f"Action=ConfirmSubscription&TopicArn=arn:x&Token={token}")
        assert notifications.get(other_topic)[0] == 400
        status, body, _ = notifications.get(f"{BASE_URL}{PATH}?Action=Unsubscribe&SubscriptionArn=arn:none")
        assert status == 404 and b"NotFound" in body
        assert notifications.get(f"{BASE_URL}{PATH}?Action=Publish")[0] == 400
        assert endpoint.of("Notification") == []
        status, body, _ = notifications.get(url)
        assert status == 200 and b"<SubscriptionArn>" + notifications.topic.encode() in body
        assert notifications.get(BASE_URL + CERTIFICATE)[1].startswith(b"-----BEGIN CERTIFICATE-----")


def test_router_refuses_endpoint_subscriptions_without_delivery_settings(moto_server: str) -> None:
    template, parameters = read_template(FIXTURES / "notifications.yaml", {"WebhookUrl": "https://127.0.0.1:9/x"})

    with pytest.raises(ValueError, match="DeliverySettings"):
        EventRouter(template, LocalResolver(template, parameters), moto_server, Calls())
