/* aeronpy._atomic: the frame kernels (see _atomic_buffer.h). */
#include "_atomic_buffer.h"

/* ------------------------------------------------------------ hot kernels */

/*
 * scan_frames(offset, limit_offset, max_frames, pad_type) -> (frames, end_offset)
 *
 * Walks committed frames of a term starting at `offset` (acquire-loading each
 * frame_length) until a non-positive length, `limit_offset` or `max_frames` non-padding
 * frames.  Returns the list of (frame_offset, frame_length) of non-padding frames and the
 * aligned offset just after the last frame consumed.  Python twin: logbuffer.term_scan.
 */
PyObject *
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
PyObject *
ab_scan_for_availability(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset, max_length, available, padding = 0;
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
    available = scan_availability(self->data, self->capacity, offset, max_length, (uint16_t)pad_type, &padding);
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
static Py_ssize_t
insert_frames(uint8_t *data, Py_ssize_t capacity, Py_ssize_t term_offset, const uint8_t *src, Py_ssize_t length)
{
    Py_ssize_t offset = 0;
    while (offset + 32 <= length) {
        const uint8_t *frame = src + offset;
        int32_t frame_length;
        Py_ssize_t aligned, dst = term_offset + offset;
        int64_t first_word;
        memcpy(&frame_length, frame, 4);
        if (frame_length <= 0)
            break;
        aligned = ((Py_ssize_t)frame_length + 31) & ~(Py_ssize_t)31;
        if (offset + aligned > length)
            aligned = length - offset;
        if (dst > capacity - aligned || aligned < 32)
            break;
        if (__atomic_load_n((int32_t *)(data + dst), __ATOMIC_ACQUIRE) == 0) {
            memcpy(data + dst + 8, frame + 8, (size_t)(aligned - 8));
            memcpy(&first_word, frame, 8);
            __atomic_store_n((int64_t *)(data + dst), first_word, __ATOMIC_RELEASE);
        }
        offset += aligned;
    }
    return offset;
}

/* Datagrams at least this long are copied with the GIL released (the term stays exported). */
#define INSERT_FRAMES_NOGIL_LENGTH 16384

PyObject *
ab_insert_frames(AtomicBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t term_offset, length, offset;
    Py_buffer src, hold;
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
    if (length >= INSERT_FRAMES_NOGIL_LENGTH && PyObject_GetBuffer((PyObject *)self, &hold, PyBUF_SIMPLE) < 0)
        PyErr_Clear(); /* cannot happen (not released): copy with the GIL held */
    else if (length >= INSERT_FRAMES_NOGIL_LENGTH) {
        uint8_t *data = self->data;
        Py_ssize_t capacity = self->capacity;
        Py_BEGIN_ALLOW_THREADS
        offset = insert_frames(data, capacity, term_offset, (const uint8_t *)src.buf, length);
        Py_END_ALLOW_THREADS
        PyBuffer_Release(&hold);
    } else {
        offset = insert_frames(self->data, self->capacity, term_offset, (const uint8_t *)src.buf, length);
    }
    PyBuffer_Release(&src);
    return PyLong_FromSsize_t(offset);
}

/* ------------------------------------------------------------ module functions */

/*
 * validate_data_frames(datagram, length, term_offset, term_length) -> extent or -1
 *
 * The receiver's check of a DATA/PAD datagram before any of it is rebuilt: every frame in
 * datagram[0:length] (length is capped at the buffer's size) must have frame_length >= 32,
 * version 0, type DATA or PAD, its term_offset exactly where the previous frame ended (the
 * first at `term_offset`), end within the term, and a DATA frame must lie wholly inside the
 * datagram; the frames must cover the datagram exactly, except that a final PAD frame may
 * extend past it.  Returns the extent (aligned bytes the frames cover) or -1.  `term_offset`
 * must be 32-byte aligned and inside the term.  Python twin:
 * aeronpy.driver.publication_image.validate_data_frames_py.
 */
static Py_ssize_t
validate_frames(const uint8_t *src, int64_t length, int64_t term_offset, int64_t term_length)
{
    int64_t offset = 0, next_offset = term_offset;
    int frame_type = -1;
    if (term_offset < 0 || term_offset >= term_length || (term_offset & 31) != 0)
        return -1;
    while (offset <= length - 32) {
        int32_t frame_length, frame_term_offset;
        int16_t type;
        int64_t aligned;
        memcpy(&frame_length, src + offset, 4);
        memcpy(&type, src + offset + 6, 2);
        memcpy(&frame_term_offset, src + offset + 8, 4);
        frame_type = type;
        if (frame_length < 32 || src[offset + 4] != 0 || (type != 1 && type != 0) ||
            (int64_t)frame_term_offset != next_offset)
            return -1;
        aligned = ((int64_t)frame_length + 31) & ~(int64_t)31;
        next_offset += aligned;
        if (next_offset > term_length || (type == 1 && offset + frame_length > length))
            return -1;
        offset += aligned;
    }
    if (offset != length && (offset < length || frame_type != 0))
        return -1;
    return (Py_ssize_t)offset;
}

PyObject *
mod_validate_data_frames(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer src;
    Py_ssize_t length, term_offset, term_length, extent;
    (void)self;
    EXPECT_ARGS(4, "validate_data_frames");
    if (parse_ssize(args[1], &length) < 0 || parse_ssize(args[2], &term_offset) < 0 ||
        parse_ssize(args[3], &term_length) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[0], &src, PyBUF_SIMPLE) < 0)
        return NULL;
    if (length > src.len)
        length = src.len;
    if (length < 0)
        length = 0;
    extent = validate_frames((const uint8_t *)src.buf, length, term_offset, term_length);
    PyBuffer_Release(&src);
    return PyLong_FromSsize_t(extent);
}

