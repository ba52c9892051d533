"""The `rpyc` bench's service in Python on rpyc's own ThreadedServer: the same methods as the
Rust `BenchService` (benches/rpyc/service.rs) that `Server::rpyc()` serves.

Run: python rpyc_server.py  -> prints "PORT <n>" once listening on 127.0.0.1 (a free port),
then serves until killed or until its stdin closes (the bench holds it open, so the server
does not outlive a bench that is killed).
"""

import os
import sys
import threading

from rpyc import Service
from rpyc.utils.server import ThreadedServer


class BenchService(Service):
    def exposed_null(self):
        return None

    def exposed_echo_len(self, data):
        return len(data)

    def exposed_call_back(self, f):
        return f()


if __name__ == "__main__":
    server = ThreadedServer(BenchService, hostname="127.0.0.1", port=0,
                            protocol_config={"allow_public_attrs": False})
    print("PORT", server.port, flush=True)

    def exit_at_eof():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_at_eof, daemon=True).start()
    server.start()
