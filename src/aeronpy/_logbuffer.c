/*
 * aeronpy._logbuffer: the client's per-message hot paths over a mapped log buffer.
 *
 *   Appender      offer / offerv / try_claim / append_padding / offer_batch of a concurrent or
 *                 exclusive publication: one call does the closed check, the publication-limit
 *                 check, the tail fetch-add (concurrent) or local tail (exclusive), header write,
 *                 payload copy, the release store of the frame length, and rotation /
 *                 back-pressure / admin-action / max-position results (log-buffer.md section 6).
 *   Reader        the term reader behind Image.poll, bounded_poll, controlled_poll,
 *                 block_poll and poll_batch: walks committed frames, calls the handler per fragment with one
 *                 reused Header flyweight, and moves the subscriber position (release store).
 *   FragmentBatch what poll_batch hands out; valid until released (explicitly, or by the next
 *                 poll of the same image), after which every access raises StaleBatchError.
 *   HeaderBase    C base of aeronpy.logbuffer.header.Header (buffer, offset) so the reader
 *                 updates the flyweight without attribute look-ups.
 *   ClaimBase     C base of aeronpy.client.buffer_claim.BufferClaim: try_claim fills it and
 *                 commit/abort are C calls (the release store of the frame length).
 *   AssemblerBase C base of the fragment assemblers: the reader gives unfragmented frames
 *                 straight to the delegate (the assembler's common path).
 *
 * Memory is reached through the buffer protocol of the AtomicBuffers of the log (held from
 * construction to close()), so a mapping can never go away under a kernel.  Python twins:
 * aeronpy.logbuffer.term_appender and aeronpy.logbuffer.term_reader (the test oracles).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#define HDR_LENGTH 32
#define ALIGN32(x) (((x) + 31) & ~31)
#define TYPE_PAD 0
#define TYPE_DATA 1
#define FLAG_BEGIN 0x80
#define FLAG_END 0x40
#define FLAGS_UNFRAGMENTED 0xC0

#define META_ACTIVE_TERM_COUNT 24
#define META_IS_CONNECTED 136
#define META_INITIAL_TERM_ID 264
#define META_MTU_LENGTH 272
#define META_LENGTH 4096

#define RESULT_NOT_CONNECTED (-1)
#define RESULT_BACK_PRESSURED (-2)
#define RESULT_ADMIN_ACTION (-3)
#define RESULT_CLOSED (-4)
#define RESULT_MAX_POSITION_EXCEEDED (-5)
#define TRIPPED (-2)

#define ACTION_ABORT 1
#define ACTION_BREAK 2
#define ACTION_COMMIT 3

static PyObject *StaleBatchError = NULL;
static PyObject *source_adapter = NULL; /* callable(src) -> buffer-protocol object */

static inline int32_t term_count_of(int32_t term_id, int32_t initial_term_id)
{
    return (int32_t)((uint32_t)term_id - (uint32_t)initial_term_id);
}

static inline int32_t load_i32_acquire(const uint8_t *p)
{
    return __atomic_load_n((const int32_t *)p, __ATOMIC_ACQUIRE);
}

static inline int64_t load_i64_acquire(const uint8_t *p)
{
    return __atomic_load_n((const int64_t *)p, __ATOMIC_ACQUIRE);
}

static inline void store_i32_release(uint8_t *p, int32_t v)
{
    __atomic_store_n((int32_t *)p, v, __ATOMIC_RELEASE);
}

static inline void store_i64_release(uint8_t *p, int64_t v)
{
    __atomic_store_n((int64_t *)p, v, __ATOMIC_RELEASE);
}

/* A buffer view of any writable region (AtomicBuffer, mmap, bytearray). */
static int get_region(PyObject *obj, Py_buffer *view, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Format(PyExc_TypeError, "%s must be a writable buffer (a C AtomicBuffer)", what);
        return -1;
    }
    return 0;
}

/* A read view of a message source; falls back to the registered adapter (PyAtomicBuffer). */
static int get_source(PyObject *src, Py_buffer *view)
{
    PyObject *adapted;
    int rc;
    if (PyObject_GetBuffer(src, view, PyBUF_C_CONTIGUOUS) == 0)
        return 0;
    if (source_adapter == NULL || !PyErr_ExceptionMatches(PyExc_TypeError))
        return -1;
    PyErr_Clear();
    adapted = PyObject_CallOneArg(source_adapter, src);
    if (adapted == NULL)
        return -1;
    rc = PyObject_GetBuffer(adapted, view, PyBUF_C_CONTIGUOUS);
    Py_DECREF(adapted);
    return rc;
}

static inline int64_t as_i64(PyObject *o, int *err)
{
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred())
        *err = 1;
    return (int64_t)v;
}

/* ===================================================================== Appender */

typedef struct {
    PyObject_HEAD
    PyObject *term_objs[3];
    Py_buffer tv[3];
    Py_buffer mv;
    Py_buffer lv;
    int have_views;
    int closed;
    int busy;          /* calls in progress (a reserved-value supplier may re-enter) */
    int close_pending; /* close() came while busy: drop the views when the last call ends */
    uint8_t *term[3];
    uint8_t *meta;
    uint8_t *limit;
    int32_t term_length;
    int32_t session_id;
    int32_t stream_id;
    int32_t initial_term_id;
    int32_t bits;
    int32_t mtu;
    int32_t max_payload;
    int32_t max_message;
    int64_t max_possible;
    int exclusive;
    /* exclusive state */
    int32_t x_index;
    int32_t x_term_id;
    int32_t x_term_offset;
    int64_t x_term_begin;
} Appender;

static void appender_drop_views(Appender *self)
{
    int i;
    if (!self->have_views)
        return;
    for (i = 0; i < 3; i++)
        PyBuffer_Release(&self->tv[i]);
    PyBuffer_Release(&self->mv);
    PyBuffer_Release(&self->lv);
    self->have_views = 0;
}

static int
Appender_init(Appender *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"term_buffers", "metadata", "limit_buffer", "limit_offset",
                             "session_id", "stream_id", "exclusive", NULL};
    PyObject *terms, *meta, *limit_buf;
    Py_ssize_t limit_offset;
    int session_id, stream_id, exclusive = 0, i, got = 0;
    PyObject *seq;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOnii|p", kwlist, &terms, &meta, &limit_buf,
                                     &limit_offset, &session_id, &stream_id, &exclusive))
        return -1;
    if (self->have_views) {
        PyErr_SetString(PyExc_TypeError, "Appender already initialised");
        return -1;
    }
    seq = PySequence_Fast(terms, "term_buffers must be a sequence of 3 buffers");
    if (seq == NULL)
        return -1;
    if (PySequence_Fast_GET_SIZE(seq) != 3) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "term_buffers must hold exactly 3 term buffers");
        return -1;
    }
    for (i = 0; i < 3; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        if (get_region(t, &self->tv[i], "term_buffers[i]") < 0)
            goto fail;
        got++;
    }
    if (get_region(meta, &self->mv, "metadata") < 0)
        goto fail;
    got++;
    if (get_region(limit_buf, &self->lv, "limit_buffer") < 0)
        goto fail;
    got++;
    if (self->mv.len < META_LENGTH || self->tv[0].len < 64 * 1024 ||
        self->tv[1].len != self->tv[0].len || self->tv[2].len != self->tv[0].len ||
        (self->tv[0].len & (self->tv[0].len - 1)) != 0) {
        PyErr_SetString(PyExc_ValueError, "term_buffers/metadata do not form a log buffer");
        goto fail;
    }
    if (limit_offset < 0 || limit_offset > self->lv.len - 8 ||
        ((uintptr_t)((uint8_t *)self->lv.buf + limit_offset) & 7) != 0) {
        PyErr_Format(PyExc_ValueError, "limit_offset %zd invalid for the limit buffer", limit_offset);
        goto fail;
    }
    for (i = 0; i < 3; i++) {
        self->term[i] = (uint8_t *)self->tv[i].buf;
        Py_INCREF(PySequence_Fast_GET_ITEM(seq, i));
        self->term_objs[i] = PySequence_Fast_GET_ITEM(seq, i);
    }
    Py_DECREF(seq);
    self->meta = (uint8_t *)self->mv.buf;
    self->limit = (uint8_t *)self->lv.buf + limit_offset;
    self->have_views = 1;
    self->term_length = (int32_t)self->tv[0].len;
    self->bits = __builtin_ctz((unsigned)self->term_length);
    memcpy(&self->initial_term_id, self->meta + META_INITIAL_TERM_ID, 4);
    memcpy(&self->mtu, self->meta + META_MTU_LENGTH, 4);
    self->session_id = session_id;
    self->stream_id = stream_id;
    self->max_payload = self->mtu - HDR_LENGTH;
    {
        int32_t m = self->term_length / 8;
        self->max_message = m < 16 * 1024 * 1024 ? m : 16 * 1024 * 1024;
    }
    self->max_possible = (int64_t)self->term_length << 31;
    self->exclusive = exclusive;
    if (exclusive) {
        int32_t term_count = load_i32_acquire(self->meta + META_ACTIVE_TERM_COUNT);
        int32_t index = (int32_t)(((int64_t)term_count % 3 + 3) % 3);
        int64_t raw = load_i64_acquire(self->meta + 8 * index);
        int64_t off = raw & 0xFFFFFFFFLL;
        self->x_index = index;
        self->x_term_id = (int32_t)(raw >> 32);
        self->x_term_offset = (int32_t)(off > self->term_length ? self->term_length : off);
        self->x_term_begin = (int64_t)term_count_of(self->x_term_id, self->initial_term_id) << self->bits;
    }
    return 0;
fail:
    Py_DECREF(seq);
    for (i = 0; i < got && i < 3; i++)
        PyBuffer_Release(&self->tv[i]);
    if (got > 3)
        PyBuffer_Release(&self->mv);
    if (got > 4)
        PyBuffer_Release(&self->lv);
    return -1;
}

