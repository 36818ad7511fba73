"""Every ```python block of the documentation (docs/**/*.md) and README.md runs.

A page's blocks run in order in one namespace, like a reader typing them into
one interpreter: a later block may use what an earlier one defined.  Top-level
``await`` is allowed (the block runs in a fresh event loop).  Each page runs in
an empty temporary working directory, with warnings as errors.

A block that cannot run stand-alone (it needs a peer on the network, a file
the reader has, a server left running) is preceded by the line

    <!-- docs-test: no-run: <the reason> -->

and is compiled only (a syntax error still fails).  The reason is required:
test_no_run_markers_have_a_reason fails on a marker without one, and on a
marker that is not directly followed by a python block."""
import ast
import asyncio
import inspect
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
MARKER = re.compile(r"^<!-- docs-test: no-run(?::\s*(?P<reason>.*?))?\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w+-]*)[^\n]*$")
MIN_REASON = 12


class Block:
    def __init__(self, page, line, lang, code, no_run):
        self.page, self.line, self.lang, self.code, self.no_run = page, line, lang, code, no_run


def blocks(page):
    """The fenced blocks of page, with the no-run marker (its reason, or "")
    that stands on the line just before a block, or None."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out, i, pending = [], 0, None
    while i < len(lines):
        m = MARKER.match(lines[i].strip())
        if m:
            pending = (i + 1, m.group("reason") or "")
            i += 1
            continue
        f = FENCE.match(lines[i])
        if f:
            indent = len(f.group("indent"))
            start = i + 1
            i += 1
            body = []
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i][indent:])
                i += 1
            no_run = pending[1] if pending and pending[0] == start - 1 else None
            out.append(Block(page, start, f.group("lang"), "\n".join(body) + "\n", no_run))
            pending = None
        elif lines[i].strip():
            if pending is not None:
                out.append(Block(page, pending[0], "", "", pending[1]))  # dangling marker
            pending = None
        i += 1
    if pending is not None:
        out.append(Block(page, pending[0], "", "", pending[1]))
    return out


def python_pages():
    return [p for p in PAGES if p.exists() and any(b.lang == "python" for b in blocks(p))]


def test_pages_exist():
    # the site and the README are both there: a copy of tests/ without docs/
    # would otherwise pass by running nothing
    assert (ROOT / "docs" / "index.md").exists()
    assert len(python_pages()) >= 5, python_pages()


def test_no_run_markers_have_a_reason():
    problems = []
    for page in PAGES:
        if not page.exists():
            continue
        for b in blocks(page):
            if b.no_run is None:
                continue
            where = f"{page.relative_to(ROOT)}:{b.line}"
            if b.lang != "python":
                problems.append(f"{where}: marker not followed by a ```python block")
            elif len(b.no_run.strip()) < MIN_REASON:
                problems.append(f"{where}: no-run marker without a reason")
    assert not problems, "\n".join(problems)


def _run(code, filename, ns):
    tree = compile(code, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT | ast.PyCF_ONLY_AST)
    co = compile(tree, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if co.co_flags & inspect.CO_COROUTINE:
        async def main():
            await eval(co, ns)
        asyncio.run(main())
    else:
        exec(co, ns)


@pytest.mark.parametrize("page", python_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_page_code_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "__docs__"}
    ran = 0
    for b in blocks(page):
        if b.lang != "python":
            continue
        # pad with newlines so a traceback's line numbers are the page's
        code = "\n" * b.line + b.code
        filename = str(page)
        if b.no_run is not None:
            compile(code, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            continue
        _run(code, filename, ns)
        ran += 1
    assert ran, f"{page}: every python block is marked no-run"
    del ns


def test_marker_parsing(tmp_path):
    # the parser itself: a marked block, an unmarked one, a marker without a
    # reason, a dangling marker
    page = tmp_path / "p.md"
    page.write_text(
        "<!-- docs-test: no-run: needs a socket to a live server -->\n"
        "```python\nx = 1\n```\n\n"
        "```python\ny = 2\n```\n"
        "<!-- docs-test: no-run -->\n"
        "```python\nz = 3\n```\n"
        "<!-- docs-test: no-run: a reason long enough -->\n"
        "text\n", encoding="utf-8")
    got = [(b.lang, b.code, b.no_run) for b in blocks(page)]
    assert got == [
        ("python", "x = 1\n", "needs a socket to a live server"),
        ("python", "y = 2\n", None),
        ("python", "z = 3\n", ""),
        ("", "", "a reason long enough"),
    ]


def test_top_level_await_runs(tmp_path):
    ns = {}
    _run("import asyncio\nawait asyncio.sleep(0)\nresult = 42\n", "<t>", ns)
    assert ns["result"] == 42

