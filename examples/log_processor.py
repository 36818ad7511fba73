"""The log processor with nocopy: count requests per status and sum response
bytes per path prefix (first path segment) over a combined-format access log.
A "-" size counts as 0; malformed lines are counted and skipped.  Prints the
same report as log_processor_plain.py (the stdlib version).

The parse makes no object per field: Reader.lines(reuse=True) hands out one
View retargeted over each line of its buffer, split_into() moves the same
list of field Views over each line, and to_int() parses a field in place.
nocopy.Counter finds an existing key from a View with no copy (the key is
copied to bytes only when new), so the per-prefix sum needs no bytes either.

    python examples/log_processor.py access.log
"""
import os
import sys
from collections import Counter
from typing import Any

import nocopy
from nocopy.io import Reader

from log_processor_plain import Result, report


def process(path: "str | os.PathLike[str]") -> Result:
    statuses: Counter[int] = Counter()
    sizes: nocopy.Counter[bytes] = nocopy.Counter()  # View keys: looked up without a copy
    lines = malformed = 0
    fields: list[Any] = []  # the same field Views, moved over every line
    with open(path, "rb") as f, Reader(f, 1 << 20) as r:
        for line in r.lines(reuse=True):
            lines += 1
            # ip ident user [date tz] "method path proto" status size "referer" "agent"
            if line.split_into(fields, None, 10) < 10 or not fields[5].startswith(b'"'):
                malformed += 1
                continue
            url = fields[6]
            if not url.startswith(b"/"):
                malformed += 1
                continue
            try:
                status = fields[8].to_int()
                size = 0 if fields[9] == b"-" else fields[9].to_int()
            except ValueError:
                malformed += 1
                continue
            i = url.find(b"/", 1)
            statuses[status] += 1
            sizes[url if i < 0 else url[:i]] += size
    return lines, malformed, statuses, sizes


if __name__ == "__main__":
    report(*process(sys.argv[1]))
