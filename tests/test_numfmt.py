"""numfmt.c: nc_format_double against repr(float) and nc_format_int64 against
str(int), through the private hooks nocopy._core._format_double/_format_int64.

repr() is the oracle: every finite double must come out byte for byte as
Python prints it (shortest round-trip digits, closest among them, fixed
notation for 1e-4 <= |x| < 1e16, otherwise d.ddde+XX)."""
import gc
import importlib.util
import inspect
import math
import pathlib
import random
import struct
import sys
import tracemalloc

import pytest
import leakcheck
from hypothesis import given, strategies as st

from nocopy import _core

fmt = _core._format_double
fmt_int = _core._format_int64

MAX_CHARS = 32  # NC_DOUBLE_MAX_CHARS
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1


def from_bits(u):
    return struct.unpack("<d", struct.pack("<Q", u))[0]


def check(x):
    got = fmt(x)
    want = repr(x).encode()
    assert got == want, (x.hex(), got, want)
    assert len(got) <= MAX_CHARS


def check_all(values):
    """Compare many values; one assertion listing the first mismatches."""
    bad = []
    for x in values:
        if fmt(x) != repr(x).encode():
            bad.append((x.hex(), fmt(x), repr(x)))
            if len(bad) >= 10:
                break
    assert not bad


def neighbours(x):
    yield x
    if math.isfinite(x):
        for y in (math.nextafter(x, -math.inf), math.nextafter(x, math.inf)):
            if math.isfinite(y):
                yield y


BOUNDARIES = [
    0.0, -0.0, 1.0, -1.0, 100.0, 0.5, 0.25, 2.0, 10.0,
    5e-324, -5e-324, 1e-323, 1.5e-323, 1e-322, 2.225073858507201e-308,
    2.2250738585072014e-308, 2.2250738585072009e-308, 1.7976931348623157e308,
    -1.7976931348623157e308, 1.7976931348623155e308,
    9007199254740992.0, 9007199254740993.0, 9007199254740994.0, 9007199254740996.0,
    4503599627370496.0, 4503599627370497.0, 4503599627370496.5,
    1e15, 1e16, 1e17, 9999999999999998.0, 9999999999999999.0, 999999999999999.9,
    1234567890123456.0, 123456789012345.6, 12345678901234567.0,
    0.1, 0.2, 0.3, 0.1 + 0.2, 1 / 3, 2 / 3, math.pi, math.e, math.tau,
    1e-4, 1e-5, 0.0001, 0.00001, 0.00009999999999999999, 0.000123, 0.0000123,
    1.5e-7, 1e-7, 1e21, 1e22, 1e23, 1e100, 1e-100, 1e308, 1e-308, 1e-309, 1e-320,
    2.0 ** 63, 2.0 ** 64, 2.0 ** 1023, 2.0 ** -1022, 2.0 ** -1023, 2.0 ** -1074,
    123.456, 1e10, 3.0e15, 1.7976931348623157e308 / 3, 4.35, 0.7, 8.41e21, 5e22,
    # The only two doubles whose scaled value 4v*10^-k lies within 2^-63 above
    # an integer (found by tools/gen_numfmt_table.py): their floors are odd,
    # so the truncated product still compares exactly.
    math.ldexp(5592117679628511, 163), math.ldexp(8887055249355788, 664),
]


@pytest.mark.parametrize("x", BOUNDARIES, ids=lambda x: repr(x))
def test_boundaries(x):
    for y in neighbours(x):
        check(y)
        check(-y)


def test_every_power_of_two_and_neighbours():
    check_all(y for e in range(-1074, 1024) for y in neighbours(2.0 ** e))


def test_every_power_of_ten_and_neighbours():
    vals = []
    for e in range(-325, 309):
        for text in ("1e%d", "5e%d", "9e%d", "9.999999999999999e%d", "2.5e%d"):
            vals.extend(neighbours(float(text % e)))
    check_all(vals)


def test_fixed_scientific_switch():
    # The decimal exponent decides the notation: -4 <= E < 16 is fixed.
    assert fmt(1e16) == b"1e+16"
    assert fmt(1e15) == b"1000000000000000.0"
    assert fmt(9999999999999998.0) == b"9999999999999998.0"
    assert fmt(1234567890123456.0) == b"1234567890123456.0"
    assert fmt(1e-4) == b"0.0001"
    assert fmt(1e-5) == b"1e-05"
    assert fmt(1.5e-7) == b"1.5e-07"
    assert fmt(5e-324) == b"5e-324"
    assert fmt(2.2250738585072014e-308) == b"2.2250738585072014e-308"
    assert fmt(-2.2250738585072014e-308) == b"-2.2250738585072014e-308"
    assert fmt(1.7976931348623157e308) == b"1.7976931348623157e+308"
    assert fmt(-0.0) == b"-0.0" and fmt(0.0) == b"0.0"
    assert fmt(100.0) == b"100.0" and fmt(1.0) == b"1.0"


