"""Build of the C core. Environment switches:

NOCOPY_DEBUG=1     -O0 -g, asserts on
NOCOPY_SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer
NOCOPY_WERROR=1    -Werror (CI sets it; a release build does not, so a newer
                   compiler's new warning never breaks `pip install`)
"""
import glob
import os

from setuptools import Extension, setup

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

setup(
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
