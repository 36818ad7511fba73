import os

from hypothesis import HealthCheck, settings

# The default run stays within a few minutes on 2 cores; NOCOPY_SLOW=1 runs
# the long hypothesis campaigns (and `-m slow` the marked exhaustive tests).
settings.register_profile(
    "default", max_examples=120, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "slow", max_examples=5000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "sanitizer", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
if os.environ.get("NOCOPY_SLOW"):
    settings.load_profile("slow")
elif os.environ.get("NOCOPY_UNDER_SANITIZER"):
    settings.load_profile("sanitizer")
else:
    settings.load_profile("default")

# GC-stress mode (NOCOPY_GC_STRESS=1, `make gcstress`): see tests/gcstress.py.
# The hostile table (tests/test_gcstress_ops.py) reads NOCOPY_GC_STRESS too.
import gcstress  # noqa: E402  (tests/ is on sys.path: pytest's rootdir insertion)

if gcstress.ENABLED:
    settings.register_profile(
        "gcstress", max_examples=10, deadline=None,
        suppress_health_check=list(HealthCheck))
    settings.load_profile("gcstress")

    def pytest_collection_modifyitems(config, items):
        keep, drop = [], []
        for item in items:
            (drop if gcstress.deselected(item) else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    import pytest  # noqa: E402

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(item):
        gcstress.start()
        try:
            yield
        finally:
            gcstress.stop()

    def pytest_terminal_summary(terminalreporter):
        terminalreporter.write_line(
            f"gcstress: {gcstress.stats['collections']} collections, "
            f"{gcstress.stats['perturbed']} perturbations of a nocopy object mid-call")
