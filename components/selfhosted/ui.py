"""Environment of the joxit/docker-registry-ui container (pure, no Pulumi)."""

from __future__ import annotations

from schema.selfhosted import SelfHostedSpec


def ui_environment(spec: SelfHostedSpec, registry_alias: str) -> list[str]:
    """Same-origin UI: nginx in the UI container proxies /v2 to the registry's network alias.

    The registry answers CORS preflight with 401, so a cross-origin UI cannot work.
    NGINX_RESOLVER makes nginx re-resolve the alias after the registry container is recreated.
    """
    scheme = "http" if spec.tls.mode == "none" else "https"
    ui = spec.ui
    return [
        "SINGLE_REGISTRY=true",
        f"REGISTRY_TITLE={ui.title}",
        f"NGINX_PROXY_PASS_URL={scheme}://{registry_alias}:5000",
        "NGINX_RESOLVER=127.0.0.11",
        f"DELETE_IMAGES={str(spec.delete_images).lower()}",
        f"CATALOG_ELEMENTS_LIMIT={ui.catalog_elements_limit}",
        f"SHOW_CONTENT_DIGEST={str(ui.show_content_digest).lower()}",
        f"PULL_URL={spec.endpoint}",
    ]
