"""TCP_NODELAY for the sockets uvicorn's workers accept (uvicorn issue #3149): set on
the bound socket before it listens, it is inherited by every accepted connection."""

from __future__ import annotations

import socket

from mlflow_compliance.server.no_delay import no_delay_on_tcp_sockets


def accepted_no_delay(fix: bool) -> int:
    # Bound as uvicorn's Config.bind_socket does it: proto 0, listening only later.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    with listener:
        assert listener.proto == 0
        if fix:
            assert no_delay_on_tcp_sockets() >= 1
        listener.listen()
        with socket.create_connection(listener.getsockname()) as client:
            accepted, _ = listener.accept()
            with accepted:
                assert client.fileno() >= 0
                return accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_a_bound_socket_passes_nagle_on_to_accepted_connections() -> None:
    """Without the fix, the accepted socket keeps Nagle's algorithm (what uvicorn's
    workers got): the condition the fix is for really occurs here."""
    assert accepted_no_delay(fix=False) == 0


def test_no_delay_set_before_listen_reaches_accepted_connections() -> None:
    assert accepted_no_delay(fix=True) != 0
