"""The run paths of the double formatter (nc_format_doubles for a list of
floats, nc_format_double_groups for coordinate pairs, through
nocopy.json.dumps) against the stdlib: every double of a list must come out
as json.dumps prints it (repr(float)), whatever the doubles before it were.
Aimed at the 12-17 significant digit doubles of the fixed-notation layout,
which moves the digits after the point within the output buffer."""
import json
import math
import struct

from hypothesis import given, settings, strategies as st

import nocopy.json as nj


def from_bits(u):
    return struct.unpack("<d", struct.pack("<Q", u))[0]


def want(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def finite(x):
    return math.isfinite(x)


bit_doubles = st.integers(0, 2 ** 64 - 1).map(from_bits).filter(finite)
# n significant digits, the point anywhere from 10^-6 to 10^20
digit_doubles = st.builds(
    lambda n, d, e, s: s * float(f"{d}e{e}"),
    st.integers(12, 17), st.integers(1, 10 ** 17 - 1), st.integers(-23, 4),
    st.sampled_from((1, -1)),
).filter(finite)
fixed_digits = st.builds(
    lambda n, e, s, r: s * round(r * 10.0 ** e, n - 1 - e) if n - 1 - e >= 0 else s * r * 10.0 ** e,
    st.integers(12, 17), st.integers(-5, 16), st.sampled_from((1, -1)),
    st.floats(1.0, 10.0, exclude_max=True),
).filter(finite)
specials = st.sampled_from([
    5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
    0.0, -0.0, 1e-4, 9.999999999999999e-05, 1e16, 9999999999999998.0, 1e15, 0.1, 0.5,
] + [10.0 ** k for k in range(-20, 23)] + [-(10.0 ** k) for k in range(-5, 17)]
    + [math.nextafter(10.0 ** k, math.inf) for k in range(-6, 18)]
    + [math.nextafter(10.0 ** k, 0) for k in range(-6, 18)]
    # halfway-looking decimals: the last digit a 5 at 17 digits
    + [float(f"1.{'0' * 14}5e{k}") for k in range(-5, 17)]
    + [from_bits(u) for u in (1, 2, 3, 0x000FFFFFFFFFFFFF, 0x0010000000000000)])
any_double = st.one_of(bit_doubles, digit_doubles, fixed_digits, specials)


@settings(max_examples=300)
@given(st.lists(any_double, max_size=80))
def test_float_list_matches_stdlib(xs):
    assert nj.dumps(xs) == want(xs)


@settings(max_examples=300)
@given(st.lists(st.tuples(any_double, any_double).map(list), max_size=40))
def test_coordinate_pairs_match_stdlib(pairs):
    assert nj.dumps(pairs) == want(pairs)


@settings(max_examples=200)
@given(st.lists(any_double, min_size=1, max_size=40))
def test_float_list_dumps_into_matches_stdlib(xs):
    text = want(xs)
    buf = bytearray(len(text) + 3)
    end = nj.dumps_into(xs, buf, 3)   # the end offset of the text
    assert end == 3 + len(text)
    assert bytes(buf[3:end]) == text


@settings(max_examples=2000)
@given(st.one_of(bit_doubles, digit_doubles, fixed_digits, specials))
def test_single_double_matches_repr(x):
    assert nj.dumps(x) == want(x)
    assert nj.dumps([x] * 20) == want([x] * 20)
