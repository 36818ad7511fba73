# make test  : .venv (if missing) + editable install with the test extra + full suite
# make bench : benchmark suite (installs the bench extra), writes bench/results.json
# make asan  : ASan + UBSan build, whole suite under the sanitizers (.venv-asan)
# make demo  : the main job: the sensor server vs plain asyncio under load, then serve
# make tour  : a short tour of each capability next to the plain-bytes way
# make gcstress : ASan + UBSan build on 3.11; the C-facing suite with
#                 gc.set_threshold(1) and collections that touch the nocopy
#                 objects mid-call (NOCOPY_GC_STRESS=1, tests/gcstress.py),
#                 and the hostile table tests/test_gcstress_ops.py in full
# make fuzz     : atheris harnesses (fuzz/), FUZZ_TIME seconds each, on a
#                 clang libFuzzer + ASan + UBSan build; corpus and crashes
#                 go to FUZZ_OUT (outside the repo)
# make fuzz-ci  : the bounded CI run: FUZZ_RUNS executions per harness
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
PYTEST_ARGS ?= -q

.PHONY: test bench asan demo tour build clean gcstress fuzz fuzz-ci fuzz-build

$(VENV)/.installed: pyproject.toml setup.py
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip setuptools wheel
	$(VPY) -m pip install -q -e '.[test]'
	touch $@

# Rebuild the extension in place so edits to the C files are always picked up
# and a previous sanitizer build never lingers.
build: $(VENV)/.installed
	$(VPY) setup.py -q build_ext --inplace --force >/dev/null

test: build
	$(VPY) -m pytest $(PYTEST_ARGS)

bench: build
	$(VPY) -m pip install -q -e '.[bench,test]'
	$(VPY) -m bench

ASAN_LIB := $(shell gcc -print-file-name=libasan.so)
asan:
	$(MAKE) VENV=.venv-asan .venv-asan/.installed
	NOCOPY_SANITIZE=1 NOCOPY_DEBUG=1 .venv-asan/bin/python setup.py -q build_ext --inplace --force --build-temp build/asan >/dev/null
	LD_PRELOAD=$(ASAN_LIB) PYTHONMALLOC=malloc \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	NOCOPY_UNDER_SANITIZER=1 .venv-asan/bin/python -m pytest $(PYTEST_ARGS) -p no:cacheprovider
	$(VPY) setup.py -q build_ext --inplace --force >/dev/null 2>&1 || true

# GC-stress runs on 3.11: there a collection starts inside the allocation
# that triggers it, so a finalizer runs in the middle of the C code.
PY311 ?= $(shell for p in python3.11 /root/.pyenv/versions/3.11*/bin/python3.11 /usr/bin/python3.11; do \
	"$$p" --version >/dev/null 2>&1 && { echo "$$p"; break; }; done)
# The C-facing part of the suite (test_alloc*/test_leaks* measure allocations,
# the browser/example/server tests run subprocesses: tests/gcstress.py
# deselects those anyway).  NOCOPY_GC_STRESS_ALL=1 runs the whole suite.
# Not tests/test_hostile_*.py: each of those arms one finalizer for one exact
# collection and asserts where it ran, which extra collections would move;
# `make asan` runs them on 3.11 under the sanitizers.
GCSTRESS_TESTS ?= tests/test_gcstress_ops.py tests/test_buffer.py tests/test_rope.py tests/test_fmt.py \
	tests/test_view_core.py tests/test_view_search.py tests/test_view_transform.py \
	tests/test_json.py tests/test_io.py tests/test_io_chunks.py tests/test_pool.py
SAN_ENV = LD_PRELOAD=$(ASAN_LIB) PYTHONMALLOC=malloc \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 NOCOPY_UNDER_SANITIZER=1
gcstress:
	test -n "$(PY311)" || { echo "make gcstress needs python3.11"; exit 1; }
	$(MAKE) VENV=.venv-asan PY=$(PY311) .venv-asan/.installed
	NOCOPY_SANITIZE=1 NOCOPY_DEBUG=1 .venv-asan/bin/python setup.py -q build_ext --inplace --force --build-temp build/gcstress >/dev/null
	$(SAN_ENV) NOCOPY_GC_STRESS=1 .venv-asan/bin/python -m pytest $(PYTEST_ARGS) -p no:cacheprovider \
		$(if $(NOCOPY_GC_STRESS_ALL),tests,$(GCSTRESS_TESTS))
	$(VPY) setup.py -q build_ext --inplace --force >/dev/null 2>&1 || true