static void
Appender_dealloc(Appender *self)
{
    int i;
    appender_drop_views(self);
    for (i = 0; i < 3; i++)
        Py_CLEAR(self->term_objs[i]);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static inline void
write_header(Appender *self, uint8_t *tb, int32_t offset, int32_t frame_length, int32_t term_id,
             uint8_t flags, uint16_t type)
{
    uint8_t *h = tb + offset;
    int64_t zero = 0;
    store_i32_release(h, -frame_length);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    h[4] = 0;
    h[5] = flags;
    memcpy(h + 6, &type, 2);
    memcpy(h + 8, &offset, 4);
    memcpy(h + 12, &self->session_id, 4);
    memcpy(h + 16, &self->stream_id, 4);
    memcpy(h + 20, &term_id, 4);
    memcpy(h + 24, &zero, 8);
}

static void
write_pad(Appender *self, uint8_t *tb, int32_t term_offset, int32_t term_id)
{
    if (term_offset < self->term_length) {
        int32_t length = self->term_length - term_offset;
        write_header(self, tb, term_offset, length, term_id, FLAGS_UNFRAGMENTED, TYPE_PAD);
        store_i32_release(tb + term_offset, length);
    }
}

/* Call the reserved value supplier and store its value; -1 on error (frame left as written). */
static int
apply_rvs(Appender *self, PyObject *rvs, int index, uint8_t *tb, int32_t frame_offset, int32_t frame_length)
{
    PyObject *args[3], *r;
    int err = 0;
    int64_t v;
    args[0] = self->term_objs[index];
    args[1] = PyLong_FromLong(frame_offset);
    args[2] = PyLong_FromLong(frame_length);
    if (args[1] == NULL || args[2] == NULL) {
        Py_XDECREF(args[1]);
        Py_XDECREF(args[2]);
        return -1;
    }
    r = PyObject_Vectorcall(rvs, args, 3, NULL);
    Py_DECREF(args[1]);
    Py_DECREF(args[2]);
    if (r == NULL)
        return -1;
    v = as_i64(r, &err);
    Py_DECREF(r);
    if (err)
        return -1;
    memcpy(tb + frame_offset + 24, &v, 8);
    return 0;
}

/* Source pieces of one message (offer: one piece, offerv: many). */
typedef struct {
    const uint8_t *ptr;
    Py_ssize_t len;
} piece_t;

/* Copy `n` bytes of the concatenated pieces starting at *cursor (piece index, offset). */
static inline void
copy_pieces(uint8_t *dst, const piece_t *pieces, Py_ssize_t *pi, Py_ssize_t *po, Py_ssize_t n)
{
    while (n > 0) {
        Py_ssize_t avail = pieces[*pi].len - *po;
        Py_ssize_t take = avail < n ? avail : n;
        if (take > 0) {
            memcpy(dst, pieces[*pi].ptr + *po, (size_t)take);
            dst += take;
            n -= take;
            *po += take;
        }
        if (*po >= pieces[*pi].len) {
            (*pi)++;
            *po = 0;
        }
    }
}

static inline int64_t required_length(Appender *self, Py_ssize_t length);

/* A reserved-value supplier raised: commit what is left of the reservation, [from, end), as
   one PAD frame so the stream moves on (the message is dropped, the exception propagates). */
static void
pad_rest(Appender *self, uint8_t *tb, int32_t from, int32_t end, int32_t term_id)
{
    write_header(self, tb, from, end - from, term_id, FLAGS_UNFRAGMENTED, TYPE_PAD);
    store_i32_release(tb + from, end - from);
}

/* Write the frames of one message at term_offset (space already reserved); -1 on rvs error
   (the rest of the reservation is then padding). */
static int
write_message(Appender *self, int index, int32_t term_offset, int32_t term_id,
              const piece_t *pieces, Py_ssize_t length, PyObject *rvs)
{
    uint8_t *tb = self->term[index];
    Py_ssize_t pi = 0, po = 0;
    if (length <= self->max_payload) {
        int32_t frame_length = (int32_t)length + HDR_LENGTH;
        write_header(self, tb, term_offset, frame_length, term_id, FLAGS_UNFRAGMENTED, TYPE_DATA);
        copy_pieces(tb + term_offset + HDR_LENGTH, pieces, &pi, &po, length);
        if (rvs != NULL && apply_rvs(self, rvs, index, tb, term_offset, frame_length) < 0) {
            pad_rest(self, tb, term_offset, term_offset + ALIGN32(frame_length), term_id);
            return -1;
        }
        store_i32_release(tb + term_offset, frame_length);
        return 0;
    }
    {
        uint8_t flags = FLAG_BEGIN;
        Py_ssize_t remaining = length;
        int32_t frame_offset = term_offset;
        for (;;) {
            Py_ssize_t n = remaining < self->max_payload ? remaining : self->max_payload;
            int32_t frame_length = (int32_t)n + HDR_LENGTH;
            if (remaining <= self->max_payload)
                flags |= FLAG_END;
            write_header(self, tb, frame_offset, frame_length, term_id, flags, TYPE_DATA);
            copy_pieces(tb + frame_offset + HDR_LENGTH, pieces, &pi, &po, n);
            if (rvs != NULL && apply_rvs(self, rvs, index, tb, frame_offset, frame_length) < 0) {
                pad_rest(self, tb, frame_offset, term_offset + (int32_t)required_length(self, length), term_id);
                return -1;
            }
            store_i32_release(tb + frame_offset, frame_length);
            remaining -= n;
            if (remaining <= 0)
                return 0;
            flags = 0;
            frame_offset += ALIGN32(frame_length);
        }
    }
}

static inline int64_t
fragmented_length(Py_ssize_t length, int32_t max_payload)
{
    int64_t full = length / max_payload, rem = length % max_payload;
    return full * (max_payload + HDR_LENGTH) + (rem ? ALIGN32(rem + HDR_LENGTH) : 0);
}

static inline int64_t
required_length(Appender *self, Py_ssize_t length)
{
    if (length <= self->max_payload)
        return ALIGN32(length + HDR_LENGTH);
    return fragmented_length(length, self->max_payload);
}

static int64_t
not_connected_status(Appender *self)
{
    return load_i32_acquire(self->meta + META_IS_CONNECTED) == 1 ? RESULT_BACK_PRESSURED : RESULT_NOT_CONNECTED;
}

/* Concurrent: rotate after padding the rest of the term. */
static int64_t
end_of_log(Appender *self, int index, int32_t term_offset, int32_t term_id, int64_t position)
{
    int32_t term_count, next_term_id, next_term_count, expected;
    int next_index;
    uint8_t *tail;
    int64_t new_tail;
    write_pad(self, self->term[index], term_offset, term_id);
    if (position >= self->max_possible)
        return RESULT_MAX_POSITION_EXCEEDED;
    term_count = term_count_of(term_id, self->initial_term_id);
    next_term_id = (int32_t)((uint32_t)term_id + 1);
    next_term_count = (int32_t)((uint32_t)term_count + 1);
    next_index = (int)(((int64_t)next_term_count % 3 + 3) % 3);
    expected = (int32_t)((uint32_t)next_term_id - 3);
    tail = self->meta + 8 * next_index;
    new_tail = (int64_t)((uint64_t)(uint32_t)next_term_id << 32);
    for (;;) {
        int64_t raw = load_i64_acquire(tail);
        if ((int32_t)(raw >> 32) != expected)
            break;
        if (__atomic_compare_exchange_n((int64_t *)tail, &raw, new_tail, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            break;
    }
    {
        int32_t e = term_count;
        __atomic_compare_exchange_n((int32_t *)(self->meta + META_ACTIVE_TERM_COUNT), &e, next_term_count, 0,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    return RESULT_ADMIN_ACTION;
}

/* Exclusive: move to the next term (the caller retries). */
static int64_t
x_end_of_term(Appender *self)
{
    int32_t next_term_id, next_term_count;
    int next_index;
    if (self->x_term_begin + self->term_length >= self->max_possible)
        return RESULT_MAX_POSITION_EXCEEDED;
    next_term_id = (int32_t)((uint32_t)self->x_term_id + 1);
    next_term_count = term_count_of(next_term_id, self->initial_term_id);
    next_index = (int)(((int64_t)next_term_count % 3 + 3) % 3);
    self->x_index = next_index;
    self->x_term_id = next_term_id;
    self->x_term_offset = 0;
    self->x_term_begin += self->term_length;
    store_i64_release(self->meta + 8 * next_index, (int64_t)((uint64_t)(uint32_t)next_term_id << 32));
    store_i32_release(self->meta + META_ACTIVE_TERM_COUNT, next_term_count);
    return RESULT_ADMIN_ACTION;
}

/*
 * Append one message of `length` bytes from `pieces`.  kind 0: data, 1: claim (no copy; the
 * caller wraps the claim), 2: padding.  On success *frame_offset_out is the first frame's
 * offset and *index_out its partition.  Returns the new position or a result; -100 on a Python
 * error (rvs).  Lengths were validated by the caller.
 */
#define PY_ERROR_RESULT (-100)

static int64_t
append(Appender *self, const piece_t *pieces, Py_ssize_t length, PyObject *rvs, int kind,
       int32_t *frame_offset_out, int *index_out)
{
    int64_t limit = load_i64_acquire(self->limit);
    if (!self->exclusive) {
        int32_t term_count = load_i32_acquire(self->meta + META_ACTIVE_TERM_COUNT);
        int index = (int)(((int64_t)term_count % 3 + 3) % 3);
        int64_t raw = load_i64_acquire(self->meta + 8 * index);
        int32_t term_id = (int32_t)(raw >> 32);
        int64_t term_offset = raw & 0xFFFFFFFFLL;
        int64_t position;
        if (term_count != term_count_of(term_id, self->initial_term_id))
            return RESULT_ADMIN_ACTION;
        if (term_offset > self->term_length)
            term_offset = self->term_length;
        position = ((int64_t)term_count << self->bits) + term_offset;
        if (position < limit) {
            int64_t required = required_length(self, length);
            int64_t resulting;
            raw = __atomic_fetch_add((int64_t *)(self->meta + 8 * index), required, __ATOMIC_SEQ_CST);
            term_id = (int32_t)(raw >> 32);
            term_offset = raw & 0xFFFFFFFFLL;
            if (term_offset > self->term_length)
                term_offset = self->term_length;
            resulting = term_offset + required;
            position = ((int64_t)term_count_of(term_id, self->initial_term_id) << self->bits) + resulting;
            if (resulting > self->term_length)
                return end_of_log(self, index, (int32_t)term_offset, term_id, position);
            if (kind == 0) {
                if (write_message(self, index, (int32_t)term_offset, term_id, pieces, length, rvs) < 0)
                    return PY_ERROR_RESULT;
            } else {
                write_header(self, self->term[index], (int32_t)term_offset, (int32_t)length + HDR_LENGTH,
                             term_id, FLAGS_UNFRAGMENTED, TYPE_DATA);
            }
            *frame_offset_out = (int32_t)term_offset;
            *index_out = index;
            return position;
        }
        if (position + ALIGN32(length + HDR_LENGTH) >= self->max_possible)
            return RESULT_MAX_POSITION_EXCEEDED;
        return not_connected_status(self);
    } else {
        int32_t term_offset = self->x_term_offset;
        int64_t position = self->x_term_begin + term_offset;
        if (position < limit) {
            int index = self->x_index;
            int32_t term_id = self->x_term_id;
            int64_t resulting = term_offset + (kind == 0 ? required_length(self, length) : ALIGN32(length + HDR_LENGTH));
            store_i64_release(self->meta + 8 * index,
                              (int64_t)(((uint64_t)(uint32_t)term_id << 32) | (uint64_t)resulting));
            if (resulting > self->term_length) {
                write_pad(self, self->term[index], term_offset, term_id);
                return x_end_of_term(self);
            }
            if (kind == 0) {
                if (write_message(self, index, term_offset, term_id, pieces, length, rvs) < 0) {
                    self->x_term_offset = (int32_t)resulting;
                    return PY_ERROR_RESULT;
                }
            } else if (kind == 1) {
                write_header(self, self->term[index], term_offset, (int32_t)length + HDR_LENGTH, term_id,
                             FLAGS_UNFRAGMENTED, TYPE_DATA);
            } else {
                write_header(self, self->term[index], term_offset, (int32_t)length + HDR_LENGTH, term_id,
                             FLAGS_UNFRAGMENTED, TYPE_PAD);
                store_i32_release(self->term[index] + term_offset, (int32_t)length + HDR_LENGTH);
            }
            self->x_term_offset = (int32_t)resulting;
            *frame_offset_out = term_offset;
            *index_out = index;
            return self->x_term_begin + resulting;
        }
        if (position + length >= self->max_possible)
            return RESULT_MAX_POSITION_EXCEEDED;
        return not_connected_status(self);
    }
}

static int
check_message_length(Appender *self, Py_ssize_t length)
{
    if (length > self->max_message) {
        PyErr_Format(PyExc_ValueError, "message exceeds max_message_length of %d, length=%zd",
                     self->max_message, length);
        return -1;
    }
    return 0;
}

static inline int
appender_usable(Appender *self)
{
    return !self->closed && self->have_views;
}

static void
appender_leave(Appender *self)
{
    self->busy--;
    if (self->busy == 0 && self->close_pending) {
        self->close_pending = 0;
        appender_drop_views(self);
    }
}

static PyObject *
result_object(int64_t r)
{
    if (r == PY_ERROR_RESULT)
        return NULL;
    return PyLong_FromLongLong(r);
}

/* offer one Py_buffer range; returns result or PY_ERROR_RESULT with an exception set */
static int64_t
offer_range(Appender *self, Py_buffer *src, Py_ssize_t offset, Py_ssize_t length, PyObject *rvs)
{
    piece_t piece;
    int32_t fo;
    int idx;
    if (length < 0)
        length = src->len - offset;
    if (offset < 0 || length < 0 || length > src->len - offset) {
        PyErr_Format(PyExc_IndexError, "range %zd+%zd outside source of %zd bytes", offset, length,
                     (Py_ssize_t)src->len);
        return PY_ERROR_RESULT;
    }
    if (length > self->max_payload && check_message_length(self, length) < 0)
        return PY_ERROR_RESULT;
    piece.ptr = (const uint8_t *)src->buf + offset;
    piece.len = length;
    return append(self, &piece, length, rvs, 0, &fo, &idx);
}

/* offer(buffer, offset=0, length=-1, reserved_value_supplier=None) -> position or result */
static PyObject *
Appender_offer(Appender *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *vals[4] = {NULL, NULL, NULL, NULL};
    static const char *names[4] = {"buffer", "offset", "length", "reserved_value_supplier"};
    Py_ssize_t offset = 0, length = -1, i;
    PyObject *rvs = NULL;
    Py_buffer src;
    int64_t r;
    if (nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "offer() takes at most 4 arguments");
        return NULL;
    }
    for (i = 0; i < nargs; i++)
        vals[i] = args[i];
    if (kwnames != NULL) {
        Py_ssize_t k, nk = PyTuple_GET_SIZE(kwnames);
        for (k = 0; k < nk; k++) {
            const char *kn = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, k));
            int found = 0, j;
            if (kn == NULL)
                return NULL;
            for (j = 0; j < 4; j++) {
                if (strcmp(kn, names[j]) == 0) {
                    if (vals[j] != NULL) {
                        PyErr_Format(PyExc_TypeError, "offer() got multiple values for argument '%s'", kn);
                        return NULL;
                    }
                    vals[j] = args[nargs + k];
                    found = 1;
                }
            }
            if (!found) {
                PyErr_Format(PyExc_TypeError, "offer() got an unexpected keyword argument '%s'", kn);
                return NULL;
            }
        }
    }
    if (vals[0] == NULL) {
        PyErr_SetString(PyExc_TypeError, "offer() missing required argument 'buffer'");
        return NULL;
    }
    if (!appender_usable(self))
        return PyLong_FromLong(RESULT_CLOSED);
    if (vals[1] != NULL && (offset = PyLong_AsSsize_t(vals[1])) == -1 && PyErr_Occurred())
        return NULL;
    if (vals[2] != NULL && (length = PyLong_AsSsize_t(vals[2])) == -1 && PyErr_Occurred())
        return NULL;
    if (vals[3] != NULL && vals[3] != Py_None)
        rvs = vals[3];
    if (PyBytes_CheckExact(vals[0])) { /* immutable and held by the caller: no buffer export */
        src.buf = PyBytes_AS_STRING(vals[0]);
        src.len = PyBytes_GET_SIZE(vals[0]);
        self->busy++;
        r = offer_range(self, &src, offset, length, rvs);
        appender_leave(self);
        return result_object(r);
    }
    if (get_source(vals[0], &src) < 0)
        return NULL;
    self->busy++;
    r = offer_range(self, &src, offset, length, rvs);
    appender_leave(self);
    PyBuffer_Release(&src);
    return result_object(r);
}

#define STACK_PIECES 16

/* offerv(buffers, reserved_value_supplier=None): the concatenation as one message */
static PyObject *
Appender_offerv(Appender *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *seq, *rvs = NULL;
    Py_buffer stack_views[STACK_PIECES];
    piece_t stack_pieces[STACK_PIECES];
    Py_buffer *views = stack_views;
    piece_t *pieces = stack_pieces;
    Py_ssize_t n, i, got = 0, total = 0;
    int64_t r = PY_ERROR_RESULT;
    int32_t fo;
    int idx;
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "offerv(buffers, reserved_value_supplier=None)");
        return NULL;
    }
    if (nargs == 2 && args[1] != Py_None)
        rvs = args[1];
    if (!appender_usable(self))
        return PyLong_FromLong(RESULT_CLOSED);
    seq = PySequence_Fast(args[0], "offerv() needs a sequence of buffers");
    if (seq == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    if (n > STACK_PIECES) {
        views = PyMem_Malloc(sizeof(Py_buffer) * (size_t)n);
        pieces = PyMem_Malloc(sizeof(piece_t) * (size_t)n);
        if (views == NULL || pieces == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    for (i = 0; i < n; i++) {
        if (get_source(PySequence_Fast_GET_ITEM(seq, i), &views[i]) < 0)
            goto done;
        got++;
        pieces[i].ptr = views[i].buf;
        pieces[i].len = views[i].len;
        total += views[i].len;
    }
    if (total > self->max_payload && check_message_length(self, total) < 0)
        goto done;
    self->busy++;
    r = append(self, pieces, total, rvs, 0, &fo, &idx);
    appender_leave(self);
done:
    for (i = 0; i < got; i++)
        PyBuffer_Release(&views[i]);
    if (views != stack_views)
        PyMem_Free(views);
    if (pieces != stack_pieces)
        PyMem_Free(pieces);
    Py_DECREF(seq);
    return result_object(r);
}


/* ================================================================ ClaimBase */

/*
 * C base of aeronpy.client.buffer_claim.BufferClaim: the claimed payload `buffer` (the term's
 * AtomicBuffer; None when not holding a claim), `offset` and `length`, with wrap / commit /
 * abort in C (try_claim fills the fields directly).  commit: release store of the frame length
 * (offset - 32); abort: the frame type becomes PAD first.  A buffer that is not a C
 * AtomicBuffer goes through its own put_uint16 / put_int32_ordered methods, as the Python
 * twin (aeronpy.client.buffer_claim.PyBufferClaim) does.
 */
typedef struct {
    PyObject_HEAD
    PyObject *buffer;
    Py_ssize_t offset;
    Py_ssize_t length;
} ClaimBase;

static PyTypeObject *atomic_buffer_type = NULL; /* aeronpy._atomic.AtomicBuffer */

static void
ClaimBase_dealloc(ClaimBase *self)
{
    Py_CLEAR(self->buffer);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
ClaimBase_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    ClaimBase *self = (ClaimBase *)type->tp_alloc(type, 0);
    (void)args;
    (void)kwds;
    if (self == NULL)
        return NULL;
    Py_INCREF(Py_None);
    self->buffer = Py_None;
    self->offset = 0;
    self->length = 0;
    return (PyObject *)self;
}

static inline void
claim_point(ClaimBase *self, PyObject *buffer, Py_ssize_t offset, Py_ssize_t length)
{
    PyObject *old = self->buffer;
    Py_INCREF(buffer);
    self->buffer = buffer;
    Py_XDECREF(old);
    self->offset = offset;
    self->length = length;
}

static PyObject *
ClaimBase_wrap(ClaimBase *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset, length;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "wrap(buffer, offset, length)");
        return NULL;
    }
    if ((offset = PyLong_AsSsize_t(args[1])) == -1 && PyErr_Occurred())
        return NULL;
    if ((length = PyLong_AsSsize_t(args[2])) == -1 && PyErr_Occurred())
        return NULL;
    claim_point(self, args[0], offset, length);
    Py_RETURN_NONE;
}

/* Finish the claim: PAD type first when aborting, then the release store of the length. */
static PyObject *
claim_finish(ClaimBase *self, int abort)
{
    PyObject *buffer = self->buffer;
    Py_ssize_t at = self->offset - HDR_LENGTH;
    int64_t frame_length = (int64_t)self->length + HDR_LENGTH;
    if (buffer == NULL || buffer == Py_None) {
        PyErr_SetString(PyExc_ValueError, "BufferClaim is not holding a claim");
        return NULL;
    }
    if (atomic_buffer_type != NULL && Py_TYPE(buffer) == atomic_buffer_type) {
        Py_buffer v;
        if (PyObject_GetBuffer(buffer, &v, PyBUF_WRITABLE) < 0)
            return NULL; /* released: ValueError, as the twin's put_int32_ordered */
        /* the checks and their order of AtomicBuffer.put_uint16 / put_int32_ordered */
        if (abort) {
            uint16_t pad = TYPE_PAD;
            if (at + 6 < 0 || at + 6 > v.len - 2) {
                PyErr_Format(PyExc_IndexError, "offset %zd length 2 out of bounds for capacity %zd",
                             at + 6, v.len);
                PyBuffer_Release(&v);
                return NULL;
            }
            memcpy((uint8_t *)v.buf + at + 6, &pad, 2);
        }
        if (at < 0 || at > v.len - 4) {
            PyErr_Format(PyExc_IndexError, "offset %zd length 4 out of bounds for capacity %zd", at, v.len);
            PyBuffer_Release(&v);
            return NULL;
        }
        if ((((uintptr_t)v.buf + (uintptr_t)at) & 3) != 0) {
            PyErr_Format(PyExc_ValueError, "offset %zd is not 4-byte aligned for an atomic access", at);
            PyBuffer_Release(&v);
            return NULL;
        }
        if (frame_length > INT32_MAX) {
            PyErr_Format(PyExc_OverflowError, "frame length %lld does not fit an int32", (long long)frame_length);
            PyBuffer_Release(&v);
            return NULL;
        }
        store_i32_release((uint8_t *)v.buf + at, (int32_t)frame_length);
        PyBuffer_Release(&v);
    } else {
        PyObject *r;
        if (abort) {
            r = PyObject_CallMethod(buffer, "put_uint16", "ni", at + 6, TYPE_PAD);
            if (r == NULL)
                return NULL;
            Py_DECREF(r);
        }
        r = PyObject_CallMethod(buffer, "put_int32_ordered", "nL", at, (long long)frame_length);
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
    }
    Py_INCREF(Py_None);
    self->buffer = Py_None;
    Py_DECREF(buffer);
    Py_RETURN_NONE;
}

static PyObject *
ClaimBase_commit(ClaimBase *self, PyObject *Py_UNUSED(ignored))
{
    return claim_finish(self, 0);
}

static PyObject *
ClaimBase_abort(ClaimBase *self, PyObject *Py_UNUSED(ignored))
{
    return claim_finish(self, 1);
}

static PyMethodDef ClaimBase_methods[] = {
    {"wrap", (PyCFunction)(void (*)(void))ClaimBase_wrap, METH_FASTCALL,
     "wrap(buffer, offset, length): point at a claimed payload (called by the publication)."},
    {"commit", (PyCFunction)ClaimBase_commit, METH_NOARGS,
     "Publish the frame to readers (release store of the frame length)."},
    {"abort", (PyCFunction)ClaimBase_abort, METH_NOARGS,
     "Turn the frame into padding that readers skip."},
    {NULL},
};

static PyMemberDef ClaimBase_members[] = {
    {"buffer", T_OBJECT, offsetof(ClaimBase, buffer), 0, "The term buffer of the claim (None: no claim)."},
    {"offset", T_PYSSIZET, offsetof(ClaimBase, offset), 0, "Offset of the claimed payload."},
    {"length", T_PYSSIZET, offsetof(ClaimBase, length), 0, "Length of the claimed payload."},
    {NULL},
};

static PyTypeObject ClaimBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aeronpy._logbuffer.ClaimBase",
    .tp_basicsize = sizeof(ClaimBase),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Base of BufferClaim: buffer, offset, length; wrap/commit/abort in C.",
    .tp_new = ClaimBase_new,
    .tp_dealloc = (destructor)ClaimBase_dealloc,
    .tp_methods = ClaimBase_methods,
    .tp_members = ClaimBase_members,
};

