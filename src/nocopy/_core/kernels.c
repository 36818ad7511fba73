/* kernels.c -- search / strip kernels on (pointer, length); see kernels.h. */
#define _GNU_SOURCE
#include "kernels.h"

#include <string.h>

Py_ssize_t
nc_find_byte(const char *hay, Py_ssize_t hn, unsigned char c)
{
    const char *p = hn > 0 ? memchr(hay, c, (size_t)hn) : NULL;
    return p ? (Py_ssize_t)(p - hay) : -1;
}

Py_ssize_t
nc_rfind_byte(const char *hay, Py_ssize_t hn, unsigned char c)
{
    const char *p = hn > 0 ? memrchr(hay, c, (size_t)hn) : NULL;
    return p ? (Py_ssize_t)(p - hay) : -1;
}

Py_ssize_t
nc_find(const char *hay, Py_ssize_t hn, const char *needle, Py_ssize_t nn)
{
    if (nn == 0)
        return 0;
    if (nn > hn)
        return -1;
    if (nn == 1)
        return nc_find_byte(hay, hn, (unsigned char)needle[0]);
    const char *p = memmem(hay, (size_t)hn, needle, (size_t)nn);
    return p ? (Py_ssize_t)(p - hay) : -1;
}

Py_ssize_t
nc_rfind(const char *hay, Py_ssize_t hn, const char *needle, Py_ssize_t nn)
{
    if (nn == 0)
        return hn;
    if (nn > hn)
        return -1;
    if (nn == 1)
        return nc_rfind_byte(hay, hn, (unsigned char)needle[0]);
    for (Py_ssize_t i = hn - nn; i >= 0; i--) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, (size_t)nn) == 0)
            return i;
    }
    return -1;
}

Py_ssize_t
nc_count(const char *hay, Py_ssize_t hn, const char *needle, Py_ssize_t nn,
         Py_ssize_t maxcount)
{
    if (maxcount < 0)
        maxcount = PY_SSIZE_T_MAX;
    if (nn == 0)
        return hn < maxcount ? hn + 1 : maxcount;
    Py_ssize_t count = 0, pos = 0;
    while (count < maxcount) {
        Py_ssize_t i = nc_find(hay + pos, hn - pos, needle, nn);
        if (i < 0)
            break;
        count++;
        pos += i + nn;
    }
    return count;
}

void
nc_byteset_init(nc_byteset *set, const char *chars, Py_ssize_t n)
{
    memset(set, 0, sizeof(*set));
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)chars[i];
        set->w[c >> 6] |= (uint64_t)1 << (c & 63);
    }
}

Py_ssize_t
nc_lstrip_len(const char *s, Py_ssize_t n, const nc_byteset *set)
{
    Py_ssize_t i = 0;
    if (set == NULL)
        while (i < n && nc_isspace((unsigned char)s[i]))
            i++;
    else
        while (i < n && nc_byteset_has(set, (unsigned char)s[i]))
            i++;
    return i;
}

Py_ssize_t
nc_rstrip_len(const char *s, Py_ssize_t n, const nc_byteset *set)
{
    Py_ssize_t i = n;
    if (set == NULL)
        while (i > 0 && nc_isspace((unsigned char)s[i - 1]))
            i--;
    else
        while (i > 0 && nc_byteset_has(set, (unsigned char)s[i - 1]))
            i--;
    return n - i;
}
