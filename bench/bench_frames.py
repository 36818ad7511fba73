"""Length-prefixed JSON frames (issue 18): a u32 big-endian length, then the
document; the protocol of examples/json_frames.py, each side written the
natural way.

Sender: ``Writer.write_json(doc, prefix="u32")`` (one C call a frame)
against ``orjson.dumps`` + ``struct.pack`` + two ``BufferedWriter.write``.
Receiver: ``Reader.read_u32`` + ``read_exact`` + ``orjson.loads`` against
``BufferedReader.read(4)`` + ``struct.unpack`` + ``read(n)`` +
``orjson.loads``.  Both sides with 64 KiB buffers over a raw file: /dev/null
for the senders, a file of the frames for the receivers (the page cache),
so the syscalls cost both sides the same and the rows show the per-frame
Python/C path.  Every timed loop handles all FRAMES documents (small dicts
of 100-600 bytes from examples/json_frames.py: ints, floats, strings,
bools, None, a list, a nested dict) and flushes / rewinds inside the timing.  Three runs; the row is the
median run, the note gives the spread of the ratio."""
import io
import os
import struct
import tempfile

from .harness import best_times

from nocopy.io import Reader, Writer

SECTION = "frames"
FRAMES = 1000
BUFFER = 65536


def _example():
    """examples/json_frames.py: the workload (and the protocol) the rows time."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parent.parent / "examples" / "json_frames.py"
    spec = importlib.util.spec_from_file_location("json_frames_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def documents(n=FRAMES):
    return list(_example().documents(n))


def _ratio_rows(report, case, make_fns, peer_name, target, runs=3):
    results = []
    for _ in range(runs):
        t = best_times(make_fns(), budget=1.0)
        results.append((t["peer"] / t["nocopy"], t))
    results.sort(key=lambda r: r[0])
    ratio, t = results[len(results) // 2]
    spread = f"3 runs: {results[0][0]:.2f}-{results[-1][0]:.2f}x"
    report.row(section=SECTION, case=case, nocopy=t["nocopy"] / FRAMES, peer_name=peer_name,
               peer=t["peer"] / FRAMES, target=target, note=spread)


def _sender(report, orjson, docs):
    pack = struct.Struct(">I").pack
    dumps = orjson.dumps

    def make():
        w = Writer(os.open(os.devnull, os.O_WRONLY), BUFFER)
        f = open(os.devnull, "wb", buffering=BUFFER)
        write_json, flush = w.write_json, w.flush
        fwrite, fflush = f.write, f.flush

        def nocopy():
            for doc in docs:
                write_json(doc, prefix="u32")
            flush()

        def peer():
            for doc in docs:
                body = dumps(doc)
                fwrite(pack(len(body)))
                fwrite(body)
            fflush()
        return {"nocopy": nocopy, "peer": peer}

    _ratio_rows(report, f"send {FRAMES} u32-prefixed JSON frames", make,
                "orjson.dumps + struct.pack + BufferedWriter", 1.3)


def frames_bytes(docs, orjson):
    out = io.BytesIO()
    for doc in docs:
        body = orjson.dumps(doc)
        out.write(struct.pack(">I", len(body)) + body)
    return out.getvalue()


def _receiver(report, orjson, docs):
    unpack = struct.Struct(">I").unpack
    loads = orjson.loads
    fd, path = tempfile.mkstemp(prefix="nocopy-bench-frames-")
    with os.fdopen(fd, "wb") as f:
        f.write(frames_bytes(docs, orjson))
    n = len(docs)
    raw = open(path, "rb", buffering=0)
    buffered = open(path, "rb", buffering=BUFFER)
    try:
        def make():
            def nocopy():
                raw.seek(0)
                r = Reader(raw, BUFFER)
                read_u32, read_exact = r.read_u32, r.read_exact
                for _ in range(n):
                    loads(read_exact(read_u32()).tobytes())

            def nocopy_mv():
                raw.seek(0)
                r = Reader(raw, BUFFER)
                read_u32, read_exact = r.read_u32, r.read_exact
                for _ in range(n):
                    loads(read_exact(read_u32()).memoryview())

            def peer():
                buffered.seek(0)
                read = buffered.read
                for _ in range(n):
                    (size,) = unpack(read(4))
                    loads(read(size))
            return {"nocopy": nocopy, "peer": peer, "nocopy_mv": nocopy_mv}

        _ratio_rows(report, f"receive {FRAMES} u32-prefixed JSON frames (tobytes)", make,
                    "BufferedReader.read + struct.unpack + orjson.loads", 1.2)

        def make_mv():
            fns = make()
            return {"nocopy": fns["nocopy_mv"], "peer": fns["peer"]}
        _ratio_rows(report, f"receive {FRAMES} u32-prefixed JSON frames (memoryview())", make_mv,
                    "BufferedReader.read + struct.unpack + orjson.loads", None)
    finally:
        raw.close()
        buffered.close()
        os.unlink(path)


def run(report):
    try:
        import orjson
    except ImportError:
        print("  (peer orjson not installed: the frames rows are skipped; pip install orjson)")
        return
    docs = documents()
    sizes = sorted(len(orjson.dumps(d)) for d in docs)
    print(f"  {len(docs)} frames, document sizes {sizes[0]}-{sizes[-1]} bytes, "
          f"median {sizes[len(sizes) // 2]}")
    _sender(report, orjson, docs)
    _receiver(report, orjson, docs)
