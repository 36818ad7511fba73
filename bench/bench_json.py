"""nocopy.json side by side with msgspec, orjson, ujson and the stdlib.

Rows: dumps_into (into a preallocated bytearray) against each peer's fastest
way to produce the same bytes, on five documents; dump to a file against
orjson.dumps + write and json.dump; peak memory of those dumps.  Peers are
optional: a missing one is reported and its rows are skipped."""
import importlib
import json
import os
import random
import tempfile

from .harness import best_time, best_times, best_times_fresh, peak_memory

import nocopy.json as nj

SECTION = "json"


def _peer(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        print(f"  (peer {name} not installed: its rows are skipped; pip install {name})")
        return None


def documents():
    rnd = random.Random(1234)
    sensor = {"temperature": 2113, "humidity": 4521, "pressure": 101325, "time": 1700000000}
    mixed = {
        "id": 1234567, "name": "Example sensor node", "active": True, "owner": None,
        "location": {"lat": 52.520008, "lon": 13.404954, "alt": 34.5},
        "tags": ["outdoor", "roof", "berlin", "v2"],
        "readings": [{"t": 1700000000 + i, "v": round(rnd.uniform(-10, 40), 3), "ok": i % 3 != 0}
                     for i in range(12)],
        "notes": "Calibrated 2023-11-02; next check due in six months.",
    }
    big = [{"id": i, "name": f"item-{i}", "price": round(rnd.uniform(1, 1000), 2),
            "qty": rnd.randrange(1000), "flags": [True, False, None], "desc": "lorem ipsum " * 3}
           for i in range(6500)]
    words = ["größe", "näher", "日本語のテキスト", "Ελληνικά", "русский текст", "emoji 😀🎉", "çà et là"]
    strings = [" ".join(rnd.choice(words) for _ in range(12)) for _ in range(1000)]
    floats = [rnd.uniform(-1e6, 1e6) for _ in range(5000)] + [rnd.random() * 1e-300 for _ in range(1000)]
    return [("sensor dict", sensor), ("~1 KB mixed", mixed), ("~1 MB list of dicts", big),
            ("string-heavy non-ASCII", strings), ("float-heavy", floats)]


def _warm_utf8(obj):
    """Make CPython cache the UTF-8 form of every non-ASCII str in obj, as
    the first orjson/msgspec call on a str does, so every encoder meets the
    same state (nocopy reads such a cache when present, never creates one)."""
    import ctypes
    as_utf8 = ctypes.pythonapi.PyUnicode_AsUTF8AndSize
    as_utf8.argtypes = [ctypes.py_object, ctypes.c_void_p]
    as_utf8.restype = ctypes.c_void_p
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, str):
            as_utf8(o, None)
        elif isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, (list, tuple)):
            stack.extend(o)


def _encoders(msgspec, orjson, ujson, size):
    """name -> fn(doc): every way of producing the document's bytes."""
    buf = bytearray(size + 64)
    fns = {"nocopy": lambda d: nj.dumps_into(d, buf), "nocopy dumps": nj.dumps}
    if msgspec is not None:
        enc = msgspec.json.Encoder()
        mbuf = bytearray(size + 64)
        fns["msgspec encode_into"] = lambda d: enc.encode_into(d, mbuf)
    if orjson is not None:
        fns["orjson.dumps"] = orjson.dumps
    if ujson is not None:
        fns["ujson.dumps"] = lambda d: ujson.dumps(d, ensure_ascii=False)
    fns["json.dumps().encode()"] = lambda d: json.dumps(d, separators=(",", ":"),
                                                        ensure_ascii=False).encode()
    return fns


TARGETS = {"msgspec encode_into": 1.0, "orjson.dumps": 1.0, "ujson.dumps": None,
           "json.dumps().encode()": 5.0}


def _rows(report, label, t):
    for peer, target in TARGETS.items():
        if peer in t:
            report.row(SECTION, f"dumps_into: {label}", t["nocopy"], peer, t[peer], target=target)
    if "orjson.dumps" in t:
        report.row(SECTION, f"dumps: {label}", t["nocopy dumps"], "orjson.dumps",
                   t["orjson.dumps"], target=1.0)


def run(report):
    msgspec = _peer("msgspec")
    orjson = _peer("orjson")
    ujson = _peer("ujson")
    for label, doc in documents():
        size = len(nj.dumps(doc))
        fns = _encoders(msgspec, orjson, ujson, size)
        if label.startswith("string-heavy"):
            strings = doc
            t = best_times_fresh(lambda: [s.encode().decode() for s in strings], fns)
            _rows(report, f"{label}, fresh str ({size} B)", t)
            _warm_utf8(doc)
            label += ", UTF-8 cached"
        t = best_times({name: (lambda f=f: f(doc)) for name, f in fns.items()})
        _rows(report, f"{label} ({size} B)", t)

    # dump to a file: the ~1 MB document
    doc = documents()[2][1]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out.json")
        with open(path, "wb") as f, open(path + ".txt", "w", encoding="utf-8") as tf:
            def nc_dump():
                f.seek(0)
                nj.dump(doc, f)

            def or_dump():
                f.seek(0)
                f.write(orjson.dumps(doc))

            def std_dump():
                tf.seek(0)
                json.dump(doc, tf, separators=(",", ":"), ensure_ascii=False)

            fns = {"nocopy": nc_dump, "json.dump": std_dump}
            if orjson is not None:
                fns["orjson.dumps + write"] = or_dump
            t = best_times(fns)
            for peer in ("orjson.dumps + write", "json.dump"):
                if peer in t:
                    report.row(SECTION, "dump ~1 MB to a file", t["nocopy"], peer, t[peer],
                               target=1.0 if peer.startswith("orjson") else 5.0)
            m_nc = peak_memory(nc_dump)
            for peer in ("orjson.dumps + write", "json.dump"):
                if peer in fns:
                    report.row(SECTION, "dump ~1 MB: peak memory", m_nc, peer,
                               peak_memory(fns[peer]), unit="bytes", target=1.0)
