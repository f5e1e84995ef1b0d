"""Environment and nginx files of the joxit/docker-registry-ui container (pure, no Pulumi, plain settings)."""

from __future__ import annotations

from dataclasses import dataclass

from components.selfhosted.config_file import REGISTRY_ALIAS, RegistrySettings, UiSettings

UI_PLAIN_PORT = 80
"""joxit's own nginx server (plain HTTP)."""
UI_TLS_PORT = 8443
"""Our HTTPS server beside it, serving the same files and the same /v2 proxy."""
UI_TLS_DIR = "/etc/nginx/registry-tls"
UI_CA_PATH = f"{UI_TLS_DIR}/ca.crt"
UI_CERT_PATH = f"{UI_TLS_DIR}/server.crt"
UI_KEY_PATH = f"{UI_TLS_DIR}/server.key"
# Files in conf.d are included inside nginx's http block (the stock nginx.conf of the image).
UI_UPSTREAM_CONF_PATH = "/etc/nginx/conf.d/00-registry-upstream-tls.conf"
UI_TLS_SERVER_CONF_PATH = "/etc/nginx/conf.d/registry-ui-tls.conf"
DOCKER_DNS = "127.0.0.11"


@dataclass(frozen=True)
class UiFile:
    path: str
    content: str


def _ui(settings: RegistrySettings) -> UiSettings:
    if settings.ui is None:
        raise ValueError("ui.enabled: the UI's files are rendered only for a registry with the UI on")
    return settings.ui


def ui_environment(settings: RegistrySettings) -> list[str]:
    """Same-origin UI: nginx in the UI container proxies /v2 to the registry's network alias.

    The registry answers CORS preflight with 401, so a cross-origin UI cannot work.
    NGINX_RESOLVER makes nginx re-resolve the alias after the registry container is recreated.
    """
    ui = _ui(settings)
    return [
        "SINGLE_REGISTRY=true",
        f"REGISTRY_TITLE={ui.title}",
        f"NGINX_PROXY_PASS_URL={registry_upstream_url(settings.tls_mode)}",
        f"NGINX_RESOLVER={DOCKER_DNS}",
        f"DELETE_IMAGES={str(ui.delete_images).lower()}",
        f"CATALOG_ELEMENTS_LIMIT={ui.catalog_elements_limit}",
        f"SHOW_CONTENT_DIGEST={str(ui.show_content_digest).lower()}",
        f"PULL_URL={settings.endpoint}",
    ]


def registry_upstream_url(tls_mode: str) -> str:
    scheme = "http" if tls_mode == "none" else "https"
    return f"{scheme}://{REGISTRY_ALIAS}:5000"


def upstream_verified_name(settings: RegistrySettings) -> str:
    """The name the UI checks in the registry's certificate: the alias is a SAN of the generated one;
    a provided certificate covers `hostname`."""
    return REGISTRY_ALIAS if settings.tls_mode == "selfSigned" else settings.hostname


def ui_container_port(serves_tls: bool) -> int:
    return UI_TLS_PORT if serves_tls else UI_PLAIN_PORT


def ui_nginx_paths(tls_mode: str, serves_tls: bool) -> list[str]:
    """Where `ui_nginx_files` puts its files: known before any input resolves (it shapes the uploads)."""
    if tls_mode == "none":
        return []
    return [UI_UPSTREAM_CONF_PATH, *([UI_TLS_SERVER_CONF_PATH] if serves_tls else [])]


def ui_nginx_files(settings: RegistrySettings) -> list[UiFile]:
    """nginx configuration added to the image's own: verification of the registry's certificate on the
    UI->registry hop (nginx skips it by default) and, with ui.tls, an HTTPS server with the registry's
    certificate. The CA, certificate and key files themselves are uploaded by the component."""
    ui = _ui(settings)
    if not settings.tls:
        return []
    files = [
        UiFile(
            UI_UPSTREAM_CONF_PATH,
            "# The UI->registry hop verifies the registry's certificate against the registry's CA.\n"
            "proxy_ssl_verify on;\n"
            "proxy_ssl_verify_depth 2;\n"
            f"proxy_ssl_trusted_certificate {UI_CA_PATH};\n"
            f"proxy_ssl_name {upstream_verified_name(settings)};\n"
            "proxy_ssl_server_name on;\n",
        )
    ]
    if ui.serves_tls:
        protocols = "TLSv1.3" if settings.minimum_tls == "tls1.3" else "TLSv1.2 TLSv1.3"
        files.append(
            UiFile(
                UI_TLS_SERVER_CONF_PATH,
                f"""# The UI over HTTPS with the registry's certificate: browsers send registry passwords here.
server {{
    listen {UI_TLS_PORT} ssl;
    server_name _;
    ssl_certificate {UI_CERT_PATH};
    ssl_certificate_key {UI_KEY_PATH};
    ssl_protocols {protocols};
    client_max_body_size 0;
    chunked_transfer_encoding on;
    proxy_buffering off;
    proxy_request_buffering off;
    resolver {DOCKER_DNS};

    location / {{
        root /usr/share/nginx/html;
        index index.html index.htm;
    }}

    location /v2 {{
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        set $registry_server "{registry_upstream_url(settings.tls_mode)}";
        proxy_pass $registry_server;
    }}
}}
""",
            )
        )
    assert [f.path for f in files] == ui_nginx_paths(settings.tls_mode, ui.serves_tls)
    return files
