"""Generate src/nocopy/_core/numfmt_table.h: the 126-bit powers of ten and the
floor-log constants used by the Schubfach formatter in numfmt.c.

    python tools/gen_numfmt_table.py            # rewrite the header
    python tools/gen_numfmt_table.py --check    # exit 1 if it is out of date

For every decimal exponent e in [E_MIN, E_MAX] the table holds
g(e) = floor(10**e * 2**-r) + 1, where r is the unique integer making
2**125 <= 10**e * 2**-r < 2**126.  It is an over-approximation by at most one
unit, which is what the round-to-odd products in numfmt.c rely on.

The floor-log helpers are floor((x * A + B) / 2**N); every constant is
checked here against exact integer arithmetic over the whole range numfmt.c
calls it with.  verify_round_to_odd() then proves, over all 2^53
significands of every binary exponent, that the truncated 126-bit products
numfmt.c forms decide every comparison as the exact reals would.  Both run
on every generation and on --check (which the test suite calls).
"""
import os
import sys

Q_MIN, Q_MAX = -1074, 971          # binary exponents of c * 2**q, c < 2**53
E_MIN, E_MAX = -292, 324           # -k for k = floor(log10(2**q)) over that range
HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = os.path.join(HERE, "..", "src", "nocopy", "_core", "numfmt_table.h")


def floor_div(a, b):
    return a // b  # Python's // is already floor division


