/* keydict.c -- KeyDict: a dict that never keeps a View as a key.
 *
 * A View hashes and compares like the bytes it shows (view.c), so it finds
 * an equal bytes key with no copy.  Stored as a key it would be wrong the
 * moment its buffer is refilled (a Reader's reuse=True line, a ByteBuffer
 * compacting): the dict would hold a key whose hash no longer matches its
 * bytes.  KeyDict inserts a bytes copy of a View key when -- and only when --
 * the key is new; updating an existing key keeps the stored bytes key and
 * allocates nothing.  Every other key goes in as it is.
 *
 * The one insertion primitive is kd_set(); every way in (d[k] = v,
 * setdefault, update, __init__, |, |=, copy, fromkeys and pickling, which
 * go through __setitem__ for a dict subclass) reaches it.
 *
 * Hashing once: the View's hash is taken once per operation and passed to
 * the dict's known-hash entry points (exported on 3.11-3.13; declared here
 * for 3.13, where they moved to an internal header).  Without them (3.14)
 * the generic calls hash again -- correct, a little slower.
 *
 * Hostile keys: an __eq__ run by a probe (a key whose hash equals the View's)
 * or a finalizer can change the dict between our lookup and our store, so a
 * View might land as a key after all.  A View is therefore stored through
 * a private View that no Python code holds, whose reference count tells
 * exactly whether it went in (kd_store_existing), and one that went in is
 * replaced by its bytes copy (kd_evict_view).  A View subclass goes through
 * the same private (exact) View under its own hash: its __eq__/__hash__
 * decide whether the key exists, and the store itself matches the stored
 * key as bytes-equal. */
#include "nocopy.h"

#if PY_VERSION_HEX < 0x030E0000
#define NC_KNOWN_HASH 1
#if PY_VERSION_HEX >= 0x030D0000
PyAPI_FUNC(int) _PyDict_SetItem_KnownHash(PyObject *mp, PyObject *key, PyObject *item,
                                          Py_hash_t hash);
PyAPI_FUNC(int) _PyDict_DelItem_KnownHash(PyObject *mp, PyObject *key, Py_hash_t hash);
#endif
#endif

/* ---- the insertion primitive ---------------------------------------------- */

/* The state of the module that defined self's KeyDict type. */
static nc_state *
kd_state(PyObject *self)
{
    nc_state *st = nc_state_of_type(Py_TYPE(self));
    if (st == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_SystemError, "nocopy.KeyDict: module state missing");
    return st;
}

/* The value stored under `view` itself as a key (found by identity: no
 * Python code runs), as a new reference; NULL when view is not a key. */
static PyObject *
kd_value_of_key(PyObject *d, PyObject *view)
{
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(d, &pos, &k, &v))
        if (k == view)
            return Py_NewRef(v);
    return NULL;
}

/* d's items again, in order, into a cleared d (a fresh table), with `view`
 * as its bytes copy -- or dropped, with StaleViewError, when its bytes are
 * gone.  view is never put back, so it is no key of d afterwards whatever
 * the re-inserted keys' __eq__ do; an item whose re-insertion raises does
 * not stop the others (the first error is returned).  The one way out that
 * leaves view in d is a failure to allocate the item list. */
static int
kd_rebuild_without(PyObject *d, PyObject *view)
{
    PyObject *items = PyDict_Items(d);
    if (items == NULL)
        return -1;
    NcView *nv = (NcView *)view;
    PyObject *b = NULL;
    if (nc_view_check(nv) == 0)
        b = PyBytes_FromStringAndSize(NC_VIEW_PTR(nv), NC_VIEW_LEN(nv));
    PyObject *et = NULL, *ev = NULL, *tb = NULL;
    if (b == NULL)
        PyErr_Fetch(&et, &ev, &tb);
    /* items owns every key and value: clearing frees nothing, runs nothing */
    PyDict_Clear(d);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        PyObject *k = PyTuple_GET_ITEM(pair, 0);
        if (k == view && b == NULL)
            continue;
        if (PyDict_SetItem(d, k == view ? b : k, PyTuple_GET_ITEM(pair, 1)) < 0) {
            if (et == NULL)
                PyErr_Fetch(&et, &ev, &tb);
            else
                PyErr_Clear();
        }
    }
    Py_XDECREF(b);
    Py_DECREF(items);
    if (et == NULL)
        return 0;
    PyErr_Restore(et, ev, tb);
    return -1;
}

