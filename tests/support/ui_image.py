"""A stand-in for the joxit UI image, built here from Debian's nginx because no image can be pulled.

It is nginx as the joxit image runs it (master as root, workers as the `nginx` user, conf.d included
inside the http block), serving a static page. It has none of joxit's own files (its default.conf
on port 80 and its entrypoint script), so it proves what the program adds: the HTTPS server on
8443 with the registry's certificate, and the verified UI->registry hop on /v2.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import docker

from tests.support.images import _linked_libraries

NGINX_BINARY = Path("/usr/sbin/nginx")
MIME_TYPES = Path("/etc/nginx/mime.types")
STANDIN_TAG = "registries-e2e/registry-ui-standin:1"
INDEX_MARKER = "registry UI stand-in"

NGINX_CONF = """user nginx;
worker_processes 1;
error_log stderr notice;
pid /tmp/nginx.pid;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    access_log off;
    include /etc/nginx/conf.d/*.conf;
}
"""

DOCKERFILE = """FROM scratch
COPY rootfs/ /
ENTRYPOINT ["/usr/sbin/nginx", "-g", "daemon off;"]
"""


def build_ui_standin_image(client: docker.DockerClient) -> str:
    """Build the stand-in (nginx from Debian's nginx-light) FROM scratch; returns its tag."""
    for needed in (NGINX_BINARY, MIME_TYPES):
        if not needed.exists():
            raise RuntimeError(f"{needed} is missing: install Debian's nginx-light")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rootfs"
        (root / "usr" / "sbin").mkdir(parents=True)
        shutil.copy2(NGINX_BINARY, root / "usr" / "sbin" / "nginx")
        for lib in _linked_libraries(NGINX_BINARY):
            target = root / lib.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(lib.resolve(), target)
        etc = root / "etc"
        (etc / "nginx" / "conf.d").mkdir(parents=True)
        (etc / "nginx" / "nginx.conf").write_text(NGINX_CONF)
        shutil.copy2(MIME_TYPES, etc / "nginx" / "mime.types")
        (etc / "passwd").write_text("root:x:0:0:root:/:/sbin/nologin\nnginx:x:101:101:nginx:/:/sbin/nologin\n")
        (etc / "group").write_text("root:x:0:\nnginx:x:101:\n")
        html = root / "usr" / "share" / "nginx" / "html"
        html.mkdir(parents=True)
        (html / "index.html").write_text(f"<!doctype html><title>{INDEX_MARKER}</title>\n")
        # nginx-light's compiled-in temp, log and lock paths.
        temp = [f"var/lib/nginx/{kind}" for kind in ("body", "fastcgi", "proxy", "scgi", "uwsgi")]
        for directory in (*temp, "var/log/nginx", "var/lock", "run", "tmp"):
            (root / directory).mkdir(parents=True, exist_ok=True)
            (root / directory).chmod(0o1777)
        (Path(tmp) / "Dockerfile").write_text(DOCKERFILE)
        client.images.build(path=tmp, tag=STANDIN_TAG, rm=True, forcerm=True)
    return STANDIN_TAG
