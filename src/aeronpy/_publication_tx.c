/*
 * aeronpy._atomic: PublicationTx, the sender's common duty cycle for one network publication in
 * one call (see aeronpy/driver/publication_tx.py; Python twin: PublicationTxPy there).
 *
 * The publication's Python attributes stay the only holder of its state: send() reads
 * should_send_setup, has_initial_connection, track_sender_limits and
 * time_of_last_data_or_heartbeat_ns from the NetworkPublication (and the retransmit handler's
 * _active_count) and writes the last two back, as NetworkPublication.send does.  What is fixed
 * for the publication's life (socket and destination, terms, counter words, MTU, batch size,
 * whether its idle tick is a no-op) is held here.
 */
#include "_atomic_buffer.h"

#ifdef AERONPY_HAVE_RECVMMSG

typedef struct {
    PyObject_HEAD
    PyObject *publication;
    PyObject *sock;
    PyObject *sockaddr; /* bytes (a packed struct sockaddr) or None: the connected peer */
    PyObject *retransmit_handler;
    AtomicBuffer *terms[3];
    AtomicBuffer *snd_pos;
    Py_ssize_t snd_pos_offset;
    AtomicBuffer *snd_lmt;
    Py_ssize_t snd_lmt_offset;
    AtomicBuffer *bytes_sent; /* NULL: no such counter */
    Py_ssize_t bytes_sent_offset;
    AtomicBuffer *short_sends;
    Py_ssize_t short_sends_offset;
    Py_ssize_t term_length;
    Py_ssize_t mtu;
    Py_ssize_t max_messages;
    long long heartbeat_interval_ns;
    int bits;
    int pad_type;
    int idle_is_trivial;
    long long handled;
    long long declined;
} PublicationTx;

static PyObject *name_should_send_setup, *name_has_initial_connection, *name_track_sender_limits,
    *name_time_of_last, *name_active_count, *name_values_buffer, *name_offset;

static int
intern_names(void)
{
    if (name_offset != NULL)
        return 0;
    name_should_send_setup = PyUnicode_InternFromString("should_send_setup");
    name_has_initial_connection = PyUnicode_InternFromString("has_initial_connection");
    name_track_sender_limits = PyUnicode_InternFromString("track_sender_limits");
    name_time_of_last = PyUnicode_InternFromString("time_of_last_data_or_heartbeat_ns");
    name_active_count = PyUnicode_InternFromString("_active_count");
    name_values_buffer = PyUnicode_InternFromString("values_buffer");
    name_offset = PyUnicode_InternFromString("offset");
    if (!name_should_send_setup || !name_has_initial_connection || !name_track_sender_limits ||
        !name_time_of_last || !name_active_count || !name_values_buffer || !name_offset) {
        name_offset = NULL;
        return -1;
    }
    return 0;
}

/* A counter (an AtomicCounter: values_buffer, offset) as its 8-byte word; None allowed if optional. */
static int
counter_word(PyObject *counter, const char *what, int optional, AtomicBuffer **buffer, Py_ssize_t *offset)
{
    PyObject *b, *o;
    Py_ssize_t off;
    *buffer = NULL;
    *offset = 0;
    if (counter == Py_None && optional)
        return 0;
    if ((b = PyObject_GetAttr(counter, name_values_buffer)) == NULL)
        return -1;
    if (!PyObject_TypeCheck(b, &AtomicBufferType)) {
        Py_DECREF(b);
        PyErr_Format(PyExc_TypeError, "PublicationTx: %s must be a counter over an AtomicBuffer", what);
        return -1;
    }
    if ((o = PyObject_GetAttr(counter, name_offset)) == NULL) {
        Py_DECREF(b);
        return -1;
    }
    off = PyLong_AsSsize_t(o);
    Py_DECREF(o);
    if (off == -1 && PyErr_Occurred()) {
        Py_DECREF(b);
        return -1;
    }
    if (check_aligned((AtomicBuffer *)b, off, 8) < 0) {
        Py_DECREF(b);
        return -1;
    }
    *buffer = (AtomicBuffer *)b;
    *offset = off;
    return 0;
}

