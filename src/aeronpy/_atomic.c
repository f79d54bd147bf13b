/*
 * aeronpy._atomic: an AtomicBuffer over any writable buffer (mmap, bytearray, ...).
 *
 * What Python cannot express: acquire loads, release stores, compare-and-set and
 * get-and-add on int32/int64 in shared memory.  Plain little-endian get/put helpers are
 * included so that hot code needs one object and one call per field.
 *
 * All offsets are bounds-checked.  Atomic operations require natural alignment of the
 * target address.  The pure-Python twin lives in aeronpy/concurrent/atomic_buffer.py.
 * The frame kernels and recvmmsg/sendmmsg are in _frame_kernels.c and _datagram_io.c.
 */
#include "_atomic_buffer.h"

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

PyTypeObject AtomicBufferType = {
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


static PyMethodDef module_methods[] = {
    {"fence", (PyCFunction)ab_fence, METH_NOARGS, "Full memory fence."},
    {"validate_data_frames", (PyCFunction)(void (*)(void))mod_validate_data_frames, METH_FASTCALL,
     "validate_data_frames(datagram, length, term_offset, term_length) -> extent or -1."},
    {"scan_for_gap", (PyCFunction)(void (*)(void))mod_scan_for_gap, METH_FASTCALL,
     "scan_for_gap(term, rebuild_offset, limit_offset) -> (gap_begin, gap_length)."},
    {"watch_words", (PyCFunction)(void (*)(void))mod_watch_words, METH_FASTCALL,
     "watch_words(words, snapshot, fds, checks) -> 0 or the check (1..checks) that saw activity: "
     "int64 words moved from their snapshot, or a descriptor readable; checks=0 takes the snapshot."},
    {"dispatch_data", (PyCFunction)(void (*)(void))mod_dispatch_data, METH_FASTCALL,
     "dispatch_data(images, buffer, slot_length, batch, start, now_ns, reply) -> (next, bytes_taken): "
     "the receiver's DATA fast path over a received batch, up to the first datagram it leaves to Python."},
#ifdef AERONPY_HAVE_RECVMMSG
    {"send_frames", (PyCFunction)(void (*)(void))mod_send_frames, METH_FASTCALL,
     "send_frames(fd, sockaddr, term, term_offset, limit, mtu, max_datagrams, pad_type) -> "
     "(bytes_sent, advance, short_send): one sendmmsg of a term's committed frames."},
    {"recvmmsg_into", (PyCFunction)(void (*)(void))mod_recvmmsg_into, METH_FASTCALL,
     "recvmmsg_into(sock, buffer, slot_length, max_messages[, timestamps]) -> list[(length, address)]: "
     "one non-blocking recvmmsg into fixed-size slots of buffer; [] when nothing is waiting; "
     "timestamps (int64 buffer) gets each datagram's SCM_TIMESTAMPNS receive time, -1 if none."},
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
    if (PyType_Ready(&AtomicBufferType) < 0 || PyType_Ready(&ImageRxType) < 0)
        return NULL;
#ifdef AERONPY_HAVE_RECVMMSG
    if (PyType_Ready(&PublicationTxType) < 0 || PyType_Ready(&EagerDataPathType) < 0)
        return NULL;
#endif
    m = PyModule_Create(&atomic_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&AtomicBufferType);
    if (PyModule_AddObject(m, "AtomicBuffer", (PyObject *)&AtomicBufferType) < 0) {
        Py_DECREF(&AtomicBufferType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&ImageRxType);
    if (PyModule_AddObject(m, "ImageRx", (PyObject *)&ImageRxType) < 0) {
        Py_DECREF(&ImageRxType);
        Py_DECREF(m);
        return NULL;
    }
#ifdef AERONPY_HAVE_RECVMMSG
    Py_INCREF(&PublicationTxType);
    if (PyModule_AddObject(m, "PublicationTx", (PyObject *)&PublicationTxType) < 0) {
        Py_DECREF(&PublicationTxType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&EagerDataPathType);
    if (PyModule_AddObject(m, "EagerDataPath", (PyObject *)&EagerDataPathType) < 0) {
        Py_DECREF(&EagerDataPathType);
        Py_DECREF(m);
        return NULL;
    }
#endif
    return m;
}