static PyObject *
wrap_claim(Appender *self, PyObject *claim, int index, int32_t frame_offset, Py_ssize_t length)
{
    if (Py_TYPE(claim) == &ClaimBaseType || PyObject_TypeCheck(claim, &ClaimBaseType)) {
        claim_point((ClaimBase *)claim, self->term_objs[index], frame_offset + HDR_LENGTH, length);
        return Py_None;
    }
    PyObject *r = PyObject_CallMethod(claim, "wrap", "Oin", self->term_objs[index],
                                      frame_offset + HDR_LENGTH, length);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    return r;
}

/* try_claim(length, buffer_claim) -> position or result */
static PyObject *
Appender_try_claim(Appender *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t length;
    int64_t r;
    int32_t fo = 0;
    int idx = 0;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "try_claim(length, buffer_claim)");
        return NULL;
    }
    if ((length = PyLong_AsSsize_t(args[0])) == -1 && PyErr_Occurred())
        return NULL;
    if (length > self->max_payload) {
        PyErr_Format(PyExc_ValueError, "claim exceeds max_payload_length of %d, length=%zd",
                     self->max_payload, length);
        return NULL;
    }
    if (length < 0) {
        PyErr_Format(PyExc_ValueError, "negative claim length %zd", length);
        return NULL;
    }
    if (!appender_usable(self))
        return PyLong_FromLong(RESULT_CLOSED);
    r = append(self, NULL, length, NULL, 1, &fo, &idx);
    if (r > 0 && wrap_claim(self, args[1], idx, fo, length) == NULL)
        return NULL;
    return PyLong_FromLongLong(r);
}

