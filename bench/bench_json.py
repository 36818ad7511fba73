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

from .harness import best_time, peak_memory

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


def run(report):
    msgspec = _peer("msgspec")
    orjson = _peer("orjson")
    ujson = _peer("ujson")
    for label, doc in documents():
        size = len(nj.dumps(doc))
        label = f"{label} ({size} B)"
        buf = bytearray(size + 64)
        t_nc = best_time(lambda: nj.dumps_into(doc, buf))
        if msgspec is not None:
            enc = msgspec.json.Encoder()
            mbuf = bytearray(size + 64)
            t = best_time(lambda: enc.encode_into(doc, mbuf))
            report.row(SECTION, f"dumps_into: {label}", t_nc, "msgspec encode_into", t, target=1.0)
        if orjson is not None:
            t = best_time(lambda: orjson.dumps(doc))
            report.row(SECTION, f"dumps_into: {label}", t_nc, "orjson.dumps", t, target=1.0)
        if ujson is not None:
            t = best_time(lambda: ujson.dumps(doc, ensure_ascii=False))
            report.row(SECTION, f"dumps_into: {label}", t_nc, "ujson.dumps", t)
        t = best_time(lambda: json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode())
        report.row(SECTION, f"dumps_into: {label}", t_nc, "json.dumps().encode()", t, target=5.0)
        t_d = best_time(lambda: nj.dumps(doc))
        if orjson is not None:
            t = best_time(lambda: orjson.dumps(doc))
            report.row(SECTION, f"dumps: {label}", t_d, "orjson.dumps", t, target=1.0)

    # dump to a file: the ~1 MB document
    doc = documents()[2][1]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "out.json")
        with open(path, "wb") as f:
            def nc_dump():
                f.seek(0)
                nj.dump(doc, f)
            t_nc = best_time(nc_dump, min_time=0.5)
            m_nc = peak_memory(nc_dump)
            if orjson is not None:
                def or_dump():
                    f.seek(0)
                    f.write(orjson.dumps(doc))
                t = best_time(or_dump, min_time=0.5)
                report.row(SECTION, "dump ~1 MB to a file", t_nc, "orjson.dumps + write", t, target=1.0)
                report.row(SECTION, "dump ~1 MB: peak memory", m_nc, "orjson.dumps + write",
                           peak_memory(or_dump), unit="bytes", target=1.0)
        with open(path, "w", encoding="utf-8") as tf:
            def std_dump():
                tf.seek(0)
                json.dump(doc, tf, separators=(",", ":"), ensure_ascii=False)
            t = best_time(std_dump, min_time=0.5, repeat=3)
            report.row(SECTION, "dump ~1 MB to a file", t_nc, "json.dump", t, target=5.0)
            report.row(SECTION, "dump ~1 MB: peak memory", m_nc, "json.dump",
                       peak_memory(std_dump), unit="bytes", target=1.0)
