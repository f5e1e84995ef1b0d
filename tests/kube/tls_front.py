"""The Ingress controller's part, for a node without one (no ingress-nginx image can be had here): TLS ends on
127.0.0.1:443 with the certificate of the Secret the Ingress names, and the bytes go on to the Service, as the
controller would send them: to a ready endpoint of the Service (read from its EndpointSlices, as ingress-nginx does),
or through a `kubectl port-forward` on loopback. Clients then use the stack's
https://<hostname>/ exactly as they would in a cluster, with the registry's own Location headers pointing there."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path


class TlsFront:
    """One event loop in a thread (an SSL object is never shared between threads)."""

    def __init__(
        self, cert_pem: str, key_pem: str, upstream: int | Callable[[], tuple[str, int]], port: int = 443
    ) -> None:
        """`upstream`: a loopback port (a port-forward), or a function naming a ready endpoint per connection."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        with tempfile.TemporaryDirectory() as directory:
            cert, key = Path(directory) / "tls.crt", Path(directory) / "tls.key"
            cert.write_text(cert_pem)
            key.touch(mode=0o600)
            key.write_text(key_pem)
            context.load_cert_chain(cert, key)
        self.upstream = upstream if callable(upstream) else (lambda: ("127.0.0.1", upstream))
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", port, ssl=context))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:  # an endpoint that goes away makes the client's connection fail, as behind a controller
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream())
        except OSError:
            writer.close()
            return
        with contextlib.suppress(asyncio.CancelledError):  # close() ends open connections
            await asyncio.gather(self._pump(reader, upstream_writer), self._pump(upstream_reader, writer))

    @staticmethod
    async def _pump(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            while data := await source.read(65536):
                target.write(data)
                await target.drain()
        with contextlib.suppress(OSError, ssl.SSLError, RuntimeError):
            if target.can_write_eof():
                target.write_eof()
            else:
                target.close()

    def close(self) -> None:
        async def shutdown() -> None:
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def __enter__(self) -> TlsFront:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
