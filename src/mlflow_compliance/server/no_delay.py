"""TCP_NODELAY on the listening sockets a worker was handed.

With ``--workers`` above 1 (``mlflow server`` starts 4 by default), uvicorn binds the
listening socket itself with ``proto`` 0, and asyncio turns Nagle's algorithm off only on
accepted sockets whose ``proto`` is ``IPPROTO_TCP`` (uvicorn issue #3149, open for
uvicorn 0.54). Nagle then holds each answer's body until the client acknowledges its
headers, and clients delay that acknowledgement: every request on a kept-alive
connection after the first waited about 40 ms, plain ``mlflow server`` included.

Linux copies TCP_NODELAY from a listening socket to the sockets it accepts, so each
worker sets it on the TCP sockets it holds when it loads the app. That is the bound
socket uvicorn handed it, which may not listen yet: each worker calls ``listen`` only
after loading the app, so the first worker to load it finds the socket bound but not
listening. (TCP_NODELAY on any other TCP socket of the process would be harmless.) A
single worker holds no socket when it loads the app and needs nothing: asyncio binds it
with ``proto`` 6.
"""

from __future__ import annotations

import contextlib
import os
import socket

FD_FOLDER = "/proc/self/fd"


def no_delay_on_tcp_sockets() -> int:
    """Set TCP_NODELAY on every TCP socket of this process; how many."""
    if not os.path.isdir(FD_FOLDER):
        return 0  # not Linux: nothing to inherit it from
    count = 0
    for name in os.listdir(FD_FOLDER):
        try:
            copy = os.dup(int(name))
        except OSError:
            continue  # the folder listing's own descriptor, closed by now
        try:
            sock = socket.socket(fileno=copy)
        except OSError:
            os.close(copy)
            continue  # not a socket
        with sock, contextlib.suppress(OSError):
            if sock.family in (socket.AF_INET, socket.AF_INET6) \
                    and sock.type == socket.SOCK_STREAM:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                count += 1
    return count
