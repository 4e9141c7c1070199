"""A TCP forwarder that a test can cut and restore: a server "going down" mid-sync, for real.

The client sees exactly what it would see if the server vanished: connections refused and
open connections closed, while the real server (shared by the whole session) keeps running.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.wikiservers import free_port


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target``; `down` and `up` switch it."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def up(self) -> TcpProxy:
        """Start accepting connections (again) on the same port."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def down(self) -> None:
        """Refuse new connections and cut the open ones."""
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def down_after(self, documents: int) -> DownAfter:
        """An indexer `Progress` that takes this proxy down once ``documents`` were handled."""
        return DownAfter(self, documents)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by down()
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


class DownAfter:
    """Indexer progress that cuts a `TcpProxy` mid-sync."""

    def __init__(self, proxy: TcpProxy, documents: int) -> None:
        self.proxy, self.remaining = proxy, documents

    def start_source(self, source: str) -> None:
        pass

    def advance(self, source: str, documents: int, detail: str) -> None:
        self.remaining -= documents
        if self.remaining == 0:
            self.proxy.down()

    def end_source(self, summary: object) -> None:
        pass
