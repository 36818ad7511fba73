"""numfmt: nc_format_double / nc_format_int64 (through the private hooks
nocopy._core._format_double / _format_int64, which also build a bytes result)
against repr(float) / str(int), which build a str."""
from nocopy import _core

from .harness import best_time

DOUBLES = [
    ("0.1", 0.1),
    ("1.0 (integral fast path)", 1.0),
    ("123456.789", 123456.789),
    ("pi (17 digits)", 3.141592653589793),
    ("1e+16", 1e16),
    ("2.2250738585072014e-308", 2.2250738585072014e-308),
    ("5e-324 (subnormal)", 5e-324),
    ("1.7976931348623157e+308", 1.7976931348623157e308),
]
INTS = [("0", 0), ("12345", 12345), ("-9223372036854775808", -2 ** 63)]


def run(report):
    fd, fi = _core._format_double, _core._format_int64
    for name, x in DOUBLES:
        ours = best_time(lambda: fd(x))
        peer = best_time(lambda: repr(x))
        report.row("numfmt", f"format_double({name})", ours, "repr(float)", peer)
    for name, v in INTS:
        ours = best_time(lambda: fi(v))
        peer = best_time(lambda: str(v))
        report.row("numfmt", f"format_int64({name})", ours, "str(int)", peer)
