/* alloccount.c -- count heap allocations: how many blocks a piece of code
 * allocates, freed or not (sys.getallocatedblocks() only shows the net).
 *
 * _alloc_count_start() wraps the PYMEM_DOMAIN_MEM and PYMEM_DOMAIN_OBJ
 * allocators (as tracemalloc does) so each malloc/calloc, and each realloc
 * that moves or creates a block, adds one to a counter; _alloc_count() reads
 * it; _alloc_count_stop() puts the saved allocators back.  Those two domains
 * are only called with the GIL held, so a plain counter is exact.
 *
 * Ownership: the saved allocators live in static storage for the process
 * (there is one allocator per process, like tracemalloc's hooks); stop
 * refuses when someone (tracemalloc) hooked on top of us since, because
 * restoring ours underneath would unhook them. */
#include "nocopy.h"

static PyMemAllocatorEx saved_mem, saved_obj;
static int hooked;
static unsigned long long counter;

static void *
cnt_malloc(void *ctx, size_t size)
{
    PyMemAllocatorEx *a = (PyMemAllocatorEx *)ctx;
    counter++;
    return a->malloc(a->ctx, size);
}

static void *
cnt_calloc(void *ctx, size_t nelem, size_t elsize)
{
    PyMemAllocatorEx *a = (PyMemAllocatorEx *)ctx;
    counter++;
    return a->calloc(a->ctx, nelem, elsize);
}

static void *
cnt_realloc(void *ctx, void *ptr, size_t size)
{
    PyMemAllocatorEx *a = (PyMemAllocatorEx *)ctx;
    void *r = a->realloc(a->ctx, ptr, size);
    if (r != ptr)
        counter++;  /* a new block (or a first one for ptr == NULL) */
    return r;
}

static void
cnt_free(void *ctx, void *ptr)
{
    PyMemAllocatorEx *a = (PyMemAllocatorEx *)ctx;
    a->free(a->ctx, ptr);
}

static PyMemAllocatorEx hook_mem = {&saved_mem, cnt_malloc, cnt_calloc, cnt_realloc, cnt_free};
static PyMemAllocatorEx hook_obj = {&saved_obj, cnt_malloc, cnt_calloc, cnt_realloc, cnt_free};

PyDoc_STRVAR(start_doc,
"_alloc_count_start($module, /)\n--\n\n"
"Start counting heap allocations (Python's mem and object domains).  The\n"
"counter keeps running until _alloc_count_stop(); RuntimeError when already\n"
"counting.  Costs one increment per allocation.");

static PyObject *
alloc_count_start(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    if (hooked) {
        PyErr_SetString(PyExc_RuntimeError, "allocation counting is already running");
        return NULL;
    }
    PyMem_GetAllocator(PYMEM_DOMAIN_MEM, &saved_mem);
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &saved_obj);
    PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &hook_mem);
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &hook_obj);
    hooked = 1;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(stop_doc,
"_alloc_count_stop($module, /)\n--\n\n"
"Stop counting: restore the allocators saved by _alloc_count_start().\n"
"RuntimeError when not counting, or when another hook (tracemalloc) was\n"
"installed on top since and is still there.");

static PyObject *
alloc_count_stop(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    PyMemAllocatorEx cur_mem, cur_obj;
    if (!hooked) {
        PyErr_SetString(PyExc_RuntimeError, "allocation counting is not running");
        return NULL;
    }
    PyMem_GetAllocator(PYMEM_DOMAIN_MEM, &cur_mem);
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &cur_obj);
    if (cur_mem.malloc != cnt_malloc || cur_obj.malloc != cnt_malloc) {
        PyErr_SetString(PyExc_RuntimeError,
                        "another allocator hook (tracemalloc?) was installed after "
                        "_alloc_count_start(): stop it first");
        return NULL;
    }
    PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &saved_mem);
    PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &saved_obj);
    hooked = 0;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(count_doc,
"_alloc_count($module, /)\n--\n\n"
"Allocations counted since the process first called _alloc_count_start()\n"
"(monotonic; subtract two readings).  O(1).");

static PyObject *
alloc_count(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    /* Read before building the result, so the int's own block is not in it. */
    unsigned long long c = counter;
    return PyLong_FromUnsignedLongLong(c);
}

/* Tallies: how many blocks each piece of a server's work allocates, kept in
 * C so that measuring allocates nothing itself (two _alloc_count() readings
 * and their difference are three int objects once the count passes 256).
 * _alloc_mark() notes the counter; _alloc_tally(slot) adds what was
 * allocated since the mark to the slot and counts one event there;
 * _alloc_tallied(slot) reads (events, blocks).  A handful of slots: one per
 * Stats object of the servers (examples/sensor_common.py). */
#define NC_TALLY_SLOTS 16
static unsigned long long tally_mark;
static unsigned long long tally_events[NC_TALLY_SLOTS], tally_blocks[NC_TALLY_SLOTS];

static int
tally_slot(PyObject *arg, Py_ssize_t *slot)
{
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred())
        return -1;
    if (i < 0 || i >= NC_TALLY_SLOTS) {
        PyErr_Format(PyExc_ValueError, "tally slot must be in [0, %d), not %zd", NC_TALLY_SLOTS, i);
        return -1;
    }
    *slot = i;
    return 0;
}

PyDoc_STRVAR(mark_doc,
"_alloc_mark($module, /)\n--\n\n"
"Note the allocation counter for the next _alloc_tally().  Allocates nothing.");

static PyObject *
alloc_mark(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored))
{
    tally_mark = counter;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(tally_doc,
"_alloc_tally($module, slot, /)\n--\n\n"
"Add the blocks allocated since _alloc_mark() to tally `slot` (0..15) and\n"
"count one event there.  Allocates nothing.");

static PyObject *
alloc_tally(PyObject *Py_UNUSED(m), PyObject *arg)
{
    unsigned long long c = counter;
    Py_ssize_t i;
    if (tally_slot(arg, &i) < 0)
        return NULL;
    tally_events[i]++;
    tally_blocks[i] += c - tally_mark;
    tally_mark = c;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(tallied_doc,
"_alloc_tallied($module, slot, reset=False, /)\n--\n\n"
"(events, blocks) of tally `slot`; reset: zero it afterwards.");

static PyObject *
alloc_tallied(PyObject *Py_UNUSED(m), PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t i;
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "_alloc_tallied(slot, reset=False)");
        return NULL;
    }
    if (tally_slot(args[0], &i) < 0)
        return NULL;
    int reset = nargs == 2 ? PyObject_IsTrue(args[1]) : 0;
    if (reset < 0)
        return NULL;
    PyObject *r = Py_BuildValue("(KK)", tally_events[i], tally_blocks[i]);
    if (r != NULL && reset)
        tally_events[i] = tally_blocks[i] = 0;
    return r;
}

static PyMethodDef alloccount_methods[] = {
    {"_alloc_mark", alloc_mark, METH_NOARGS, mark_doc},
    {"_alloc_tally", alloc_tally, METH_O, tally_doc},
    {"_alloc_tallied", (PyCFunction)(void (*)(void))alloc_tallied, METH_FASTCALL, tallied_doc},
    {"_alloc_count_start", alloc_count_start, METH_NOARGS, start_doc},
    {"_alloc_count_stop", alloc_count_stop, METH_NOARGS, stop_doc},
    {"_alloc_count", alloc_count, METH_NOARGS, count_doc},
    {NULL},
};

int
nc_alloccount_module_init(PyObject *m, nc_state *Py_UNUSED(st))
{
    return PyModule_AddFunctions(m, alloccount_methods);
}