/* append_padding(length) (exclusive only) -> position or result */
static PyObject *
Appender_append_padding(Appender *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t length;
    int32_t fo;
    int idx;
    if (nargs != 1) {
        PyErr_SetString(PyExc_TypeError, "append_padding(length)");
        return NULL;
    }
    if (!self->exclusive) {
        PyErr_SetString(PyExc_TypeError, "append_padding is for exclusive publications");
        return NULL;
    }
    if ((length = PyLong_AsSsize_t(args[0])) == -1 && PyErr_Occurred())
        return NULL;
    if (check_message_length(self, length) < 0)
        return NULL;
    if (length < 0) {
        PyErr_Format(PyExc_ValueError, "negative padding length %zd", length);
        return NULL;
    }
    if (!appender_usable(self))
        return PyLong_FromLong(RESULT_CLOSED);
    return PyLong_FromLongLong(append(self, NULL, length, NULL, 2, &fo, &idx));
}

/*
 * offer_batch(messages) -> (accepted, result)
 * Offers each message in order until one is refused; `result` is the last offer's result: the
 * new position when all were accepted, else the refusing result (that message was not sent).
 */
static PyObject *
Appender_offer_batch(Appender *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *seq;
    Py_ssize_t n, i, accepted = 0;
    int64_t r = 0;
    if (nargs != 1) {
        PyErr_SetString(PyExc_TypeError, "offer_batch(messages)");
        return NULL;
    }
    if (!appender_usable(self))
        return Py_BuildValue("(ni)", (Py_ssize_t)0, RESULT_CLOSED);
    seq = PySequence_Fast(args[0], "offer_batch() needs a sequence of buffers");
    if (seq == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    self->busy++;
    for (i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        Py_buffer src;
        if (PyBytes_CheckExact(item)) {
            piece_t piece;
            int32_t fo;
            int idx;
            piece.ptr = (const uint8_t *)PyBytes_AS_STRING(item);
            piece.len = PyBytes_GET_SIZE(item);
            if (piece.len > self->max_payload && check_message_length(self, piece.len) < 0) {
                r = PY_ERROR_RESULT;
                break;
            }
            r = append(self, &piece, piece.len, NULL, 0, &fo, &idx);
        } else {
            if (get_source(item, &src) < 0) {
                r = PY_ERROR_RESULT;
                break;
            }
            r = offer_range(self, &src, 0, -1, NULL);
            PyBuffer_Release(&src);
        }
        if (r < 0)
            break;
        accepted++;
        if (!appender_usable(self))
            break;
    }
    appender_leave(self);
    Py_DECREF(seq);
    if (r == PY_ERROR_RESULT)
        return NULL;
    return Py_BuildValue("(nL)", accepted, (long long)r);
}

static PyObject *
Appender_close(Appender *self, PyObject *Py_UNUSED(ignored))
{
    self->closed = 1;
    if (self->busy)
        self->close_pending = 1;
    else
        appender_drop_views(self);
    Py_RETURN_NONE;
}

static PyObject *
Appender_get_closed(Appender *self, void *c)
{
    return PyBool_FromLong(!appender_usable(self));
}

static PyObject *
Appender_get_position(Appender *self, void *c)
{
    if (!appender_usable(self))
        return PyLong_FromLong(RESULT_CLOSED);
    if (self->exclusive)
        return PyLong_FromLongLong(self->x_term_begin + self->x_term_offset);
    {
        int32_t term_count = load_i32_acquire(self->meta + META_ACTIVE_TERM_COUNT);
        int index = (int)(((int64_t)term_count % 3 + 3) % 3);
        int64_t raw = load_i64_acquire(self->meta + 8 * index);
        int64_t off = raw & 0xFFFFFFFFLL;
        if (off > self->term_length)
            off = self->term_length;
        return PyLong_FromLongLong(
            ((int64_t)term_count_of((int32_t)(raw >> 32), self->initial_term_id) << self->bits) + off);
    }
}

static PyObject *Appender_get_term_id(Appender *self, void *c) { return PyLong_FromLong(self->x_term_id); }
static PyObject *Appender_get_term_offset(Appender *self, void *c) { return PyLong_FromLong(self->x_term_offset); }

static PyMethodDef Appender_methods[] = {
    {"offer", (PyCFunction)(void (*)(void))Appender_offer, METH_FASTCALL | METH_KEYWORDS,
     "offer(buffer, offset=0, length=-1, reserved_value_supplier=None) -> position or result"},
    {"offerv", (PyCFunction)(void (*)(void))Appender_offerv, METH_FASTCALL,
     "offerv(buffers, reserved_value_supplier=None) -> position or result"},
    {"try_claim", (PyCFunction)(void (*)(void))Appender_try_claim, METH_FASTCALL,
     "try_claim(length, buffer_claim) -> position or result"},
    {"append_padding", (PyCFunction)(void (*)(void))Appender_append_padding, METH_FASTCALL,
     "append_padding(length) -> position or result (exclusive)"},
    {"offer_batch", (PyCFunction)(void (*)(void))Appender_offer_batch, METH_FASTCALL,
     "offer_batch(messages) -> (accepted, last result)"},
    {"close", (PyCFunction)Appender_close, METH_NOARGS, "Offers return CLOSED from now on."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Appender_getset[] = {
    {"closed", (getter)Appender_get_closed, NULL, "True once closed.", NULL},
    {"position", (getter)Appender_get_position, NULL, "Tail position, or CLOSED.", NULL},
    {"term_id", (getter)Appender_get_term_id, NULL, "Exclusive: current term id.", NULL},
    {"term_offset", (getter)Appender_get_term_offset, NULL, "Exclusive: current term offset.", NULL},
    {NULL},
};

static PyTypeObject AppenderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aeronpy._logbuffer.Appender",
    .tp_basicsize = sizeof(Appender),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Appender(term_buffers, metadata, limit_buffer, limit_offset, session_id, stream_id, exclusive=False)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Appender_init,
    .tp_dealloc = (destructor)Appender_dealloc,
    .tp_methods = Appender_methods,
    .tp_getset = Appender_getset,
};

/* =================================================================== HeaderBase */

typedef struct {
    PyObject_HEAD
    PyObject *buffer;
    Py_ssize_t offset;
} HeaderBase;

static void
HeaderBase_dealloc(HeaderBase *self)
{
    /* a heap subclass's subtype_dealloc drops the type reference itself */
    Py_CLEAR(self->buffer);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
HeaderBase_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    HeaderBase *self = (HeaderBase *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    Py_INCREF(Py_None);
    self->buffer = Py_None;
    self->offset = 0;
    return (PyObject *)self;
}

static PyMemberDef HeaderBase_members[] = {
    {"buffer", T_OBJECT, offsetof(HeaderBase, buffer), 0, "Buffer holding the frame."},
    {"offset", T_PYSSIZET, offsetof(HeaderBase, offset), 0, "Offset of the frame header."},
    {NULL},
};

static PyTypeObject HeaderBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aeronpy._logbuffer.HeaderBase",
    .tp_basicsize = sizeof(HeaderBase),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Base of the Header flyweight: the frame's buffer and offset.",
    .tp_new = HeaderBase_new,
    .tp_dealloc = (destructor)HeaderBase_dealloc,
    .tp_members = HeaderBase_members,
};

static inline void
header_point(PyObject *header, PyObject *buffer, Py_ssize_t offset)
{
    HeaderBase *h = (HeaderBase *)header;
    if (h->buffer != buffer) {
        PyObject *old = h->buffer;
        Py_INCREF(buffer);
        h->buffer = buffer;
        Py_XDECREF(old);
    }
    h->offset = offset;
}

/* ================================================================ AssemblerBase */

/*
 * C base of FragmentAssembler / ControlledFragmentAssembler: `delegate` plus `fast_function`
 * (the class's own on_fragment).  When a poll is given `assembler.on_fragment` (or the
 * assembler) and `fast_function` is that method's function, the reader hands unfragmented
 * frames straight to the delegate, as on_fragment itself would, saving a Python call.
 */
typedef struct {
    PyObject_HEAD
    PyObject *delegate;
    PyObject *fast_function;
} AssemblerBase;

static void
AssemblerBase_dealloc(AssemblerBase *self)
{
    Py_CLEAR(self->delegate);
    Py_CLEAR(self->fast_function);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMemberDef AssemblerBase_members[] = {
    {"delegate", T_OBJECT, offsetof(AssemblerBase, delegate), 0, "Handler of whole messages."},
    {"fast_function", T_OBJECT, offsetof(AssemblerBase, fast_function), 0,
     "The on_fragment function the reader may bypass for unfragmented frames (None: never)."},
    {NULL},
};

static PyTypeObject AssemblerBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aeronpy._logbuffer.AssemblerBase",
    .tp_basicsize = sizeof(AssemblerBase),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Base of the fragment assemblers: delegate and the bypassable on_fragment.",
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)AssemblerBase_dealloc,
    .tp_members = AssemblerBase_members,
};

/* The delegate to call directly for unfragmented frames when `handler` is an assembler's
 * own on_fragment, else NULL (borrowed). */
static PyObject *
fast_delegate(PyObject *handler)
{
    AssemblerBase *a;
    if (!PyMethod_Check(handler))
        return NULL;
    if (!PyObject_TypeCheck(PyMethod_GET_SELF(handler), &AssemblerBaseType))
        return NULL;
    a = (AssemblerBase *)PyMethod_GET_SELF(handler);
    if (a->fast_function == NULL || a->fast_function != PyMethod_GET_FUNCTION(handler) ||
        a->delegate == NULL || a->delegate == Py_None)
        return NULL;
    return a->delegate;
}

/* ======================================================================= Reader */

typedef struct FragmentBatch FragmentBatch;

typedef struct {
    PyObject_HEAD
    PyObject *term_objs[3];
    Py_buffer tv[3];
    Py_buffer pv;
    uint8_t *term[3];
    uint8_t *pos;
    PyObject *header;
    int have_views;
    int closed;
    int busy;
    int close_pending;
    int32_t term_length;
    int32_t bits;
    int32_t session_id;
    FragmentBatch *batch; /* borrowed: the outstanding batch, if any */
} Reader;

struct FragmentBatch {
    PyObject_HEAD
    Reader *reader;       /* strong */
    PyObject *term_obj;   /* strong */
    const uint8_t *data;
    Py_ssize_t count;
    int32_t *offsets;
    int32_t *lengths;
    int64_t end_position;
    int valid;
    PyObject *views;      /* list of memoryviews handed out, released on release() */
};

static void reader_drop_views(Reader *self)
{
    int i;
    if (!self->have_views)
        return;
    for (i = 0; i < 3; i++)
        PyBuffer_Release(&self->tv[i]);
    PyBuffer_Release(&self->pv);
    self->have_views = 0;
}

static int
Reader_init(Reader *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"term_buffers", "position_buffer", "position_offset", "header", "session_id", NULL};
    PyObject *terms, *pbuf, *header, *seq;
    Py_ssize_t poff;
    int i, got = 0, session_id = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOnO|i", kwlist, &terms, &pbuf, &poff, &header, &session_id))
        return -1;
    self->session_id = session_id;
    if (self->have_views) {
        PyErr_SetString(PyExc_TypeError, "Reader already initialised");
        return -1;
    }
    if (!PyObject_TypeCheck(header, &HeaderBaseType)) {
        PyErr_SetString(PyExc_TypeError, "header must be an aeronpy Header");
        return -1;
    }
    seq = PySequence_Fast(terms, "term_buffers must be a sequence of 3 buffers");
    if (seq == NULL)
        return -1;
    if (PySequence_Fast_GET_SIZE(seq) != 3) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "term_buffers must hold exactly 3 term buffers");
        return -1;
    }
    for (i = 0; i < 3; i++) {
        if (get_region(PySequence_Fast_GET_ITEM(seq, i), &self->tv[i], "term_buffers[i]") < 0)
            goto fail;
        got++;
    }
    if (get_region(pbuf, &self->pv, "position_buffer") < 0)
        goto fail;
    got++;
    if (self->tv[0].len < 64 * 1024 || (self->tv[0].len & (self->tv[0].len - 1)) != 0 ||
        self->tv[1].len != self->tv[0].len || self->tv[2].len != self->tv[0].len) {
        PyErr_SetString(PyExc_ValueError, "term_buffers do not form a log buffer");
        goto fail;
    }
    if (poff < 0 || poff > self->pv.len - 8 || ((uintptr_t)((uint8_t *)self->pv.buf + poff) & 7) != 0) {
        PyErr_Format(PyExc_ValueError, "position_offset %zd invalid for the position buffer", poff);
        goto fail;
    }
    for (i = 0; i < 3; i++) {
        self->term[i] = (uint8_t *)self->tv[i].buf;
        self->term_objs[i] = PySequence_Fast_GET_ITEM(seq, i);
        Py_INCREF(self->term_objs[i]);
    }
    Py_DECREF(seq);
    self->pos = (uint8_t *)self->pv.buf + poff;
    Py_INCREF(header);
    self->header = header;
    self->term_length = (int32_t)self->tv[0].len;
    self->bits = __builtin_ctz((unsigned)self->term_length);
    self->have_views = 1;
    return 0;
