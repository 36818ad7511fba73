"""The sensor page in a real browser: headless Chromium (Debian's package,
installed by .ci/run) driven by playwright's Python driver.  The page must
poll /sensors, show readings that change over time, draw them on its canvas
and show the server's allocation figures."""
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and os.path.exists(p)), None)

if CHROMIUM is None:  # pragma: no cover - .ci/run installs it
    pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)",
                allow_module_level=True)

sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright


# Under the sanitizer run the interpreter is LD_PRELOADed with libasan: the
# playwright driver (node) and chromium must not inherit that.
_SANITIZER_ENV = ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONMALLOC")


@pytest.fixture(scope="module")
def browser():
    saved = {k: os.environ.pop(k) for k in _SANITIZER_ENV if k in os.environ}
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM,
                                  args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            os.environ.update(saved)  # the servers started below run under the sanitizers
            try:
                yield b
            finally:
                b.close()
    finally:
        os.environ.update(saved)


@pytest.fixture(params=["sensor_server.py", "sensor_server_plain.py"])
def server_url(request):
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "examples", request.param),
                             "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://\S+", line)
        assert m, f"server printed {line!r}"
        yield m.group(0)
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


def readings(page):
    return page.eval_on_selector_all("#readings .value", "els => els.map(e => e.textContent)")


def test_page_shows_live_changing_readings(browser, server_url):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server_url)
    page.wait_for_function("Number(document.body.dataset.samples || 0) >= 2", timeout=15000)
    first = readings(page)
    assert len(first) == 8 and all(re.fullmatch(r"-?\d+\.\d{3}", v) for v in first), first
    n0 = int(page.evaluate("document.body.dataset.samples"))
    page.wait_for_function(f"Number(document.body.dataset.samples) >= {n0 + 6}", timeout=15000)
    later = readings(page)
    assert later != first, "the readings on the page change over time"
    history = page.eval_on_selector_all("#history li", "els => els.map(e => e.textContent)")
    seqs = [int(h.split()[0]) for h in history]
    assert len(seqs) >= 6 and seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)
    # the chart was drawn: coloured pixels on the canvas
    painted = page.evaluate("""() => {
        const c = document.getElementById('chart');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
    }""")
    assert painted > 500
    # the server's allocation figures, from /stats
    page.wait_for_function("document.getElementById('srv-requests').textContent !== '0'",
                           timeout=15000)
    name = page.inner_text("#srv-name")
    assert name in ("nocopy", "plain asyncio")
    assert re.fullmatch(r"\d+\.\d\d", page.inner_text("#srv-allocs"))
    assert errors == []
    page.close()
