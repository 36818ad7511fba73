"""Build of the C core. Environment switches:

NOCOPY_DEBUG=1     -O0 -g, asserts on
NOCOPY_SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer
NOCOPY_WERROR=1    -Werror (CI sets it; a release build does not, so a newer
                   compiler's new warning never breaks `pip install`)
NOCOPY_PGO=0|1     the profile-guided build of the JSON encoder: by default on
                   with GCC 10 or later (falling back to the plain build, with
                   a warning, if it fails), never with NOCOPY_DEBUG or
                   NOCOPY_SANITIZE (they win over NOCOPY_PGO=1); 0 turns it
                   off, 1 makes a failure an error.  A build of another kind
                   than the one asked for is rebuilt, whatever the file times

The profile-guided build: the json_*.c files are compiled with
-fprofile-generate and linked, with the other files compiled as usual, into
a temporary copy of the package; tools/pgo_train.py encodes one document of
each common JSON shape with it (about a second); then the json_*.c files are
compiled again with -fprofile-use, which lays out each branch of the walk by
how often it was taken (hot paths straight, cold ones out of line) instead
of by GCC's guesses.  Measured on the benchmark corpus, whose documents the
training does not contain, against the plain build: twitter.json about 15%
faster, github.json 22%, citm_catalog.json 4%, short dicts of cached
non-ASCII strings 12-22%, 300 short lists of true/false/null 2%; one row of
`python -m bench json` (cached non-ASCII strings) about 8% slower, measured
before the 32-byte string copy (json_wide.c) changed that row's path
(README, "JSON on the public documents").  numfmt.c (the
float formatter) is left out: profiled, it was 10% faster on floats in the
cache and 12% slower on a 20,000-pair polygon whose floats are not.
`nocopy._core._json_build` says which build this is ("pgo" or "plain").
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

from setuptools.errors import CompileError, LinkError
from setuptools.modified import newer_group

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, "tools", "pgo_train.py")

sources = sorted(glob.glob("src/nocopy/_core/*.c"))
# -fvisibility=hidden: only PyInit__core is exported (PyMODINIT_FUNC marks it
# visible), so calls between the C files are direct, not through the PLT.
extra_compile = ["-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers",
                 "-Wno-unused-parameter", "-Wno-cast-function-type", "-fvisibility=hidden"]
extra_link = []
undef = []

if os.environ.get("NOCOPY_WERROR"):
    extra_compile.append("-Werror")
if os.environ.get("NOCOPY_DEBUG"):
    extra_compile += ["-O0", "-g3"]
    undef.append("NDEBUG")
else:
    extra_compile += ["-O3"]
if os.environ.get("NOCOPY_SANITIZE"):
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
           "-fno-omit-frame-pointer", "-g"]
    extra_compile += san + ["-O1"]
    extra_link += san
    undef.append("NDEBUG")



class PgoFailed(Exception):
    pass


def _pgo_mode():
    """"off", "auto" (fall back with a warning) or "on" (fail the build)."""
    value = os.environ.get("NOCOPY_PGO", "")
    if value not in ("", "0", "1"):
        raise SystemExit(f"NOCOPY_PGO={value!r}: set it to 0 (off) or 1 (required), or leave it unset")
    if os.environ.get("NOCOPY_DEBUG") or os.environ.get("NOCOPY_SANITIZE"):
        return "off"
    return {"0": "off", "1": "on"}.get(value, "auto")


# What each mode accepts of an existing build (the stamp below): "fallback"
# is a plain build made because the profile-guided one failed, which "auto"
# does not retry until the sources change.
_ACCEPTS = {"off": ("plain",), "auto": ("pgo", "fallback"), "on": ("pgo",)}


class BuildExt(build_ext):
    """build_ext with the profile-guided build of the JSON files (module
    docstring)."""

    def build_extension(self, ext):
        mode = _pgo_mode()
        path = self.get_ext_fullpath(ext.name)
        # The kind of the build at `path` is kept in a stamp: file times say
        # nothing of it, and a plain build must not pass for a profile-guided
        # one (NOCOPY_PGO=1) or the reverse.  setup.py and the training are
        # sources of the build too.
        stamp = os.path.join(self.build_temp, "nocopy-build-kind")
        inputs = list(ext.sources) + list(ext.depends) + [os.path.join(HERE, "setup.py"), TRAIN]
        if not self.force and not newer_group(inputs, path) and self._stamped(stamp, path) in _ACCEPTS[mode]:
            print(f"skipping '{ext.name}' extension (up-to-date)")
            return
        if os.path.exists(stamp):   # a build that fails half-way leaves none
            os.remove(stamp)
        kind = "plain"
        if mode != "off":
            try:
                self._check_gcc()
                self._build_pgo(ext, path)
                kind = "pgo"
            except (PgoFailed, CompileError, LinkError) as exc:
                if mode == "on":
                    raise SystemExit(f"NOCOPY_PGO=1: the profile-guided build failed: {exc}")
                print(f"warning: nocopy: building without profile guidance ({exc})", file=sys.stderr)
                kind = "fallback"
        if kind != "pgo":
            force, self.force = self.force, True   # whatever lies at `path` is not this build
            try:
                super().build_extension(ext)
            finally:
                self.force = force
        os.makedirs(self.build_temp, exist_ok=True)
        with open(stamp, "w") as f:
            f.write(f"{kind}\n{os.path.abspath(path)}\n")

    @staticmethod
    def _stamped(stamp, path):
        try:
            with open(stamp) as f:
                kind, where = f.read().split("\n")[:2]
        except (OSError, ValueError):
            return None
        return kind if where == os.path.abspath(path) else None

    def _check_gcc(self):
        argv = list(self.compiler.compiler_so)
        if os.path.basename(argv[0]) in ("ccache", "sccache"):
            argv = argv[1:]   # CC="ccache gcc": ask the compiler, not the cache
        cc = argv[0]
        try:
            banner = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout
            major = subprocess.run([cc, "-dumpversion"], capture_output=True, text=True,
                                   check=True).stdout.strip().split(".")[0]
        except (OSError, subprocess.CalledProcessError) as exc:
            raise PgoFailed(f"cannot run {cc}: {exc}") from None
        # -fprofile-partial-training is GCC 10's; clang's profiles take
        # another tool (llvm-profdata) between the two builds
        if "Free Software Foundation" not in banner or not major.isdigit() or int(major) < 10:
            raise PgoFailed(f"{cc} is not GCC 10 or later")

    def _compile(self, ext, sources, output_dir, extra):
        macros = list(ext.define_macros) + [(name,) for name in ext.undef_macros]
        return self.compiler.compile(sources, output_dir=output_dir, macros=macros,
                                     include_dirs=ext.include_dirs, debug=self.debug,
                                     extra_postargs=list(ext.extra_compile_args) + extra,
                                     depends=ext.depends)

    def _link(self, ext, objects, path, extra):
        self.compiler.link_shared_object(
            objects, path, libraries=self.get_libraries(ext), library_dirs=ext.library_dirs,
            runtime_library_dirs=ext.runtime_library_dirs,
            extra_postargs=list(ext.extra_link_args) + extra,
            export_symbols=self.get_export_symbols(ext), debug=self.debug,
            build_temp=self.build_temp, target_lang=self.compiler.detect_language(ext.sources))

    def _build_pgo(self, ext, path):
        profiled = [src for src in ext.sources if os.path.basename(src).startswith("json_")]
        plain = [src for src in ext.sources if src not in profiled]
        plain_objects = self._compile(ext, plain, self.build_temp, [])
        pgo_temp = os.path.join(self.build_temp, "pgo")
        # counts left by an earlier build would add to this one's
        for stale in glob.glob(os.path.join(pgo_temp, "**", "*.gcda"), recursive=True):
            os.remove(stale)
        objects = self._compile(ext, profiled, pgo_temp, ["-fprofile-generate"])
        with tempfile.TemporaryDirectory() as tmp:
            # the package's Python faces and the instrumented extension
            package = os.path.join(tmp, "nocopy")
            shutil.copytree(os.path.join(HERE, "src", "nocopy"), package,
                            ignore=shutil.ignore_patterns("_core", "*.so", "__pycache__"))
            so = os.path.join(package, os.path.basename(self.get_ext_filename(ext.name)))
            self._link(ext, plain_objects + objects, so, ["-fprofile-generate"])
            # a fixed str hash: the same profile every build; GCOV_PREFIX
            # would send the counts elsewhere than next to the objects
            env = {k: v for k, v in os.environ.items() if not k.startswith("GCOV_PREFIX")}
            env.update(PYTHONPATH=tmp, PYTHONHASHSEED="0")
            try:
                run = subprocess.run([sys.executable, TRAIN], cwd=tmp, env=env, capture_output=True,
                                     text=True, timeout=600)
            except subprocess.TimeoutExpired:
                raise PgoFailed("the training run took over 600 s") from None
            if run.returncode != 0:
                raise PgoFailed(f"the training run failed (exit status {run.returncode}):\n"
                                + run.stderr[-2000:])
        missing = [obj for obj in objects if not os.path.exists(os.path.splitext(obj)[0] + ".gcda")]
        if missing:
            raise PgoFailed(f"the training run left no profile for {missing}")
        objects = self._compile(ext, profiled, pgo_temp,
                                ["-fprofile-use", "-fprofile-partial-training", '-DNC_JSON_BUILD="pgo"'])
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self._link(ext, plain_objects + objects, path, [])


setup(
    cmdclass={"build_ext": BuildExt},
    ext_modules=[
        Extension(
            "nocopy._core",
            sources=sources,
            depends=glob.glob("src/nocopy/_core/*.h"),
            extra_compile_args=extra_compile,
            extra_link_args=extra_link,
            undef_macros=undef,
        )
    ]
)
