"""The log processor the plain stdlib way: count requests per status and sum
response bytes per path prefix (first path segment) over a combined-format
access log.  A "-" size counts as 0; malformed lines are counted and skipped.
The same report as log_processor.py (the nocopy version).

    python examples/log_processor_plain.py access.log
"""
import os
import sys
from collections import Counter
from typing import Mapping, TextIO

Result = tuple[int, int, Mapping[int, int], Mapping[bytes, int]]


def process(path: "str | os.PathLike[str]") -> Result:
    statuses: Counter[int] = Counter()
    sizes: Counter[bytes] = Counter()
    lines = malformed = 0
    with open(path, "rb") as f:
        for line in f:
            lines += 1
            # ip ident user [date tz] "method path proto" status size "referer" "agent"
            fields = line.split(None, 10)
            if len(fields) < 10 or not fields[5].startswith(b'"'):
                malformed += 1
                continue
            url = fields[6]
            if not url.startswith(b"/"):
                malformed += 1
                continue
            try:
                status = int(fields[8])
                size = 0 if fields[9] == b"-" else int(fields[9])
            except ValueError:
                malformed += 1
                continue
            i = url.find(b"/", 1)
            statuses[status] += 1
            sizes[url if i < 0 else url[:i]] += size
    return lines, malformed, statuses, sizes


def report(lines: int, malformed: int, statuses: Mapping[int, int],
           sizes: Mapping[bytes, int], out: TextIO = sys.stdout) -> None:
    out.write(f"lines {lines}\nmalformed {malformed}\n")
    for status, n in sorted(statuses.items()):
        out.write(f"status {status} {n}\n")
    for prefix, total in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        out.write(f"bytes {bytes(prefix).decode('latin-1')} {total}\n")


if __name__ == "__main__":
    report(*process(sys.argv[1]))
