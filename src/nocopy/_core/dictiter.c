/* dictiter.c -- the start-up check that the direct dict walk of dictiter.h
 * matches PyDict_Next on this interpreter.  See dictiter.h for why. */
#include "dictiter.h"

#if NC_DICT_DIRECT
int nc_dict_direct_ok = 0;

/* 1 when both walks yield the same (key, value) pairs in the same order. */
static int
walks_agree(PyObject *d)
{
    Py_ssize_t p1 = 0, p2 = 0;
    PyObject *k1, *v1, *k2, *v2;
    for (;;) {
        int a = PyDict_Next(d, &p1, &k1, &v1);
        int b = nc_dict_next(d, &p2, &k2, &v2);
        if (a != b)
            return 0;
        if (!a)
            return 1;
        if (k1 != k2 || v1 != v2 || p1 != p2)
            return 0;
    }
}

/* The same with one cursor kept across the whole walk, as enc_dict does. */
static int
cursor_walk_agrees(PyObject *d)
{
    Py_ssize_t pos = 0;
    PyObject *k1, *v1, *k2, *v2;
    nc_dict_cursor c;
    if (!nc_dict_cursor_init(&c, d, 0))
        return 0;
    for (;;) {
        int a = PyDict_Next(d, &pos, &k1, &v1);
        int b = nc_dict_cursor_next(&c, &k2, &v2);
        if (a != b)
            return 0;
        if (!a)
            return 1;
        if (k1 != k2 || v1 != v2 || pos != nc_dict_cursor_pos(&c))
            return 0;
    }
}

/* A dict with str keys (or general keys when `general`), some deleted,
 * grown past a resize, and one key re-inserted. */
static PyObject *
make_test_dict(int general)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    for (long i = 0; i < 40; i++) {
        PyObject *k = general && i % 3 == 0 ? PyLong_FromLong(i) : PyUnicode_FromFormat("k%ld", i);
        PyObject *v = k ? PyLong_FromLong(i * 7) : NULL;
        int rc = v ? PyDict_SetItem(d, k, v) : -1;
        if (rc == 0 && i % 5 == 2)
            rc = PyDict_DelItem(d, k);
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    PyObject *k = PyUnicode_FromString("k2");
    int rc = k ? PyDict_SetItem(d, k, Py_None) : -1;
    Py_XDECREF(k);
    if (rc < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

int
nc_dictiter_selfcheck(void)
{
    nc_dict_direct_ok = 1;
    for (int general = 0; general < 2; general++) {
        PyObject *d = make_test_dict(general);
        if (d == NULL) {
            nc_dict_direct_ok = 0;
            return -1;
        }
        /* the kind the test meant to cover must be the kind CPython chose */
        int kind_ok = (((const nc_dictkeys *)((PyDictObject *)d)->ma_keys)->dk_kind != 0) == !general;
        int ok = kind_ok && ((PyDictObject *)d)->ma_values == NULL && walks_agree(d) &&
                 cursor_walk_agrees(d);
        Py_DECREF(d);
        if (!ok) {
            nc_dict_direct_ok = 0;
            return 0;
        }
    }
    return 0;
}

int
nc_dictiter_direct(void)
{
    return nc_dict_direct_ok;
}

#else

int
nc_dictiter_selfcheck(void)
{
    return 0;
}

int
nc_dictiter_direct(void)
{
    return 0;
}
#endif
