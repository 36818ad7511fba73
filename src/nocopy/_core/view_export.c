/* view_export.c -- View.memoryview(): the hand-off to code that takes only
 * bytes, bytearray or memoryview (orjson.loads, some C extensions).
 *
 * Why a method: memoryview(view) goes through the type call (argument
 * parsing, then the same PyMemoryView_FromObject); from C the memoryview
 * costs its two small objects and nothing else.  The memoryview holds a
 * buffer export of the View (view_getbuffer counts it in the View and its
 * holder), exactly as memoryview(view) does: while it lives, release()
 * refuses and a ByteBuffer never overwrites or moves the bytes it shows
 * (it moves its storage instead).  Passed straight as an argument, the
 * memoryview dies when the call returns, and the pin with it. */
#include "nocopy.h"

PyDoc_STRVAR(memoryview_doc,
"memoryview($self, /)\n--\n\n"
"A memoryview of the window (read-only when the View is): for parsers that\n"
"accept bytes, bytearray or memoryview but not every buffer, e.g.\n"
"orjson.loads(view.memoryview()).  O(1), no copy: two small objects, about\n"
"half the cost of memoryview(view).  While it lives it pins the bytes: a\n"
"borrowed ByteBuffer View's bytes are never overwritten under it (the buffer\n"
"moves to fresh storage instead) and View.release() refuses.  As a call's\n"
"argument it is freed when the call returns; kept longer, release it (a\n"
"`with` block).  Under ~1 KiB, tobytes() (one copy) costs about as much.");

static PyObject *
view_memoryview(NcView *v, PyObject *Py_UNUSED(ignored))
{
    if (nc_view_check(v) < 0)
        return NULL;
    return PyMemoryView_FromObject((PyObject *)v);
}

PyMethodDef nc_view_export_methods[] = {
    {"memoryview", (PyCFunction)view_memoryview, METH_NOARGS, memoryview_doc},
    {NULL, NULL, 0, NULL},
};
