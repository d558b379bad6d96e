"""SNS's delivery to the template's http, https, email, email-json and sms subscriptions, done by the router.

moto's own http delivery is one unsigned POST, with no confirmation and no retries, so these subscriptions
are not created in moto: the router reads their topic as it does for functions, applies each filter policy,
and hands the message to a Notifier, which delivers as SNS does.

- http, https: a SubscriptionConfirmation first, and notifications only once the endpoint has fetched its
  SubscribeURL (the local stack serves it, see `answer`). SNS's JSON bodies, headers and signatures. A
  connection failure or a 5xx is retried after each of `retry_delays` (SNS: three retries, 20 s apart);
  any other answer is final. https certificates are verified against the system's trust store and the
  extra authorities of `ca_bundle` (DEVSTACK_CA_BUNDLE).
- email, email-json, sms: nothing is sent. Each delivery is one JSON line in `<outbox>/<protocol>.jsonl`,
  and no confirmation is asked for (SNS mails a link to email subscribers).
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import secrets
import ssl
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from devstack.events.patterns import filter_policy_matches

log = logging.getLogger(__name__)

PROTOCOLS = ("http", "https", "email", "email-json", "sms")
HTTP = ("http", "https")
PATH = "/_local/sns"  # SubscribeURL, UnsubscribeURL and SigningCertURL, on the stack's HTTP port
CERTIFICATE = f"{PATH}/SimpleNotificationService.pem"
XMLNS = "http://sns.amazonaws.com/doc/2010-03-31/"
DEFAULT_SUBJECT = "AWS Notification Message"  # an email's subject when the message has none
# The fields SNS signs, in this order (a field the message lacks is left out).
SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


@dataclass(frozen=True)
class EndpointSubscription:
    """An SNS subscription of an endpoint (PROTOCOLS): delivered by the Notifier."""

    topic_arn: str
    protocol: str
    endpoint: str
    filter_policy: dict[str, Any]
    scope: str
    arn: str
    raw: bool = False  # RawMessageDelivery: http(s) endpoints get the message alone


@dataclass(frozen=True)
class DeliverySettings:
    base_url: str  # the local stack's HTTP server, which answers PATH
    outbox: Path  # email, email-json and sms deliveries are recorded here
    ca_bundle: Path | None = None  # authorities trusted besides the system's, for https endpoints
    retry_delays: Sequence[float] = (1.0, 1.0, 1.0)
    timeout: float = 15.0  # SNS gives an http endpoint 15 s to answer


def string_to_sign(body: Mapping[str, str]) -> str:
    """What SNS signs of a notification or a subscription confirmation."""
    return "".join(f"{key}\n{body[key]}\n" for key in SIGNED[body["Type"]] if key in body)


class Signer:
    """Signs as SNS does (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA), with a throwaway RSA certificate
    that the local stack serves at SigningCertURL."""

    def __init__(self) -> None:
        import trustme
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        authority = trustme.CA(organization_name="AlphaPulse local SNS", key_type=trustme.KeyType.RSA)
        certificate = authority.issue_cert("sns.local", key_type=trustme.KeyType.RSA)
        self.certificate_pem = certificate.cert_chain_pems[0].bytes()
        self._key = load_pem_private_key(certificate.private_key_pem.bytes(), password=None)

    def sign(self, body: Mapping[str, str]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        assert isinstance(self._key, rsa.RSAPrivateKey)
        digest = hashes.SHA1() if body["SignatureVersion"] == "1" else hashes.SHA256()  # noqa: S303 (SNS's v1)
        return base64.b64encode(self._key.sign(string_to_sign(body).encode(), padding.PKCS1v15(), digest)).decode()


def trust(ca_bundle: Path | None) -> ssl.SSLContext:
    """The system's trusted authorities, and those of `ca_bundle`."""
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Endpoint:
    """An http(s) subscription's state: its token, whether it is confirmed, and its deliveries in order."""

    subscription: EndpointSubscription
    token: str = field(default_factory=lambda: secrets.token_hex(64))
    confirmed: bool = False
    pending: queue.Queue[dict[str, Any] | None] = field(default_factory=queue.Queue)


