"""A griffe extension for the API reference: the signatures and types come
from the stubs (src/nocopy/*.pyi), the docstrings from the runtime.  The C
extension's docstrings (PyDoc_STRVAR, with the cost of each operation) live
only in the compiled module, which static analysis of the stubs cannot see;
this copies each one onto the stub object that lacks one.  Python modules
need nothing: griffe merges their .pyi with the .py and keeps the .py's
docstrings.  The docs are built against the in-place build (make docs)."""
import importlib
import inspect

import griffe


def _runtime(path):
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for name in parts[i:]:
                obj = inspect.getattr_static(obj, name)
        except AttributeError:
            return None
        return obj
    return None


class RuntimeDocstrings(griffe.Extension):
    def on_package(self, *, pkg, **kwargs):
        if pkg.path != "nocopy":
            return
        self._walk(pkg)

    def _walk(self, obj):
        for member in list(obj.members.values()):
            if member.is_alias:
                continue
            if member.docstring is None or not member.docstring.value.strip():
                rt = _runtime(member.path)
                doc = getattr(rt, "__doc__", None) if rt is not None else None
                if isinstance(rt, (classmethod, staticmethod)):
                    doc = rt.__func__.__doc__
                if isinstance(doc, str) and doc.strip() and not _inherited(rt, doc):
                    member.docstring = griffe.Docstring(inspect.cleandoc(doc), parent=member)
            if member.is_class or member.is_module:
                self._walk(member)


def _inherited(rt, doc):
    # object's and type's generic dunder docs ("Return self==value.") say
    # nothing about nocopy: leave those members without a docstring
    for base in (object, type, int):
        for name in dir(base):
            if getattr(getattr(base, name, None), "__doc__", None) == doc:
                return True
    return False
