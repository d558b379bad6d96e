"""The dashboard's resources in the local stack: S3 and CloudFront are not emulated, and DashboardUrl is the page
that the local stack serves on the REST API's origin (devstack.gateways.static)."""

from __future__ import annotations

from urllib.parse import urlsplit

from devstack.ports import free_port
from devstack.run import LocalStack
from devstack.template.load import TEMPLATE
from devstack.template.resolve import LocalResolver, read_template


def test_local_resolver_distribution_url_without_local_server_cloudfront_name() -> None:
    template, parameters = read_template(TEMPLATE)
    url = LocalResolver(template, parameters).resolve(template["Outputs"]["DashboardUrl"]["Value"])
    assert url == "https://DashboardDistribution.cloudfront.net"


def test_local_resolver_distribution_url_with_local_server_local_url() -> None:
    template, parameters = read_template(TEMPLATE)
    resolver = LocalResolver(template, {**parameters, "DashboardDistribution.LocalUrl": "http://127.0.0.1:3000/"})
    assert resolver.resolve(template["Outputs"]["DashboardUrl"]["Value"]) == "http://127.0.0.1:3000/"


def test_local_stack_provision_with_dashboard_resources_outputs_local_page(moto_server: str) -> None:
    # Given the project's template, with its bucket, distribution and policies, when the local stack provisions it
    http_port = free_port()
    stack = LocalStack(http_port=http_port, aws_port=urlsplit(moto_server).port or 0, ws_port=free_port(),
                       jwt_secret="local-test-secret")  # fmt: skip
    stack.provision()
    # Then it skips what it does not emulate, and DashboardUrl is the page on the REST origin
    assert stack.outputs["DashboardUrl"] == f"http://127.0.0.1:{http_port}/"
    assert stack.outputs["RestApiUrl"] == f"http://127.0.0.1:{http_port}"
    assert stack.outputs["DashboardBucketName"] == "DashboardBucket"
