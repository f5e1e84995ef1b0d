"""The Hub client over real HTTP: auth and refresh, pagination, 429 and 5xx retries, clear errors."""

from __future__ import annotations

import pytest

from providers.dockerhub.client import Credentials, HubClient, HubError, HubNotFound, credentials_from_env
from tests.providers.conftest import PASSWORD, USER
from tests.support.hub_emulator import HubEmulator


def client(hub: HubEmulator, secret: str = PASSWORD, sleeps: list[float] | None = None) -> HubClient:
    record = sleeps if sleeps is not None else []
    return HubClient(hub.url, Credentials(USER, secret), sleep=record.append)


def test_logs_in_once_and_reuses_the_jwt(hub):
    c = client(hub)
    for _ in range(3):
        c.request("GET", "/v2/namespaces/acme/repositories", "repositories of acme")
    assert hub.state.logins == 1


def test_refreshes_the_jwt_before_it_expires(hub):
    hub.jwt_ttl = 30  # inside the refresh margin: every call must log in again
    c = client(hub)
    c.request("GET", "/v2/namespaces/acme/repositories", "repositories")
    c.request("GET", "/v2/namespaces/acme/repositories", "repositories")
    assert hub.state.logins == 2


def test_bad_credentials_error_names_the_user_and_hides_the_secret(hub):
    with pytest.raises(HubError) as caught:
        client(hub, secret="wrong-secret-value").request("GET", "/v2/namespaces/acme/repositories", "repositories")
    message = str(caught.value)
    assert USER in message
    assert "401" in message
    assert "wrong-secret-value" not in message


def test_rate_limit_waits_retry_after_then_succeeds(hub):
    hub.answer_429, hub.retry_after = 2, "3"
    sleeps: list[float] = []
    result = client(hub, sleeps=sleeps).request("GET", "/v2/namespaces/acme/repositories", "repositories")
    assert result["count"] == 0
    assert sleeps == [3.0, 3.0]


def test_rate_limit_gives_up_after_bounded_retries(hub):
    hub.answer_429 = 100
    sleeps: list[float] = []
    with pytest.raises(HubError, match="rate limited"):
        client(hub, sleeps=sleeps).request("GET", "/v2/namespaces/acme/repositories", "repositories")
    assert len(sleeps) == 5


def test_server_errors_are_retried_with_backoff(hub):
    hub.answer_500 = 2
    sleeps: list[float] = []
    client(hub, sleeps=sleeps).request("GET", "/v2/namespaces/acme/repositories", "repositories")
    assert sleeps == [0.5, 1.0]


def test_html_challenge_page_is_a_clear_error_naming_the_request(hub):
    c = client(hub)
    c.request("GET", "/v2/namespaces/acme/repositories", "repositories")
    hub.answer_html = 1
    with pytest.raises(HubError) as caught:
        c.request("GET", "/v2/namespaces/acme/repositories/app", "repository acme/app")
    message = str(caught.value)
    assert "GET /v2/namespaces/acme/repositories/app" in message
    assert "repository acme/app" in message
    assert "non-JSON" in message
    assert "Just a moment" in message


def test_validation_error_names_the_field(hub):
    with pytest.raises(HubError) as caught:
        client(hub).request("POST", "/v2/namespaces/acme/repositories", "repository acme/Bad", body={"name": "Bad"})
    assert caught.value.status == 400
    assert "name" in caught.value.fields
    assert "repository acme/Bad" in str(caught.value)


def test_not_found_is_its_own_error(hub):
    with pytest.raises(HubNotFound):
        client(hub).request("GET", "/v2/namespaces/acme/repositories/none", "repository acme/none")


def test_pagination_follows_next_until_null(hub):
    c = client(hub)
    for i in range(25):
        c.request("POST", "/v2/namespaces/acme/repositories", "repo", body={"name": f"app{i:02d}", "namespace": "acme"})
    names = [r["name"] for r in c.paginate("/v2/namespaces/acme/repositories", "repositories", page_size=10)]
    assert names == [f"app{i:02d}" for i in range(25)]
    gets = [p for m, p in hub.state.requests if m == "GET" and p == "/v2/namespaces/acme/repositories"]
    assert len(gets) == 3