/*
 * scan_for_gap(term, rebuild_offset, limit_offset) -> (gap_begin, gap_length)
 *
 * The receiver's loss scan of one term: walks complete frames (acquire-loaded frame_length
 * > 0) from `rebuild_offset` while below `limit_offset`; gap_begin is where the walk stopped
 * (the rebuild position may advance to it).  If that is below the limit, the gap runs on in
 * 32-byte steps while frame_length stays 0, up to the limit: gap_length is its length, else 0.
 * `rebuild_offset` must be 32-byte aligned; an access past the buffer raises IndexError.
 * Python twin: aeronpy.driver.loss_detector.scan_for_gap_offset.
 */
/* The scan; returns gap_begin and sets *end, or -1 (with *end the offset) past the buffer. */
static Py_ssize_t
scan_gap(const uint8_t *data, Py_ssize_t capacity, Py_ssize_t offset, Py_ssize_t limit, Py_ssize_t *end)
{
    Py_ssize_t gap_begin;
    while (offset < limit) {
        int32_t frame_length;
        if (offset > capacity - 4) {
            *end = offset;
            return -1;
        }
        frame_length = __atomic_load_n((const int32_t *)(data + offset), __ATOMIC_ACQUIRE);
        if (frame_length <= 0)
            break;
        offset += ((Py_ssize_t)frame_length + 31) & ~(Py_ssize_t)31;
    }
    gap_begin = offset;
    if (offset >= limit) {
        *end = gap_begin;
        return gap_begin;
    }
    offset += 32;
    while (offset < limit) {
        if (offset > capacity - 4) {
            *end = offset;
            return -1;
        }
        if (__atomic_load_n((const int32_t *)(data + offset), __ATOMIC_ACQUIRE) != 0)
            break;
        offset += 32;
    }
    *end = offset;
    return gap_begin;
}

/* Scans longer than this run with the GIL released (the term stays exported). */
#define SCAN_FOR_GAP_NOGIL_LENGTH 65536

PyObject *
mod_scan_for_gap(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer term;
    Py_ssize_t offset, limit, gap_begin, end = 0;
    (void)self;
    EXPECT_ARGS(3, "scan_for_gap");
    if (parse_ssize(args[1], &offset) < 0 || parse_ssize(args[2], &limit) < 0)
        return NULL;
    if (offset < 0 || (offset & 31) != 0) {
        PyErr_Format(PyExc_ValueError, "rebuild_offset %zd must be >= 0 and 32-byte aligned", offset);
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &term, PyBUF_SIMPLE) < 0)
        return NULL;
    if (limit - offset > SCAN_FOR_GAP_NOGIL_LENGTH) {
        Py_BEGIN_ALLOW_THREADS
        gap_begin = scan_gap((const uint8_t *)term.buf, term.len, offset, limit, &end);
        Py_END_ALLOW_THREADS
    } else {
        gap_begin = scan_gap((const uint8_t *)term.buf, term.len, offset, limit, &end);
    }
    PyBuffer_Release(&term);
    if (gap_begin < 0) {
        PyErr_Format(PyExc_IndexError, "scan offset %zd out of bounds for capacity %zd", end, term.len);
        return NULL;
    }
    return Py_BuildValue("(nn)", gap_begin, end - gap_begin);
}

