"""HTTPS for waitress, which has no TLS of its own: stdlib ``ssl`` inside waitress's event loop.

Each accepted connection is wrapped in a server-side ``SSLSocket`` before waitress's channel
takes it, without a handshake: the socket is non-blocking, and the first ``SSL_read`` performs
the handshake piece by piece as the client's bytes arrive, so a client that never sends a
ClientHello holds only its own idle connection (closed by waitress's channel timeout) and
never blocks the loop. What the channel changes for TLS:

- ``SSLWantReadError``/``SSLWantWriteError`` mean "try again later", never "disconnected"
  (waitress reads an empty ``recv`` as a hang-up); a handshake that needs to write waits for
  the socket to be writable, then reads again.
- Reading goes on while ``pending()`` is non-zero: a TLS record holds up to 16 KiB, and poll
  cannot see decrypted bytes already inside OpenSSL.
- One lock per connection serialises ``SSL_read`` and ``SSL_write``: waitress writes answers
  from its task threads while the loop may be reading, and an OpenSSL connection must not be
  used by two threads at once. The lock is held only for one non-blocking call.
- Plain HTTP sent to the TLS port gets a plain-text ``400`` saying so, then the connection
  closes; any other handshake failure just closes that connection.

The certificate and key are loaded in the parent (``load_tls_context``) so a bad file stops
start-up with one line; TLS 1.2 is the minimum. Importing this module loads only the standard
library: waitress is imported when the channel class is built.
"""
from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from typing import Any, Optional

from tinyserve.errors import ModelLoadError

logger = logging.getLogger("tinyserve")

READ_SIZE = 65536  # several TLS records per read
PLAIN_HTTP_TEXT = b"This port serves HTTPS: use https:// here.\n"
PLAIN_HTTP_ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(PLAIN_HTTP_TEXT), PLAIN_HTTP_TEXT)
)
_PLAIN_HTTP_REASONS = frozenset({"HTTP_REQUEST", "HTTPS_PROXY_REQUEST"})


def load_tls_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """A server context with this certificate chain and key, TLS 1.2 or newer."""
    for flag, path in (("--ssl-certfile", certfile), ("--ssl-keyfile", keyfile)):
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            raise ModelLoadError(f"Cannot read {flag} {path}: {error.strerror or error}") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)

    def no_password() -> bytes:  # without this, OpenSSL would prompt on the terminal
        raise ModelLoadError(f"--ssl-keyfile {keyfile} is encrypted; tinyserve needs an "
                             "unencrypted key (protect it with file permissions).")

    try:
        context.load_cert_chain(certfile, keyfile, password=no_password)
    except ssl.SSLError as error:
        detail = ("the key does not belong to the certificate"
                  if error.reason == "KEY_VALUES_MISMATCH"
                  else f"they are not a PEM certificate chain and private key ({error})")
        raise ModelLoadError(f"Cannot use --ssl-certfile {certfile} with --ssl-keyfile "
                             f"{keyfile}: {detail}") from None
    return context


def use_tls(server: Any, context: ssl.SSLContext) -> None:
    """Make a server from ``waitress.server.create_server`` speak HTTPS on all its sockets."""
    from waitress.server import BaseWSGIServer

    channel_class = tls_channel_class(context)
    socket_map = getattr(server, "_map", None) or getattr(server, "map", {})
    for dispatcher in [server, *socket_map.values()]:
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = channel_class
    server.adj.url_scheme = "https"  # read when each request is parsed: wsgi.url_scheme


def tls_channel_class(context: ssl.SSLContext) -> type:
    """A waitress ``HTTPChannel`` subclass whose connections speak TLS with ``context``."""
    from waitress.channel import HTTPChannel

    class TLSChannel(HTTPChannel):
        tls_context = context
        wants_write = False  # the handshake waits to write, not to read

        def __init__(self, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:
            self.tls_lock = threading.Lock()
            try:
                tls_sock = self.tls_context.wrap_socket(sock, server_side=True,
                                                        do_handshake_on_connect=False)
            except (OSError, ValueError) as error:  # the client is already gone
                logger.debug("TLS connection from %s dropped: %s", describe(addr), error)
                sock.close()
                self.socket = None
                return  # never registered: waitress's accept must not see an exception
            super().__init__(server, tls_sock, addr, adj, map=map)

        def writable(self) -> bool:
            return bool(self.wants_write or super().writable())

        def handle_write(self) -> None:
            if self.wants_write:
                self.wants_write = False
                self.handle_read()
                if self.socket is None:
                    return
            super().handle_write()

        def handle_read(self) -> None:
            while self.socket is not None:
                try:
                    with self.tls_lock:
                        data = self.socket.read(READ_SIZE)  # read(), unlike recv(), is TLS only
                except ssl.SSLWantReadError:
                    return
                except ssl.SSLWantWriteError:
                    self.wants_write = True
                    return
                except ssl.SSLError as error:
                    self.refuse(error)
                    return
                except (OSError, ValueError):
                    self.handle_close()
                    return
                if not data:
                    self.handle_close()
                    return
                self.last_activity = time.time()
                self.received(data)
                if not self.decrypted_bytes_waiting():
                    return

        def decrypted_bytes_waiting(self) -> bool:
            if self.socket is None:
                return False
            with self.tls_lock:
                return self.socket.pending() > 0

        def send(self, data: bytes, do_close: bool = True) -> int:
            sock = self.socket
            if sock is None:
                return 0
            try:
                with self.tls_lock:
                    return sock.write(data)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return 0
            except (OSError, ValueError) as error:  # the connection is gone or broken
                logger.debug("TLS connection from %s failed while sending: %s",
                             self.addr, error)
                if do_close:
                    self.handle_close()
                return 0

        def refuse(self, error: ssl.SSLError) -> None:
            """End a connection whose TLS failed; plain HTTP is told to use https://."""
            if getattr(error, "reason", None) in _PLAIN_HTTP_REASONS:
                try:  # the raw socket under the TLS one: the client speaks plain HTTP
                    os.write(self.socket.fileno(), PLAIN_HTTP_ANSWER)
                except OSError:
                    pass
            logger.info("TLS connection from %s closed: %s", describe(self.addr), error)
            self.handle_close()

    return TLSChannel


def describe(addr: Optional[Any]) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)
