"""Building a message (issue 14, parts 3-4).

take_bytes: a payload built from two parts in a ByteBuffer(storage="bytes")
and handed over as bytes (no copy), against the strongest stdlib ways to get
a bytes of a payload built from the same two parts: a preallocated bytearray
+ bytes(ba), + bytes(memoryview(ba)[:n]), io.BytesIO().getvalue(), and
b"".join(parts).  Then the peak memory of the 16 MiB case.

prepend: a 40-byte header put in front of a body already in the buffer, the
result one contiguous buffer to send; against `header + body` and a
bytearray with a gap reserved in front."""
import io

from nocopy import ByteBuffer

from .harness import best_times, peak_memory

SECTION = "build"
SIZES = [("64 B", 64), ("4 KiB", 4096), ("1 MiB", 1 << 20)]
HDR = b"HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n"[:40]


def _take_rows(report):
    for name, n in SIZES:
        payload = bytes(range(256)) * (n // 256) or b"p" * n
        h = n // 2
        p1, p2 = payload[:h], payload[h:]
        b = ByteBuffer(n, storage="bytes")
        ba = bytearray(n)
        parts = [p1, p2]

        def ours():
            b.write(p1)
            b.write(p2)
            return b.take_bytes()

        def via_bytes():
            ba[0:h] = p1
            ba[h:n] = p2
            return bytes(ba)

        def via_memoryview():
            ba[0:h] = p1
            ba[h:n] = p2
            return bytes(memoryview(ba)[:n])

        def via_bytesio():
            f = io.BytesIO()
            f.write(p1)
            f.write(p2)
            return f.getvalue()

        def via_join():
            return b"".join(parts)

        for fn in (ours, via_bytes, via_memoryview, via_bytesio, via_join):
            assert fn() == payload, fn
        t = best_times({"ours": ours, "bytes": via_bytes, "mv": via_memoryview,
                        "bio": via_bytesio, "join": via_join}, budget=1.0)
        for key, peer in (("bytes", "bytes(bytearray)"), ("mv", "bytes(memoryview(ba)[:n])"),
                          ("bio", "BytesIO().getvalue()"), ("join", 'b"".join(parts)')):
            report.row(SECTION, f"take_bytes {name} (2 writes)", t["ours"], peer, t[key])


def _peak_rows(report):
    n = 16 << 20
    p1, p2 = b"a" * (n // 2), b"b" * (n // 2)

    def ours():
        b = ByteBuffer(n, storage="bytes")
        b.write(p1)
        b.write(p2)
        return b.take_bytes()

    def stdlib():
        ba = bytearray(n)
        ba[0:n // 2] = p1
        ba[n // 2:] = p2
        return bytes(ba)

    def bio():
        f = io.BytesIO()
        f.write(p1)
        f.write(p2)
        return f.getvalue()

    report.row(SECTION, "take_bytes 16 MiB peak memory", peak_memory(ours), "bytes(bytearray)",
               peak_memory(stdlib), unit="bytes")
    report.row(SECTION, "take_bytes 16 MiB peak memory", peak_memory(ours),
               "BytesIO().getvalue()", peak_memory(bio), unit="bytes")


def _prepend_rows(report):
    for name, n in (("1 KiB", 1024), ("64 KiB", 65536)):
        body = b"b" * n
        b = ByteBuffer(n, headroom=64)
        gap = 64
        ba = bytearray(gap + n)

        def ours():
            b.clear()
            b.write(body)
            b.prepend(HDR)
            return b.peek()

        def concat():
            return HDR + body

        def gap_way():
            ba[gap:gap + n] = body
            ba[gap - 40:gap] = HDR
            return memoryview(ba)[gap - 40:]

        # the header alone, the body already in place (as after dumps_into)
        pb = ByteBuffer(n, headroom=64)
        pb.write(body)

        def ours_hdr():
            pb.prepend(HDR)
            v = pb.peek()
            pb.consume(40)
            return v

        def gap_hdr():
            ba[gap - 40:gap] = HDR
            return memoryview(ba)[gap - 40:]

        for fn in (ours, concat, gap_way, ours_hdr, gap_hdr):
            assert bytes(fn()) == HDR + body
        t = best_times({"ours": ours, "concat": concat, "gap": gap_way, "ours_hdr": ours_hdr,
                        "gap_hdr": gap_hdr}, budget=1.0)
        report.row(SECTION, f"clear+write+prepend 40 B+peek, {name}", t["ours"], "header + body",
                   t["concat"])
        report.row(SECTION, f"clear+write+prepend 40 B+peek, {name}", t["ours"],
                   "bytearray with a gap", t["gap"])
        report.row(SECTION, f"prepend 40 B+peek, {name} body in place", t["ours_hdr"],
                   "header + body", t["concat"])
        report.row(SECTION, f"prepend 40 B+peek, {name} body in place", t["ours_hdr"],
                   "gap: ba[g-40:g] = hdr + memoryview", t["gap_hdr"])


def run(report):
    _take_rows(report)
    _peak_rows(report)
    _prepend_rows(report)
