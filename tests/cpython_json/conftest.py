# The vendored files are run through tests/test_json_stdlib.py (which turns
# their mixins into TestCases bound to nocopy.json); do not collect them here.
collect_ignore_glob = ["test_*.py"]