def test_small_subnormals():
    # c * 2**-1074 for the smallest significands, where the shortest
    # decimal has one or two digits ("5e-324", "1e-323", "1e-322"), which
    # two-digit formatters such as Java's Double.toString do not give.
    check_all(c * 5e-324 for c in range(1, 5000))


RNG_SEED = 20240601


def random_doubles(n, rng):
    """n finite doubles mixing raw bit patterns (all exponents, subnormals
    included) with short 'human' decimals."""
    out = []
    while len(out) < n:
        kind = rng.randrange(5)
        if kind == 0:                       # any bit pattern
            x = from_bits(rng.getrandbits(64))
        elif kind == 1:                     # uniform over the exponent field
            x = from_bits((rng.getrandbits(1) << 63) | (rng.randrange(2047) << 52)
                          | rng.getrandbits(52))
        elif kind == 2:                     # subnormal
            x = from_bits((rng.getrandbits(1) << 63) | rng.getrandbits(rng.randint(1, 52)))
        elif kind == 3:                     # round(random, k)
            x = round(rng.uniform(-10 ** rng.randint(0, 17), 10 ** rng.randint(0, 17)),
                      rng.randint(0, 17))
        else:                               # d digits with any exponent
            x = float(f"{rng.randint(1, 10 ** rng.randint(1, 17))}e{rng.randint(-340, 320)}")
        if math.isfinite(x):
            out.append(x)
    return out


def test_random_1e5():
    check_all(random_doubles(100_000, random.Random(RNG_SEED)))


@pytest.mark.slow
def test_random_1e6():
    check_all(random_doubles(1_000_000, random.Random(RNG_SEED + 1)))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_hypothesis_floats(x):
    check(x)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_round_trip(x):
    y = float(fmt(x))
    assert y == x and math.copysign(1, y) == math.copysign(1, x)


def test_non_finite_writes_repr_text():
    # Documented in numfmt.h: non-finite values get repr's text; JSON
    # callers reject them before calling.
    assert fmt(math.inf) == b"inf"
    assert fmt(-math.inf) == b"-inf"
    assert fmt(math.nan) == b"nan"
    assert fmt(-math.nan) == b"nan"
    assert fmt(from_bits(0x7FF0000000000001)) == b"nan"
    assert fmt(from_bits(0xFFFFFFFFFFFFFFFF)) == b"nan"


def test_float_subclass_accepted():
    class F(float):
        def __repr__(self):
            return "not used"

    assert fmt(F(2.5)) == b"2.5"


@pytest.mark.parametrize("bad", [1, "1.0", None, b"1.0", 1 + 0j])
def test_format_double_type_error(bad):
    with pytest.raises(TypeError, match=r"_format_double\(\) argument must be float, not '"
                                        + type(bad).__name__ + "'"):
        fmt(bad)


def test_signatures():
    assert str(inspect.signature(fmt)) == "(x, /)"
    assert str(inspect.signature(fmt_int)) == "(x, /)"
    with pytest.raises(TypeError):
        fmt()
    with pytest.raises(TypeError):
        fmt(1.0, 2.0)


# ---- int64 ----------------------------------------------------------------

INT_BOUNDARIES = sorted({0, 1, -1, 9, -9, 10, -10, 99, 100, INT64_MIN, INT64_MAX,
                         INT64_MIN + 1, INT64_MAX - 1, 2 ** 32, -2 ** 32, 2 ** 31 - 1,
                         -2 ** 31, 2 ** 53, 2 ** 53 + 1, 12345678901234567}
                        | {s * (10 ** k + d) for k in range(19) for d in (-1, 0, 1)
                           for s in (1, -1)})


def test_int64_boundaries():
    for v in INT_BOUNDARIES:
        assert fmt_int(v) == str(v).encode(), v


def test_int64_random():
    rng = random.Random(RNG_SEED)
    for _ in range(20_000):
        v = rng.getrandbits(rng.randint(0, 63)) * rng.choice((1, -1))
        assert fmt_int(v) == str(v).encode(), v
        w = rng.randint(INT64_MIN, INT64_MAX)
        assert fmt_int(w) == str(w).encode(), w


@given(st.integers(INT64_MIN, INT64_MAX))
def test_int64_hypothesis(v):
    assert fmt_int(v) == str(v).encode()


def test_int64_int_subclass():
    class I(int):
        def __str__(self):
            return "not used"

    assert fmt_int(I(-42)) == b"-42"


@pytest.mark.parametrize("v", [INT64_MAX + 1, INT64_MIN - 1, 10 ** 30, -10 ** 30])
def test_int64_overflow(v):
    with pytest.raises(OverflowError):
        fmt_int(v)


