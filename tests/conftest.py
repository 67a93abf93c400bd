"""Shared fixtures: a real HTTP file server on 127.0.0.1, a closed port, and an environment without the mirror.

Helpers that tests import by name live in tests/helpers.py, not here.
"""

from __future__ import annotations

import http.server
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import FileServer, handler_for


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    state = FileServer()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: what an offline machine sees."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing-here"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's mirror or cache unless it sets them itself."""
    monkeypatch.delenv("GANLAB_DATA_MIRROR", raising=False)
    monkeypatch.setenv("GANLAB_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail, not hang, if the code under test blocks (opening a FIFO blocks until a writer comes): readers
    must lstat before they open. 60 s: far beyond any of these tests' own time."""

    def timeout(signum: int, frame: object) -> None:
        raise TimeoutError("blocked: did something open a FIFO?")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