/* `view` became a key of d (a store whose key was deleted under it by a
 * hostile __eq__ or finalizer): put its bytes copy there instead, with the
 * value it was stored with -- or drop it, with StaleViewError, when its
 * bytes are gone.  The deletion's and the insertion's probes run colliding
 * keys' __eq__, which can fail the deletion (KeyError: the dict changed
 * under it; CPython 3.13.0's gh-140551 also leaves a key listed but not
 * found by its hash) or raise: whenever view is still a key after that,
 * the dict is rebuilt without it.  Nothing through KeyDict's API can put
 * view back (it would be stored as bytes or through another private View),
 * so view is no key of d when this returns -- on every path but a failed
 * allocation of the rebuild's item list. */
static int
kd_evict_view(PyObject *d, PyObject *view, Py_hash_t h)
{
    PyObject *v = kd_value_of_key(d, view);
    if (v == NULL)
        return 0;
    /* Out first, under the hash it went in with (the View may be stale or
     * changed by now); we own v, so its release cannot run a finalizer
     * before the copy is in. */
#ifdef NC_KNOWN_HASH
    int rc = _PyDict_DelItem_KnownHash(d, view, h);
#else
    (void)h;
    int rc = PyDict_DelItem(d, view);
#endif
    if (rc == 0) {
        NcView *nv = (NcView *)view;
        rc = nc_view_check(nv);
        if (rc == 0) {
            PyObject *b = PyBytes_FromStringAndSize(NC_VIEW_PTR(nv), NC_VIEW_LEN(nv));
            rc = b == NULL ? -1 : PyDict_SetItem(d, b, v);
            Py_XDECREF(b);
        }
    }
    else if (PyErr_ExceptionMatches(PyExc_KeyError)) {
        PyErr_Clear();  /* not found by its hash: the scan below decides */
        rc = 0;
    }
    Py_DECREF(v);
    v = kd_value_of_key(d, view);
    if (v == NULL)
        return rc;
    Py_DECREF(v);
    if (rc == 0)
        return kd_rebuild_without(d, view);
    /* the first error is the one to report; the rebuild's is dropped */
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    if (kd_rebuild_without(d, view) < 0)
        PyErr_Clear();
    PyErr_Restore(et, ev, tb);
    return -1;
}

/* d[key] = value for an existing key, key a View (or subclass) found
 * under h.
 *
 * The store's own lookup runs __eq__ of the keys it probes, which may
 * delete the key just found: the key passed to it then goes in as a new one.
 * Watching the caller's View for that (dict size, its reference count) is
 * not enough -- the same __eq__ may drop a reference to it and delete a
 * key, and the View would stay a key unseen.  So the store goes through a
 * private View on the same window (st->kd_probe, reused: no allocation),
 * which no Python code holds: it went in or was kept by Python code iff its
 * reference count moved, exactly.  Then it is evicted (its bytes copy takes
 * its place) and given up, never retargeted while someone holds it. */
static int
kd_store_existing(nc_state *st, PyObject *d, NcView *key, PyObject *value, Py_hash_t h)
{
    NcView *p = (NcView *)st->kd_probe;
    if (p != NULL && Py_REFCNT(p) == 1 && p->holder == NULL) {
        Py_INCREF(p);
    }
    else {
        /* none yet, or in use by an outer store (a hostile __eq__ storing
         * again): a new one.  The allocation may run the GC: key is checked
         * again below. */
        if (nc_view_check(key) < 0)
            return -1;
        p = nc_view_new(st->ViewType, key->holder, key->start, key->stop);
        if (p == NULL)
            return -1;
        Py_CLEAR(p->holder);
        if (!PyObject_GC_IsTracked((PyObject *)p))
            PyObject_GC_Track((PyObject *)p);  /* it will show other holders too */
        if (st->kd_probe == NULL)
            st->kd_probe = Py_NewRef(p);
    }
    Py_ssize_t expect = (PyObject *)p == st->kd_probe ? 2 : 1;
    if (nc_view_check(key) < 0) {
        Py_DECREF(p);
        return -1;
    }
    p->holder = (NcHolder *)Py_NewRef(key->holder);
    p->start = key->start;
    p->stop = key->stop;
    p->epoch = key->epoch;
#ifdef NC_KNOWN_HASH
    int rc = _PyDict_SetItem_KnownHash(d, (PyObject *)p, value, h);
#else
    int rc = PyDict_SetItem(d, (PyObject *)p, value);
#endif
    if (Py_REFCNT(p) == expect) {
        Py_CLEAR(p->holder);  /* idle: keeps no buffer alive */
        Py_DECREF(p);
        return rc;
    }
    /* it escaped: a key of d now, or kept by Python code */
    if (rc == 0)
        rc = kd_evict_view(d, (PyObject *)p, h);
    if ((PyObject *)p == st->kd_probe)
        Py_CLEAR(st->kd_probe);
    Py_DECREF(p);
    return rc;
}

