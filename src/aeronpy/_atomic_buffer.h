/*
 * aeronpy._atomic, shared by its three sources (one extension module, split by purpose):
 *   _atomic.c         the AtomicBuffer type: acquire/release, CAS, get-and-add, plain access
 *   _frame_kernels.c  the driver's per-frame hot loops over a buffer (term scans, rebuild)
 *   _datagram_io.c    batched datagram receive (recvmmsg) and send (sendmmsg of term frames)
 *   _publication_tx.c the sender's common duty cycle for one network publication (PublicationTx)
 *   _eager_data_path.c the SHARED driver's data path run at once when its idle probe fires
 * Every kernel has a pure-Python twin that the tests compare it with.
 */
#ifndef AERONPY_ATOMIC_BUFFER_H
#define AERONPY_ATOMIC_BUFFER_H
#define PY_SSIZE_T_CLEAN
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* recvmmsg */
#endif
#include <Python.h>
#include <structmember.h>
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

extern PyTypeObject AtomicBufferType;

static inline int
parse_ssize(PyObject *o, Py_ssize_t *out)
{
    Py_ssize_t v = PyLong_AsSsize_t(o);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = v;
    return 0;
}

static inline int
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

/*
 * The sender's scan of one datagram's worth of a term (shared by scan_for_availability and
 * send_frames): sums aligned lengths of committed frames from `offset` up to `max_length`
 * bytes (and the buffer's end).  A PAD frame contributes only its 32-byte header and ends the
 * scan; the rest of it goes to *padding.
 */
static inline Py_ssize_t
scan_availability(const uint8_t *data, Py_ssize_t capacity, Py_ssize_t offset, Py_ssize_t max_length,
                  uint16_t pad_type, Py_ssize_t *padding_out)
{
    Py_ssize_t limit = capacity - offset, available = 0, padding = 0;
    if (max_length < limit)
        limit = max_length;
    while (available < limit && offset + available <= capacity - 32) {
        Py_ssize_t frame_offset = offset + available;
        int32_t frame_length = __atomic_load_n((const int32_t *)(data + frame_offset), __ATOMIC_ACQUIRE);
        Py_ssize_t aligned;
        uint16_t type;
        if (frame_length <= 0)
            break;
        aligned = ((Py_ssize_t)frame_length + 31) & ~(Py_ssize_t)31;
        memcpy(&type, data + frame_offset + 6, 2);
        if (type == pad_type) {
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
    *padding_out = padding;
    return available;
}

/* _frame_kernels.c: AtomicBuffer methods */
PyObject *ab_scan_frames(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *ab_scan_for_availability(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *ab_insert_frames(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs);

/* _frame_kernels.c: module functions */
PyObject *mod_validate_data_frames(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *mod_scan_for_gap(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *mod_watch_words(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *watch_words_deferring(PyObject *const *args, Py_ssize_t nargs, const unsigned char *mask,
                                Py_ssize_t mask_len, int *deferred);
PyObject *mod_dispatch_data(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
extern PyTypeObject ImageRxType;

#ifdef AERONPY_HAVE_RECVMMSG
/* _datagram_io.c: module functions */
PyObject *mod_recvmmsg_into(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
PyObject *mod_send_frames(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
int fd_of(PyObject *o);
int send_term_frames(int fd, PyObject *sock, const void *sockaddr, Py_ssize_t sockaddr_len, const uint8_t *data, Py_ssize_t capacity,
                     Py_ssize_t term_offset, Py_ssize_t limit, Py_ssize_t mtu, Py_ssize_t max_datagrams,
                     uint16_t pad_type, Py_ssize_t *bytes_sent, Py_ssize_t *advance, int *short_send);

/* _publication_tx.c */
extern PyTypeObject PublicationTxType;
PyObject *publication_tx_send(PyObject *tx, PyObject *now_obj);

/* _eager_data_path.c */
extern PyTypeObject EagerDataPathType;
#endif

#endif /* AERONPY_ATOMIC_BUFFER_H */
