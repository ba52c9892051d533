"""The `rpyc` bench's client: Python's own rpyc 6 calling one server (the Rust service served by
`Server::rpyc()`, or the same service on rpyc's ThreadedServer), one fresh connection per run.

Run: python rpyc_client.py PORT probe
       checks every method's answer once and prints "FRAMES <request> <reply>": the bytes on
       the wire (rpyc's 5-byte header and trailing newline included) of a pre-fetched null()
       call's request and reply.
     python rpyc_client.py PORT measure NULLS BATCHES BULKS CALLBACKS WARMUP
       for each row: runs WARMUP untimed calls (a tenth of them for the 1 MiB and callback
       rows, WARMUP / 64 batches for async64), prints
       "ROW <name>", waits for a line on stdin (the bench samples the server's CPU time), runs
       the timed loop and prints "DONE <name> n=<timed ops> wall=<s> cpu=<s> p50=<s> p99=<s>",
       where cpu is this process's own CPU time (time.process_time) over the loop and p50/p99
       are of the single ops (a call; for async64 a batch of 64 calls in flight, then waited).
       The last two rows repeat two earlier ones with TCP_NODELAY set on the client's socket.

Exits non-zero on a wrong answer.
"""

import os
import socket
import sys
import time

import rpyc
from rpyc.core.stream import SocketStream

MIB = 2 ** 20
IN_FLIGHT = 64


def check(what, got, want):
    if got != want:
        sys.exit("%s answered %r, expected %r" % (what, got, want))


class Counter:
    """A callback that counts its calls; the server calls it once per call_back."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return 7


def probe(c):
    check("null()", c.root.null(), None)
    check("echo_len(1 MiB of x)", c.root.echo_len(b"x" * MIB), MIB)
    check("echo_len(1 MiB random)", c.root.echo_len(os.urandom(MIB)), MIB)
    f = Counter()
    check("call_back(f)", c.root.call_back(f), 7)
    check("calls of f", f.calls, 1)
    results = [rpyc.async_(c.root.null)() for _ in range(IN_FLIGHT)]
    for r in results:
        r.wait()
        check("async null()", r.value, None)
    # The bytes of one pre-fetched null() call, counted at the socket stream.
    m = c.root.null
    m()
    sent, got = [0], [0]
    write, read = SocketStream.write, SocketStream.read

    def counted_write(self, data):
        sent[0] += len(data)
        return write(self, data)

    def counted_read(self, count):
        data = read(self, count)
        got[0] += len(data)
        return data

    SocketStream.write, SocketStream.read = counted_write, counted_read
    try:
        m()
    finally:
        SocketStream.write, SocketStream.read = write, read
    print("FRAMES", sent[0], got[0], flush=True)


def row(name, warmup, timed, op):
    """Warms up, waits for the bench's go, times `timed` runs of op; prints the DONE line."""
    for _ in range(warmup):
        op()
    print("ROW", name, flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("no go from the bench")
    samples = []
    clock = time.perf_counter
    cpu0, wall0 = time.process_time(), clock()
    for _ in range(timed):
        t = clock()
        op()
        samples.append(clock() - t)
    wall, cpu = clock() - wall0, time.process_time() - cpu0
    samples.sort()
    p50 = samples[len(samples) // 2]
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print("DONE %s n=%d wall=%.9f cpu=%.9f p50=%.9f p99=%.9f" % (name, timed, wall, cpu, p50, p99),
          flush=True)


def measure(c, nulls, batches, bulks, callbacks, warmup):
    root = c.root

    def null_by_name():
        if root.null() is not None:
            sys.exit("null() answered something")

    m = root.null

    def null_prefetched():
        if m() is not None:
            sys.exit("null() answered something")

    am = rpyc.async_(m)

    def async64():
        results = [am() for _ in range(IN_FLIGHT)]
        for r in results:
            r.wait()
            if r.error:
                sys.exit("an async null() failed")

    echo_len = root.echo_len
    repeated = b"x" * MIB
    noise = os.urandom(MIB)

    def bulk_repeated():
        if echo_len(repeated) != MIB:
            sys.exit("echo_len answered a wrong length")

    def bulk_random():
        if echo_len(noise) != MIB:
            sys.exit("echo_len answered a wrong length")

    call_back = root.call_back
    f = Counter()

    def callback():
        before = f.calls
        if call_back(f) != 7 or f.calls != before + 1:
            sys.exit("call_back did not call f once")

    row("null_by_name", warmup, nulls, null_by_name)
    row("null_prefetched", warmup, nulls, null_prefetched)
    row("async64", max(1, warmup // IN_FLIGHT), batches, async64)
    row("bulk_repeated", max(1, warmup // 10), bulks, bulk_repeated)
    row("bulk_random", max(1, warmup // 10), bulks, bulk_random)
    # A tenth of the warm-up for the callback rows: without TCP_NODELAY a call may take 40 ms.
    row("callback", max(1, warmup // 10), callbacks, callback)
    # Diagnosis: rpyc.connect leaves Nagle's algorithm on (no TCP_NODELAY), so a small write
    # that follows one the server has not acknowledged yet (the 1-byte "\n" that ends a frame
    # over 64 KiB, a request right after the reply to a DEL) waits for the server's ACK, which
    # Linux may delay by 40 ms. The same two rows with TCP_NODELAY on show what is left.
    c._channel.stream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    row("bulk_random_nodelay", max(1, warmup // 10), bulks, bulk_random)
    row("callback_nodelay", max(1, warmup // 10), callbacks, callback)


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    c = rpyc.connect("127.0.0.1", port, config={"allow_public_attrs": False})
    try:
        if mode == "probe":
            probe(c)
        else:
            measure(c, *(int(a) for a in sys.argv[3:8]))
    finally:
        c.close()


if __name__ == "__main__":
    main()