static int
kd_set_view(nc_state *st, PyObject *d, PyObject *key, PyObject *value)
{
    Py_hash_t h = PyObject_Hash(key);
    if (h == -1)
        return -1;
#ifdef NC_KNOWN_HASH
    PyObject *found = _PyDict_GetItem_KnownHash(d, key, h);
    if (found == NULL && PyErr_Occurred())
        return -1;
    if (found != NULL) {
        /* An existing key: the dict keeps the key it has (bytes) and only
         * swaps the value.  No allocation. */
        return kd_store_existing(st, d, (NcView *)key, value, h);
    }
#else
    int has = PyDict_Contains(d, key);
    if (has < 0)
        return -1;
    if (has)
        return kd_store_existing(st, d, (NcView *)key, value, h);
#endif
    /* A new key: its bytes, as they are now (a probe's __eq__ may have
     * changed them, so they are hashed afresh, by bytes' own hash). */
    NcView *v = (NcView *)key;
    if (nc_view_check(v) < 0)
        return -1;
    PyObject *b = PyBytes_FromStringAndSize(NC_VIEW_PTR(v), NC_VIEW_LEN(v));
    if (b == NULL)
        return -1;
    int rc = PyDict_SetItem(d, b, value);
    Py_DECREF(b);
    return rc;
}

/* d[key] = value, a View key stored as its bytes when new. */
static inline int
kd_set(nc_state *st, PyObject *d, PyObject *key, PyObject *value)
{
    if (PyObject_TypeCheck(key, st->ViewType))
        return kd_set_view(st, d, key, value);
    return PyDict_SetItem(d, key, value);
}

static int
kd_ass_subscript(PyObject *self, PyObject *key, PyObject *value)
{
    if (value == NULL)
        return PyDict_Type.tp_as_mapping->mp_ass_subscript(self, key, NULL);
    /* the common keys need no module-state lookup */
    if (PyBytes_CheckExact(key) || PyUnicode_CheckExact(key) || PyLong_CheckExact(key))
        return PyDict_SetItem(self, key, value);
    nc_state *st = kd_state(self);
    if (st == NULL)
        return -1;
    return kd_set(st, self, key, value);
}

/* Defined (not inherited) so that KeyDict's __dict__ holds a __getitem__
 * slot wrapper: a Python subclass (nocopy.Counter) then calls this slot
 * directly instead of going through dict's __getitem__ method by name. */
static PyObject *
kd_subscript(PyObject *self, PyObject *key)
{
    return PyDict_Type.tp_as_mapping->mp_subscript(self, key);
}

/* _CounterBase's store: KeyDict's, and collections.Counter's delete, which
 * ignores a missing key.  One C function for __setitem__ and __delitem__,
 * so nocopy.Counter (which takes both from _CounterBase) gets this slot
 * itself rather than the generic by-name dispatch a Python __delitem__
 * would force on every store. */
static int
kd_counter_ass_subscript(PyObject *self, PyObject *key, PyObject *value)
{
    if (value != NULL)
        return kd_ass_subscript(self, key, value);
    if (PyDict_DelItem(self, key) == 0)
        return 0;
    if (!PyErr_ExceptionMatches(PyExc_KeyError))
        return -1;
    PyErr_Clear();
    return 0;
}

/* ---- update: a mapping, or an iterable of pairs ------------------------------ */