def test_credentials_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DOCKER_USERNAME", "someone")
    monkeypatch.setenv("DOCKER_HUB_TOKEN", "dckr_pat_x")
    monkeypatch.setenv("DOCKER_PASSWORD", "ignored-when-a-token-is-set")
    assert credentials_from_env() == Credentials("someone", "dckr_pat_x")
    monkeypatch.delenv("DOCKER_HUB_TOKEN")
    monkeypatch.delenv("DOCKER_PASSWORD")
    with pytest.raises(HubError, match="DOCKER_USERNAME"):
        credentials_from_env()
    assert "dckr_pat_x" not in repr(Credentials("someone", "dckr_pat_x"))


def test_rate_limit_reset_timestamp_is_used_without_retry_after():
    import time

    import requests

    from providers.dockerhub.client import _retry_after

    response = requests.Response()
    response.headers["X-RateLimit-Reset"] = str(int(time.time()) + 30)
    assert 28 <= _retry_after(response) <= 30
    response = requests.Response()
    response.headers["Retry-After"] = "7"
    assert _retry_after(response) == 7.0


def _posts(hub: HubEmulator, path: str) -> int:
    return sum(1 for method, p in hub.state.requests if method == "POST" and p == path)


def test_a_create_answered_500_is_not_sent_again(hub):
    """M1: a 5xx does not tell whether Hub applied the POST; resending could create a second object."""
    from providers.dockerhub.client import HubUncertain

    c = client(hub)
    c.request("GET", "/v2/namespaces/acme/repositories", "repositories")  # logged in
    hub.fail_after_create(status=500)
    with pytest.raises(HubUncertain) as caught:
        c.request("POST", "/v2/access-tokens", "access token 'ci'", body={"token_label": "ci", "scopes": ["repo:read"]})
    assert "500" in str(caught.value)
    assert _posts(hub, "/v2/access-tokens") == 1
    assert len(hub.state.access_tokens) == 1  # Hub did create it: the caller must look it up


def test_a_create_that_times_out_is_not_sent_again(hub):
    from providers.dockerhub.client import HubUncertain

    c = HubClient(hub.url, Credentials(USER, PASSWORD), sleep=[].append, timeout=2.0)
    c.request("GET", "/v2/namespaces/acme/repositories", "repositories")
    hub.delay_after_create(seconds=4.0)  # well past the timeout, however loaded the machine
    with pytest.raises(HubUncertain):
        c.request("POST", "/v2/access-tokens", "access token 'ci'", body={"token_label": "ci", "scopes": ["repo:read"]})
    assert _posts(hub, "/v2/access-tokens") == 1


def test_a_rate_limited_create_is_sent_again_after_retry_after(hub):
    """429 means Hub refused the request, so resending a POST is safe."""
    hub.answer_429, hub.retry_after = 2, "4"
    sleeps: list[float] = []
    c = client(hub, sleeps=sleeps)
    c.request("POST", "/v2/namespaces/acme/repositories", "repository acme/app", body={"name": "app"})
    assert sleeps == [4.0, 4.0]
    assert list(hub.state.repositories) == ["acme/app"]


def test_a_create_whose_connection_is_refused_is_sent_again(hub):
    """A refused connection never reached Hub: that POST is retried with backoff."""
    sleeps: list[float] = []
    c = client(hub, sleeps=sleeps)
    c.request("GET", "/v2/namespaces/acme/repositories", "repositories")
    hub.__exit__(None, None, None)  # Hub goes away: the port now refuses connections
    with pytest.raises(HubError) as caught:
        c.request("POST", "/v2/namespaces/acme/repositories", "repository acme/app", body={"name": "app"})
    assert type(caught.value) is HubError  # not HubUncertain: provably never sent
    assert sleeps == [1, 2, 4, 8, 16]


def test_one_client_logs_in_once_from_many_threads(hub):
    from concurrent.futures import ThreadPoolExecutor

    c = client(hub)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: c.request("GET", "/v2/namespaces/acme/repositories", "repositories"), range(16)))
    assert hub.state.logins == 1