/* ------------------------------------------------------------ idle activity probe */

#include <poll.h>
#ifdef __linux__
#include <errno.h>
#include <sys/epoll.h>
#endif

#define WATCH_MAX_FDS 16

/*
 * Whether any of the descriptors has input.  An epoll instance (what the driver's agents give:
 * their sockets' one epoll) is asked with epoll_wait, which costs about half of a poll() of it
 * here; the first round of a call finds out which descriptors are epolls (epoll_wait fails with
 * EINVAL or EBADF on anything else) and `kinds` keeps the answer for the call's other rounds.
 * The rest go to one poll(), where a closed descriptor (POLLNVAL) also counts as input.
 * kinds[i]: 0 not known yet, 1 an epoll, 2 poll it.
 */
static int
fds_ready(struct pollfd *pfds, int *kinds, Py_ssize_t nfds)
{
    struct pollfd rest[WATCH_MAX_FDS];
    nfds_t nrest = 0;
    Py_ssize_t i;
    for (i = 0; i < nfds; i++) {
#ifdef __linux__
        if (kinds[i] != 2) {
            struct epoll_event event;
            int n = epoll_wait(pfds[i].fd, &event, 1, 0);
            if (n > 0)
                return 1;
            if (n == 0 || errno == EINTR) {
                kinds[i] = 1;
                continue;
            }
            kinds[i] = 2;
        }
#endif
        rest[nrest++] = pfds[i];
    }
    return nrest > 0 && poll(rest, nrest, 0) > 0;
}

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause");
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/*
 * watch_words(words, snapshot, fds, checks) -> int
 *
 * The idle agent's "anything to do?" probe: `words` is a tuple of (AtomicBuffer, offset) pairs
 * naming int64 words other threads or processes move (ring tails, log tails, positions);
 * `snapshot` a writable buffer of 8 bytes per word holding their last seen values; `fds` a
 * tuple of descriptors (sockets, epoll fds) polled for input (see fds_ready).  checks == 0: store every
 * word's current value (acquire) in the snapshot and return 0.  Otherwise up to `checks`
 * rounds, a CPU pause between them: a round that finds a word different from its snapshot
 * (the snapshot takes the new value) or a descriptor readable returns its number (1-based); a
 * released buffer counts as activity (its owner changed).  0: nothing moved.  The GIL stays
 * held (a buffer cannot be released mid-read).  Python twin: concurrent.activity_probe.
 */
PyObject *
mod_watch_words(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    return watch_words_deferring(args, nargs, NULL, 0, NULL);
}

/*
 * watch_words with deferrable words: where mask[i] is set (i < mask_len), a move of word i is
 * stored in the snapshot and sets *deferred instead of ending the round (the eager data path's
 * words that a duty cycle may take late; see EagerDataPath.set_deferrable).
 */
