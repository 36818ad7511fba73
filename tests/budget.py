"""Example budgets for the heaviest hypothesis tests.

Each of these runs a whole random program per example under
gc.set_threshold(1) with finalizers armed, ~0.25 s an example: at the default
profile's 120 examples they were the two slowest tests of the suite, which CI
runs five times (3.11, 3.12, 3.13, ASan, the wheel).  `heavy()` caps them at
40 examples in the default run; the sanitizer and GC-stress profiles, which
are already lower, keep theirs, and NOCOPY_SLOW=1 gives them the slow
profile's full count."""
import os

from hypothesis import settings


def heavy(n=40, **kwargs):
    """A settings decorator: `kwargs` as settings(**kwargs), examples capped."""
    if not os.environ.get("NOCOPY_SLOW"):
        kwargs["max_examples"] = min(n, settings.default.max_examples)
    return settings(**kwargs)