static int
PublicationTx_init(PublicationTx *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"publication", "sock", "sockaddr", "terms", "snd_pos", "snd_lmt", "bytes_sent",
                             "short_sends", "retransmit_handler", "mtu", "max_messages", "pad_type",
                             "heartbeat_interval_ns", "idle_is_trivial", NULL};
    PyObject *publication, *sock, *sockaddr, *terms, *snd_pos, *snd_lmt, *bytes_sent, *short_sends, *retransmits;
    Py_ssize_t mtu, max_messages, term_length = 0, i;
    int pad_type, idle_is_trivial;
    long long heartbeat_interval_ns;
    AtomicBuffer *words[4];
    Py_ssize_t offsets[4];
    if (intern_names() < 0)
        return -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOOOnniLp", kwlist, &publication, &sock, &sockaddr, &terms,
                                     &snd_pos, &snd_lmt, &bytes_sent, &short_sends, &retransmits, &mtu,
                                     &max_messages, &pad_type, &heartbeat_interval_ns, &idle_is_trivial))
        return -1;
    if (sockaddr != Py_None &&
        (!PyBytes_Check(sockaddr) || PyBytes_GET_SIZE(sockaddr) < (Py_ssize_t)sizeof(sa_family_t) ||
         PyBytes_GET_SIZE(sockaddr) > (Py_ssize_t)sizeof(struct sockaddr_storage))) {
        PyErr_SetString(PyExc_ValueError, "PublicationTx: sockaddr must be None or a packed struct sockaddr (bytes)");
        return -1;
    }
    if (!PyTuple_Check(terms) || PyTuple_GET_SIZE(terms) != 3) {
        PyErr_SetString(PyExc_TypeError, "PublicationTx: terms must be a tuple of 3 AtomicBuffers");
        return -1;
    }
    for (i = 0; i < 3; i++) {
        AtomicBuffer *t = (AtomicBuffer *)PyTuple_GET_ITEM(terms, i);
        if (!PyObject_TypeCheck((PyObject *)t, &AtomicBufferType)) {
            PyErr_SetString(PyExc_TypeError, "PublicationTx: terms must be a tuple of 3 AtomicBuffers");
            return -1;
        }
        if (check_released(t) < 0)
            return -1;
        if (i == 0)
            term_length = t->capacity;
        if (t->capacity != term_length || term_length < 64 || (term_length & (term_length - 1)) != 0) {
            PyErr_Format(PyExc_ValueError, "PublicationTx: terms must be 3 buffers of one power-of-two length");
            return -1;
        }
    }
    if (mtu < 32 || max_messages < 1 || max_messages > 64) {
        PyErr_Format(PyExc_ValueError, "PublicationTx: mtu %zd must be >= 32 and max_messages %zd in 1..64", mtu,
                     max_messages);
        return -1;
    }
    if (counter_word(snd_pos, "snd_pos", 0, &words[0], &offsets[0]) < 0)
        return -1;
    if (counter_word(snd_lmt, "snd_lmt", 0, &words[1], &offsets[1]) < 0)
        goto fail0;
    if (counter_word(bytes_sent, "bytes_sent", 1, &words[2], &offsets[2]) < 0)
        goto fail1;
    if (counter_word(short_sends, "short_sends", 1, &words[3], &offsets[3]) < 0)
        goto fail2;
    for (i = 0; i < 3; i++) {
        Py_INCREF(PyTuple_GET_ITEM(terms, i));
        Py_XSETREF(self->terms[i], (AtomicBuffer *)PyTuple_GET_ITEM(terms, i));
    }
    Py_XSETREF(self->snd_pos, words[0]);
    Py_XSETREF(self->snd_lmt, words[1]);
    Py_XSETREF(self->bytes_sent, words[2]);
    Py_XSETREF(self->short_sends, words[3]);
    self->snd_pos_offset = offsets[0];
    self->snd_lmt_offset = offsets[1];
    self->bytes_sent_offset = offsets[2];
    self->short_sends_offset = offsets[3];
    Py_INCREF(publication);
    Py_XSETREF(self->publication, publication);
    Py_INCREF(sock);
    Py_XSETREF(self->sock, sock);
    Py_INCREF(sockaddr);
    Py_XSETREF(self->sockaddr, sockaddr);
    Py_INCREF(retransmits);
    Py_XSETREF(self->retransmit_handler, retransmits);
    self->term_length = term_length;
    self->bits = __builtin_ctzll((unsigned long long)term_length);
    self->mtu = mtu;
    self->max_messages = max_messages;
    self->pad_type = pad_type;
    self->heartbeat_interval_ns = heartbeat_interval_ns;
    self->idle_is_trivial = idle_is_trivial;
    return 0;
