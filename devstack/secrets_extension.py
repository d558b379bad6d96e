"""A stand-in for the AWS Parameters and Secrets Lambda Extension, backed by the local AWS endpoint.

It answers `GET /secretsmanager/get?secretId=...` (and `/systemsmanager/parameters/get?name=...`)
like the extension: only with the caller's session token in `X-Aws-Parameters-Secrets-Token`,
returning the service's JSON response.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from alphapulse.aws.secrets import TOKEN_HEADER


class SecretsExtension:
    """Serves secrets and parameters from `aws_endpoint` on `host:port` (port 0 picks a free one)."""

    def __init__(self, *, aws_endpoint: str, session_token: str, region: str, host: str = "127.0.0.1", port: int = 0):
        import boto3

        self.session_token = session_token
        self._secrets = boto3.client("secretsmanager", endpoint_url=aws_endpoint, region_name=region)
        self._parameters = boto3.client("ssm", endpoint_url=aws_endpoint, region_name=region)
        extension = self

        class Handler(_Handler):
            owner = extension

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="secrets-extension", daemon=True)

    def start(self) -> SecretsExtension:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def lookup(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        from botocore.exceptions import ClientError

        try:
            if path == "/secretsmanager/get" and query.get("secretId"):
                options = {k: query[k][0] for k in ("versionId", "versionStage") if k in query}
                return 200, self._secrets.get_secret_value(SecretId=query["secretId"][0], **options)
            if path == "/systemsmanager/parameters/get" and query.get("name"):
                decrypt = query.get("withDecryption", ["false"])[0] == "true"
                return 200, self._parameters.get_parameter(Name=query["name"][0], WithDecryption=decrypt)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            return int(status), {"message": exc.response.get("Error", {}).get("Message", "error")}
        return 400, {"message": "unsupported request"}


class _Handler(BaseHTTPRequestHandler):
    owner: SecretsExtension

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.headers.get(TOKEN_HEADER) != self.owner.session_token:
            status, payload = 401, {"message": "missing or wrong X-Aws-Parameters-Secrets-Token"}
        else:
            url = urlsplit(self.path)
            status, payload = self.owner.lookup(url.path, parse_qs(url.query))
            payload.pop("ResponseMetadata", None)
        body = json.dumps(payload, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