static int
kd_merge(nc_state *st, PyObject *self, PyObject *arg)
{
    if (PyDict_Check(arg) && Py_TYPE(arg)->tp_iter == PyDict_Type.tp_iter) {
        Py_ssize_t pos = 0, n = PyDict_GET_SIZE(arg);
        PyObject *k, *v;
        while (PyDict_Next(arg, &pos, &k, &v)) {
            Py_INCREF(k);
            Py_INCREF(v);
            int rc = kd_set(st, self, k, v);
            Py_DECREF(k);
            Py_DECREF(v);
            if (rc < 0)
                return -1;
            if (PyDict_GET_SIZE(arg) != n) {
                PyErr_SetString(PyExc_RuntimeError, "dict mutated during update");
                return -1;
            }
        }
        return 0;
    }
    PyObject *keysfunc = PyObject_GetAttrString(arg, "keys");
    if (keysfunc != NULL) {
        PyObject *keys = PyObject_CallNoArgs(keysfunc);
        Py_DECREF(keysfunc);
        if (keys == NULL)
            return -1;
        PyObject *it = PyObject_GetIter(keys);
        Py_DECREF(keys);
        if (it == NULL)
            return -1;
        PyObject *k;
        while ((k = PyIter_Next(it)) != NULL) {
            PyObject *v = PyObject_GetItem(arg, k);
            int rc = v == NULL ? -1 : kd_set(st, self, k, v);
            Py_XDECREF(v);
            Py_DECREF(k);
            if (rc < 0) {
                Py_DECREF(it);
                return -1;
            }
        }
        Py_DECREF(it);
        return PyErr_Occurred() ? -1 : 0;
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError))
        return -1;
    PyErr_Clear();
    PyObject *it = PyObject_GetIter(arg);
    if (it == NULL)
        return -1;
    PyObject *item;
    for (Py_ssize_t i = 0; (item = PyIter_Next(it)) != NULL; i++) {
        PyObject *fast = PySequence_Fast(item, "");
        Py_DECREF(item);
        if (fast == NULL) {
            if (PyErr_ExceptionMatches(PyExc_TypeError))
                PyErr_Format(PyExc_TypeError,
                             "cannot convert dictionary update sequence element #%zd to a sequence",
                             i);
            goto fail;
        }
        Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
        if (n != 2) {
            PyErr_Format(PyExc_ValueError,
                         "dictionary update sequence element #%zd has length %zd; 2 is required",
                         i, n);
            Py_DECREF(fast);
            goto fail;
        }
        /* own both: kd_set may run code that mutates the pair (a list) */
        PyObject *k = Py_NewRef(PySequence_Fast_GET_ITEM(fast, 0));
        PyObject *v = Py_NewRef(PySequence_Fast_GET_ITEM(fast, 1));
        Py_DECREF(fast);
        int rc = kd_set(st, self, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        if (rc < 0)
            goto fail;
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
fail:
    Py_DECREF(it);
    return -1;
}

/* dict.update's body: the positional argument, then the keywords (str keys,
 * never Views: straight in). */
static int
kd_update_common(PyObject *self, PyObject *arg, PyObject *const *kwvalues, PyObject *kwnames,
                 PyObject *kwdict)
{
    if (arg != NULL) {
        nc_state *st = kd_state(self);
        if (st == NULL || kd_merge(st, self, arg) < 0)
            return -1;
    }
    if (kwnames != NULL) {
        Py_ssize_t n = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t i = 0; i < n; i++)
            if (PyDict_SetItem(self, PyTuple_GET_ITEM(kwnames, i), kwvalues[i]) < 0)
                return -1;
    }
    if (kwdict != NULL && PyDict_Update(self, kwdict) < 0)
        return -1;
    return 0;
}

PyDoc_STRVAR(kd_update_doc,
"update($self, other=(), /, **kwargs)\n--\n\n"
"As dict.update: other is a mapping (its keys()) or an iterable of pairs,\n"
"then the keyword arguments.  A View key is stored as a bytes copy when it\n"
"is new; an existing key keeps its stored key.  O(len(other)); one bytes\n"
"object per new View key, nothing per existing one.");

static PyObject *
kd_update(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "update expected at most 1 argument, got %zd", nargs);
        return NULL;
    }
    if (kd_update_common(self, nargs ? args[0] : NULL, args + nargs, kwnames, NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static int
kd_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "dict expected at most 1 argument, got %zd", nargs);
        return -1;
    }
    return kd_update_common(self, nargs ? PyTuple_GET_ITEM(args, 0) : NULL, NULL, NULL,
                            kwds && PyDict_GET_SIZE(kwds) ? kwds : NULL);
}

