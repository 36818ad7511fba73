"""The training run of the profile-guided build (setup.py runs it between
the instrumented build and the final one; see setup.py's docstring).

It encodes one document per common JSON shape, each of about 2,000 values,
all the same number of times, so that no one shape decides the profile:
flags, ints and floats in lists, coordinate pairs, ASCII and non-ASCII
strings short and long (with and without a UTF-8 cache), records, nested
dicts, dicts of non-ASCII strings and random trees, in dumps() and
dumps_into(), and now and then with indent/sort_keys, dump() and
ensure_ascii=False; the documents take turns with each string-copy level
the CPU has (SSE2, AVX2, AVX-512).  None of them is a document of the
benchmark corpus (bench/bench_corpus.py): the corpus
measures data the profile never saw.  Only the standard library and the
nocopy being built are imported.  Takes about a second."""
import ctypes
import io
import random

import nocopy.json as nj
from nocopy import _core

rnd = random.Random(12345)
ASCII = "abcdefghijklmnopqrstuvwxyz ABCDEF0123456789/._-"
NONASCII = "äöüßéèñçøåあいうえおカタカナ漢字😀"
TFN = (True, False, None)

# A str whose UTF-8 cache exists, as one that orjson or a C extension has
# encoded before (the encoder copies such a cache instead of transcoding).
_as_utf8 = ctypes.pythonapi.PyUnicode_AsUTF8
_as_utf8.argtypes = [ctypes.py_object]
_as_utf8.restype = ctypes.c_void_p


def cached(s):
    _as_utf8(s)
    return s


def words(n, alphabet):
    return "".join(rnd.choice(alphabet) for _ in range(n))


def leaf():
    k = rnd.random()
    if k < 0.25:
        return rnd.randint(-10**6, 10**6)
    if k < 0.3:
        return rnd.randint(-2**63, 2**63)
    if k < 0.45:
        return rnd.random() * 10 ** rnd.randint(-5, 8)
    if k < 0.75:
        return words(rnd.randint(0, 30), ASCII)
    if k < 0.8:
        return words(rnd.randint(1, 10), NONASCII)
    return rnd.choice(TFN)


def tree(depth):
    k = rnd.random()
    if depth > 4 or k < 0.5:
        return leaf()
    if k < 0.75:
        return {words(rnd.randint(1, 10), "abcdefgh_"): tree(depth + 1) for _ in range(rnd.randint(0, 8))}
    return [tree(depth + 1) for _ in range(rnd.randint(0, 10))]


N = 2000
DOCS = [
    [[rnd.choice(TFN) for _ in range(rnd.randint(1, 12))] for _ in range(N // 6)],
    [rnd.choice(TFN) for _ in range(N)],
    [rnd.randint(-1000, 10**9) for _ in range(N)],
    [[rnd.randint(0, 99) for _ in range(rnd.randint(1, 6))] for _ in range(N // 4)],
    [rnd.random() * 1000 for _ in range(N)],
    [round(rnd.uniform(-90, 90), rnd.randint(1, 6)) for _ in range(N)],
    [[round(rnd.uniform(-180, 180), 8), round(rnd.uniform(-90, 90), 8)] for _ in range(N // 2)],
    [words(rnd.randint(1, 60), ASCII) for _ in range(N)],
    [words(rnd.randint(60, 1000), ASCII) for _ in range(N // 8)],
    [words(rnd.randint(30, 300), NONASCII + "ab ") for _ in range(N // 8)],
    [cached(words(rnd.randint(30, 300), NONASCII + "ab ")) for _ in range(N // 8)],
    [words(rnd.randint(1, 20), NONASCII + "ab ") for _ in range(N // 2)],
    [cached(words(rnd.randint(1, 20), NONASCII + "ab ")) for _ in range(N // 2)],
    [{"user": words(8, ASCII), "n": rnd.randint(0, 10**6), "ok": rnd.random() < 0.5, "none": None,
      "score": rnd.random(), "tags": [words(4, "xyz") for _ in range(2)]} for _ in range(N // 6)],
    [{"name": words(5, NONASCII), "city": cached(words(4, NONASCII))} for _ in range(N // 2)],
    [{"id": i, "a": {"b": i, "c": [i, i + 1]}, "d": {"e": {"f": None}}} for i in range(N // 8)],
    {str(i): {"x": i, "url": "https://example.org/" + words(20, ASCII), "flag": True} for i in range(N // 3)},
    [tree(0) for _ in range(N // 10)],
]


def main():
    buf = bytearray(1 << 22)
    levels = range(_core._json_wide() + 1)
    for rep in range(40):
        # the documents take turns with each string-copy level the CPU has: a
        # wheel built on a CPU with AVX-512 runs the AVX2 or SSE2 loops on
        # CPUs without (json_wide.h), and an unprofiled path is laid out
        # cold (cached UTF-8 strings 25% slower)
        for j, doc in enumerate(DOCS):
            _core._json_wide(levels[(rep + j) % len(levels)])
            nj.dumps(doc)
            nj.dumps_into(doc, buf)
            if rep % 8 == 0:
                nj.dumps(doc, indent=2, sort_keys=True)
                nj.dump(doc, io.BytesIO())
                nj.dumps(doc, ensure_ascii=False)


if __name__ == "__main__":
    main()
