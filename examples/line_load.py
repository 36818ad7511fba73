"""A pipelining load client for the line servers: many connections, each
sending a batch of commands in one write and reading their replies before
the next batch; stops after a fixed time.  Plain sockets and a selector, so
the client spends little CPU per request (one send and a recv or two per
batch, the replies counted by their b"\\n").

    python examples/line_load.py HOST:PORT [-c 16] [-p 32] [-d 3] [--json]

The batch mixes GET (half), SET and INCR over 100 keys per connection.
Prints requests/s (and, with --json, one JSON object)."""
import argparse
import json
import selectors
import socket
import time


def batch(conn: int, pipeline: int) -> bytes:
    out: list[bytes] = []
    for i in range(pipeline):
        key = b"c%d:k%d" % (conn, i % 100)
        kind = i % 4
        if kind in (0, 2):
            out.append(b"GET " + key + b"\n")
        elif kind == 1:
            out.append(b"SET " + key + b" value-%d-of-some-length\n" % i)
        else:
            out.append(b"INCR n" + key + b"\n")
    return b"".join(out)


class _Conn:
    __slots__ = ("sock", "batch", "got")

    def __init__(self, sock: socket.socket, batch: bytes) -> None:
        self.sock = sock
        self.batch = batch
        self.got = 0  # replies to the batch in flight


def run(host: str, port: int, connections: int, pipeline: int, duration: float) -> dict[str, float]:
    sel = selectors.DefaultSelector()
    conns: dict[int, _Conn] = {}
    for c in range(connections):
        s = socket.create_connection((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        conns[s.fileno()] = _Conn(s, batch(c, pipeline))
        sel.register(s, selectors.EVENT_READ)
    requests = 0
    t0 = time.perf_counter()
    end = t0 + duration
    for conn in conns.values():
        conn.sock.sendall(conn.batch)
    running = len(conns)
    while running:
        for key, _ in sel.select(1.0):
            conn = conns[key.fd]
            data = conn.sock.recv(262144)
            if not data:
                raise ConnectionError("the server closed a connection mid-batch")
            conn.got += data.count(b"\n")
            if conn.got >= pipeline:
                if conn.got != pipeline:
                    raise ValueError(f"{conn.got} replies to a batch of {pipeline}")
                requests += pipeline
                conn.got = 0
                if time.perf_counter() < end:
                    conn.sock.sendall(conn.batch)
                else:
                    sel.unregister(conn.sock)
                    running -= 1
    dt = time.perf_counter() - t0
    for conn in conns.values():
        conn.sock.close()
    sel.close()
    return {"requests": requests, "seconds": dt, "rps": requests / dt}


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("address", help="HOST:PORT")
    p.add_argument("-c", "--connections", type=int, default=16)
    p.add_argument("-p", "--pipeline", type=int, default=32, help="commands per batch")
    p.add_argument("-d", "--duration", type=float, default=3.0, help="seconds")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    host, _, port = a.address.rpartition(":")
    res = run(host, int(port), a.connections, a.pipeline, a.duration)
    if a.json:
        print(json.dumps(res))
    else:
        print(f"{res['requests']} requests in {res['seconds']:.2f} s: {res['rps']:.0f} requests/s")


if __name__ == "__main__":
    main()