def log10_pow2_exact(q, num=1, den=1):
    """floor(log10(num/den * 2**q)) by exact comparison."""
    # value = num * 2**q / den as a fraction p / r
    p, r = num, den
    if q >= 0:
        p <<= q
    else:
        r <<= -q
    k = len(str(p // r)) - 1 if p >= r else -1
    # adjust k until 10**k <= p/r < 10**(k+1)
    while True:
        lo = (p * 10 ** -k >= r) if k < 0 else (p >= r * 10 ** k)
        hi = (p * 10 ** (-k - 1) < r) if k + 1 < 0 else (p < r * 10 ** (k + 1))
        if lo and hi:
            return k
        k += -1 if not lo else 1


def log2_pow10_exact(e):
    """floor(log2(10**e)) by exact integer arithmetic."""
    if e >= 0:
        return (10 ** e).bit_length() - 1
    # 10**e = 1 / 10**-e; 10**-e is never a power of two for -e >= 1
    return -(10 ** -e).bit_length()


def pick(name, exact, xs, n, target_log, offset_log=0.0):
    """Constants A, B with floor((x*A + B) / 2**n) == exact(x) for all xs."""
    import math
    for a in (math.floor(target_log * 2 ** n), math.ceil(target_log * 2 ** n)):
        for b in (math.floor(offset_log * 2 ** n), math.ceil(offset_log * 2 ** n)):
            if all(floor_div(x * a + b, 2 ** n) == exact(x) for x in xs):
                return a, b
    raise SystemExit(f"no exact constants for {name} with N={n}")


def g_of(e):
    if e >= 0:
        r = log2_pow10_exact(e) - 125
        beta_floor = (10 ** e) >> r if r >= 0 else (10 ** e) << -r
    else:
        r = log2_pow10_exact(e) - 125          # negative
        beta_floor = (1 << -r) // 10 ** -e
    assert 1 << 125 <= beta_floor < 1 << 126, e
    return beta_floor + 1


def floor_sum(n, m, a, b):
    """sum(floor((a*i + b) / m) for i in range(n)) for a, b >= 0, m > 0."""
    total = 0
    while True:
        if a >= m:
            total += (n - 1) * n // 2 * (a // m)
            a %= m
        if b >= m:
            total += n * (b // m)
            b %= m
        y_max = a * n + b
        if y_max < m:
            return total
        n, b = divmod(y_max, m)
        m, a = a, m


def count_below(n, m, a, b, t):
    """How many i in [0, n) have (a*i + b) % m < t (0 < t <= m)."""
    return floor_sum(n, m, a, b) - floor_sum(n, m, a, b - t + m) + n


def find_below(lo, n, m, a, b, t):
    """All i in [lo, lo + n) with (a*i + b) % m < t, by bisection on counts."""
    if n == 0 or count_below(n, m, a, (a * lo + b) % m, t) == 0:
        return []
    if n == 1:
        return [lo]
    half = n // 2
    return find_below(lo, half, m, a, b, t) + find_below(lo + half, n - half, m, a, b, t)


def verify_round_to_odd(l10p2, l10tq, l2p10):
    """Prove numfmt.c's rop() exact for every input it is given.

    rop(cp) computes X' = cp * g / 2^127 where X = y * 2^q * 10^-k is the
    real value wanted (y = 4c + delta, cp = y << h) and 0 < X' - X < 2^-66.
    It returns floor(X') with bit 0 set when the top 63 fraction bits of
    X' are not all zero.  That equals floor(X), or floor(X) | 1 for inexact
    X -- all the comparisons need -- provided for every y:
      (a) frac(X) <= 1 - 2^-66 (the error cannot carry into the floor), and
      (b) frac(X) >= 2^-63 whenever X is inexact, or else floor(X) is odd
          already (a missing sticky bit then changes nothing).
    Residues y*P mod Q (X = y*P/Q) are counted with floor sums over each
    arithmetic progression of y, so all 2^53 significands are covered."""
    from fractions import Fraction

    def fl(x, a, b, n):
        return (x * a + b) >> n  # Python's >> floors

    checked = 0
    for q in range(Q_MIN, Q_MAX + 1):
        forms = []   # (k, first c, count of c, deltas)
        k = fl(q, *l10p2, 41)
        if q == Q_MIN:
            forms.append((k, 1, (1 << 53) - 1, (-2, 0, 2)))
        else:
            forms.append((k, (1 << 52) + 1, (1 << 52) - 1, (-2, 0, 2)))
            forms.append((fl(q, *l10tq, 41), 1 << 52, 1, (-1, 0, 2)))
        for k, c0, nc, deltas in forms:
            h = q + fl(-k, *l2p10, 38) + 2
            assert 2 <= h <= 5 and E_MIN <= -k <= E_MAX, (q, k, h)
            assert ((4 * (c0 + nc - 1) + 2) << h) < 1 << 61
            beta = Fraction(2) ** q / Fraction(10) ** k
            P, Q = beta.numerator, beta.denominator
            for d in deltas:
                a, b = 4 * P % Q, (4 * c0 + d) * P % Q
                # (a): residues above Q - Q / 2^66
                hi = Q - (Q >> 66)
                if hi < Q:
                    assert count_below(nc, Q, a, b, hi) == nc, ("carry", q, k, d)
                # (b): inexact residues below Q / 2^63 need an odd floor
                t = (Q - 1 >> 63) + 1
                if t > 1:
                    for i in find_below(0, nc, Q, a, b, t):
                        y = 4 * (c0 + i) + d
                        if y * P % Q:
                            assert (y * P // Q) & 1, ("sticky", q, k, d, c0 + i)
                            checked += 1
    return checked


def render():
    import math
    qs = range(Q_MIN, Q_MAX + 1)
    es = range(E_MIN, E_MAX + 1)
    l10p2 = pick("flog10pow2", lambda q: log10_pow2_exact(q), qs, 41, math.log10(2))
    l10tq = pick("flog10_3q_pow2", lambda q: log10_pow2_exact(q, 3, 4), qs, 41,
                 math.log10(2), math.log10(0.75))
    l2p10 = pick("flog2pow10", log2_pow10_exact, es, 38, math.log2(10))
    verify_round_to_odd(l10p2, l10tq, l2p10)
    ks = {log10_pow2_exact(q) for q in qs} | {log10_pow2_exact(q, 3, 4) for q in qs}
    assert min(-k for k in ks) >= E_MIN and max(-k for k in ks) <= E_MAX

    out = [
        "/* numfmt_table.h -- GENERATED by tools/gen_numfmt_table.py; do not edit.",
        " *",
        " * g(e) = floor(10^e * 2^-r) + 1 with 2^125 <= g(e) < 2^126, stored as",
        " * {high 64 bits, low 64 bits}, for e in [NC_G_EMIN, NC_G_EMAX].  The",
        " * floor-log constants are exact over the ranges the generator checks. */",
        "#ifndef NOCOPY_NUMFMT_TABLE_H",
        "#define NOCOPY_NUMFMT_TABLE_H",
        "",
        "#include <stdint.h>",
        "",
        f"#define NC_G_EMIN ({E_MIN})",
        f"#define NC_G_EMAX {E_MAX}",
        "",
        f"/* floor(q * log10(2)) for q in [{Q_MIN}, {Q_MAX}] */",
        f"#define NC_L10P2_A INT64_C({l10p2[0]})",
        f"#define NC_L10P2_B INT64_C({l10p2[1]})",
        f"/* floor(log10(3/4 * 2^q)) for q in [{Q_MIN}, {Q_MAX}] */",
        f"#define NC_L10TQ_A INT64_C({l10tq[0]})",
        f"#define NC_L10TQ_B INT64_C({l10tq[1]})",
        "#define NC_L10_SHIFT 41",
        f"/* floor(e * log2(10)) for e in [{E_MIN}, {E_MAX}] */",
        f"#define NC_L2P10_A INT64_C({l2p10[0]})",
        f"#define NC_L2P10_B INT64_C({l2p10[1]})",
        "#define NC_L2_SHIFT 38",
        "",
        "static const uint64_t nc_g_table[][2] = {",
    ]
    for e in es:
        g = g_of(e)
        out.append(f"    {{UINT64_C(0x{g >> 64:016x}), UINT64_C(0x{g & (2 ** 64 - 1):016x})}},"
                   f"  /* {e} */")
    out += ["};", "", "#endif", ""]
    return "\n".join(out)


def main(argv):
    text = render()
    if "--check" in argv:
        with open(HEADER) as f:
            if f.read() != text:
                print("numfmt_table.h is out of date", file=sys.stderr)
                return 1
        return 0
    with open(HEADER, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