fail2:
    Py_XDECREF(words[2]);
fail1:
    Py_XDECREF(words[1]);
fail0:
    Py_XDECREF(words[0]);
    return -1;
}

static int
PublicationTx_traverse(PublicationTx *self, visitproc visit, void *arg)
{
    Py_VISIT(self->publication);
    Py_VISIT(self->sock);
    Py_VISIT(self->retransmit_handler);
    return 0;
}

static int
PublicationTx_clear(PublicationTx *self)
{
    int i;
    Py_CLEAR(self->publication);
    Py_CLEAR(self->sock);
    Py_CLEAR(self->sockaddr);
    Py_CLEAR(self->retransmit_handler);
    for (i = 0; i < 3; i++)
        Py_CLEAR(self->terms[i]);
    Py_CLEAR(self->snd_pos);
    Py_CLEAR(self->snd_lmt);
    Py_CLEAR(self->bytes_sent);
    Py_CLEAR(self->short_sends);
    return 0;
}

static void
PublicationTx_dealloc(PublicationTx *self)
{
    PyObject_GC_UnTrack(self);
    PublicationTx_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The truth of an attribute: 1, 0, or -1 with an exception set. */
static int
attr_truth(PyObject *o, PyObject *name)
{
    PyObject *v = PyObject_GetAttr(o, name);
    int truth;
    if (v == NULL)
        return -1;
    truth = v == Py_True ? 1 : v == Py_False ? 0 : PyObject_IsTrue(v);
    Py_DECREF(v);
    return truth;
}

static int
attr_i64(PyObject *o, PyObject *name, int64_t *out)
{
    PyObject *v = PyObject_GetAttr(o, name);
    int rc;
    if (v == NULL)
        return -1;
    rc = parse_i64(v, out);
    Py_DECREF(v);
    return rc;
}

static inline int
word_usable(AtomicBuffer *b)
{
    return b == NULL || (b->has_view && !b->released);
}

static inline void
word_add(AtomicBuffer *b, Py_ssize_t offset, int64_t delta)
{
    if (b != NULL)
        __atomic_fetch_add((int64_t *)(b->data + offset), delta, __ATOMIC_SEQ_CST);
}

#define DECLINE                 \
    do {                        \
        self->declined++;       \
        return PyLong_FromLong(-1); \
    } while (0)

/*
 * send(now_ns) -> bytes sent, or -1: this cycle needs NetworkPublication.send (a SETUP may be
 * due, no receiver yet, a retransmit pending, the first cycle blocked by flow control, a
 * heartbeat due or an idle tick that does something, a released buffer); nothing was sent or
 * changed then that send would not do again the same way.
 */
PyObject *
publication_tx_send(PyObject *tx, PyObject *now_obj)
{
    PublicationTx *self = (PublicationTx *)tx;
    int64_t now_ns, snd_pos, snd_lmt, window, active, last;
    Py_ssize_t bytes = 0, advance = 0;
    int truth, short_send = 0;
    PyObject *pub = self->publication;
    if (parse_i64(now_obj, &now_ns) < 0)
        return NULL;
    if ((truth = attr_truth(pub, name_should_send_setup)) != 0) {
        if (truth < 0)
            return NULL;
        DECLINE;
    }
    if ((truth = attr_truth(pub, name_has_initial_connection)) != 1) {
        if (truth < 0)
            return NULL;
        DECLINE;
    }
    if (attr_i64(self->retransmit_handler, name_active_count, &active) < 0)
        return NULL;
    if (active > 0)
        DECLINE;
    if (!word_usable(self->snd_pos) || !word_usable(self->snd_lmt) || !word_usable(self->bytes_sent) ||
        !word_usable(self->short_sends))
        DECLINE;
    snd_pos = __atomic_load_n((int64_t *)(self->snd_pos->data + self->snd_pos_offset), __ATOMIC_RELAXED);
    snd_lmt = __atomic_load_n((int64_t *)(self->snd_lmt->data + self->snd_lmt_offset), __ATOMIC_RELAXED);
    window = snd_lmt - snd_pos;
    if ((truth = attr_truth(pub, name_track_sender_limits)) < 0)
        return NULL;
    if (window <= 0) {
        if (!truth) /* the first blocked cycle counts a back-pressure event: Python does that */
            DECLINE;
    } else {
        AtomicBuffer *term = self->terms[(int)(((uint64_t)snd_pos >> self->bits) % 3)];
        Py_buffer view;
        int rc;
        if (!term->has_view || term->released)
            DECLINE;
        if (truth && PyObject_SetAttr(pub, name_track_sender_limits, Py_False) < 0)
            return NULL;
        if (PyObject_GetBuffer((PyObject *)term, &view, PyBUF_SIMPLE) < 0) /* held through the syscall */
            return NULL;
        rc = send_term_frames(-1, self->sock, self->sockaddr == Py_None ? NULL : PyBytes_AS_STRING(self->sockaddr),
                              self->sockaddr == Py_None ? 0 : PyBytes_GET_SIZE(self->sockaddr),
                              (const uint8_t *)view.buf, view.len, (Py_ssize_t)(snd_pos & (self->term_length - 1)),
                              window < PY_SSIZE_T_MAX ? (Py_ssize_t)window : PY_SSIZE_T_MAX, self->mtu,
                              self->max_messages, (uint16_t)self->pad_type, &bytes, &advance, &short_send);
        PyBuffer_Release(&view);
        if (rc < 0)
            return NULL;
        if (short_send)
            word_add(self->short_sends, self->short_sends_offset, 1);
        if (advance) {
            __atomic_store_n((int64_t *)(self->snd_pos->data + self->snd_pos_offset), snd_pos + advance,
                             __ATOMIC_RELEASE);
            if (PyObject_SetAttr(pub, name_time_of_last, now_obj) < 0)
                return NULL;
            word_add(self->bytes_sent, self->bytes_sent_offset, bytes);
        }
    }
    if (bytes == 0) {
        if (!self->idle_is_trivial)
            DECLINE;
        if (attr_i64(pub, name_time_of_last, &last) < 0)
            return NULL;
        if (now_ns - last >= self->heartbeat_interval_ns)
            DECLINE;
    }
    self->handled++;
    return PyLong_FromSsize_t(bytes);
}

static PyMethodDef PublicationTx_methods[] = {
    {"send", (PyCFunction)publication_tx_send, METH_O,
     "send(now_ns) -> bytes sent, or -1 when NetworkPublication.send must run this cycle instead."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef PublicationTx_members[] = {
    {"publication", T_OBJECT, offsetof(PublicationTx, publication), READONLY, NULL},
    {"sock", T_OBJECT, offsetof(PublicationTx, sock), READONLY, NULL},
    {"sockaddr", T_OBJECT, offsetof(PublicationTx, sockaddr), READONLY, NULL},
    {"term_length", T_PYSSIZET, offsetof(PublicationTx, term_length), READONLY, NULL},
    {"mtu", T_PYSSIZET, offsetof(PublicationTx, mtu), READONLY, NULL},
    {"max_messages", T_PYSSIZET, offsetof(PublicationTx, max_messages), READONLY, NULL},
    {"idle_is_trivial", T_INT, offsetof(PublicationTx, idle_is_trivial), READONLY, NULL},
    {"handled", T_LONGLONG, offsetof(PublicationTx, handled), READONLY, "Cycles send() did whole."},
    {"declined", T_LONGLONG, offsetof(PublicationTx, declined), READONLY, "Cycles send() left to Python."},
    {NULL},
};

PyTypeObject PublicationTxType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aeronpy._atomic.PublicationTx",
    .tp_basicsize = sizeof(PublicationTx),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "PublicationTx(publication, sock, sockaddr, terms, snd_pos, snd_lmt, bytes_sent, short_sends, "
              "retransmit_handler, mtu, max_messages, pad_type, heartbeat_interval_ns, idle_is_trivial): "
              "a network publication's common sender duty cycle in one call.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)PublicationTx_init,
    .tp_dealloc = (destructor)PublicationTx_dealloc,
    .tp_traverse = (traverseproc)PublicationTx_traverse,
    .tp_clear = (inquiry)PublicationTx_clear,
    .tp_methods = PublicationTx_methods,
    .tp_members = PublicationTx_members,
};

#endif /* AERONPY_HAVE_RECVMMSG */
