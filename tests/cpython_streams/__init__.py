"""CPython's Lib/test/test_asyncio/test_streams.py (vendored from CPython
3.11.7, PSF License: LICENSE-PSF.txt) run with nocopy.aio substituted for
asyncio's stream API.

``test_streams.py`` reaches asyncio through ``nocopy_asyncio`` (this package):
asyncio itself, except that the stream API names are nocopy.aio's and the
stream errors nocopy's.  The few CPython test helpers it imports are
vendored in ``utils.py`` / ``support.py`` (Debian's python3 strips the
``test`` package).  Every change to a test body is a documented difference
between the two APIs, marked ``# nocopy:`` at its site and listed in the
porting guide (docs/from-stdlib.md, "Porting from asyncio streams").
tests/test_aio_cpython_streams.py runs it; this directory is not collected
by pytest directly."""
