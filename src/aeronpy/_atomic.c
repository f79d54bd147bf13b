/*
 * aeronpy._atomic: an AtomicBuffer over any writable buffer (mmap, bytearray, ...).
 *
 * What Python cannot express: acquire loads, release stores, compare-and-set and
 * get-and-add on int32/int64 in shared memory.  Plain little-endian get/put helpers are
 * included so that hot code needs one object and one call per field.
 *
 * All offsets are bounds-checked.  Atomic operations require natural alignment of the
 * target address.  The pure-Python twin lives in aeronpy/concurrent/atomic_buffer.py.
 */
#define PY_SSIZE_T_CLEAN
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* recvmmsg */
#endif
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#ifdef __linux__
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#define AERONPY_HAVE_RECVMMSG 1
#endif

typedef struct {
    PyObject_HEAD
    Py_buffer view;
    int has_view;      /* the underlying buffer is held (until release and no exports) */
    int released;      /* release() was called: methods fail from now on */
    Py_ssize_t exports; /* memoryviews of this buffer still alive */
    uint8_t *data;
    Py_ssize_t capacity;
    PyObject *weakreflist;
} AtomicBuffer;

static int
parse_ssize(PyObject *o, Py_ssize_t *out)
{
    Py_ssize_t v = PyLong_AsSsize_t(o);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = v;
    return 0;
}

static int
parse_i64(PyObject *o, int64_t *out)
{
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

static inline int
check_released(AtomicBuffer *self)
{
    if (!self->has_view || self->released) {
        PyErr_SetString(PyExc_ValueError, "AtomicBuffer has been released");
        return -1;
    }
    return 0;
}

static inline int
check_bounds(AtomicBuffer *self, Py_ssize_t offset, Py_ssize_t len)
{
    if (check_released(self) < 0) {
        return -1;
    }
    if (offset < 0 || len < 0 || offset > self->capacity - len) {
        PyErr_Format(PyExc_IndexError,
                     "offset %zd length %zd out of bounds for capacity %zd",
                     offset, len, self->capacity);
        return -1;
    }
    return 0;
}

static inline int
check_aligned(AtomicBuffer *self, Py_ssize_t offset, Py_ssize_t len)
{
    if (check_bounds(self, offset, len) < 0) {
        return -1;
    }
    if (((uintptr_t)(self->data + offset)) & (uintptr_t)(len - 1)) {
        PyErr_Format(PyExc_ValueError,
                     "offset %zd is not %zd-byte aligned for an atomic access", offset, len);
        return -1;
    }
    return 0;
}

#define EXPECT_ARGS(n, name)                                                       \
    if (nargs != (n)) {                                                            \
        PyErr_Format(PyExc_TypeError, name "() takes %d arguments (%zd given)", (n), nargs); \
        return NULL;                                                               \
    }

/* ---------------------------------------------------------------- lifecycle */

static int
AtomicBuffer_init(AtomicBuffer *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"buffer", "offset", "length", NULL};
    PyObject *obj = NULL;
    Py_ssize_t offset = 0;
    Py_ssize_t length = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|nn", kwlist, &obj, &offset, &length)) {
        return -1;
    }
    if (self->has_view) {
        PyBuffer_Release(&self->view);
        self->has_view = 0;
    }
    if (PyObject_GetBuffer(obj, &self->view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
        return -1;
    }
    self->has_view = 1;
    if (length < 0) {
        length = self->view.len - offset;
    }
    if (offset < 0 || length < 0 || offset > self->view.len - length) {
        PyBuffer_Release(&self->view);
        self->has_view = 0;
        PyErr_Format(PyExc_ValueError, "offset %zd length %zd outside buffer of %zd bytes",
                     offset, length, (Py_ssize_t)self->view.len);
        return -1;
    }
    self->data = (uint8_t *)self->view.buf + offset;
    self->capacity = length;
    self->released = 0;
    self->exports = 0;
    return 0;
}

