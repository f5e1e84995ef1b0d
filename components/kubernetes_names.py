"""Names the Kubernetes API server accepts, checked before anything is declared (no Pulumi import: the stack
config's checks in registries.config use the same rules as the component)."""

from __future__ import annotations

import ipaddress
import re

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = re.compile(rf"{DNS1123_LABEL}(\.{DNS1123_LABEL})*")
"""k8s.io/apimachinery/pkg/util/validation IsDNS1123Subdomain: lower case, at most 253 characters."""
WILDCARD_DNS1123_SUBDOMAIN = re.compile(rf"\*\.{DNS1123_SUBDOMAIN.pattern}")
DNS1123_SUBDOMAIN_MAX_LENGTH = 253


def ingress_host_problem(host: str) -> str | None:
    """Why the API server refuses `host` as an Ingress rule's host, or None.

    The rules of kubernetes pkg/apis/networking/validation validateIngressRules: not an IP address (net.ParseIP),
    then IsWildcardDNS1123Subdomain for a host with `*`, IsDNS1123Subdomain otherwise."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return "must be a DNS name, not an IP address (the API server refuses an IP as an Ingress host)"
    if len(host) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        return f"must be at most {DNS1123_SUBDOMAIN_MAX_LENGTH} characters (an Ingress host)"
    regex = WILDCARD_DNS1123_SUBDOMAIN if "*" in host else DNS1123_SUBDOMAIN
    if not regex.fullmatch(host):
        return (
            "must be a lower-case DNS name (a-z 0-9 - and dots, each part starting and ending with a letter or digit;"
            " the API server refuses upper case in an Ingress host)"
        )
    return None
