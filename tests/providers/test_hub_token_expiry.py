"""A token's expiry must be in the future when the token would be created, and only then."""

from __future__ import annotations

import pytest
from pulumi.output import UNKNOWN

from providers.dockerhub.resources import AccessTokenProvider, OrgAccessTokenProvider

PAST, FUTURE = "2020-01-01T00:00:00Z", "2999-01-01T00:00:00Z"
PAT = {"label": "ci", "scopes": ["repo:read"]}
OAT = {
    "org": "acme",
    "label": "ci",
    "resources": [{"type": "TYPE_REPO", "path": "acme/*", "scopes": ["scope-image-pull"]}],
}


def _failures(provider_type: type, olds: dict, news: dict) -> list[str]:
    return [f.property for f in provider_type().check(olds, news).failures]


@pytest.mark.parametrize(("provider_type", "props"), [(AccessTokenProvider, PAT), (OrgAccessTokenProvider, OAT)])
def test_a_new_token_with_a_past_expiry_is_refused(provider_type, props):
    assert _failures(provider_type, {}, {**props, "expiresAt": PAST}) == ["expiresAt"]
    assert _failures(provider_type, {}, {**props, "expiresAt": FUTURE}) == []


@pytest.mark.parametrize(("provider_type", "props"), [(AccessTokenProvider, PAT), (OrgAccessTokenProvider, OAT)])
def test_an_existing_token_whose_date_passed_does_not_stop_the_update(provider_type, props):
    # The same instant in Hub's microsecond spelling is no change: the token exists, nothing is created.
    olds = {**props, "expiresAt": "2020-01-01T00:00:00.000000Z"}
    assert _failures(provider_type, olds, {**props, "expiresAt": PAST}) == []


@pytest.mark.parametrize(("provider_type", "props"), [(AccessTokenProvider, PAT), (OrgAccessTokenProvider, OAT)])
def test_changing_the_expiry_to_a_past_date_is_refused_as_a_new_token_would_be(provider_type, props):
    olds = {**props, "expiresAt": FUTURE}
    assert _failures(provider_type, olds, {**props, "expiresAt": PAST}) == ["expiresAt"]
    assert _failures(provider_type, olds, {**props, "expiresAt": UNKNOWN}) == []
