"""template.yaml's dashboard hosting (DESIGN §10): a private bucket that only this stack's CloudFront distribution
reads, through origin access control, over HTTPS only, with the behaviors and outputs `make deploy` relies on."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deploy.dashboard import BUCKET, DASHBOARD_URL, DISTRIBUTION
from deploy.site import ASSETS, CONFIG
from devstack.template.load import load_template, resources_of_type

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
BUCKET_REF = {"Ref": "DashboardBucket"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="module")
def config(resources: dict[str, Any]) -> dict[str, Any]:
    """The distribution's DistributionConfig."""
    distributions = {
        name for name, resource in resources.items() if resource["Type"] == "AWS::CloudFront::Distribution"
    }
    assert distributions == {"DashboardDistribution"}
    distribution_config: dict[str, Any] = resources["DashboardDistribution"]["Properties"]["DistributionConfig"]
    return distribution_config


def behaviors(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Path pattern (`*` for the default) -> cache behavior."""
    found = {"*": config["DefaultCacheBehavior"]}
    found.update({behavior["PathPattern"]: behavior for behavior in config.get("CacheBehaviors", [])})
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- the bucket ----------------------------------------------------------------------------------------------------


def test_dashboard_bucket_private_encrypted_owner_enforced(resources: dict[str, Any]) -> None:
    properties = resources["DashboardBucket"]["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    rules = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms", "aws:kms:dsse"}
    assert properties["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    # Not a website endpoint (public by nature) and no ACL: CloudFront reaches it through the REST endpoint.
    assert "WebsiteConfiguration" not in properties
    assert "AccessControl" not in properties


def _policy(resources: dict[str, Any]) -> list[dict[str, Any]]:
    policies = [r for r in resources.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    on_bucket = [p for p in policies if p["Properties"]["Bucket"] == BUCKET_REF]
    assert len(on_bucket) == 1, "one bucket policy on DashboardBucket"
    statements: list[dict[str, Any]] = on_bucket[0]["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_dashboard_bucket_policy_reads_for_this_distribution_only(resources: dict[str, Any]) -> None:
    allows = [statement for statement in _policy(resources) if statement["Effect"] == "Allow"]
    assert len(allows) == 1
    (allow,) = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert _as_list(allow["Action"]) == ["s3:GetObject"]
    assert allow["Resource"] == {"Fn::Sub": "${DashboardBucket.Arn}/*"}
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert source == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${DashboardDistribution}"
    }


def test_dashboard_bucket_policy_denies_requests_without_tls(resources: dict[str, Any]) -> None:
    denies = [statement for statement in _policy(resources) if statement["Effect"] == "Deny"]
    assert any(
        statement["Principal"] == "*"
        and _as_list(statement["Action"]) == ["s3:*"]
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        and {"Fn::GetAtt": ["DashboardBucket", "Arn"]} in statement["Resource"]
        and {"Fn::Sub": "${DashboardBucket.Arn}/*"} in statement["Resource"]
        for statement in denies
    ), denies


# --- the distribution ----------------------------------------------------------------------------------------------


def test_dashboard_distribution_origin_access_control_not_identity(
    resources: dict[str, Any], config: dict[str, Any]
) -> None:
    (origin,) = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["DashboardBucket", "RegionalDomainName"]}
    control = origin["OriginAccessControlId"]["Fn::GetAtt"][0]
    assert resources[control]["Type"] == "AWS::CloudFront::OriginAccessControl"
    settings = resources[control]["Properties"]["OriginAccessControlConfig"]
    signing = ("OriginAccessControlOriginType", "SigningBehavior", "SigningProtocol")
    assert [settings[key] for key in signing] == ["s3", "always", "sigv4"]
    assert origin["S3OriginConfig"].get("OriginAccessIdentity", "") == ""
    assert not resources_of_type({"Resources": resources}, "AWS::CloudFront::CloudFrontOriginAccessIdentity")


def test_dashboard_distribution_https_only_read_only(config: dict[str, Any]) -> None:
    for pattern, behavior in behaviors(config).items():
        assert behavior["ViewerProtocolPolicy"] in {"redirect-to-https", "https-only"}, pattern
        assert behavior["AllowedMethods"] == ["GET", "HEAD"], pattern
        assert behavior["TargetOriginId"] == config["Origins"][0]["Id"], pattern
    assert config["ViewerCertificate"] == {"CloudFrontDefaultCertificate": True}
    assert config["DefaultRootObject"] == "index.html"


def test_dashboard_distribution_cache_hashed_assets_long_config_never(config: dict[str, Any]) -> None:
    # The patterns are the ones deploy/site.py uploads by (hashed assets immutable, config.json no-cache).
    found = behaviors(config)
    assert found[f"/{ASSETS}*"]["CachePolicyId"] == CACHING_OPTIMIZED
    assert found[f"/{CONFIG}"]["CachePolicyId"] == CACHING_DISABLED
    assert found["*"]["CachePolicyId"] == {"Ref": "DashboardPageCachePolicy"}


def test_dashboard_page_cache_policy_follows_cache_control(resources: dict[str, Any]) -> None:
    policy = resources["DashboardPageCachePolicy"]["Properties"]["CachePolicyConfig"]
    # MinTTL 0 lets index.html's `no-cache` keep it out of the edge; a file without Cache-Control stays a minute.
    assert (policy["MinTTL"], policy["DefaultTTL"]) == (0, 60)
    assert policy["MaxTTL"] <= 86400


def test_dashboard_distribution_no_error_page_masks_a_missing_file(
    resources: dict[str, Any], config: dict[str, Any]
) -> None:
    # Client-side routes are rewritten by a viewer-request function on the default behavior only, so a missing
    # config.json or chunk stays an error instead of index.html with 200.
    assert not [r for r in config.get("CustomErrorResponses", []) if "ResponsePagePath" in r]
    found = behaviors(config)
    (association,) = found["*"]["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    assert resources[association["FunctionARN"]["Fn::GetAtt"][0]]["Type"] == "AWS::CloudFront::Function"
    assert "FunctionAssociations" not in found[f"/{CONFIG}"]
    assert "FunctionAssociations" not in found[f"/{ASSETS}*"]


def _node() -> str | None:
    return shutil.which("node") or next((str(p) for p in [ROOT / ".venv" / "bin" / "node"] if p.exists()), None)


@pytest.mark.parametrize(
    ("uri", "served"),
    [
        ("/", "/index.html"),
        ("/alerts", "/index.html"),
        ("/trades/42/", "/index.html"),
        ("/index.html", "/index.html"),
        ("/favicon.svg", "/favicon.svg"),
        ("/config.json", "/config.json"),
        ("/assets/index-Bx7a9.js", "/assets/index-Bx7a9.js"),
    ],
)
def test_dashboard_route_function_routes_to_page_files_untouched(
    resources: dict[str, Any], uri: str, served: str
) -> None:
    node = _node()
    if node is None:
        pytest.skip("no node on PATH nor in .venv/bin (make web installs it)")
    code = resources["DashboardRouteFunction"]["Properties"]["FunctionCode"]
    script = f"{code}\nprocess.stdout.write(JSON.stringify(handler({{request: {{uri: {json.dumps(uri)}}}}})));"
    result = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(result.stdout) == {"uri": served}


def test_dashboard_security_headers_csp_allows_own_apis_only(resources: dict[str, Any], config: dict[str, Any]) -> None:
    for pattern, behavior in behaviors(config).items():
        assert behavior["ResponseHeadersPolicyId"] == {"Ref": "DashboardResponseHeadersPolicy"}, pattern
    headers = resources["DashboardResponseHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    security = headers["SecurityHeadersConfig"]
    csp = " ".join(security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"].split())
    directives = {part.split()[0]: part.split()[1:] for part in csp.split("; ")}
    assert directives["connect-src"] == [
        "'self'",
        "https://${RestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}",
        "wss://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}",
    ]
    assert directives["default-src"] == directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == directives["object-src"] == ["'none'"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert security["ContentTypeOptions"]["Override"] is True
    assert security["FrameOptions"]["FrameOption"] == "DENY"


# --- outputs -------------------------------------------------------------------------------------------------------


def test_dashboard_outputs_url_bucket_distribution(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs[DASHBOARD_URL]["Value"] == {"Fn::Sub": "https://${DashboardDistribution.DomainName}"}
    assert outputs[BUCKET]["Value"] == BUCKET_REF
    assert outputs[DISTRIBUTION]["Value"] == {"Ref": "DashboardDistribution"}
    assert {"RestApiUrl", "WebSocketUrl"} <= set(outputs)  # config.json's sources
