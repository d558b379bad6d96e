"""The local stack's own certificate authority, so that the management API also answers over HTTPS.

Public samples build the management endpoint from the event: `https://{domainName}/{stage}`. The gateway
therefore also listens with TLS, and the functions trust its certificate through `AWS_CA_BUNDLE`, which
botocore reads. `trustme` makes the authority and the certificate (a throwaway pair, at each start).
"""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

import trustme


class LocalTls:
    """A certificate for `hosts`, signed by a fresh authority whose certificate is in `ca_file`."""

    def __init__(self, *hosts: str) -> None:
        self._ca = trustme.CA(organization_name="AlphaPulse local stack")
        self._certificate = self._ca.issue_cert(*hosts)
        self._folder = tempfile.TemporaryDirectory(prefix="devstack-tls-")
        self.ca_file = Path(self._folder.name, "ca.pem")
        self._ca.cert_pem.write_to_path(str(self.ca_file))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._certificate.configure_cert(context)
        return context

    def close(self) -> None:
        self._folder.cleanup()
