# The vendored module is run through tests/test_aio_cpython_streams.py; do
# not collect it here as well.
collect_ignore_glob = ["test_*.py"]