PyObject *
watch_words_deferring(PyObject *const *args, Py_ssize_t nargs, const unsigned char *mask, Py_ssize_t mask_len,
                      int *deferred)
{
    Py_buffer snap;
    Py_ssize_t checks, count, nfds, i, round;
    struct pollfd pfds[WATCH_MAX_FDS];
    int kinds[WATCH_MAX_FDS] = {0};
    int64_t *values;
    PyObject *words, *fds;
    EXPECT_ARGS(4, "watch_words");
    words = args[0];
    fds = args[2];
    if (!PyTuple_Check(words) || !PyTuple_Check(fds)) {
        PyErr_SetString(PyExc_TypeError, "watch_words: words and fds must be tuples");
        return NULL;
    }
    if (parse_ssize(args[3], &checks) < 0)
        return NULL;
    count = PyTuple_GET_SIZE(words);
    nfds = PyTuple_GET_SIZE(fds);
    if (nfds > WATCH_MAX_FDS) {
        PyErr_Format(PyExc_ValueError, "watch_words: at most %d fds (got %zd)", WATCH_MAX_FDS, nfds);
        return NULL;
    }
    for (i = 0; i < nfds; i++) {
        long fd = PyLong_AsLong(PyTuple_GET_ITEM(fds, i));
        if (fd == -1 && PyErr_Occurred())
            return NULL;
        pfds[i].fd = (int)fd;
        pfds[i].events = POLLIN;
        pfds[i].revents = 0;
    }
    if (PyObject_GetBuffer(args[1], &snap, PyBUF_WRITABLE) < 0)
        return NULL;
    if (snap.len < count * 8) {
        PyBuffer_Release(&snap);
        PyErr_Format(PyExc_ValueError, "watch_words: snapshot of %zd bytes holds fewer than %zd words",
                     snap.len, count);
        return NULL;
    }
    values = (int64_t *)snap.buf;
    /* validate once: every entry a pair (AtomicBuffer, aligned in-bounds offset) */
    for (i = 0; i < count; i++) {
        PyObject *pair = PyTuple_GET_ITEM(words, i);
        Py_ssize_t offset;
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyObject_TypeCheck(PyTuple_GET_ITEM(pair, 0), &AtomicBufferType)) {
            PyBuffer_Release(&snap);
            PyErr_SetString(PyExc_TypeError, "watch_words: each word must be (AtomicBuffer, offset)");
            return NULL;
        }
        if (parse_ssize(PyTuple_GET_ITEM(pair, 1), &offset) < 0) {
            PyBuffer_Release(&snap);
            return NULL;
        }
        if (offset < 0 || (offset & 7) != 0) {
            PyBuffer_Release(&snap);
            PyErr_Format(PyExc_ValueError, "watch_words: offset %zd must be >= 0 and 8-byte aligned", offset);
            return NULL;
        }
    }
    if (checks <= 0) {
        for (i = 0; i < count; i++) {
            PyObject *pair = PyTuple_GET_ITEM(words, i);
            AtomicBuffer *ab = (AtomicBuffer *)PyTuple_GET_ITEM(pair, 0);
            Py_ssize_t offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1));
            if (!ab->has_view || ab->released || offset > ab->capacity - 8)
                values[i] = 0;
            else
                values[i] = __atomic_load_n((const int64_t *)(ab->data + offset), __ATOMIC_ACQUIRE);
        }
        PyBuffer_Release(&snap);
        return PyLong_FromLong(0);
    }
    for (round = 1; round <= checks; round++) {
        int fired = 0;
        for (i = 0; i < count; i++) {
            PyObject *pair = PyTuple_GET_ITEM(words, i);
            AtomicBuffer *ab = (AtomicBuffer *)PyTuple_GET_ITEM(pair, 0);
            Py_ssize_t offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1));
            int64_t v;
            if (!ab->has_view || ab->released || offset > ab->capacity - 8) {
                fired = 1;
                continue;
            }
            v = __atomic_load_n((const int64_t *)(ab->data + offset), __ATOMIC_ACQUIRE);
            if (v != values[i]) {
                values[i] = v;
                if (i < mask_len && mask[i])
                    *deferred = 1;
                else
                    fired = 1;
            }
        }
        if (!fired && nfds > 0 && fds_ready(pfds, kinds, nfds))
            fired = 1;
        if (fired) {
            PyBuffer_Release(&snap);
            return PyLong_FromSsize_t(round);
        }
        if (round < checks)
            cpu_relax();
    }
    PyBuffer_Release(&snap);
    return PyLong_FromLong(0);
}

/* ------------------------------------------------------------ receiver DATA fast path */

/*
 * ImageRx: the state of one publication image that the receiver's DATA path reads and writes,
 * owned by the PublicationImage (its only holder: the image's attributes of the same names read
 * and write these fields).  The term buffers, the HWM counter's word, the first connection (its
 * time_of_last_frame_ns is set on each datagram taken) and its control address are fixed at
 * construction.  `accepting` is 1 while the image is ACTIVE or DRAINING and not rejected.
 * Python twin: aeronpy.driver.image_rx.ImageRxPy.
 */