class Notifier:
    """Delivers a topic's messages to its endpoint subscriptions while the router runs."""

    def __init__(self, subscriptions: Sequence[EndpointSubscription], settings: DeliverySettings, *,
                 signature_versions: Mapping[str, str] | None = None) -> None:  # fmt: skip
        """`signature_versions`: a topic's SignatureVersion attribute, where it sets one (SNS's default is 1)."""
        self.settings = settings
        self.subscriptions = list(subscriptions)
        self._versions = dict(signature_versions or {})
        self._endpoints = {s.arn: _Endpoint(s) for s in self.subscriptions if s.protocol in HTTP}
        self._unsubscribed: set[str] = set()
        self._signer = Signer()
        self._lock = threading.Lock()  # guards confirmations, unsubscriptions and the outbox files
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._client: Any = None

    def start(self) -> Notifier:
        """Start delivering: one thread per http(s) endpoint, which posts its deliveries in order."""
        import httpx

        self._client = httpx.Client(verify=trust(self.settings.ca_bundle), timeout=self.settings.timeout,
                                    follow_redirects=False)  # fmt: skip
        for endpoint in self._endpoints.values():
            name = f"events-sns-{endpoint.subscription.arn}"
            thread = threading.Thread(target=self._run, args=(endpoint,), name=name, daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def subscribe(self) -> None:
        """Send each http(s) endpoint its SubscriptionConfirmation; once PATH is served, since an endpoint may
        fetch its SubscribeURL at once."""
        for endpoint in self._endpoints.values():
            endpoint.pending.put(self._confirmation(endpoint))

    def stop(self) -> None:
        """Stop delivering (what is still queued is dropped); returns once every thread has ended."""
        self._stopping.set()
        for endpoint in self._endpoints.values():
            endpoint.pending.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        if self._client is not None:
            self._client.close()

    # --- messages in ---

    def publish(self, topic_arn: str, envelope: dict[str, Any]) -> None:
        """A message of the topic (the notification SNS delivered to the router's queue), to every endpoint
        whose filter policy it passes."""
        attributes = envelope.get("MessageAttributes") or {}
        for subscription in self.subscriptions:
            if subscription.topic_arn != topic_arn or subscription.arn in self._unsubscribed:
                continue
            if not filter_policy_matches(subscription.filter_policy, subscription.scope, envelope["Message"],
                                         attributes):  # fmt: skip
                continue
            endpoint = self._endpoints.get(subscription.arn)
            if endpoint is None:
                self._record(subscription, envelope)
            elif endpoint.confirmed:
                endpoint.pending.put(self._notification(subscription, envelope))
            else:  # as SNS: a pending subscription gets nothing
                log.info("%s is not confirmed yet: message %s not delivered", subscription.arn, envelope["MessageId"])

    # --- the endpoints' side: /_local/sns ---

    def confirm(self, topic_arn: str, token: str) -> str | None:
        """ConfirmSubscription: the subscription's ARN, or None when no subscription of the topic has this token."""
        for endpoint in self._endpoints.values():
            if endpoint.subscription.topic_arn == topic_arn and secrets.compare_digest(endpoint.token, token):
                with self._lock:
                    endpoint.confirmed = True
                    self._unsubscribed.discard(endpoint.subscription.arn)
                return endpoint.subscription.arn
        return None

    def unsubscribe(self, subscription_arn: str) -> bool:
        """Unsubscribe: False when there is no such subscription."""
        if subscription_arn not in {subscription.arn for subscription in self.subscriptions}:
            return False
        with self._lock:
            self._unsubscribed.add(subscription_arn)
            if subscription_arn in self._endpoints:
                self._endpoints[subscription_arn].confirmed = False
        return True

    def answer(self, path: str, query: Mapping[str, str]) -> tuple[int, bytes, list[tuple[str, str]]]:
        """The HTTP answer to a GET of PATH (status, body, headers), as SNS's query API gives it."""
        if path == CERTIFICATE:
            return 200, self._signer.certificate_pem, [("Content-Type", "application/x-x509-ca-cert")]
        action = query.get("Action")
        if path == PATH and action == "ConfirmSubscription":
            arn = self.confirm(query.get("TopicArn", ""), query.get("Token", ""))
            if arn is None:
                return _error(400, "InvalidParameter", "Invalid parameter: Token")
            result = f"<SubscriptionArn>{escape(arn)}</SubscriptionArn>"
            return _response("ConfirmSubscription", result)
        if path == PATH and action == "Unsubscribe":
            if not self.unsubscribe(query.get("SubscriptionArn", "")):
                return _error(404, "NotFound", "Subscription does not exist")
            return _response("Unsubscribe", "")
        return _error(400, "InvalidAction", "The local stack answers ConfirmSubscription and Unsubscribe")

    # --- messages out ---

    def _confirmation(self, endpoint: _Endpoint) -> dict[str, Any]:
        subscription = endpoint.subscription
        subscribe = urlencode({"Action": "ConfirmSubscription", "TopicArn": subscription.topic_arn,
                               "Token": endpoint.token}, safe=":")  # fmt: skip
        body = {
            "Type": "SubscriptionConfirmation",
            "MessageId": str(uuid.uuid4()),
            "Token": endpoint.token,
            "TopicArn": subscription.topic_arn,
            "Message": f"You have chosen to subscribe to the topic {subscription.topic_arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message.",
            "SubscribeURL": f"{self.settings.base_url}{PATH}?{subscribe}",
            "Timestamp": _now(),
        }
        return self._signed(body, subscription.topic_arn)

    def _notification(self, subscription: EndpointSubscription, envelope: dict[str, Any]) -> dict[str, Any]:
        body = {"Type": "Notification", "MessageId": envelope["MessageId"], "TopicArn": subscription.topic_arn}
        if envelope.get("Subject"):
            body["Subject"] = envelope["Subject"]
        body |= {"Message": envelope["Message"], "Timestamp": envelope["Timestamp"]}
        body = self._signed(body, subscription.topic_arn)
        unsubscribe = urlencode({"Action": "Unsubscribe", "SubscriptionArn": subscription.arn}, safe=":")
        body["UnsubscribeURL"] = f"{self.settings.base_url}{PATH}?{unsubscribe}"
        if envelope.get("MessageAttributes"):
            body["MessageAttributes"] = envelope["MessageAttributes"]
        return body

    def _signed(self, body: dict[str, Any], topic_arn: str) -> dict[str, Any]:
        body["SignatureVersion"] = self._versions.get(topic_arn, "1")
        body["Signature"] = self._signer.sign(body)
        body["SigningCertURL"] = f"{self.settings.base_url}{CERTIFICATE}"
        return body

    def _run(self, endpoint: _Endpoint) -> None:
        """One endpoint's deliveries, in order, each retried before the next."""
        while not self._stopping.is_set():
            body = endpoint.pending.get()
            if body is None or self._stopping.is_set():
                return
            if body["Type"] == "Notification" and not endpoint.confirmed:  # unsubscribed since it was queued
                continue
            self._post(endpoint.subscription, body)

    def _post(self, subscription: EndpointSubscription, body: dict[str, Any]) -> None:
        import httpx

        # Neither the endpoint (a webhook URL may hold a secret) nor the token is logged: the ARN names it.
        headers = {"x-amz-sns-message-type": body["Type"], "x-amz-sns-message-id": body["MessageId"],
                   "x-amz-sns-topic-arn": subscription.topic_arn, "Content-Type": "text/plain; charset=UTF-8",
                   "User-Agent": "Amazon Simple Notification Service Agent"}  # fmt: skip
        content = json.dumps(body)
        if body["Type"] == "Notification":
            headers["x-amz-sns-subscription-arn"] = subscription.arn
            if subscription.raw:
                headers["x-amz-sns-rawdelivery"] = "true"
                content = body["Message"]
        attempts = 1 + len(self.settings.retry_delays)
        for attempt, delay in enumerate((0.0, *self.settings.retry_delays), start=1):
            if delay and self._stopping.wait(delay):
                return
            try:
                status = self._client.post(subscription.endpoint, content=content.encode(), headers=headers).status_code
            except httpx.HTTPError as exc:
                failure = type(exc).__name__
            else:
                if status < 500:  # 2xx delivered; 4xx refused, which SNS does not retry
                    if not 200 <= status < 300:
                        log.warning("%s refused %s %s with HTTP %d", subscription.arn, body["Type"], body["MessageId"],
                                    status)  # fmt: skip
                    return
                failure = f"HTTP {status}"
            log.warning("%s: %s %s failed (%s), attempt %d of %d", subscription.arn, body["Type"], body["MessageId"],
                        failure, attempt, attempts)  # fmt: skip

    def _record(self, subscription: EndpointSubscription, envelope: dict[str, Any]) -> None:
        """An email, email-json or sms delivery, as one line of `<outbox>/<protocol>.jsonl`."""
        record: dict[str, Any] = {"time": _now(), "protocol": subscription.protocol, "endpoint": subscription.endpoint,
                                  "subscription_arn": subscription.arn, "topic_arn": subscription.topic_arn,
                                  "message_id": envelope["MessageId"],
                                  "message_attributes": envelope.get("MessageAttributes") or {}}  # fmt: skip
        if subscription.protocol == "email":
            record |= {"subject": envelope.get("Subject") or DEFAULT_SUBJECT, "message": envelope["Message"]}
        elif subscription.protocol == "email-json":
            record["message"] = self._notification(subscription, envelope)
        else:
            record["message"] = envelope["Message"]
        path = self.settings.outbox / f"{subscription.protocol}.jsonl"
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as outbox:
                outbox.write(json.dumps(record) + "\n")


def _response(action: str, result: str) -> tuple[int, bytes, list[tuple[str, str]]]:
    metadata = f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
    body = f'<{action}Response xmlns="{XMLNS}"><{action}Result>{result}</{action}Result>{metadata}</{action}Response>'
    return 200, body.encode(), [("Content-Type", "text/xml")]


def _error(status: int, code: str, message: str) -> tuple[int, bytes, list[tuple[str, str]]]:
    error = f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    body = f'<ErrorResponse xmlns="{XMLNS}">{error}<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>'
    return status, body.encode(), [("Content-Type", "text/xml")]
