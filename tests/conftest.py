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
