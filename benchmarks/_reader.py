"""A reader process for the benchmarks: connects ``K`` times to a Unix socket, sends a
request on each, reads every connection to EOF, and reports bytes, lines and time.

    python -m benchmarks._reader SOCKET K REQUEST [--latency]
    python -m benchmarks._reader SOCKET K @REQUESTS.json [--latency]   (one per connection)

With ``--latency`` it parses eve lines and reports the delay between the harness's
timestamp carried in each ``agent.content.delta`` text (``t=<ns>``) and its arrival.
"""

from __future__ import annotations

import json
import selectors
import socket
import sys
import time


def main() -> None:
    path, k, spec = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if spec.startswith("@"):
        with open(spec[1:]) as f:
            requests = [r.encode() for r in json.load(f)]
    else:
        requests = [spec.encode()] * k
    latency = "--latency" in sys.argv
    selector = selectors.DefaultSelector()
    sockets = []
    for i in range(k):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        sock.sendall(requests[i])
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, i)
        sockets.append(sock)
    print("connected", flush=True)
    connected_ns = time.time_ns()
    received = [0] * k
    entries = [0] * k
    carry = [b""] * k
    partial = [b""] * k
    delays: list[float] = []
    start = time.time()
    open_count = k
    while open_count:
        for key, _ in selector.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            i = key.data
            data = sock.recv(1 << 20)
            if not data:
                selector.unregister(sock)
                sock.close()
                open_count -= 1
                continue
            received[i] += len(data)
            # Count entries by their one "streamIndex" key (eve) or leading "seq" key
            # (coven; HTTP framing has newlines too); keep a short tail so a key split
            # across reads is still seen once.
            joined = carry[i] + data
            for key in (b'"streamIndex":', b'{"seq":'):  # not twice for a key in the tail
                entries[i] += joined.count(key) - carry[i].count(key)
            carry[i] = joined[-13:]
            if latency:
                now = time.time_ns()
                lines = (partial[i] + data).split(b"\n")
                partial[i] = lines.pop()
                for line in lines:
                    marker = line.find(b"t=")
                    if marker > 0 and b"agent.content.delta" in line:
                        end = line.find(b";", marker)
                        sent = int(line[marker + 2 : end])
                        if sent >= connected_ns:  # live entries only, not the replay
                            delays.append((now - sent) / 1e6)
    end = time.time()
    result = {"start": start, "end": end, "bytes": received, "entries": entries}
    if latency:
        delays.sort()
        n = len(delays)
        result.update(
            samples=n, p50_ms=delays[n // 2] if n else 0, p99_ms=delays[int(n * 0.99)] if n else 0
        )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