fail:
    Py_DECREF(seq);
    for (i = 0; i < got && i < 3; i++)
        PyBuffer_Release(&self->tv[i]);
    if (got > 3)
        PyBuffer_Release(&self->pv);
    return -1;
}

static void
Reader_dealloc(Reader *self)
{
    int i;
    reader_drop_views(self);
    for (i = 0; i < 3; i++)
        Py_CLEAR(self->term_objs[i]);
    Py_CLEAR(self->header);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static inline int reader_usable(Reader *self) { return !self->closed && self->have_views; }

static void reader_leave(Reader *self)
{
    self->busy--;
    if (self->busy == 0 && self->close_pending) {
        self->close_pending = 0;
        reader_drop_views(self);
    }
}

static inline void set_position(Reader *self, int64_t position)
{
    if (reader_usable(self))
        store_i64_release(self->pos, position);
}

static int batch_release(FragmentBatch *b);

/* release the outstanding batch (its position becomes the subscriber position) */
static int reader_settle(Reader *self)
{
    if (self->batch != NULL)
        return batch_release(self->batch);
    return 0;
}

static inline PyObject *
deliver(PyObject *handler, PyObject *term_obj, int32_t frame_offset, int32_t frame_length, PyObject *header)
{
    PyObject *args[4], *r;
    args[0] = term_obj;
    args[1] = PyLong_FromLong(frame_offset + HDR_LENGTH);
    args[2] = PyLong_FromLong(frame_length - HDR_LENGTH);
    args[3] = header;
    if (args[1] == NULL || args[2] == NULL) {
        Py_XDECREF(args[1]);
        Py_XDECREF(args[2]);
        return NULL;
    }
    r = PyObject_Vectorcall(handler, args, 4, NULL);
    Py_DECREF(args[1]);
    Py_DECREF(args[2]);
    return r;
}

/*
 * The read loop shared by poll and bounded_poll: deliver up to `limit` fragments below
 * `limit_offset`.  The position moves once at the end (or past a fragment whose handler raised).
 */
static PyObject *
reader_read(Reader *self, PyObject *handler, Py_ssize_t fragment_limit, int64_t limit_position)
{
    int64_t position;
    int32_t start, offset, limit_offset;
    int index;
    uint8_t *tb;
    PyObject *term_obj, *fast;
    Py_ssize_t count = 0;
    if (!reader_usable(self))
        return PyLong_FromLong(0);
    if (reader_settle(self) < 0)
        return NULL;
    fast = fast_delegate(handler);
    position = load_i64_acquire(self->pos);
    if (position >= limit_position)
        return PyLong_FromLong(0);
    start = offset = (int32_t)(position & (self->term_length - 1));
    limit_offset = self->term_length;
    if (limit_position - position + offset < limit_offset)
        limit_offset = (int32_t)(limit_position - position + offset);
    index = (int)((position >> self->bits) % 3);
    tb = self->term[index];
    term_obj = self->term_objs[index];
    self->busy++;
    while (count < fragment_limit && offset < limit_offset && offset <= self->term_length - HDR_LENGTH) {
        int32_t frame_length = load_i32_acquire(tb + offset);
        int32_t frame_offset = offset;
        uint16_t type;
        PyObject *r;
        if (frame_length <= 0)
            break;
        offset += ALIGN32(frame_length);
        memcpy(&type, tb + frame_offset + 6, 2);
        if (type == TYPE_PAD)
            continue;
        header_point(self->header, term_obj, frame_offset);
        r = deliver((fast != NULL && (tb[frame_offset + 5] & FLAGS_UNFRAGMENTED) == FLAGS_UNFRAGMENTED) ? fast : handler,
                    term_obj, frame_offset, frame_length, self->header);
        if (r == NULL) {
            set_position(self, position + (offset - start));
            reader_leave(self);
            return NULL;
        }
        Py_DECREF(r);
        count++;
    }
    if (offset > start)
        set_position(self, position + (offset - start));
    reader_leave(self);
    return PyLong_FromSsize_t(count);
}

static int parse_handler_limit(PyObject *const *args, Py_ssize_t nargs, const char *name, Py_ssize_t *limit)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s(handler, fragment_limit)", name);
        return -1;
    }
    if ((*limit = PyLong_AsSsize_t(args[1])) == -1 && PyErr_Occurred())
        return -1;
    return 0;
}

/* poll(handler, fragment_limit) -> fragments read */
static PyObject *
Reader_poll(Reader *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t limit;
    if (parse_handler_limit(args, nargs, "poll", &limit) < 0)
        return NULL;
    return reader_read(self, args[0], limit, INT64_MAX);
}