typedef struct {
    PyObject_HEAD
    AtomicBuffer *terms[3];
    AtomicBuffer *hwm;
    Py_ssize_t hwm_offset;
    PyObject *connection;
    PyObject *source;
    long long initial_term_id;
    long long term_length;
    int bits;
    int is_multicast;
    int accepting;
    long long last_sm_position;
    long long last_sm_window_limit;
    long long time_of_last_packet_ns;
} ImageRx;

static int
ImageRx_init(ImageRx *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"terms", "initial_term_id", "term_length", "hwm_buffer", "hwm_offset",
                             "is_multicast", "connection", "source", NULL};
    PyObject *terms, *hwm, *connection, *source;
    long long initial_term_id, term_length;
    Py_ssize_t hwm_offset, i;
    int is_multicast;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OLLO!npOO", kwlist, &terms, &initial_term_id, &term_length,
                                     &AtomicBufferType, &hwm, &hwm_offset, &is_multicast, &connection, &source))
        return -1;
    if (!PyTuple_Check(terms) || PyTuple_GET_SIZE(terms) != 3) {
        PyErr_SetString(PyExc_TypeError, "ImageRx: terms must be a tuple of 3 AtomicBuffers");
        return -1;
    }
    if (term_length < 32 || (term_length & (term_length - 1)) != 0 || term_length > (1LL << 30)) {
        PyErr_Format(PyExc_ValueError, "ImageRx: term length %lld is not a power of two", term_length);
        return -1;
    }
    for (i = 0; i < 3; i++) {
        PyObject *t = PyTuple_GET_ITEM(terms, i);
        if (!PyObject_TypeCheck(t, &AtomicBufferType)) {
            PyErr_SetString(PyExc_TypeError, "ImageRx: terms must be a tuple of 3 AtomicBuffers");
            return -1;
        }
        if (((AtomicBuffer *)t)->capacity < term_length) {
            PyErr_SetString(PyExc_ValueError, "ImageRx: a term buffer is shorter than the term length");
            return -1;
        }
    }
    if (check_released((AtomicBuffer *)hwm) < 0)
        return -1;
    if (hwm_offset < 0 || hwm_offset > ((AtomicBuffer *)hwm)->capacity - 8 ||
        ((uintptr_t)(((AtomicBuffer *)hwm)->data + hwm_offset) & 7) != 0) {
        PyErr_Format(PyExc_ValueError, "ImageRx: hwm offset %zd invalid", hwm_offset);
        return -1;
    }
    for (i = 0; i < 3; i++) {
        Py_INCREF(PyTuple_GET_ITEM(terms, i));
        Py_XSETREF(self->terms[i], (AtomicBuffer *)PyTuple_GET_ITEM(terms, i));
    }
    Py_INCREF(hwm);
    Py_XSETREF(self->hwm, (AtomicBuffer *)hwm);
    Py_INCREF(connection);
    Py_XSETREF(self->connection, connection);
    Py_INCREF(source);
    Py_XSETREF(self->source, source);
    self->hwm_offset = hwm_offset;
    self->initial_term_id = initial_term_id;
    self->term_length = term_length;
    self->bits = __builtin_ctzll((unsigned long long)term_length);
    self->is_multicast = is_multicast;
    self->accepting = 1;
    return 0;
}