@pytest.mark.parametrize("bad", [1.0, "1", None, b"1"])
def test_int64_type_error(bad):
    with pytest.raises(TypeError, match=r"_format_int64\(\) argument must be int, not '"
                                        + type(bad).__name__ + "'"):
        fmt_int(bad)


# ---- allocation and leaks -------------------------------------------------

def test_format_double_allocates_only_its_result():
    values = random_doubles(2000, random.Random(3)) + [0.0, -0.0, 1e16, 5e-324]
    ints = [random.Random(4).randint(INT64_MIN, INT64_MAX) for _ in range(500)]
    for x in values:  # warm up caches (method lookups, small-object pools)
        fmt(x)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(5):
            for x in values:
                fmt(x)
            for v in ints:
                fmt_int(v)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Nothing kept, and never more than about one live result bytes object
    # (a heap-allocating formatter would also show its scratch strings here).
    assert current - base < 256
    assert peak - base < 512


def test_no_block_growth():
    values = random_doubles(1000, random.Random(5))
    ints = list(range(-500, 500, 7)) + [INT64_MIN, INT64_MAX]
    for x in values:
        fmt(x)
    gc.collect()
    before = leakcheck.blocks()
    for _ in range(100):
        for x in values:
            fmt(x)
        for v in ints:
            fmt_int(v)
    gc.collect()
    assert leakcheck.blocks() - before < 50


# ---- the generated table ----------------------------------------------------

def test_table_header_is_generated_and_constants_exact():
    # The generator re-derives every power of ten and checks the floor-log
    # constants exactly over their ranges; --check fails if the committed
    # header differs from what it derives.
    path = pathlib.Path(__file__).parent.parent / "tools" / "gen_numfmt_table.py"
    spec = importlib.util.spec_from_file_location("gen_numfmt_table", path)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.main(["--check"]) == 0


def test_int64_dense_digit_groups():
    # every value around the 10^4 / 10^8 / 10^16 group boundaries the
    # formatter switches at, so each lane of the eight-digit words and each
    # leading-group length is hit with every digit
    ranges = [range(0, 20_000), range(10 ** 8 - 10_000, 10 ** 8 + 10_000),
              range(10 ** 16 - 10_000, 10 ** 16 + 10_000),
              range(12_345_678_000_000_000, 12_345_678_000_010_000)]
    for r in ranges:
        for v in r:
            assert fmt_int(v) == str(v).encode(), v
            assert fmt_int(-v) == str(-v).encode(), -v


def test_double_trailing_zero_digits():
    # shortest digits with 0..16 trailing zeros removed, in every layout
    # (integral, fixed with fraction, 0.000ddd, scientific)
    mantissas = [1, 12, 120, 1200, 10203, 1020300, 12345678, 123456780, 1234567800,
                 10 ** 8, 10 ** 15, 12 * 10 ** 15, 99999999999999999, 10000000000000001]
    for m in mantissas:
        for k in range(-40, 40):
            x = float(f"{m}e{k}")
            assert fmt(x) == repr(x).encode(), (m, k)
            assert fmt(-x) == repr(-x).encode(), (m, k)


def decimals_and_neighbours(rng, count, max_digits, exp_lo, exp_hi):
    """count decimals of 1..max_digits digits times 10^exp_lo..10^exp_hi,
    each with the doubles just below and above it."""
    values = []
    for _ in range(count):
        x = float(f"{rng.randint(1, 10 ** rng.randint(1, max_digits))}e{rng.randint(exp_lo, exp_hi)}")
        values += [x, math.nextafter(x, 0.0), math.nextafter(x, math.inf)]
    return values


def test_short_decimals_and_neighbours():
    # The exact short-decimal fast path: decimals with up to 16 digits at
    # every scale it accepts, their neighbours (which must fall back), and
    # values around its 2^49 magnitude limit.
    values = decimals_and_neighbours(random.Random(RNG_SEED + 2), 20_000, 16, -24, 0)
    for eb in range(40, 54):
        for x in (2.0 ** eb, 2.0 ** eb + 0.5, 2.0 ** eb - 0.25, 2.0 ** eb + 0.1):
            values += [x, math.nextafter(x, 0.0), math.nextafter(x, math.inf)]
    check_all(values)