/* bounded_poll(handler, limit_position, fragment_limit) -> fragments read */
static PyObject *
Reader_bounded_poll(Reader *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t limit;
    long long limit_position;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "bounded_poll(handler, limit_position, fragment_limit)");
        return NULL;
    }
    if ((limit_position = PyLong_AsLongLong(args[1])) == -1 && PyErr_Occurred())
        return NULL;
    if ((limit = PyLong_AsSsize_t(args[2])) == -1 && PyErr_Occurred())
        return NULL;
    return reader_read(self, args[0], limit, (int64_t)limit_position);
}

/* controlled_poll(handler, fragment_limit) -> fragments read; honours ABORT/BREAK/COMMIT */
static PyObject *
Reader_controlled_poll(Reader *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t limit, count = 0;
    PyObject *handler, *fast;
    int64_t position, term_base;
    int32_t start, offset;
    int index;
    uint8_t *tb;
    PyObject *term_obj;
    if (parse_handler_limit(args, nargs, "controlled_poll", &limit) < 0)
        return NULL;
    handler = args[0];
    if (!reader_usable(self))
        return PyLong_FromLong(0);
    if (reader_settle(self) < 0)
        return NULL;
    fast = fast_delegate(handler);
    position = load_i64_acquire(self->pos);
    start = offset = (int32_t)(position & (self->term_length - 1));
    term_base = position - offset;
    index = (int)((position >> self->bits) % 3);
    tb = self->term[index];
    term_obj = self->term_objs[index];
    self->busy++;
    while (count < limit && offset <= self->term_length - HDR_LENGTH) {
        int32_t frame_length = load_i32_acquire(tb + offset);
        int32_t frame_offset = offset;
        uint16_t type;
        PyObject *r;
        long action = 0;
        if (frame_length <= 0)
            break;
        offset += ALIGN32(frame_length);
        memcpy(&type, tb + frame_offset + 6, 2);
        if (type == TYPE_PAD)
            continue;
        header_point(self->header, term_obj, frame_offset);
        r = deliver((fast != NULL && (tb[frame_offset + 5] & FLAGS_UNFRAGMENTED) == FLAGS_UNFRAGMENTED) ? fast : handler,
                    term_obj, frame_offset, frame_length, self->header);
        if (r == NULL) {
            set_position(self, position + (offset - start));
            reader_leave(self);
            return NULL;
        }
        if (PyLong_Check(r)) {
            action = PyLong_AsLong(r);
            if (action == -1 && PyErr_Occurred()) {
                PyErr_Clear();
                action = 0;
            }
        }
        Py_DECREF(r);
        if (action == ACTION_ABORT) {
            offset = frame_offset;
            break;
        }
        count++;
        if (action == ACTION_BREAK)
            break;
        if (action == ACTION_COMMIT)
            set_position(self, term_base + offset);
    }
    if (offset > start)
        set_position(self, term_base + offset);
    reader_leave(self);
    return PyLong_FromSsize_t(count);
}

/* block_poll(handler, block_length_limit) -> bytes consumed: whole frames as one block */
static PyObject *
Reader_block_poll(Reader *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t block_limit;
    int64_t position, high;
    int32_t offset, scan, limit_offset, term_id;
    int index;
    uint8_t *tb;
    PyObject *a[5], *r;
    if (parse_handler_limit(args, nargs, "block_poll", &block_limit) < 0)
        return NULL;
    if (!reader_usable(self))
        return PyLong_FromLong(0);
    if (reader_settle(self) < 0)
        return NULL;
    position = load_i64_acquire(self->pos);
    offset = (int32_t)(position & (self->term_length - 1));
    index = (int)((position >> self->bits) % 3);
    tb = self->term[index];
    high = (int64_t)offset + (block_limit < 0 ? 0 : block_limit);
    limit_offset = high < self->term_length ? (int32_t)high : self->term_length;
    scan = offset;
    while (scan < limit_offset && scan <= self->term_length - HDR_LENGTH) {
        int32_t frame_length = load_i32_acquire(tb + scan);
        int32_t aligned;
        uint16_t type;
        if (frame_length <= 0)
            break;
        aligned = ALIGN32(frame_length);
        memcpy(&type, tb + scan + 6, 2);
        if (type == TYPE_PAD) {
            if (scan == offset)
                scan += aligned;
            break;
        }
        if (scan + aligned > limit_offset)
            break;
        scan += aligned;
    }
    if (scan <= offset)
        return PyLong_FromLong(0);
    memcpy(&term_id, tb + offset + 20, 4);
    self->busy++;
    a[0] = self->term_objs[index];
    a[1] = PyLong_FromLong(offset);
    a[2] = PyLong_FromLong(scan - offset);
    a[3] = PyLong_FromLong(self->session_id);
    a[4] = PyLong_FromLong(term_id);
    if (a[1] == NULL || a[2] == NULL || a[3] == NULL || a[4] == NULL)
        r = NULL;
    else
        r = PyObject_Vectorcall(args[0], a, 5, NULL);
    Py_XDECREF(a[1]);
    Py_XDECREF(a[2]);
    Py_XDECREF(a[3]);
    Py_XDECREF(a[4]);
    set_position(self, position + (scan - offset));
    reader_leave(self);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    return PyLong_FromLong(scan - offset);
}

/*
 * take() -> bytes | None: the next whole message, copied out, and the position moved past it.
 * A fragmented message is taken only once all its fragments are committed (they are contiguous
 * in the term); fragments without their BEGIN (a join mid-message) and padding are skipped.
 */
static PyObject *
Reader_take(Reader *self, PyObject *Py_UNUSED(ignored))
{
    int64_t position;
    int32_t start, offset;
    uint8_t *tb;
    if (!reader_usable(self))
        Py_RETURN_NONE;
    if (reader_settle(self) < 0)
        return NULL;
    position = load_i64_acquire(self->pos);
    start = offset = (int32_t)(position & (self->term_length - 1));
    tb = self->term[(position >> self->bits) % 3];
    while (offset <= self->term_length - HDR_LENGTH) {
        int32_t frame_length = load_i32_acquire(tb + offset);
        uint16_t type;
        uint8_t flags;
        if (frame_length <= 0)
            break;
        memcpy(&type, tb + offset + 6, 2);
        flags = tb[offset + 5];
        if (type == TYPE_PAD || !(flags & FLAG_BEGIN)) {
            offset += ALIGN32(frame_length);
            continue;
        }
        if (flags & FLAG_END) {
            PyObject *msg = PyBytes_FromStringAndSize((const char *)tb + offset + HDR_LENGTH, frame_length - HDR_LENGTH);
            if (msg != NULL)
                set_position(self, position + (offset + ALIGN32(frame_length) - start));
            return msg;
        }
        {
            /* a fragmented message: find its END, all committed */
            int32_t scan = offset, total = 0;
            for (;;) {
                int32_t fl = load_i32_acquire(tb + scan);
                if (fl <= 0 || scan > self->term_length - HDR_LENGTH)
                    goto incomplete;
                total += fl - HDR_LENGTH;
                if (tb[scan + 5] & FLAG_END)
                    break;
                scan += ALIGN32(fl);
                if (scan > self->term_length - HDR_LENGTH)
                    goto incomplete;
            }
            {
                PyObject *msg = PyBytes_FromStringAndSize(NULL, total);
                char *dst;
                int32_t at = offset;
                if (msg == NULL)
                    return NULL;
                dst = PyBytes_AS_STRING(msg);
                for (;;) {
                    int32_t fl;
                    memcpy(&fl, tb + at, 4);
                    memcpy(dst, tb + at + HDR_LENGTH, (size_t)(fl - HDR_LENGTH));
                    dst += fl - HDR_LENGTH;
                    if (at == scan)
                        break;
                    at += ALIGN32(fl);
                }
                {
                    int32_t last;
                    memcpy(&last, tb + scan, 4);
                    set_position(self, position + (scan + ALIGN32(last) - start));
                }
                return msg;
            }
        }
    incomplete:
        break;
    }
    if (offset > start)
        set_position(self, position + (offset - start));
    Py_RETURN_NONE;
}

static PyTypeObject FragmentBatchType;

/* poll_batch(max_fragments) -> FragmentBatch (see FragmentBatch) */
static PyObject *
Reader_poll_batch(Reader *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t limit, count = 0, cap;
    int64_t position;
    int32_t start, offset;
    int index;
    uint8_t *tb;
    FragmentBatch *b;
    if (nargs != 1) {
        PyErr_SetString(PyExc_TypeError, "poll_batch(max_fragments)");
        return NULL;
    }
    if ((limit = PyLong_AsSsize_t(args[0])) == -1 && PyErr_Occurred())
        return NULL;
    if (limit < 0) {
        PyErr_Format(PyExc_ValueError, "max_fragments must be >= 0, got %zd", limit);
        return NULL;
    }
    if (reader_settle(self) < 0)
        return NULL;
    b = PyObject_New(FragmentBatch, &FragmentBatchType);
    if (b == NULL)
        return NULL;
    Py_INCREF(self);
    b->reader = self;
    b->term_obj = NULL;
    b->data = NULL;
    b->count = 0;
    b->offsets = NULL;
    b->lengths = NULL;
    b->views = NULL;
    b->valid = 1;
    b->end_position = 0;
    if (!reader_usable(self)) {
        b->valid = 0;
        return (PyObject *)b;
    }
    position = load_i64_acquire(self->pos);
    b->end_position = position;
    start = offset = (int32_t)(position & (self->term_length - 1));
    index = (int)((position >> self->bits) % 3);
    tb = self->term[index];
    cap = (self->term_length - offset) / HDR_LENGTH;
    if (limit < cap)
        cap = limit;
    if (cap > 0) {
        b->offsets = PyMem_Malloc(sizeof(int32_t) * (size_t)cap);
        b->lengths = PyMem_Malloc(sizeof(int32_t) * (size_t)cap);
        if (b->offsets == NULL || b->lengths == NULL) {
            b->valid = 0;
            Py_DECREF(b);
            return PyErr_NoMemory();
        }
    }
    while (count < cap && offset <= self->term_length - HDR_LENGTH) {
        int32_t frame_length = load_i32_acquire(tb + offset);
        int32_t frame_offset = offset;
        uint16_t type;
        if (frame_length <= 0)
            break;
        offset += ALIGN32(frame_length);
        memcpy(&type, tb + frame_offset + 6, 2);
        if (type == TYPE_PAD)
            continue;
        b->offsets[count] = frame_offset + HDR_LENGTH;
        b->lengths[count] = frame_length - HDR_LENGTH;
        count++;
    }
    b->count = count;
    b->end_position = position + (offset - start);
    b->term_obj = self->term_objs[index];
    Py_INCREF(b->term_obj);
    b->data = tb;
    self->batch = b;
    return (PyObject *)b;
}

static PyObject *
Reader_close(Reader *self, PyObject *Py_UNUSED(ignored))
{
    if (self->batch != NULL) {
        FragmentBatch *b = self->batch;
        self->closed = 1; /* the outstanding batch does not move the position any more */
        if (batch_release(b) < 0)
            PyErr_Clear();
    }
    self->closed = 1;
    if (self->busy)
        self->close_pending = 1;
    else
        reader_drop_views(self);
    Py_RETURN_NONE;
}