static void
ImageRx_dealloc(ImageRx *self)
{
    int i;
    for (i = 0; i < 3; i++)
        Py_CLEAR(self->terms[i]);
    Py_CLEAR(self->hwm);
    Py_CLEAR(self->connection);
    Py_CLEAR(self->source);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMemberDef ImageRx_members[] = {
    {"initial_term_id", T_LONGLONG, offsetof(ImageRx, initial_term_id), READONLY, NULL},
    {"term_length", T_LONGLONG, offsetof(ImageRx, term_length), READONLY, NULL},
    {"bits", T_INT, offsetof(ImageRx, bits), READONLY, NULL},
    {"is_multicast", T_INT, offsetof(ImageRx, is_multicast), READONLY, NULL},
    {"connection", T_OBJECT, offsetof(ImageRx, connection), READONLY, NULL},
    {"source", T_OBJECT, offsetof(ImageRx, source), READONLY, NULL},
    {"accepting", T_INT, offsetof(ImageRx, accepting), 0, "1 while ACTIVE or DRAINING and not rejected."},
    {"last_sm_position", T_LONGLONG, offsetof(ImageRx, last_sm_position), 0, NULL},
    {"last_sm_window_limit", T_LONGLONG, offsetof(ImageRx, last_sm_window_limit), 0, NULL},
    {"time_of_last_packet_ns", T_LONGLONG, offsetof(ImageRx, time_of_last_packet_ns), 0, NULL},
    {"hwm_buffer", T_OBJECT, offsetof(ImageRx, hwm), READONLY, NULL},
    {"hwm_offset", T_PYSSIZET, offsetof(ImageRx, hwm_offset), READONLY, NULL},
    {NULL},
};

/* The three term buffers, for the Python twin of dispatch_data (which takes either ImageRx). */
static PyObject *
ImageRx_get_terms(ImageRx *self, void *closure)
{
    (void)closure;
    if (self->terms[0] == NULL) {
        PyErr_SetString(PyExc_ValueError, "ImageRx is not initialised");
        return NULL;
    }
    return PyTuple_Pack(3, (PyObject *)self->terms[0], (PyObject *)self->terms[1], (PyObject *)self->terms[2]);
}

static PyGetSetDef ImageRx_getset[] = {
    {"terms", (getter)ImageRx_get_terms, NULL, "The three term buffers.", NULL},
    {NULL},
};

PyTypeObject ImageRxType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aeronpy._atomic.ImageRx",
    .tp_basicsize = sizeof(ImageRx),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ImageRx(terms, initial_term_id, term_length, hwm_buffer, hwm_offset, is_multicast, "
              "connection, source): a publication image's receive state for dispatch_data.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)ImageRx_init,
    .tp_dealloc = (destructor)ImageRx_dealloc,
    .tp_members = ImageRx_members,
    .tp_getset = ImageRx_getset,
};

/*
 * The commit of one datagram dispatch_data has checked: 1 taken, 0 left to Python (another
 * source, a released buffer), -1 with an exception set.
 */
static int
take_datagram(ImageRx *rx, PyObject *source, const uint8_t *src, Py_ssize_t length, int32_t term_offset,
              int64_t position, Py_ssize_t extent, PyObject *now_obj, int64_t now_ns, PyObject *frame_time_name)
{
    AtomicBuffer *term;
    Py_ssize_t capped;
    int64_t end, *hwm;
    if (!rx->is_multicast && rx->source != source) {
        int same = PyObject_RichCompareBool(rx->source, source, Py_EQ);
        if (same <= 0)
            return same;
    }
    term = rx->terms[(((position >> rx->bits) % 3) + 3) % 3];
    if (!term->has_view || term->released || !rx->hwm->has_view || rx->hwm->released)
        return 0;
    if (PyObject_SetAttr(rx->connection, frame_time_name, now_obj) < 0)
        return -1;
    rx->time_of_last_packet_ns = now_ns;
    capped = rx->term_length - term_offset;
    insert_frames(term->data, term->capacity, term_offset, src, length < capped ? length : capped);
    end = position + extent;
    hwm = (int64_t *)(rx->hwm->data + rx->hwm_offset);
    if (end > __atomic_load_n(hwm, __ATOMIC_RELAXED))
        __atomic_store_n(hwm, end, __ATOMIC_RELEASE);
    return 1;
}

/*
 * dispatch_data(images, buffer, slot_length, batch, start, now_ns, reply) -> (next, bytes_taken)
 *
 * The receiver's common case for a received batch, from datagram `start` (slot i of `buffer`
 * holds batch[i] = (length, address)): each DATA/PAD datagram of a (stream, session) whose
 * ImageRx is in `images` (key image_key(stream_id, session_id)) and that PublicationImage
 * .insert_packet would rebuild without any counter moving is rebuilt here exactly as it does
 * (window checks, frames inserted, time of last packet and of the first connection's last frame,
 * HWM release-stored when it grows).  The source must be the image's first connection (`reply`
 * if not None, else the datagram's address, equal to it) unless the image is multicast.  Stops at
 * the first datagram it does not take (heartbeat, other type, malformed, unknown image, not
 * accepting, out of window, invalid frames, other source, released buffer): `next` is its index
 * (len(batch) when all were taken), for the Python path to handle before calling again from
 * next + 1.  `bytes_taken` sums the lengths of the datagrams taken.  Python twin:
 * aeronpy.driver.image_rx.dispatch_data_py.
 */
PyObject *
mod_dispatch_data(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    static PyObject *frame_time_name = NULL;
    PyObject *images, *batch, *reply, *now_obj;
    Py_buffer buf;
    Py_ssize_t slot_length, start, count, i;
    int64_t now_ns;
    long long taken = 0;
    (void)self;
    EXPECT_ARGS(7, "dispatch_data");
    images = args[0];
    batch = args[3];
    now_obj = args[5];
    reply = args[6];
    if (!PyDict_Check(images) || !PyList_Check(batch)) {
        PyErr_SetString(PyExc_TypeError, "dispatch_data: images must be a dict and batch a list");
        return NULL;
    }
    if (parse_ssize(args[2], &slot_length) < 0 || parse_ssize(args[4], &start) < 0 || parse_i64(now_obj, &now_ns) < 0)
        return NULL;
    if (frame_time_name == NULL && (frame_time_name = PyUnicode_InternFromString("time_of_last_frame_ns")) == NULL)
        return NULL;
    if (PyObject_GetBuffer(args[1], &buf, PyBUF_SIMPLE) < 0)
        return NULL;
    count = PyList_GET_SIZE(batch);
    if (start < 0)
        start = count;
    for (i = start; i < count; i++) {
        PyObject *item = PyList_GET_ITEM(batch, i), *key, *found, *address;
        const uint8_t *src;
        ImageRx *rx;
        Py_ssize_t length, extent;
        int32_t frame_length, term_offset, session_id, stream_id, term_id;
        int16_t type;
        int64_t term_count, position;
        int done;
        uint64_t id;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 || !PyLong_Check(PyTuple_GET_ITEM(item, 0)))
            break;
        length = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 0));
        if (length == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            break;
        }
        address = PyTuple_GET_ITEM(item, 1);
        if (length < 32 || (length & 31) != 0 || slot_length <= 0 || i > (buf.len - length) / slot_length)
            break;
        src = (const uint8_t *)buf.buf + i * slot_length;
        memcpy(&frame_length, src, 4);
        memcpy(&type, src + 6, 2);
        memcpy(&term_offset, src + 8, 4);
        memcpy(&session_id, src + 12, 4);
        memcpy(&stream_id, src + 16, 4);
        memcpy(&term_id, src + 20, 4);
        if ((type != 1 && type != 0) || src[4] != 0 || frame_length < 0 || (frame_length == 0 && type == 1 && length == 32))
            break;
        id = ((uint64_t)(uint32_t)stream_id << 32) | (uint64_t)(uint32_t)session_id;
        if ((key = PyLong_FromUnsignedLongLong(id)) == NULL)
            goto error;
        found = PyDict_GetItemWithError(images, key);
        Py_DECREF(key);
        if (found == NULL) {
            if (PyErr_Occurred())
                goto error;
            break;
        }
        if (Py_TYPE(found) != &ImageRxType)
            break;
        rx = (ImageRx *)found;
        if (!rx->accepting)
            break;
        term_count = (int64_t)term_id - (int64_t)rx->initial_term_id;
        if (term_count < 0 && (term_count & 0x80000000LL) != 0)
            break;
        extent = validate_frames(src, length, term_offset, rx->term_length);
        if (extent < 0)
            break;
        position = (int64_t)((uint64_t)(int64_t)(int32_t)(uint32_t)term_count << rx->bits) + term_offset;
        if (position + extent > rx->last_sm_window_limit || position < rx->last_sm_position)
            break;
        Py_INCREF(rx); /* an address's equality test may run Python code: hold what it uses */
        Py_INCREF(address);
        done = take_datagram(rx, reply != Py_None ? reply : address, src, length, term_offset, position, extent,
                             now_obj, now_ns, frame_time_name);
        Py_DECREF(address);
        Py_DECREF(rx);
        if (done < 0)
            goto error;
        if (done == 0)
            break;
        taken += length;
    }
    PyBuffer_Release(&buf);
    return Py_BuildValue("(nL)", i, taken);
error:
    PyBuffer_Release(&buf);
    return NULL;
}
