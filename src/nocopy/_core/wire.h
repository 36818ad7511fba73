/* wire.h -- fixed-width integers, floats and LEB128 varints as bytes: the
 * conversions that ByteBuffer's typed cursors (buffer_wire.c) and Rope's
 * typed reads (rope_wire.c) share.
 *
 * Nothing here keeps a reference.  The *_arg and pack helpers convert a
 * Python argument (which may run __index__ / __float__) into plain bytes on
 * the caller's stack; the caller then reserves room and copies with no
 * Python code in between.  The decoders read plain bytes the caller already
 * copied out of its storage, so building the result object (which may run
 * the GC and a finalizer) never reads the storage again. */
#ifndef NOCOPY_WIRE_H
#define NOCOPY_WIRE_H

#include "nocopy.h"

/* One fixed-width kind: read_u8 .. read_f64. */
typedef struct {
    const char *read_name;   /* "read_u32" */
    const char *write_name;  /* "write_u32" */
    int size;                /* 1, 2, 4 or 8 */
    int is_signed;
    int is_float;
} nc_wire_kind;

enum { NC_U8, NC_U16, NC_U32, NC_U64, NC_I8, NC_I16, NC_I32, NC_I64, NC_F32, NC_F64, NC_NKINDS };
extern const nc_wire_kind nc_wire_kinds[NC_NKINDS];

#define NC_VARINT_MAX 10  /* bytes of the longest 64-bit LEB128 varint */

/* byteorder argument: NULL (absent) or "big" -> 0, "little" -> 1.  The
 * interned strings are compared by pointer first.  TypeError for a non-str,
 * ValueError for any other string (int.from_bytes' wording). */
int nc_wire_byteorder(PyObject *arg, int *little);

/* Convert value (int, or __index__) for kind k and store its k->size bytes
 * in out.  TypeError for a non-integer (a float included), OverflowError out
 * of range; floats through __float__ and PyFloat_Pack4/8 (OverflowError for
 * a double too large for f32), bit-identical to struct. */
int nc_wire_pack(PyObject *value, const nc_wire_kind *k, int little, unsigned char *out);

/* The value of k->size bytes at p: an int, or a float (PyFloat_Unpack4/8). */
PyObject *nc_wire_unpack(const unsigned char *p, const nc_wire_kind *k, int little);

/* Convert value for write_uvarint (0 <= v < 2**64) or, zigzag, write_varint
 * (-2**63 <= v < 2**63, stored zigzag-mapped) into *out.  TypeError,
 * OverflowError. */
int nc_wire_varint_arg(PyObject *value, int zigzag, const char *fname, uint64_t *out);

/* LEB128 of v into out (NC_VARINT_MAX bytes of room); its length. */
int nc_wire_put_uvarint(uint64_t v, unsigned char *out);

/* Decode a LEB128 varint from the n bytes at p: its length (1..10) with
 * *out; 0 when the n bytes end before it does (n < 10: truncated, more may
 * come); -1 when it is over-long (a 10th byte > 1: more than 10 bytes, or a
 * value past 2**64 - 1). */
int nc_wire_get_uvarint(const unsigned char *p, Py_ssize_t n, uint64_t *out);

static inline int64_t
nc_wire_unzigzag(uint64_t x)
{
    return (int64_t)((x >> 1) ^ (~(x & 1) + 1));
}

/* nocopy.errors.VarintError for an over-long varint at hand. */
void nc_wire_raise_overlong(const char *fname);

/* The struct.Struct type (borrowed; loaded once).  NULL + ImportError. */
PyTypeObject *nc_wire_struct_type(void);
/* s must be a struct.Struct (or subclass): its size, >= 0.  Runs Python
 * (a subclass's size attribute). */
int nc_wire_struct_size(PyObject *s, const char *fname, Py_ssize_t *out);

/* args[0].pack_into / unpack_from / pack (*args[1:]): for an exact
 * struct.Struct through the type's method descriptor, loaded once (no
 * attribute lookup per call); for a subclass by name (its override). */
enum { NC_STRUCT_PACK_INTO, NC_STRUCT_UNPACK_FROM, NC_STRUCT_PACK };
PyObject *nc_wire_struct_call(int which, PyObject *const *args, size_t nargs);

#endif /* NOCOPY_WIRE_H */