def test_eight_decimal_grid_and_neighbours():
    # The integer test on the 10^-8 grid (numfmt.c, exact_dec8) and its
    # layout: every binary exponent it takes (2^-11 <= v < 2^23) and one
    # beyond each end, decimals of 1..8 fraction digits with their
    # neighbours (which must fall back), both signs, and the values at
    # the ends of its range.
    rng = random.Random(RNG_SEED + 7)
    values = []
    for eb in range(-13, 25):
        lo, hi = 2.0 ** eb, 2.0 ** (eb + 1)
        for _ in range(400):
            frac = rng.randint(1, 8)
            x = round(rng.uniform(lo, hi), frac)
            for y in (x, float(f"{x:.{frac}f}"), float(f"{x:.8f}") + 1e-9):
                values += [y, -y, math.nextafter(y, 0.0), math.nextafter(y, math.inf)]
    for x in (2.0 ** -11, 2.0 ** 23, 0.0001, 0.00048828125, 0.00048828126, 0.0004882812,
              8388607.99999999, 8388607.5, 8388608.00000001, 1234567.12345678,
              0.99999999, 1.00000001, 0.12345678, 0.5000000000000001, 21.5, 1013.25):
        values += [x, -x, math.nextafter(x, 0.0), math.nextafter(x, math.inf)]
    check_all(values)


def test_eight_decimal_grid_interval_ends():
    # Doubles whose nearest 10^-8 grid point lies just inside or just
    # outside their rounding interval.  v = c * 2^-s; with P = c * 10^8,
    # R = P mod 2^s is a multiple of 2^8, so the distances nearest half an
    # ulp (5e7 units) are 5e7 - 128 (inside: the grid point is repr's
    # answer) and 5e7 + 128 (outside: it is not).  c solves
    # c * 5^8 = R / 2^8 (mod 2^(s-8)); both sides of the grid point.
    inv = pow(5 ** 8, -1, 2 ** 64)
    values = []
    for s in range(30, 64):
        mod = 2 ** (s - 8)
        for R in (50_000_000 - 128, 50_000_000 + 128):
            for r in (R, 2 ** s - R):          # the grid point below / above v
                c = (1 << 52) | ((r >> 8) * inv % mod)
                if c >= 1 << 53:
                    continue
                x = c * 2.0 ** -s
                values += [x, -x]
    assert len(values) > 200
    check_all(values)


# ---- the one-product fast path against Schubfach ---------------------------

def paths_agree(values):
    """Run both shortest-digit paths on every value; return how many the fast
    path declined.  Every value the fast path decides must match Schubfach."""
    declined = taken = 0
    for x in values:
        r = _core._double_paths(x)
        if r is None:
            continue
        fell_back, fast, exact = r
        assert fast == exact, (x, fast, exact)
        declined += fell_back
        taken += not fell_back
    return declined, taken


def test_fast_path_matches_schubfach_on_random_doubles():
    declined, taken = paths_agree(random_doubles(100_000, random.Random(RNG_SEED + 3)))
    assert taken > 50_000


def test_fast_path_rarely_declines_random_significands():
    # Random significands almost never come near a rounding decision (large
    # values with short binary fractions, e.g. 919891093272803.2, do: their
    # scaled value is an exact quarter, a tie repr must break exactly).
    rng = random.Random(RNG_SEED + 6)
    values = [from_bits((rng.randrange(1, 2047) << 52) | rng.getrandbits(52)) for _ in range(50_000)]
    declined, taken = paths_agree(values)
    assert declined < 250 and taken > 49_000   # measured: 64


def test_fast_path_declines_near_decisions():
    # Short decimals at every scale and their neighbours put interval ends
    # and midpoints on decimal points: the fast path must hand those to
    # Schubfach (declined > 0 shows that branch runs) and agree elsewhere.
    values = decimals_and_neighbours(random.Random(RNG_SEED + 4), 20_000, 17, -320, 300)
    declined, taken = paths_agree(values)
    assert declined > 0 and taken > 0
    check_all(values)


def test_fast_path_every_exponent():
    # every binary exponent, with the smallest, largest and a random
    # significand above the power of two
    rng = random.Random(RNG_SEED + 5)
    values = []
    for bq in range(1, 2047):
        for m in (1, (1 << 52) - 1, rng.getrandbits(52) | 1):
            values.append(from_bits((bq << 52) | m))
    paths_agree(values)
    check_all(values)


def test_double_paths_hook():
    assert _core._double_paths(0.0) is None
    assert _core._double_paths(5e-324) is None     # subnormal
    assert _core._double_paths(1.0) is None        # power of two
    assert _core._double_paths(math.inf) is None
    fell_back, fast, exact = _core._double_paths(0.1)
    assert fast == exact and fell_back in (True, False)
    with pytest.raises(TypeError):
        _core._double_paths(1)


@pytest.mark.slow
def test_short_decimals_soak():
    # 2 million: decimals of 0..10 places across the 10^-8 grid's range and
    # beyond, both signs, and their neighbours
    rng = random.Random(RNG_SEED + 8)
    values = []
    for _ in range(500_000):
        x = round(rng.uniform(0, 2.0 ** rng.randint(-12, 24)), rng.randint(0, 10))
        values += [x, -x, math.nextafter(x, 0.0), math.nextafter(x, math.inf)]
    check_all(values)
