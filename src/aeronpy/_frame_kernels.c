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
PyObject *
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

