/* numfmt.c -- repr(float) text into caller memory.  See numfmt.h. */
#include "nocopy.h"
#include "numfmt.h"

int
nc_format_double(double x, char *out)
{
    char *s = PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (s == NULL) {
        PyErr_Clear();
        return 0;
    }
    size_t n = strlen(s);
    if (n > NC_DOUBLE_MAX_CHARS)
        n = NC_DOUBLE_MAX_CHARS;
    memcpy(out, s, n);
    PyMem_Free(s);
    return (int)n;
}
