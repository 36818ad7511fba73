"""CPython's own json encoding tests (vendored from CPython 3.11.7,
Lib/test/test_json, PSF License: LICENSE-PSF.txt), run against nocopy.json.

The vendored files only had their imports changed.  Their mixins (TestDump,
TestFloat, ...) are turned into TestCases by tests/test_json_stdlib.py, with
``self.json`` / ``self.dumps`` pointing at the adapter below; their own
``TestPy*`` / ``TestC*`` classes are left inert (PyTest and CTest here are
plain mixins) and this directory is not collected by pytest directly."""
import codecs
import io
import json as _stdjson
import types

import nocopy.json as _nj


class PyTest:
    """Inert stand-in for CPython's PyTest base (pure-Python json)."""


class CTest:
    """Inert stand-in for CPython's CTest base (_json accelerator)."""


def _stdlib_defaults(kw):
    # The tests assume the stdlib's defaults, not nocopy's compact UTF-8 ones.
    kw = dict(kw)
    if kw.get("separators") is None:
        kw["separators"] = (", ", ": ") if kw.get("indent") is None else (",", ": ")
    kw.setdefault("ensure_ascii", True)
    return kw


def dumps(obj, **kw):
    """json.dumps through nocopy.json.dumps (bytes decoded to str)."""
    return _nj.dumps(obj, **_stdlib_defaults(kw)).decode("utf-8")


class _TextSink:
    """Binary write() -> a text stream, decoding across chunk boundaries."""

    def __init__(self, fp):
        self.fp = fp
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def write(self, chunk):
        self.fp.write(self.decoder.decode(bytes(chunk)))
        return len(chunk)


def dump(obj, fp, **kw):
    """json.dump through nocopy.json.dump; text streams get decoded text."""
    if isinstance(fp, io.TextIOBase):
        fp = _TextSink(fp)
    _nj.dump(obj, fp, **_stdlib_defaults(kw))


class JSONEncoder:
    """The part of json.JSONEncoder the encoding tests use: subclasses
    override default(); encode() runs nocopy.json.dumps with it."""

    def __init__(self, *, skipkeys=False, ensure_ascii=True, check_circular=True,
                 allow_nan=True, sort_keys=False, indent=None, separators=None, default=None):
        self.options = dict(skipkeys=skipkeys, ensure_ascii=ensure_ascii,
                            check_circular=check_circular, allow_nan=allow_nan,
                            sort_keys=sort_keys, indent=indent, separators=separators)
        if default is not None:
            self.default = default

    def default(self, o):
        raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")

    def encode(self, o):
        return dumps(o, default=self.default, **self.options)


# What the tests reach through self.json: encoding goes to nocopy, decoding
# (used only to round-trip the encoder's output) stays the stdlib's.
adapter = types.SimpleNamespace(
    dumps=dumps, dump=dump, JSONEncoder=JSONEncoder,
    loads=_stdjson.loads, load=_stdjson.load, JSONDecodeError=_stdjson.JSONDecodeError)