/* ---- setdefault, copy, | and |= -------------------------------------------------- */

PyDoc_STRVAR(kd_setdefault_doc,
"setdefault($self, key, default=None, /)\n--\n\n"
"As dict.setdefault; a new View key is stored as a bytes copy.  O(len(key))\n"
"for a View (one hash); one bytes object only when the key is new.");

static PyObject *
kd_setdefault(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_Format(PyExc_TypeError, nargs < 1 ? "setdefault expected at least 1 argument, got %zd"
                                                : "setdefault expected at most 2 arguments, got %zd",
                     nargs);
        return NULL;
    }
    PyObject *key = args[0], *dflt = nargs > 1 ? args[1] : Py_None;
    nc_state *st = kd_state(self);
    if (st == NULL)
        return NULL;
    if (!PyObject_TypeCheck(key, st->ViewType))
        return Py_XNewRef(PyDict_SetDefault(self, key, dflt));
    Py_hash_t h = PyObject_Hash(key);
    if (h == -1)
        return NULL;
#ifdef NC_KNOWN_HASH
    PyObject *found = _PyDict_GetItem_KnownHash(self, key, h);
#else
    PyObject *found = PyDict_GetItemWithError(self, key);
#endif
    if (found != NULL)
        return Py_NewRef(found);
    if (PyErr_Occurred())
        return NULL;
    NcView *v = (NcView *)key;
    if (nc_view_check(v) < 0)
        return NULL;
    PyObject *b = PyBytes_FromStringAndSize(NC_VIEW_PTR(v), NC_VIEW_LEN(v));
    if (b == NULL)
        return NULL;
    PyObject *r = Py_XNewRef(PyDict_SetDefault(self, b, dflt));
    Py_DECREF(b);
    return r;
}

/* A new, empty container of type(self): the type's own constructor, so a
 * subclass gets its own kind. */
static PyObject *
kd_empty_like(PyObject *self)
{
    PyObject *r = PyObject_CallNoArgs((PyObject *)Py_TYPE(self));
    if (r != NULL && !PyDict_Check(r)) {
        PyErr_Format(PyExc_TypeError, "%.200s() returned %.200s, not a dict",
                     Py_TYPE(self)->tp_name, Py_TYPE(r)->tp_name);
        Py_CLEAR(r);
    }
    return r;
}

PyDoc_STRVAR(kd_copy_doc,
"copy($self, /)\n--\n\n"
"A shallow copy of the same type (dict.copy returns a plain dict).  O(len).");

static PyObject *
kd_copy(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *r = kd_empty_like(self);
    if (r == NULL)
        return NULL;
    nc_state *st = kd_state(self);
    if (st == NULL || kd_merge(st, r, self) < 0)
        Py_CLEAR(r);
    return r;
}

static int
kd_is_ours(PyObject *o)
{
    if (!PyDict_Check(o))
        return 0;
    if (PyType_GetModuleByDef(Py_TYPE(o), &nc_moduledef) != NULL)
        return 1;
    PyErr_Clear();
    return 0;
}

/* a | b: a copy of the KeyDict operand's type holding a's items, then b's
 * (as dict's |, which would return a plain dict).  Reached for b | a too
 * when a plain dict is on the left: the subclass's slot goes first. */
static PyObject *
kd_or(PyObject *a, PyObject *b)
{
    if (!PyDict_Check(a) || !PyDict_Check(b))
        Py_RETURN_NOTIMPLEMENTED;
    PyObject *mine = kd_is_ours(a) ? a : b;
    PyObject *r = kd_empty_like(mine);
    if (r == NULL)
        return NULL;
    nc_state *st = kd_state(mine);
    if (st == NULL || kd_merge(st, r, a) < 0 || kd_merge(st, r, b) < 0)
        Py_CLEAR(r);
    return r;
}

static PyObject *
kd_ior(PyObject *self, PyObject *other)
{
    nc_state *st = kd_state(self);
    if (st == NULL || kd_merge(st, self, other) < 0)
        return NULL;
    return Py_NewRef(self);
}

/* ---- the type ---------------------------------------------------------------------- */

static int
kd_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));  /* a heap type's instances own a reference to it */
    return PyDict_Type.tp_traverse(self, visit, arg);
}