# ---- fuzzing (atheris) ----------------------------------------------------------
CLANG ?= $(shell command -v clang-14 || command -v clang)
CLANGXX ?= $(shell command -v clang++-14 || command -v clang++)
FUZZ_HARNESSES ?= view rope buffer json
FUZZ_TIME ?= 600
FUZZ_RUNS ?= 100000
FUZZ_OUT ?= /tmp/nocopy-fuzz
FUZZ_FLAGS ?=
FUZZ_PY := $(CURDIR)/.venv-fuzz/bin/python

# atheris from source against the system clang: that is what generates
# asan_with_fuzzer.so (ASan + libFuzzer in one preloadable runtime), which a
# sanitized native extension needs (atheris' native_extension_fuzzing.md).
.venv-fuzz/.installed:
	test -n "$(CLANG)" || { echo "make fuzz needs clang (apt-get install clang-14 libclang-rt-14-dev libfuzzer-14-dev)"; exit 1; }
	test -x $(FUZZ_PY) || $(PY311) -m venv .venv-fuzz
	$(FUZZ_PY) -m pip install -q --upgrade pip setuptools wheel
	CLANG_BIN=$(CLANG) CC=$(CLANG) CXX=$(CLANGXX) $(FUZZ_PY) -m pip install -q --no-binary atheris atheris==3.0.0
	test -f "$$($(FUZZ_PY) -c 'import atheris; print(atheris.path())')/asan_with_fuzzer.so"
	touch $@

# The extension built by clang with coverage (fuzzer-no-link) + ASan + UBSan,
# into build/fuzz/lib (the in-place .so is left alone), with -Werror like
# every other build: clang's warnings are enforced too.
fuzz-build: .venv-fuzz/.installed
	CC=$(CLANG) LDSHARED="$(CLANG) -shared" CFLAGS=-fsanitize=fuzzer-no-link \
	LDFLAGS=-fsanitize=fuzzer-no-link NOCOPY_SANITIZE=1 NOCOPY_WERROR=1 \
	$(FUZZ_PY) setup.py -q build_py --build-lib build/fuzz/lib \
		build_ext --build-lib build/fuzz/lib --build-temp build/fuzz/tmp --force >/dev/null

FUZZ_ENV = LD_PRELOAD="$$($(FUZZ_PY) -c 'import atheris; print(atheris.path())')/asan_with_fuzzer.so" \
	PYTHONMALLOC=malloc PYTHONHASHSEED=0 ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 PYTHONPATH=$(CURDIR)/build/fuzz/lib

# Every harness runs even when one fails; the exit status says whether any did.
define run_harnesses
	@fail=""; for h in $(FUZZ_HARNESSES); do \
	    mkdir -p $(FUZZ_OUT)/$$h/corpus; \
	    echo "== fuzz $$h: $(1)"; start=$$(date +%s); \
	    if (cd fuzz && $(FUZZ_ENV) $(FUZZ_PY) fuzz_$$h.py $(FUZZ_OUT)/$$h/corpus corpus/$$h \
	        -artifact_prefix=$(FUZZ_OUT)/$$h/ -rss_limit_mb=4096 -print_final_stats=1 $(1) $(FUZZ_FLAGS) \
	        > $(FUZZ_OUT)/$$h/log 2>&1); then \
	        echo "   clean: $$(grep -h -m1 'stat::number_of_executed_units' $(FUZZ_OUT)/$$h/log | awk '{print $$2}') executions in $$(( $$(date +%s) - start ))s"; \
	    else \
	        fail="$$fail $$h"; echo "   FAILED after $$(( $$(date +%s) - start ))s (log: $(FUZZ_OUT)/$$h/log):"; \
	        { grep -h -m1 -A12 'ERROR: AddressSanitizer\|runtime error\|Uncaught Python exception' \
	            $(FUZZ_OUT)/$$h/log || tail -5 $(FUZZ_OUT)/$$h/log; } | head -16; \
	        grep -h 'Test unit written' $(FUZZ_OUT)/$$h/log; \
	    fi; \
	done; test -z "$$fail" || { echo "fuzz failures:$$fail"; exit 1; }
endef

fuzz: fuzz-build
	$(call run_harnesses,-max_total_time=$(FUZZ_TIME))

# CI: a fixed number of executions per harness (seed corpus included), a
# fixed seed, and a time cap that only a hang would reach.
fuzz-ci: fuzz-build
	$(call run_harnesses,-runs=$(FUZZ_RUNS) -seed=1 -max_total_time=900)

demo: build
	$(VPY) examples/demo.py

tour: build
	$(VPY) examples/tour.py

clean:
	rm -rf build .venv .venv-asan .venv-fuzz .venv312 .venv313 src/nocopy/*.so src/*.egg-info