static PyObject *
Reader_get_closed(Reader *self, void *c)
{
    return PyBool_FromLong(!reader_usable(self));
}

static PyMethodDef Reader_methods[] = {
    {"poll", (PyCFunction)(void (*)(void))Reader_poll, METH_FASTCALL, "poll(handler, fragment_limit) -> count"},
    {"bounded_poll", (PyCFunction)(void (*)(void))Reader_bounded_poll, METH_FASTCALL,
     "bounded_poll(handler, limit_position, fragment_limit) -> count"},
    {"controlled_poll", (PyCFunction)(void (*)(void))Reader_controlled_poll, METH_FASTCALL,
     "controlled_poll(handler, fragment_limit) -> count"},
    {"take", (PyCFunction)Reader_take, METH_NOARGS, "take() -> the next whole message as bytes, or None"},
    {"block_poll", (PyCFunction)(void (*)(void))Reader_block_poll, METH_FASTCALL,
     "block_poll(handler, block_length_limit) -> bytes consumed"},
    {"poll_batch", (PyCFunction)(void (*)(void))Reader_poll_batch, METH_FASTCALL,
     "poll_batch(max_fragments) -> FragmentBatch"},
    {"close", (PyCFunction)Reader_close, METH_NOARGS, "Polls return 0 from now on."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Reader_getset[] = {
    {"closed", (getter)Reader_get_closed, NULL, "True once closed.", NULL},
    {NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aeronpy._logbuffer.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reader(term_buffers, position_buffer, position_offset, header)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_methods = Reader_methods,
    .tp_getset = Reader_getset,
};

/* ================================================================ ImageSet */
/* A subscription's images, polled round-robin in C.  The subscription binds its poll and take
 * to one ImageSet for its whole life and the client conductor swaps the tuple inside, so a
 * reference to sub.poll taken at any time always sees the current images (a poll bound to one
 * image would miss every image added after it).  Each member is a Reader, called directly, or
 * any object with poll(handler, limit) and take() (a Python-read image).  Twin: the round-robin
 * Subscription.poll and Subscription.take. */

typedef struct {
    PyObject_HEAD
    PyObject *images; /* tuple */
    Py_ssize_t round_robin;
} ImageSet;

static int
ImageSet_init(ImageSet *self, PyObject *args, PyObject *kwds)
{
    PyObject *images = NULL;
    if (!PyArg_ParseTuple(args, "|O!", &PyTuple_Type, &images))
        return -1;
    if (images == NULL)
        images = PyTuple_New(0);
    else
        Py_INCREF(images);
    if (images == NULL)
        return -1;
    Py_XSETREF(self->images, images);
    self->round_robin = 0;
    return 0;
}

static void
ImageSet_dealloc(ImageSet *self)
{
    Py_XDECREF(self->images);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
ImageSet_set(ImageSet *self, PyObject *images)
{
    if (!PyTuple_Check(images)) {
        PyErr_SetString(PyExc_TypeError, "ImageSet.set(images): a tuple");
        return NULL;
    }
    Py_INCREF(images);
    Py_XSETREF(self->images, images);
    Py_RETURN_NONE;
}

/* fragments read from one member, or -1 with an exception set */
static Py_ssize_t
image_set_poll_one(PyObject *member, PyObject *handler, Py_ssize_t limit)
{
    PyObject *r;
    Py_ssize_t n;
    if (Py_IS_TYPE(member, &ReaderType)) {
        r = reader_read((Reader *)member, handler, limit, INT64_MAX);
    } else {
        PyObject *n_obj = PyLong_FromSsize_t(limit);
        if (n_obj == NULL)
            return -1;
        r = PyObject_CallMethod(member, "poll", "OO", handler, n_obj);
        Py_DECREF(n_obj);
    }
    if (r == NULL)
        return -1;
    n = PyLong_AsSsize_t(r);
    Py_DECREF(r);
    return n;
}

/* poll(handler, fragment_limit) -> fragments read over the images, starting one further along
 * each call (exactly Subscription.poll's order) */
static PyObject *
ImageSet_poll(ImageSet *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t limit, length, start, i, fragments = 0, n;
    PyObject *images, *handler;
    if (parse_handler_limit(args, nargs, "poll", &limit) < 0)
        return NULL;
    handler = args[0];
    images = self->images; /* held: a handler may run the conductor, which swaps the tuple */
    length = PyTuple_GET_SIZE(images);
    if (length == 0)
        return PyLong_FromLong(0);
    Py_INCREF(images);
    if (length == 1) {
        n = image_set_poll_one(PyTuple_GET_ITEM(images, 0), handler, limit);
        Py_DECREF(images);
        return n < 0 && PyErr_Occurred() ? NULL : PyLong_FromSsize_t(n);
    }
    start = self->round_robin;
    self->round_robin = start + 1;
    if (start >= length) {
        start = 0;
        self->round_robin = 1;
    }
    for (i = 0; i < length; i++) {
        Py_ssize_t index = start + i < length ? start + i : start + i - length;
        if (fragments >= limit)
            break;
        n = image_set_poll_one(PyTuple_GET_ITEM(images, index), handler, limit - fragments);
        if (n < 0 && PyErr_Occurred()) {
            Py_DECREF(images);
            return NULL;
        }
        fragments += n;
    }
    Py_DECREF(images);
    return PyLong_FromSsize_t(fragments);
}

static PyObject *
image_set_take_one(PyObject *member)
{
    if (Py_IS_TYPE(member, &ReaderType))
        return Reader_take((Reader *)member, NULL);
    return PyObject_CallMethod(member, "take", NULL);
}

/* take() -> the next whole message as bytes from the images round-robin, or None */
static PyObject *
ImageSet_take(ImageSet *self, PyObject *Py_UNUSED(ignored))
{
    Py_ssize_t length, start, i;
    PyObject *images = self->images, *message = NULL;
    length = PyTuple_GET_SIZE(images);
    if (length == 0)
        Py_RETURN_NONE;
    Py_INCREF(images);
    if (length == 1) {
        message = image_set_take_one(PyTuple_GET_ITEM(images, 0));
        Py_DECREF(images);
        return message;
    }
    start = self->round_robin % length;
    self->round_robin = start + 1;
    for (i = 0; i < length; i++) {
        Py_ssize_t index = start + i < length ? start + i : start + i - length;
        message = image_set_take_one(PyTuple_GET_ITEM(images, index));
        if (message == NULL || message != Py_None)
            break;
        Py_DECREF(message);
        message = NULL;
    }
    Py_DECREF(images);
    if (message == NULL && !PyErr_Occurred())
        Py_RETURN_NONE;
    return message;
}

static PyObject *
ImageSet_get_images(ImageSet *self, void *c)
{
    Py_INCREF(self->images);
    return self->images;
}

static PyMethodDef ImageSet_methods[] = {
    {"set", (PyCFunction)ImageSet_set, METH_O, "set(images): the tuple polled from now on"},
    {"poll", (PyCFunction)(void (*)(void))ImageSet_poll, METH_FASTCALL,
     "poll(handler, fragment_limit) -> count, round-robin over the images"},
    {"take", (PyCFunction)ImageSet_take, METH_NOARGS, "take() -> the next whole message as bytes, or None"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef ImageSet_getset[] = {
    {"images", (getter)ImageSet_get_images, NULL, "The tuple polled.", NULL},
    {NULL},
};

static PyTypeObject ImageSetType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aeronpy._logbuffer.ImageSet",
    .tp_basicsize = sizeof(ImageSet),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ImageSet(images=()): a subscription's images, polled round-robin",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)ImageSet_init,
    .tp_dealloc = (destructor)ImageSet_dealloc,
    .tp_methods = ImageSet_methods,
    .tp_getset = ImageSet_getset,
};

/* ================================================================ FragmentBatch */

static int
batch_release(FragmentBatch *b)
{
    int rc = 0;
    Reader *reader = b->reader;
    if (!b->valid)
        return 0;
    b->valid = 0;
    if (b->views != NULL) {
        Py_ssize_t i, n = PyList_GET_SIZE(b->views);
        for (i = 0; i < n; i++) {
            PyObject *r = PyObject_CallMethod(PyList_GET_ITEM(b->views, i), "release", NULL);
            if (r == NULL) {
                /* a view still exported elsewhere: say so (loudly) but finish the release */
                rc = -1;
                continue;
            }
            Py_DECREF(r);
        }
        Py_CLEAR(b->views);
    }
    if (reader != NULL && reader->batch == b) {
        reader->batch = NULL;
        if (reader_usable(reader) && load_i64_acquire(reader->pos) < b->end_position)
            store_i64_release(reader->pos, b->end_position);
    }
    return rc;
}

static void
FragmentBatch_dealloc(FragmentBatch *b)
{
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    if (batch_release(b) < 0)
        PyErr_WriteUnraisable((PyObject *)b);
    PyErr_Restore(et, ev, tb);
    PyMem_Free(b->offsets);
    PyMem_Free(b->lengths);
    Py_CLEAR(b->term_obj);
    Py_CLEAR(b->reader);
    PyObject_Free(b);
}

static int
batch_check(FragmentBatch *b)
{
    if (!b->valid) {
        PyErr_SetString(StaleBatchError,
                        "FragmentBatch was released (by release() or the next poll of its image): "
                        "its fragments may have been overwritten");
        return -1;
    }
    return 0;
}

static int
batch_index(FragmentBatch *b, PyObject *arg, Py_ssize_t *i)
{
    if (batch_check(b) < 0)
        return -1;
    if ((*i = PyLong_AsSsize_t(arg)) == -1 && PyErr_Occurred())
        return -1;
    if (*i < 0)
        *i += b->count;
    if (*i < 0 || *i >= b->count) {
        PyErr_Format(PyExc_IndexError, "fragment index out of range for a batch of %zd", b->count);
        return -1;
    }
    return 0;
}

static Py_ssize_t
FragmentBatch_len(FragmentBatch *b)
{
    return b->count;
}

static PyObject *
FragmentBatch_offset(FragmentBatch *b, PyObject *arg)
{
    Py_ssize_t i;
    if (batch_index(b, arg, &i) < 0)
        return NULL;
    return PyLong_FromLong(b->offsets[i]);
}

static PyObject *
FragmentBatch_length(FragmentBatch *b, PyObject *arg)
{
    Py_ssize_t i;
    if (batch_index(b, arg, &i) < 0)
        return NULL;
    return PyLong_FromLong(b->lengths[i]);
}

static PyObject *
FragmentBatch_get_bytes(FragmentBatch *b, PyObject *arg)
{
    Py_ssize_t i;
    if (batch_index(b, arg, &i) < 0)
        return NULL;
    return PyBytes_FromStringAndSize((const char *)b->data + b->offsets[i], b->lengths[i]);
}

static PyObject *
FragmentBatch_copies(FragmentBatch *b, PyObject *Py_UNUSED(ignored))
{
    PyObject *list;
    Py_ssize_t i;
    if (batch_check(b) < 0)
        return NULL;
    list = PyList_New(b->count);
    if (list == NULL)
        return NULL;
    for (i = 0; i < b->count; i++) {
        PyObject *o = PyBytes_FromStringAndSize((const char *)b->data + b->offsets[i], b->lengths[i]);
        if (o == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, o);
    }
    return list;
}

static int
batch_keep_view(FragmentBatch *b, PyObject *view)
{
    if (b->views == NULL && (b->views = PyList_New(0)) == NULL)
        return -1;
    return PyList_Append(b->views, view);
}

/* views() -> list of memoryviews of the payloads, released when the batch is */
static PyObject *
FragmentBatch_views(FragmentBatch *b, PyObject *Py_UNUSED(ignored))
{
    PyObject *base, *list;
    Py_ssize_t i;
    if (batch_check(b) < 0)
        return NULL;
    base = PyMemoryView_FromObject(b->term_obj);
    if (base == NULL)
        return NULL;
    list = PyList_New(b->count);
    if (list == NULL) {
        Py_DECREF(base);
        return NULL;
    }
    for (i = 0; i < b->count; i++) {
        PyObject *v = PySequence_GetSlice(base, b->offsets[i], b->offsets[i] + b->lengths[i]);
        if (v == NULL || batch_keep_view(b, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(list);
            Py_DECREF(base);
            return NULL;
        }
        PyList_SET_ITEM(list, i, v);
    }
    {
        PyObject *r = PyObject_CallMethod(base, "release", NULL);
        Py_XDECREF(r);
        PyErr_Clear();
    }
    Py_DECREF(base);
    return list;
}

/* view() -> one memoryview of the whole term (offsets index into it), released with the batch */
static PyObject *
FragmentBatch_view(FragmentBatch *b, PyObject *Py_UNUSED(ignored))
{
    PyObject *v;
    if (batch_check(b) < 0)
        return NULL;
    v = PyMemoryView_FromObject(b->term_obj);
    if (v == NULL)
        return NULL;
    if (batch_keep_view(b, v) < 0) {
        Py_DECREF(v);
        return NULL;
    }
    return v;
}

static PyObject *
int_list(const int32_t *values, Py_ssize_t n)
{
    PyObject *list = PyList_New(n);
    Py_ssize_t i;
    if (list == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *o = PyLong_FromLong(values[i]);
        if (o == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, o);
    }
    return list;
}

static PyObject *
FragmentBatch_offsets(FragmentBatch *b, PyObject *Py_UNUSED(ignored))
{
    if (batch_check(b) < 0)
        return NULL;
    return int_list(b->offsets, b->count);
}

static PyObject *
FragmentBatch_lengths(FragmentBatch *b, PyObject *Py_UNUSED(ignored))
{
    if (batch_check(b) < 0)
        return NULL;
    return int_list(b->lengths, b->count);
}

static PyObject *
FragmentBatch_release(FragmentBatch *b, PyObject *Py_UNUSED(ignored))
{
    if (batch_release(b) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
FragmentBatch_enter(FragmentBatch *b, PyObject *Py_UNUSED(ignored))
{
    Py_INCREF(b);
    return (PyObject *)b;
}

static PyObject *
FragmentBatch_exit(FragmentBatch *b, PyObject *args)
{
    if (batch_release(b) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
FragmentBatch_get_valid(FragmentBatch *b, void *c)
{
    return PyBool_FromLong(b->valid);
}

static PyObject *
FragmentBatch_get_position(FragmentBatch *b, void *c)
{
    return PyLong_FromLongLong(b->end_position);
}

static PyMethodDef FragmentBatch_methods[] = {
    {"offset", (PyCFunction)FragmentBatch_offset, METH_O, "Payload offset of fragment i in the term."},
    {"length", (PyCFunction)FragmentBatch_length, METH_O, "Payload length of fragment i."},
    {"get_bytes", (PyCFunction)FragmentBatch_get_bytes, METH_O, "Copy of fragment i's payload."},
    {"copies", (PyCFunction)FragmentBatch_copies, METH_NOARGS, "Copies of every payload (list of bytes)."},
    {"views", (PyCFunction)FragmentBatch_views, METH_NOARGS, "memoryviews of the payloads (released with the batch)."},
    {"view", (PyCFunction)FragmentBatch_view, METH_NOARGS, "memoryview of the term (released with the batch)."},
    {"offsets", (PyCFunction)FragmentBatch_offsets, METH_NOARGS, "Payload offsets (list)."},
    {"lengths", (PyCFunction)FragmentBatch_lengths, METH_NOARGS, "Payload lengths (list)."},
    {"release", (PyCFunction)FragmentBatch_release, METH_NOARGS, "Consume: move the position, invalidate."},
    {"__enter__", (PyCFunction)FragmentBatch_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)FragmentBatch_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef FragmentBatch_getset[] = {
    {"valid", (getter)FragmentBatch_get_valid, NULL, "False once released.", NULL},
    {"position", (getter)FragmentBatch_get_position, NULL, "Subscriber position after this batch.", NULL},
    {NULL},
};

static PySequenceMethods FragmentBatch_as_sequence = {
    .sq_length = (lenfunc)FragmentBatch_len,
};

static PyTypeObject FragmentBatchType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aeronpy._logbuffer.FragmentBatch",
    .tp_basicsize = sizeof(FragmentBatch),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Fragments taken by Image.poll_batch; valid until released.",
    .tp_dealloc = (destructor)FragmentBatch_dealloc,
    .tp_methods = FragmentBatch_methods,
    .tp_getset = FragmentBatch_getset,
    .tp_as_sequence = &FragmentBatch_as_sequence,
};

/* ======================================================================= module */

static PyObject *
mod_set_source_adapter(PyObject *Py_UNUSED(m), PyObject *fn)
{
    Py_XDECREF(source_adapter);
    Py_INCREF(fn);
    source_adapter = fn;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------- SIGBUS report
 * A mapped file that shrank under us (truncated, or a sparse file on a full tmpfs) raises
 * SIGBUS on access; Python cannot turn that into an exception.  The handler writes one clear
 * line (async-signal-safe write(2) only), restores the previous disposition and returns: the
 * faulting access runs again and the previous handler (faulthandler, or the default action)
 * takes over. */

static struct sigaction previous_sigbus;
static volatile sig_atomic_t sigbus_installed = 0;

static void
on_sigbus(int sig, siginfo_t *info, void *context)
{
    static const char head[] =
        "\naeronpy: fatal SIGBUS accessing a memory-mapped file at 0x";
    static const char tail[] =
        ": the file (a log buffer, cnc.dat or an archive segment) was truncated or deleted,"
        " or the filesystem holding it (e.g. /dev/shm) is full.\n";
    char hex[2 * sizeof(uintptr_t)];
    uintptr_t addr = (uintptr_t)info->si_addr;
    size_t i;
    ssize_t ignored;
    (void)context;
    for (i = 0; i < sizeof hex; i++) {
        unsigned d = (unsigned)((addr >> (4 * (sizeof hex - 1 - i))) & 0xF);
        hex[i] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    }
    ignored = write(2, head, sizeof head - 1);
    ignored = write(2, hex, sizeof hex);
    ignored = write(2, tail, sizeof tail - 1);
    (void)ignored;
    sigaction(sig, &previous_sigbus, NULL);
    sigbus_installed = 0;
}

static PyObject *
mod_install_sigbus_handler(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(arg))
{
    struct sigaction action;
    if (sigbus_installed)
        Py_RETURN_FALSE;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGBUS, &action, &previous_sigbus) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    sigbus_installed = 1;
    Py_RETURN_TRUE;
}

static PyMethodDef module_methods[] = {
    {"set_source_adapter", (PyCFunction)mod_set_source_adapter, METH_O,
     "Register callable(src) -> buffer for sources without the buffer protocol."},
    {"install_sigbus_handler", (PyCFunction)mod_install_sigbus_handler, METH_NOARGS,
     "Report a SIGBUS on a mapped file with one clear line, then chain to the previous handler."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef logbuffer_module = {
    PyModuleDef_HEAD_INIT, "aeronpy._logbuffer",
    "Client hot paths over log buffers: offer/claim appenders, term reader, batches.", -1, module_methods,
};

PyMODINIT_FUNC
PyInit__logbuffer(void)
{
    PyObject *m, *errors, *base;
    if (PyType_Ready(&AppenderType) < 0 || PyType_Ready(&HeaderBaseType) < 0 || PyType_Ready(&AssemblerBaseType) < 0 ||
        PyType_Ready(&ClaimBaseType) < 0 ||
        PyType_Ready(&ReaderType) < 0 || PyType_Ready(&FragmentBatchType) < 0 || PyType_Ready(&ImageSetType) < 0)
        return NULL;
    {
        PyObject *atomic = PyImport_ImportModule("aeronpy._atomic");
        if (atomic != NULL) {
            PyObject *t = PyObject_GetAttrString(atomic, "AtomicBuffer");
            Py_DECREF(atomic);
            if (t != NULL && PyType_Check(t))
                atomic_buffer_type = (PyTypeObject *)t; /* kept for the module's life */
            else
                Py_XDECREF(t);
        }
        PyErr_Clear(); /* without _atomic every claim goes through the buffer's methods */
    }
    errors = PyImport_ImportModule("aeronpy.errors");
    if (errors == NULL)
        return NULL;
    base = PyObject_GetAttrString(errors, "AeronError");
    Py_DECREF(errors);
    if (base == NULL)
        return NULL;
    StaleBatchError = PyErr_NewExceptionWithDoc(
        "aeronpy._logbuffer.StaleBatchError",
        "A FragmentBatch was used after it was released.", base, NULL);
    Py_DECREF(base);
    if (StaleBatchError == NULL)
        return NULL;
    m = PyModule_Create(&logbuffer_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&AppenderType);
    Py_INCREF(&HeaderBaseType);
    Py_INCREF(&ClaimBaseType);
    Py_INCREF(&AssemblerBaseType);
    Py_INCREF(&ReaderType);
    Py_INCREF(&FragmentBatchType);
    Py_INCREF(&ImageSetType);
    Py_INCREF(StaleBatchError);
    if (PyModule_AddObject(m, "Appender", (PyObject *)&AppenderType) < 0 ||
        PyModule_AddObject(m, "HeaderBase", (PyObject *)&HeaderBaseType) < 0 ||
        PyModule_AddObject(m, "ClaimBase", (PyObject *)&ClaimBaseType) < 0 ||
        PyModule_AddObject(m, "AssemblerBase", (PyObject *)&AssemblerBaseType) < 0 ||
        PyModule_AddObject(m, "Reader", (PyObject *)&ReaderType) < 0 ||
        PyModule_AddObject(m, "FragmentBatch", (PyObject *)&FragmentBatchType) < 0 ||
        PyModule_AddObject(m, "ImageSet", (PyObject *)&ImageSetType) < 0 ||
        PyModule_AddObject(m, "StaleBatchError", StaleBatchError) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