static void
kd_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Py_TRASHCAN_BEGIN(self, kd_dealloc)
    PyDict_Type.tp_dealloc(self);
    Py_DECREF(tp);
    Py_TRASHCAN_END
}

PyDoc_STRVAR(kd_doc,
"KeyDict(other=(), /, **kwargs)\n--\n\n"
"A dict that stores a bytes copy of a View key when -- and only when -- the\n"
"key is new, so its keys never change when a buffer is refilled:\n\n"
"    table = KeyDict()\n"
"    for line in reader.lines(reuse=True):\n"
"        table[line] = table.get(line, 0) + 1\n\n"
"A View looks keys up with no copy (hash(view) == hash(view.tobytes())).\n"
"Setting an existing key keeps the stored key and allocates nothing; a new\n"
"View key costs one bytes object.  Every way a key gets in (d[k] = v,\n"
"setdefault, update, the constructor, fromkeys, |, |=, copy, unpickling)\n"
"does this; keys that are not Views go in unchanged.  Otherwise a dict:\n"
"lookups, deletion, iteration, pickling (keys are bytes) are dict's.");

/* KeyDict({...}): the type shows, as for OrderedDict and Counter */
static PyObject *
kd_repr(PyObject *self)
{
    PyObject *name = PyType_GetName(Py_TYPE(self));
    if (name == NULL)
        return NULL;
    PyObject *inner = PyDict_Type.tp_repr(self);
    PyObject *r = inner ? PyUnicode_FromFormat("%U(%U)", name, inner) : NULL;
    Py_XDECREF(inner);
    Py_DECREF(name);
    return r;
}

static PyMethodDef kd_methods[] = {
    {"update", (PyCFunction)(void (*)(void))kd_update, METH_FASTCALL | METH_KEYWORDS, kd_update_doc},
    {"setdefault", (PyCFunction)(void (*)(void))kd_setdefault, METH_FASTCALL, kd_setdefault_doc},
    /* no __copy__: copy.copy() takes dict's reduce protocol (the type's
     * __new__, the instance __dict__, the items through __setitem__), which
     * keeps a subclass's attributes and calls no __init__ */
    {"copy", (PyCFunction)kd_copy, METH_NOARGS, kd_copy_doc},
    {NULL, NULL, 0, NULL},
};

int
nc_keydict_module_init(PyObject *m, nc_state *st)
{
    (void)st;
    PyType_Slot slots[] = {
        {Py_tp_dealloc, kd_dealloc},
        {Py_tp_traverse, kd_traverse},
        {Py_tp_init, kd_init},
        {Py_tp_repr, kd_repr},
        {Py_tp_methods, kd_methods},
        {Py_tp_doc, (void *)kd_doc},
        {Py_mp_subscript, kd_subscript},
        {Py_mp_ass_subscript, kd_ass_subscript},
        {Py_nb_or, kd_or},
        {Py_nb_inplace_or, kd_ior},
        {0, NULL},
    };
    PyType_Spec spec = {
        .name = "nocopy.KeyDict",
        .basicsize = 0,  /* dict's layout: nocopy.Counter can also derive collections.Counter */
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE
                 | Py_TPFLAGS_IMMUTABLETYPE,
        .slots = slots,
    };
    PyObject *tp = PyType_FromModuleAndSpec(m, &spec, (PyObject *)&PyDict_Type);
    if (tp == NULL)
        return -1;
    if (PyModule_AddType(m, (PyTypeObject *)tp) < 0) {
        Py_DECREF(tp);
        return -1;
    }
    PyType_Slot cslots[] = {
        {Py_mp_subscript, kd_subscript},
        {Py_mp_ass_subscript, kd_counter_ass_subscript},
        {Py_tp_traverse, kd_traverse},
        {Py_tp_doc, (void *)"KeyDict with collections.Counter's delete (a missing key is no error):\n"
                            "the C base of nocopy.Counter."},
        {0, NULL},
    };
    PyType_Spec cspec = {
        .name = "nocopy._CounterBase",
        .basicsize = 0,
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE
                 | Py_TPFLAGS_IMMUTABLETYPE,
        .slots = cslots,
    };
    PyObject *ctp = PyType_FromModuleAndSpec(m, &cspec, tp);
    Py_DECREF(tp);
    if (ctp == NULL)
        return -1;
    int rc = PyModule_AddType(m, (PyTypeObject *)ctp);
    Py_DECREF(ctp);
    return rc;
}
