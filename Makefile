# make test  : .venv (if missing) + editable install with the test extra + full suite
# make bench : benchmark suite (installs the bench extra), writes bench/results.json
# make asan  : ASan + UBSan build, whole suite under the sanitizers (.venv-asan)
# make demo  : the main job: the sensor server vs plain asyncio under load, then serve
# make tour  : a short tour of each capability next to the plain-bytes way
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
PYTEST_ARGS ?= -q

.PHONY: test bench asan demo tour build clean

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

demo: build
	$(VPY) examples/demo.py

tour: build
	$(VPY) examples/tour.py

clean:
	rm -rf build .venv .venv-asan .venv312 .venv313 src/nocopy/*.so src/*.egg-info