static void
AtomicBuffer_dealloc(AtomicBuffer *self)
{
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    if (self->has_view) {
        PyBuffer_Release(&self->view);
        self->has_view = 0;
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/*
 * release(): no more access through this object.  While memoryviews of it are alive the
 * underlying buffer (e.g. an mmap) stays held, so those views never see unmapped memory; it is
 * let go when the last one is released.  Returns True if it was let go now.
 */
static PyObject *
AtomicBuffer_release(AtomicBuffer *self, PyObject *Py_UNUSED(ignored))
{
    self->released = 1;
    if (self->has_view && self->exports == 0) {
        PyBuffer_Release(&self->view);
        self->has_view = 0;
        self->data = NULL;
        self->capacity = 0;
        Py_RETURN_TRUE;
    }
    return PyBool_FromLong(!self->has_view);
}

static PyObject *
AtomicBuffer_get_capacity(AtomicBuffer *self, void *closure)
{
    return PyLong_FromSsize_t(self->capacity);
}

static PyObject *
AtomicBuffer_get_released(AtomicBuffer *self, void *closure)
{
    return PyBool_FromLong(!self->has_view || self->released);
}

static PyObject *
AtomicBuffer_get_exports(AtomicBuffer *self, void *closure)
{
    return PyLong_FromSsize_t(self->exports);
}

static Py_ssize_t
AtomicBuffer_len(AtomicBuffer *self)
{
    return self->capacity;
}

/* buffer protocol: expose the region so memoryview(ab) works (zero copy) */
static int
AtomicBuffer_getbuffer(AtomicBuffer *self, Py_buffer *view, int flags)
{
    if (check_released(self) < 0) {
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->data, self->capacity, 0, flags) < 0)
        return -1;
    self->exports++;
    return 0;
}

static void
AtomicBuffer_releasebuffer(AtomicBuffer *self, Py_buffer *view)
{
    self->exports--;
    if (self->exports == 0 && self->released && self->has_view) {
        PyBuffer_Release(&self->view);
        self->has_view = 0;
        self->data = NULL;
        self->capacity = 0;
    }
}

static PyBufferProcs AtomicBuffer_as_buffer = {
    (getbufferproc)AtomicBuffer_getbuffer,
    (releasebufferproc)AtomicBuffer_releasebuffer,
};

static PySequenceMethods AtomicBuffer_as_sequence = {
    .sq_length = (lenfunc)AtomicBuffer_len,
};

/* ------------------------------------------------------------- plain access */

#define DEFINE_PLAIN_GET(NAME, CTYPE, FROM)                                        \
    static PyObject *NAME(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs) \
    {                                                                              \
        Py_ssize_t offset;                                                         \
        CTYPE v;                                                                   \
        EXPECT_ARGS(1, #NAME);                                                     \
        if (parse_ssize(args[0], &offset) < 0 || check_bounds(self, offset, sizeof(CTYPE)) < 0) \
            return NULL;                                                           \
        memcpy(&v, self->data + offset, sizeof(CTYPE));                            \
        return FROM(v);                                                            \
    }

#define DEFINE_PLAIN_PUT(NAME, CTYPE)                                              \
    static PyObject *NAME(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs) \
    {                                                                              \
        Py_ssize_t offset;                                                         \
        int64_t v;                                                                 \
        CTYPE c;                                                                   \
        EXPECT_ARGS(2, #NAME);                                                     \
        if (parse_ssize(args[0], &offset) < 0 || parse_i64(args[1], &v) < 0 ||     \
            check_bounds(self, offset, sizeof(CTYPE)) < 0)                         \
            return NULL;                                                           \
        c = (CTYPE)v;                                                              \
        memcpy(self->data + offset, &c, sizeof(CTYPE));                            \
        Py_RETURN_NONE;                                                            \
    }

static PyObject *from_i64(int64_t v) { return PyLong_FromLongLong(v); }
static PyObject *from_i32(int32_t v) { return PyLong_FromLong(v); }
static PyObject *from_i16(int16_t v) { return PyLong_FromLong(v); }
static PyObject *from_u16(uint16_t v) { return PyLong_FromLong(v); }
static PyObject *from_u8(uint8_t v) { return PyLong_FromLong(v); }

DEFINE_PLAIN_GET(ab_get_int64, int64_t, from_i64)
DEFINE_PLAIN_GET(ab_get_int32, int32_t, from_i32)
DEFINE_PLAIN_GET(ab_get_int16, int16_t, from_i16)
DEFINE_PLAIN_GET(ab_get_uint16, uint16_t, from_u16)
DEFINE_PLAIN_GET(ab_get_uint8, uint8_t, from_u8)
DEFINE_PLAIN_PUT(ab_put_int64, int64_t)
DEFINE_PLAIN_PUT(ab_put_int32, int32_t)
DEFINE_PLAIN_PUT(ab_put_int16, int16_t)
DEFINE_PLAIN_PUT(ab_put_uint16, uint16_t)
DEFINE_PLAIN_PUT(ab_put_uint8, uint8_t)

/* ------------------------------------------------------ ordered / atomic access */

static PyObject *
ab_get_int64_volatile(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    EXPECT_ARGS(1, "get_int64_volatile");
    if (parse_ssize(args[0], &offset) < 0 || check_aligned(self, offset, 8) < 0)
        return NULL;
    return PyLong_FromLongLong(__atomic_load_n((int64_t *)(self->data + offset), __ATOMIC_ACQUIRE));
}

static PyObject *
ab_get_int32_volatile(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    EXPECT_ARGS(1, "get_int32_volatile");
    if (parse_ssize(args[0], &offset) < 0 || check_aligned(self, offset, 4) < 0)
        return NULL;
    return PyLong_FromLong(__atomic_load_n((int32_t *)(self->data + offset), __ATOMIC_ACQUIRE));
}

static PyObject *
ab_put_int64_ordered(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    int64_t v;
    EXPECT_ARGS(2, "put_int64_ordered");
    if (parse_ssize(args[0], &offset) < 0 || parse_i64(args[1], &v) < 0 ||
        check_aligned(self, offset, 8) < 0)
        return NULL;
    __atomic_store_n((int64_t *)(self->data + offset), v, __ATOMIC_RELEASE);
    Py_RETURN_NONE;
}

static PyObject *
ab_put_int32_ordered(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    int64_t v;
    EXPECT_ARGS(2, "put_int32_ordered");
    if (parse_ssize(args[0], &offset) < 0 || parse_i64(args[1], &v) < 0 ||
        check_aligned(self, offset, 4) < 0)
        return NULL;
    __atomic_store_n((int32_t *)(self->data + offset), (int32_t)v, __ATOMIC_RELEASE);
    Py_RETURN_NONE;
}

static PyObject *
ab_put_int64_volatile(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    int64_t v;
    EXPECT_ARGS(2, "put_int64_volatile");
    if (parse_ssize(args[0], &offset) < 0 || parse_i64(args[1], &v) < 0 ||
        check_aligned(self, offset, 8) < 0)
        return NULL;
    __atomic_store_n((int64_t *)(self->data + offset), v, __ATOMIC_SEQ_CST);
    Py_RETURN_NONE;
}

static PyObject *
ab_compare_and_set_int64(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    int64_t expected, update;
    EXPECT_ARGS(3, "compare_and_set_int64");
    if (parse_ssize(args[0], &offset) < 0 || parse_i64(args[1], &expected) < 0 ||
        parse_i64(args[2], &update) < 0 || check_aligned(self, offset, 8) < 0)
        return NULL;
    return PyBool_FromLong(__atomic_compare_exchange_n(
        (int64_t *)(self->data + offset), &expected, update, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
}

static PyObject *
ab_compare_and_set_int32(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    int64_t expected, update;
    int32_t e32;
    EXPECT_ARGS(3, "compare_and_set_int32");
    if (parse_ssize(args[0], &offset) < 0 || parse_i64(args[1], &expected) < 0 ||
        parse_i64(args[2], &update) < 0 || check_aligned(self, offset, 4) < 0)
        return NULL;
    e32 = (int32_t)expected;
    return PyBool_FromLong(__atomic_compare_exchange_n(
        (int32_t *)(self->data + offset), &e32, (int32_t)update, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
}

static PyObject *
ab_get_and_add_int64(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    int64_t delta;
    EXPECT_ARGS(2, "get_and_add_int64");
    if (parse_ssize(args[0], &offset) < 0 || parse_i64(args[1], &delta) < 0 ||
        check_aligned(self, offset, 8) < 0)
        return NULL;
    return PyLong_FromLongLong(
        __atomic_fetch_add((int64_t *)(self->data + offset), delta, __ATOMIC_SEQ_CST));
}

static PyObject *
ab_get_and_add_int32(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    int64_t delta;
    EXPECT_ARGS(2, "get_and_add_int32");
    if (parse_ssize(args[0], &offset) < 0 || parse_i64(args[1], &delta) < 0 ||
        check_aligned(self, offset, 4) < 0)
        return NULL;
    return PyLong_FromLong(
        __atomic_fetch_add((int32_t *)(self->data + offset), (int32_t)delta, __ATOMIC_SEQ_CST));
}

static PyObject *
ab_get_and_set_int64(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset;
    int64_t v;
    EXPECT_ARGS(2, "get_and_set_int64");
    if (parse_ssize(args[0], &offset) < 0 || parse_i64(args[1], &v) < 0 ||
        check_aligned(self, offset, 8) < 0)
        return NULL;
    return PyLong_FromLongLong(
        __atomic_exchange_n((int64_t *)(self->data + offset), v, __ATOMIC_SEQ_CST));
}

static PyObject *
ab_fence(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------ byte blocks */

static PyObject *
ab_get_bytes(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset, length;
    EXPECT_ARGS(2, "get_bytes");
    if (parse_ssize(args[0], &offset) < 0 || parse_ssize(args[1], &length) < 0 ||
        check_bounds(self, offset, length) < 0)
        return NULL;
    return PyBytes_FromStringAndSize((const char *)(self->data + offset), length);
}

/* put_bytes(offset, src[, src_offset[, length]]) */
static PyObject *
ab_put_bytes(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset, src_offset = 0, length = -1;
    Py_buffer src;
    if (nargs < 2 || nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "put_bytes(offset, src[, src_offset[, length]])");
        return NULL;
    }
    if (parse_ssize(args[0], &offset) < 0)
        return NULL;
    if (nargs >= 3 && parse_ssize(args[2], &src_offset) < 0)
        return NULL;
    if (nargs == 4 && parse_ssize(args[3], &length) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[1], &src, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (length < 0)
        length = src.len - src_offset;
    if (src_offset < 0 || length < 0 || src_offset > src.len - length) {
        PyBuffer_Release(&src);
        PyErr_Format(PyExc_IndexError, "source range %zd+%zd outside %zd bytes",
                     src_offset, length, (Py_ssize_t)src.len);
        return NULL;
    }
    if (check_bounds(self, offset, length) < 0) {
        PyBuffer_Release(&src);
        return NULL;
    }
    memmove(self->data + offset, (const uint8_t *)src.buf + src_offset, (size_t)length);
    PyBuffer_Release(&src);
    Py_RETURN_NONE;
}

static PyObject *
ab_set_memory(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset, length;
    int64_t value;
    EXPECT_ARGS(3, "set_memory");
    if (parse_ssize(args[0], &offset) < 0 || parse_ssize(args[1], &length) < 0 ||
        parse_i64(args[2], &value) < 0 || check_bounds(self, offset, length) < 0)
        return NULL;
    memset(self->data + offset, (int)(value & 0xFF), (size_t)length);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------ hot kernels */

/*
 * scan_frames(offset, limit_offset, max_frames, pad_type) -> (frames, end_offset)
 *
 * Walks committed frames of a term starting at `offset` (acquire-loading each
 * frame_length) until a non-positive length, `limit_offset` or `max_frames` non-padding
 * frames.  Returns the list of (frame_offset, frame_length) of non-padding frames and the
 * aligned offset just after the last frame consumed.  Python twin: logbuffer.term_scan.
 */
static PyObject *
ab_scan_frames(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset, limit, max_frames;
    int64_t pad_type;
    PyObject *list, *result;
    Py_ssize_t count = 0;
    EXPECT_ARGS(4, "scan_frames");
    if (parse_ssize(args[0], &offset) < 0 || parse_ssize(args[1], &limit) < 0 ||
        parse_ssize(args[2], &max_frames) < 0 || parse_i64(args[3], &pad_type) < 0)
        return NULL;
    if (check_released(self) < 0)
        return NULL;
    if (offset < 0 || limit > self->capacity || (offset & 7) != 0) {
        PyErr_Format(PyExc_IndexError, "scan range %zd..%zd invalid for capacity %zd",
                     offset, limit, self->capacity);
        return NULL;
    }
    list = PyList_New(0);
    if (list == NULL)
        return NULL;
    while (count < max_frames && offset < limit && offset <= self->capacity - 32) {
        int32_t frame_length = __atomic_load_n((int32_t *)(self->data + offset), __ATOMIC_ACQUIRE);
        uint16_t type;
        Py_ssize_t aligned;
        if (frame_length <= 0)
            break;
        aligned = ((Py_ssize_t)frame_length + 31) & ~(Py_ssize_t)31;
        memcpy(&type, self->data + offset + 6, 2);
        if (type != (uint16_t)pad_type) {
            PyObject *t = Py_BuildValue("(ni)", offset, frame_length);
            if (t == NULL || PyList_Append(list, t) < 0) {
                Py_XDECREF(t);
                Py_DECREF(list);
                return NULL;
            }
            Py_DECREF(t);
            count++;
        }
        offset += aligned;
    }
    result = Py_BuildValue("(Nn)", list, offset);
    return result;
}


/*
 * scan_for_availability(offset, max_length, pad_type) -> (available, padding)
 *
 * Sender scan of a term: sums aligned lengths of committed frames from `offset` up to
 * `max_length` bytes (and the term end).  A PAD frame contributes only its 32-byte header and
 * ends the scan; the rest of it is returned as `padding`.  Python twin:
 * aeronpy.driver.network_publication.scan_for_availability.
 */
static PyObject *
ab_scan_for_availability(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset, max_length, limit, available = 0, padding = 0;
    int64_t pad_type;
    EXPECT_ARGS(3, "scan_for_availability");
    if (parse_ssize(args[0], &offset) < 0 || parse_ssize(args[1], &max_length) < 0 ||
        parse_i64(args[2], &pad_type) < 0)
        return NULL;
    if (check_released(self) < 0)
        return NULL;
    if (offset < 0 || offset > self->capacity || (offset & 7) != 0) {
        PyErr_Format(PyExc_IndexError, "scan offset %zd invalid for capacity %zd", offset, self->capacity);
        return NULL;
    }
    limit = self->capacity - offset;
    if (max_length < limit)
        limit = max_length;
    while (available < limit && offset + available <= self->capacity - 32) {
        Py_ssize_t frame_offset = offset + available;
        int32_t frame_length = __atomic_load_n((int32_t *)(self->data + frame_offset), __ATOMIC_ACQUIRE);
        Py_ssize_t aligned;
        uint16_t type;
        if (frame_length <= 0)
            break;
        aligned = ((Py_ssize_t)frame_length + 31) & ~(Py_ssize_t)31;
        memcpy(&type, self->data + frame_offset + 6, 2);
        if (type == (uint16_t)pad_type) {
            padding = aligned - 32;
            aligned = 32;
        }
        available += aligned;
        if (available > limit) {
            available -= aligned;
            padding = 0;
            break;
        }
        if (padding != 0)
            break;
    }
    return Py_BuildValue("(nn)", available, padding);
}

/*
 * insert_frames(term_offset, src, length) -> bytes consumed
 *
 * Receiver rebuild: copies each frame of a DATA datagram `src[0:length]` to
 * `term_offset + its offset in the datagram`, but only where the destination frame_length is
 * still 0 (duplicates are skipped).  Bytes 8.. are copied first, then the first 8-byte word
 * (frame_length, version, flags, type) is stored with release semantics.  Stops at a
 * non-positive frame length or at the end of the term.  Python twin:
 * aeronpy.driver.publication_image.insert_frames_py.
 */
static PyObject *
ab_insert_frames(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t term_offset, length, offset = 0;
    Py_buffer src;
    EXPECT_ARGS(3, "insert_frames");
    if (parse_ssize(args[0], &term_offset) < 0 || parse_ssize(args[2], &length) < 0)
        return NULL;
    if (check_released(self) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[1], &src, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (length > src.len)
        length = src.len;
    if (term_offset < 0 || (term_offset & 31) != 0) {
        PyBuffer_Release(&src);
        PyErr_Format(PyExc_IndexError, "term offset %zd invalid", term_offset);
        return NULL;
    }
    while (offset + 32 <= length) {
        const uint8_t *frame = (const uint8_t *)src.buf + offset;
        int32_t frame_length;
        Py_ssize_t aligned, dst = term_offset + offset;
        int64_t first_word;
        memcpy(&frame_length, frame, 4);
        if (frame_length <= 0)
            break;
        aligned = ((Py_ssize_t)frame_length + 31) & ~(Py_ssize_t)31;
        if (offset + aligned > length)
            aligned = length - offset;
        if (dst > self->capacity - aligned || aligned < 32)
            break;
        if (__atomic_load_n((int32_t *)(self->data + dst), __ATOMIC_ACQUIRE) == 0) {
            memcpy(self->data + dst + 8, frame + 8, (size_t)(aligned - 8));
            memcpy(&first_word, frame, 8);
            __atomic_store_n((int64_t *)(self->data + dst), first_word, __ATOMIC_RELEASE);
        }
        offset += aligned;
    }
    PyBuffer_Release(&src);
    return PyLong_FromSsize_t(offset);
}

static PyMethodDef AtomicBuffer_methods[] = {
    {"get_int64", (PyCFunction)(void (*)(void))ab_get_int64, METH_FASTCALL, "Plain little-endian int64 load."},
    {"get_int32", (PyCFunction)(void (*)(void))ab_get_int32, METH_FASTCALL, "Plain int32 load."},
    {"get_int16", (PyCFunction)(void (*)(void))ab_get_int16, METH_FASTCALL, "Plain int16 load."},
    {"get_uint16", (PyCFunction)(void (*)(void))ab_get_uint16, METH_FASTCALL, "Plain uint16 load."},
    {"get_uint8", (PyCFunction)(void (*)(void))ab_get_uint8, METH_FASTCALL, "Plain uint8 load."},
    {"put_int64", (PyCFunction)(void (*)(void))ab_put_int64, METH_FASTCALL, "Plain int64 store."},
    {"put_int32", (PyCFunction)(void (*)(void))ab_put_int32, METH_FASTCALL, "Plain int32 store."},
    {"put_int16", (PyCFunction)(void (*)(void))ab_put_int16, METH_FASTCALL, "Plain int16 store."},
    {"put_uint16", (PyCFunction)(void (*)(void))ab_put_uint16, METH_FASTCALL, "Plain uint16 store."},
    {"put_uint8", (PyCFunction)(void (*)(void))ab_put_uint8, METH_FASTCALL, "Plain uint8 store."},
    {"get_int64_volatile", (PyCFunction)(void (*)(void))ab_get_int64_volatile, METH_FASTCALL, "Acquire load."},
    {"get_int32_volatile", (PyCFunction)(void (*)(void))ab_get_int32_volatile, METH_FASTCALL, "Acquire load."},
    {"put_int64_ordered", (PyCFunction)(void (*)(void))ab_put_int64_ordered, METH_FASTCALL, "Release store."},
    {"put_int32_ordered", (PyCFunction)(void (*)(void))ab_put_int32_ordered, METH_FASTCALL, "Release store."},
    {"put_int64_volatile", (PyCFunction)(void (*)(void))ab_put_int64_volatile, METH_FASTCALL, "Sequentially consistent store."},
    {"compare_and_set_int64", (PyCFunction)(void (*)(void))ab_compare_and_set_int64, METH_FASTCALL, "CAS, returns bool."},
    {"compare_and_set_int32", (PyCFunction)(void (*)(void))ab_compare_and_set_int32, METH_FASTCALL, "CAS, returns bool."},
    {"get_and_add_int64", (PyCFunction)(void (*)(void))ab_get_and_add_int64, METH_FASTCALL, "Atomic fetch-add, returns old."},
    {"get_and_add_int32", (PyCFunction)(void (*)(void))ab_get_and_add_int32, METH_FASTCALL, "Atomic fetch-add, returns old."},
    {"get_and_set_int64", (PyCFunction)(void (*)(void))ab_get_and_set_int64, METH_FASTCALL, "Atomic exchange, returns old."},
    {"get_bytes", (PyCFunction)(void (*)(void))ab_get_bytes, METH_FASTCALL, "Copy bytes out."},
    {"put_bytes", (PyCFunction)(void (*)(void))ab_put_bytes, METH_FASTCALL, "Copy bytes in."},
    {"set_memory", (PyCFunction)(void (*)(void))ab_set_memory, METH_FASTCALL, "memset a range."},
    {"scan_frames", (PyCFunction)(void (*)(void))ab_scan_frames, METH_FASTCALL, "Walk committed frames."},
    {"scan_for_availability", (PyCFunction)(void (*)(void))ab_scan_for_availability, METH_FASTCALL, "Sender term scan."},
    {"insert_frames", (PyCFunction)(void (*)(void))ab_insert_frames, METH_FASTCALL, "Receiver rebuild of a datagram."},
    {"release", (PyCFunction)AtomicBuffer_release, METH_NOARGS, "Release the underlying buffer."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef AtomicBuffer_getset[] = {
    {"capacity", (getter)AtomicBuffer_get_capacity, NULL, "Length in bytes.", NULL},
    {"released", (getter)AtomicBuffer_get_released, NULL, "True once release() was called.", NULL},
    {"exports", (getter)AtomicBuffer_get_exports, NULL, "Number of live memoryviews of this buffer.", NULL},
    {NULL},
};

static PyTypeObject AtomicBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aeronpy._atomic.AtomicBuffer",
    .tp_basicsize = sizeof(AtomicBuffer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "AtomicBuffer(buffer, offset=0, length=-1): atomic and plain access to shared memory.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)AtomicBuffer_init,
    .tp_dealloc = (destructor)AtomicBuffer_dealloc,
    .tp_methods = AtomicBuffer_methods,
    .tp_getset = AtomicBuffer_getset,
    .tp_as_buffer = &AtomicBuffer_as_buffer,
    .tp_as_sequence = &AtomicBuffer_as_sequence,
    .tp_weaklistoffset = offsetof(AtomicBuffer, weakreflist),
};

#ifdef AERONPY_HAVE_RECVMMSG
/*
 * recvmmsg_into(sock, buffer, slot_length, max_messages) -> list[(length, address)]
 *
 * One recvmmsg(MSG_DONTWAIT) into up to max_messages slots of slot_length bytes of the
 * writable buffer (slot i starts at i * slot_length).  Returns [(length, address), ...] in
 * arrival order; address is what socket.recvfrom_into returns: (host, port) for AF_INET,
 * (host, port, flowinfo, scope_id) for AF_INET6, None without a source address.  Datagrams
 * longer than a slot are truncated and report the truncated length (the kernel returns the
 * copied length unless MSG_TRUNC is requested), exactly as recvfrom_into does.  [] when
 * nothing is waiting (EAGAIN/EWOULDBLOCK); EINTR is retried (PEP 475); other errors raise
 * OSError.  Equal consecutive source addresses share one tuple.  The GIL is released around
 * the syscall.  Python twin: aeronpy.driver.media.udp_transport.recvmmsg_into_py.
 */
#define RECVMMSG_STACK_SLOTS 64

static int
fd_of(PyObject *o)
{
    long v;
    if (PyLong_Check(o)) {
        v = PyLong_AsLong(o);
    } else {
        PyObject *r = PyObject_CallMethod(o, "fileno", NULL);
        if (r == NULL)
            return -2;
        v = PyLong_AsLong(r);
        Py_DECREF(r);
    }
    if (v == -1 && PyErr_Occurred())
        return -2;
    if (v < 0 || v > INT_MAX) {
        errno = EBADF;
        PyErr_SetFromErrno(PyExc_OSError);
        return -2;
    }
    return (int)v;
}

static PyObject *
make_address(const struct sockaddr_storage *ss, socklen_t len)
{
    char host[INET6_ADDRSTRLEN];
    if (len == 0)
        Py_RETURN_NONE;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        if (inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host)) == NULL)
            return PyErr_SetFromErrno(PyExc_OSError);
        return Py_BuildValue("(si)", host, (int)ntohs(a->sin_port));
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host)) == NULL)
            return PyErr_SetFromErrno(PyExc_OSError);
        return Py_BuildValue("(siII)", host, (int)ntohs(a->sin6_port),
                             (unsigned int)ntohl(a->sin6_flowinfo), (unsigned int)a->sin6_scope_id);
    }
    Py_RETURN_NONE;
}

static PyObject *
mod_recvmmsg_into(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    struct mmsghdr stack_msgs[RECVMMSG_STACK_SLOTS];
    struct iovec stack_iovs[RECVMMSG_STACK_SLOTS];
    struct sockaddr_storage stack_addrs[RECVMMSG_STACK_SLOTS];
    struct mmsghdr *msgs = stack_msgs;
    struct iovec *iovs = stack_iovs;
    struct sockaddr_storage *addrs = stack_addrs;
    void *heap = NULL;
    Py_buffer view;
    Py_ssize_t slot_length, max_messages, i;
    PyObject *result = NULL, *prev_addr = NULL;
    int fd, n, err = 0;
    (void)self;

    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "recvmmsg_into(sock, buffer, slot_length, max_messages)");
        return NULL;
    }
    if (parse_ssize(args[2], &slot_length) < 0 || parse_ssize(args[3], &max_messages) < 0)
        return NULL;
    if (slot_length <= 0 || max_messages < 0) {
        PyErr_SetString(PyExc_ValueError, "slot_length must be > 0 and max_messages >= 0");
        return NULL;
    }
    if ((fd = fd_of(args[0])) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_WRITABLE) < 0)
        return NULL;
    if (max_messages > view.len / slot_length) {
        PyErr_SetString(PyExc_ValueError, "buffer too small for max_messages slots of slot_length");
        goto done;
    }
    if (max_messages > 1024)
        max_messages = 1024; /* UIO_MAXIOV: the kernel caps vlen there anyway */
    if (max_messages == 0) {
        result = PyList_New(0);
        goto done;
    }
    if (max_messages > RECVMMSG_STACK_SLOTS) {
        size_t each = sizeof(struct mmsghdr) + sizeof(struct iovec) + sizeof(struct sockaddr_storage);
        heap = PyMem_Malloc(each * (size_t)max_messages);
        if (heap == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        addrs = (struct sockaddr_storage *)heap;
        msgs = (struct mmsghdr *)(addrs + max_messages);
        iovs = (struct iovec *)(msgs + max_messages);
    }
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)max_messages);
    for (i = 0; i < max_messages; i++) {
        iovs[i].iov_base = (char *)view.buf + i * slot_length;
        iovs[i].iov_len = (size_t)slot_length;
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    for (;;) {
        Py_BEGIN_ALLOW_THREADS
        n = recvmmsg(fd, msgs, (unsigned int)max_messages, MSG_DONTWAIT, NULL);
        err = errno;
        Py_END_ALLOW_THREADS
        if (n >= 0 || err != EINTR)
            break;
        if (PyErr_CheckSignals() < 0)
            goto done;
    }
    if (n < 0) {
        if (err == EAGAIN || err == EWOULDBLOCK) {
            result = PyList_New(0);
        } else {
            errno = err;
            PyErr_SetFromErrno(PyExc_OSError);
        }
        goto done;
    }
    result = PyList_New(n);
    if (result == NULL)
        goto done;
    for (i = 0; i < n; i++) {
        socklen_t alen = msgs[i].msg_hdr.msg_namelen;
        PyObject *addr, *len, *item;
        if (prev_addr != NULL && alen == msgs[i - 1].msg_hdr.msg_namelen
            && memcmp(&addrs[i], &addrs[i - 1], alen) == 0) {
            addr = prev_addr;
            Py_INCREF(addr);
        } else {
            addr = make_address(&addrs[i], alen);
            if (addr == NULL)
                goto fail;
        }
        Py_XSETREF(prev_addr, addr);
        Py_INCREF(addr);
        len = PyLong_FromUnsignedLong((unsigned long)msgs[i].msg_len);
        if (len == NULL) {
            Py_DECREF(addr);
            goto fail;
        }
        item = PyTuple_New(2);
        if (item == NULL) {
            Py_DECREF(len);
            Py_DECREF(addr);
            goto fail;
        }
        PyTuple_SET_ITEM(item, 0, len);
        PyTuple_SET_ITEM(item, 1, addr);
        PyList_SET_ITEM(result, i, item);
    }
    goto done;
fail:
    Py_CLEAR(result);
done:
    Py_XDECREF(prev_addr);
    PyMem_Free(heap);
    PyBuffer_Release(&view);
    return result;
}
#endif /* AERONPY_HAVE_RECVMMSG */

static PyMethodDef module_methods[] = {
    {"fence", (PyCFunction)ab_fence, METH_NOARGS, "Full memory fence."},
#ifdef AERONPY_HAVE_RECVMMSG
    {"recvmmsg_into", (PyCFunction)(void (*)(void))mod_recvmmsg_into, METH_FASTCALL,
     "recvmmsg_into(sock, buffer, slot_length, max_messages) -> list[(length, address)]: "
     "one non-blocking recvmmsg into fixed-size slots of buffer; [] when nothing is waiting."},
#endif
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef atomic_module = {
    PyModuleDef_HEAD_INIT, "aeronpy._atomic", "Atomic access to shared memory.", -1, module_methods,
};

PyMODINIT_FUNC
PyInit__atomic(void)
{
    PyObject *m;
    if (PyType_Ready(&AtomicBufferType) < 0)
        return NULL;
    m = PyModule_Create(&atomic_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&AtomicBufferType);
    if (PyModule_AddObject(m, "AtomicBuffer", (PyObject *)&AtomicBufferType) < 0) {
        Py_DECREF(&AtomicBufferType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
