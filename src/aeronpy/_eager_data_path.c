/*
 * aeronpy._atomic: EagerDataPath, the SHARED driver's data path run in C the moment its idle
 * probe sees activity (see aeronpy/driver/eager_data_path.py; Python twin: EagerDataPathPy).
 *
 * When the probe's watch fires (a log tail moved, a socket became readable) this runs, before
 * control returns to Python, what the next duty cycle would start with: every planned
 * publication's common sender cycle (PublicationTx.send), then one epoll_wait(0) of the
 * shared epoll and, for each ready socket of a plain receive endpoint, one recvmmsg and the
 * DATA fast path (dispatch_data); a batch it declines part of goes to the endpoint's Python
 * dispatch from there.  The duty cycle that follows then finds that work done; when the run
 * left it nothing but timers to do (`handled`), the agent skips it until `defer_until_ns`, and
 * a run that found nothing at all where a duty cycle would have (`quiet`) may stand in for an
 * idle one (the SharedAgent's cycle right after work starts with run_watched).  The
 * plan (which publications and sockets) is the SharedAgent's, rebuilt whenever a command changed
 * them.
 */
#include "_atomic_buffer.h"

#ifdef AERONPY_HAVE_RECVMMSG
#include <sys/epoll.h>

#define EAGER_MAX_EVENTS 16

typedef struct {
    PyObject_HEAD
    PyObject *clock;     /* () -> now_ns */
    PyObject *report;    /* (exception) -> None: the agents' error reporting */
    PyObject *transient; /* errnos that mean "nothing received now" (a container of int) */
    PyObject *txs;       /* tuple of (publication, PublicationTx) */
    PyObject *receivers; /* dict: descriptor -> (sock, buffer, slot_length, max_messages, images,
                            destination, endpoint, add_bytes) */
    int epoll_fd;        /* -1: no receive side */
    AtomicBuffer *ring;  /* the to-driver ring (its tail and head words), NULL: none */
    Py_ssize_t ring_tail, ring_head;
    long long defer_until_ns;
    int whole;           /* the plan covers every publication of the sender (set by its agent) */
    int handled;
    int quiet;           /* the last run did nothing and saw nothing else to do (see eager_run) */
    long long work;
    long long runs;
    long long handled_runs;
    unsigned char *deferrable; /* per watched word: 1 if a duty cycle may take its moves late */
    Py_ssize_t deferrable_len; /* how many words the mask was made for (another count: unused) */
    int deferred;              /* a deferrable word moved since the agent last cleared this */
} EagerDataPath;

static PyObject *name_tx_send, *name_control_address, *name_time_of_last_activity, *name_dispatch_declined,
    *name_errno;

static int
eager_intern_names(void)
{
    if (name_tx_send != NULL)
        return 0;
    name_tx_send = PyUnicode_InternFromString("tx_send");
    name_control_address = PyUnicode_InternFromString("control_address");
    name_time_of_last_activity = PyUnicode_InternFromString("time_of_last_activity_ns");
    name_dispatch_declined = PyUnicode_InternFromString("dispatch_declined");
    name_errno = PyUnicode_InternFromString("errno");
    return name_tx_send && name_control_address && name_time_of_last_activity && name_dispatch_declined && name_errno
               ? 0 : -1;
}

static int
EagerDataPath_init(EagerDataPath *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"clock", "report", "transient_errnos", NULL};
    PyObject *clock, *report, *transient;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO:EagerDataPath", kwlist, &clock, &report, &transient))
        return -1;
    if (!PyCallable_Check(clock) || !PyCallable_Check(report)) {
        PyErr_SetString(PyExc_TypeError, "EagerDataPath: clock and report must be callable");
        return -1;
    }
    if (eager_intern_names() < 0)
        return -1;
    Py_INCREF(clock);
    Py_XSETREF(self->clock, clock);
    Py_INCREF(report);
    Py_XSETREF(self->report, report);
    Py_INCREF(transient);
    Py_XSETREF(self->transient, transient);
    Py_XSETREF(self->txs, PyTuple_New(0));
    Py_XSETREF(self->receivers, PyDict_New());
    self->epoll_fd = -1;
    return self->txs != NULL && self->receivers != NULL ? 0 : -1;
}

static int
EagerDataPath_traverse(EagerDataPath *self, visitproc visit, void *arg)
{
    Py_VISIT(self->clock);
    Py_VISIT(self->report);
    Py_VISIT(self->transient);
    Py_VISIT(self->txs);
    Py_VISIT(self->receivers);
    Py_VISIT(self->ring);
    return 0;
}

static int
EagerDataPath_clear(EagerDataPath *self)
{
    Py_CLEAR(self->clock);
    Py_CLEAR(self->report);
    Py_CLEAR(self->transient);
    Py_CLEAR(self->txs);
    Py_CLEAR(self->receivers);
    Py_CLEAR(self->ring);
    return 0;
}

static void
EagerDataPath_dealloc(EagerDataPath *self)
{
    PyObject_GC_UnTrack(self);
    EagerDataPath_clear(self);
    PyMem_Free(self->deferrable);
    self->deferrable = NULL;
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/*
 * set_plan(txs, epoll_fd, receivers): what run() covers from now on (validated here, so that
 * run() need not): txs a tuple of (publication, PublicationTx), receivers a dict of descriptor
 * -> 8-tuple as above, epoll_fd the shared epoll (-1: no receive side).
 */
static PyObject *
EagerDataPath_set_plan(EagerDataPath *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *txs, *receivers, *key, *value;
    long epoll_fd;
    Py_ssize_t i, pos = 0;
    EXPECT_ARGS(3, "set_plan");
    txs = args[0];
    receivers = args[2];
    epoll_fd = PyLong_AsLong(args[1]);
    if (epoll_fd == -1 && PyErr_Occurred())
        return NULL;
    if (!PyTuple_Check(txs) || !PyDict_Check(receivers)) {
        PyErr_SetString(PyExc_TypeError, "set_plan: txs must be a tuple and receivers a dict");
        return NULL;
    }
    for (i = 0; i < PyTuple_GET_SIZE(txs); i++) {
        PyObject *pair = PyTuple_GET_ITEM(txs, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyObject_TypeCheck(PyTuple_GET_ITEM(pair, 1), &PublicationTxType)) {
            PyErr_SetString(PyExc_TypeError, "set_plan: each tx must be (publication, PublicationTx)");
            return NULL;
        }
    }
    while (PyDict_Next(receivers, &pos, &key, &value)) {
        if (!PyLong_Check(key) || !PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 8 ||
            !PyDict_Check(PyTuple_GET_ITEM(value, 4))) {
            PyErr_SetString(PyExc_TypeError,
                            "set_plan: receivers maps a descriptor to (sock, buffer, slot_length, max_messages, "
                            "images, destination, endpoint, add_bytes)");
            return NULL;
        }
    }
    Py_INCREF(txs);
    Py_XSETREF(self->txs, txs);
    Py_INCREF(receivers);
    Py_XSETREF(self->receivers, receivers);
    self->epoll_fd = epoll_fd < 0 || PyDict_GET_SIZE(receivers) == 0 ? -1 : (int)epoll_fd;
    Py_RETURN_NONE;
}

/*
 * set_commands(ring_buffer, tail_offset, head_offset): the to-driver ring's words; a run
 * handles its cycle (see eager_run) only while they are equal (no client command waiting).
 */
static PyObject *
EagerDataPath_set_commands(EagerDataPath *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t tail, head;
    EXPECT_ARGS(3, "set_commands");
    if (!PyObject_TypeCheck(args[0], &AtomicBufferType)) {
        PyErr_SetString(PyExc_TypeError, "set_commands: the ring buffer must be an AtomicBuffer");
        return NULL;
    }
    if (parse_ssize(args[1], &tail) < 0 || parse_ssize(args[2], &head) < 0)
        return NULL;
    if (check_aligned((AtomicBuffer *)args[0], tail, 8) < 0 || check_aligned((AtomicBuffer *)args[0], head, 8) < 0)
        return NULL;
    Py_INCREF(args[0]);
    Py_XSETREF(self->ring, (AtomicBuffer *)args[0]);
    self->ring_tail = tail;
    self->ring_head = head;
    Py_RETURN_NONE;
}

/* Whether the to-driver ring has a command waiting (or cannot be read: treated as one). */
static int
commands_waiting(EagerDataPath *self)
{
    AtomicBuffer *ring = self->ring;
    if (ring == NULL)
        return 1;
    if (!ring->has_view || ring->released)
        return 1;
    return __atomic_load_n((const int64_t *)(ring->data + self->ring_tail), __ATOMIC_ACQUIRE) !=
           __atomic_load_n((const int64_t *)(ring->data + self->ring_head), __ATOMIC_ACQUIRE);
}

/* Report the OSError set now through self->report (1), or leave any other exception set (-1). */
static int
report_os_error(EagerDataPath *self, int transient_is_nothing)
{
    PyObject *type, *value, *tb, *r;
    if (!PyErr_ExceptionMatches(PyExc_OSError))
        return -1;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL)
        PyException_SetTraceback(value, tb);
    if (transient_is_nothing) {
        PyObject *code = PyObject_GetAttr(value, name_errno);
        int transient = code == NULL ? -1 : PySequence_Contains(self->transient, code);
        Py_XDECREF(code);
        if (transient != 0) {
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
            if (transient < 0)
                return -1;
            return 1;
        }
    }
    r = PyObject_CallOneArg(self->report, value);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 1;
}

/* One ready plain receive socket: recvmmsg, the DATA fast path, the rest to Python.  Datagrams
 * received, or -1 with an exception set. */
static Py_ssize_t
receive_ready(EagerDataPath *self, PyObject *entry, PyObject *now_obj, int *complete)
{
    PyObject *sock = PyTuple_GET_ITEM(entry, 0), *buffer = PyTuple_GET_ITEM(entry, 1);
    PyObject *slot = PyTuple_GET_ITEM(entry, 2), *images = PyTuple_GET_ITEM(entry, 4);
    PyObject *destination = PyTuple_GET_ITEM(entry, 5), *endpoint = PyTuple_GET_ITEM(entry, 6);
    PyObject *add_bytes = PyTuple_GET_ITEM(entry, 7);
    PyObject *recv_args[4] = {sock, buffer, slot, PyTuple_GET_ITEM(entry, 3)};
    PyObject *batch, *reply, *result, *zero, *r;
    Py_ssize_t count, next;
    batch = mod_recvmmsg_into(NULL, recv_args, 4);
    if (batch == NULL) {
        *complete = 0;
        return report_os_error(self, 1) < 0 ? -1 : 0;
    }
    count = PyList_GET_SIZE(batch);
    if (count == 0) {
        Py_DECREF(batch);
        return 0;
    }
    if ((reply = PyObject_GetAttr(destination, name_control_address)) == NULL)
        goto error;
    zero = PyLong_FromLong(0);
    {
        PyObject *dispatch_args[7] = {images, buffer, slot, batch, zero, now_obj, reply};
        result = zero == NULL ? NULL : mod_dispatch_data(NULL, dispatch_args, 7);
    }
    Py_XDECREF(zero);
    Py_DECREF(reply);
    if (result == NULL)
        goto error;
    next = PyLong_AsSsize_t(PyTuple_GET_ITEM(result, 0));
    if (next >= count) {
        r = add_bytes == Py_None ? (Py_INCREF(Py_None), Py_None) : PyObject_CallOneArg(add_bytes, PyTuple_GET_ITEM(result, 1));
        if (r == NULL || PyObject_SetAttr(destination, name_time_of_last_activity, now_obj) < 0) {
            Py_XDECREF(r);
            Py_DECREF(result);
            goto error;
        }
        Py_DECREF(r);
    } else {
        PyObject *pnext = PyTuple_GET_ITEM(result, 0), *ptaken = PyTuple_GET_ITEM(result, 1);
        *complete = 0;
        r = PyObject_CallMethodObjArgs(endpoint, name_dispatch_declined, destination, batch, pnext, ptaken, now_obj,
                                       NULL);
        if (r == NULL) {
            Py_DECREF(result);
            goto error;
        }
        Py_DECREF(r);
    }
    Py_DECREF(result);
    Py_DECREF(batch);
    return count;
error:
    Py_DECREF(batch);
    return -1;
}

/*
 * The planned data path once; its work count (what the duty cycle would count), or -1.
 * `handled` is set when the run did work and left the duty cycle nothing it could do now
 * but timers (the plan is `whole`, every publication's PublicationTx served it, every ready socket was a planned
 * one and taken whole, no error, no client command waiting) and the time is before
 * `defer_until_ns`: the agent may then skip that duty cycle (ProbedAgent).  `quiet` is the same
 * for a run that did nothing, and only when it asked the shared epoll (a sender's socket that is
 * ready makes it incomplete): that duty cycle would have found nothing but timers.
 */
static Py_ssize_t
eager_run(EagerDataPath *self)
{
    PyObject *now_obj, *txs = self->txs, *receivers = self->receivers;
    Py_ssize_t i, work = 0, sent = 0;
    int complete = 1;
    long long now_ns;
    if (txs == NULL || receivers == NULL) {
        PyErr_SetString(PyExc_ValueError, "EagerDataPath is not initialised");
        return -1;
    }
    if ((now_obj = PyObject_CallNoArgs(self->clock)) == NULL)
        return -1;
    if (!PyLong_Check(now_obj)) {
        Py_DECREF(now_obj);
        PyErr_SetString(PyExc_TypeError, "EagerDataPath: the clock must return an int");
        return -1;
    }
    now_ns = PyLong_AsLongLong(now_obj);
    if (now_ns == -1 && PyErr_Occurred()) {
        Py_DECREF(now_obj);
        return -1;
    }
    self->handled = 0;
    self->quiet = 0;
    Py_INCREF(txs);
    Py_INCREF(receivers);
    self->runs++;
    for (i = 0; i < PyTuple_GET_SIZE(txs); i++) {
        PyObject *pair = PyTuple_GET_ITEM(txs, i), *pub = PyTuple_GET_ITEM(pair, 0);
        PyObject *tx = PyTuple_GET_ITEM(pair, 1), *bound, *r;
        Py_ssize_t bytes;
        /* only while the publication still sends through this PublicationTx (a response
         * publication rebinds it when its receiver's address changes) */
        if ((bound = PyObject_GetAttr(pub, name_tx_send)) == NULL)
            goto error;
        if (!PyCFunction_Check(bound) || PyCFunction_GET_SELF(bound) != tx) {
            Py_DECREF(bound);
            complete = 0;
            continue;
        }
        Py_DECREF(bound);
        if ((r = publication_tx_send(tx, now_obj)) == NULL) {
            complete = 0;
            if (report_os_error(self, 0) < 0)
                goto error;
            continue;
        }
        bytes = PyLong_AsSsize_t(r);
        Py_DECREF(r);
        if (bytes > 0)
            sent += bytes;
        else if (bytes < 0)
            complete = 0; /* the duty cycle's NetworkPublication.send does it */
    }
    if (sent > 0)
        work = 1;
    if (self->epoll_fd >= 0) {
        struct epoll_event events[EAGER_MAX_EVENTS];
        int n = epoll_wait(self->epoll_fd, events, EAGER_MAX_EVENTS, 0), k;
        if (n < 0 || n == EAGER_MAX_EVENTS)
            complete = 0; /* an error, or maybe more sockets ready than asked for */
        for (k = 0; k < n; k++) {
            PyObject *key = PyLong_FromLong((long)events[k].data.fd), *entry;
            Py_ssize_t received;
            if (key == NULL)
                goto error;
            entry = PyDict_GetItemWithError(receivers, key);
            Py_DECREF(key);
            if (entry == NULL) {
                if (PyErr_Occurred())
                    goto error;
                complete = 0;
                continue; /* a sender's socket, or an endpoint the Python cycle reads */
            }
            Py_INCREF(entry);
            received = receive_ready(self, entry, now_obj, &complete);
            Py_DECREF(entry);
            if (received < 0)
                goto error;
            work += received;
        }
    }
    Py_DECREF(txs);
    Py_DECREF(receivers);
    Py_DECREF(now_obj);
    self->work += work;
    if (complete && self->whole && now_ns < self->defer_until_ns && (work > 0 || self->epoll_fd >= 0) &&
        !commands_waiting(self)) {
        if (work > 0) {
            self->handled = 1;
            self->handled_runs++;
        } else {
            self->quiet = 1;
        }
    }
    return work;
error:
    Py_DECREF(txs);
    Py_DECREF(receivers);
    Py_DECREF(now_obj);
    return -1;
}

static PyObject *
EagerDataPath_run(EagerDataPath *self, PyObject *Py_UNUSED(ignored))
{
    Py_ssize_t work = eager_run(self);
    return work < 0 ? NULL : PyLong_FromSsize_t(work);
}

/*
 * set_deferrable(count, indices): of the `count` words the probe watches, those at `indices`
 * are deferrable: a move of one alone does not fire a check (it sets `deferred`), and after a run
 * that did work their values are read into the snapshot again (the run's own moves, such as a
 * sender position or an image's high-water mark, then fire nothing either).  Their duty cycle
 * comes by `defer_until_ns` (the probe's parks end there while `deferred` is set).  A watch of a
 * different number of words ignores the mask.
 */
static PyObject *
EagerDataPath_set_deferrable(EagerDataPath *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t count, i, n;
    unsigned char *mask;
    EXPECT_ARGS(2, "set_deferrable");
    count = PyLong_AsSsize_t(args[0]);
    if (count == -1 && PyErr_Occurred())
        return NULL;
    if (count < 0 || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "set_deferrable(count, indices): count >= 0 and a tuple of indices");
        return NULL;
    }
    mask = PyMem_Calloc(count > 0 ? (size_t)count : 1, 1);
    if (mask == NULL)
        return PyErr_NoMemory();
    n = PyTuple_GET_SIZE(args[1]);
    for (i = 0; i < n; i++) {
        Py_ssize_t index = PyLong_AsSsize_t(PyTuple_GET_ITEM(args[1], i));
        if (index == -1 && PyErr_Occurred()) {
            PyMem_Free(mask);
            return NULL;
        }
        if (index < 0 || index >= count) {
            PyMem_Free(mask);
            PyErr_Format(PyExc_IndexError, "set_deferrable: index %zd outside the %zd words", index, count);
            return NULL;
        }
        mask[index] = 1;
    }
    PyMem_Free(self->deferrable);
    self->deferrable = mask;
    self->deferrable_len = count;
    Py_RETURN_NONE;
}

/* The deferrable words' current values into the snapshot (after a run that did work). */
static int
reread_deferrable(EagerDataPath *self, PyObject *words, PyObject *snapshot)
{
    Py_buffer snap;
    Py_ssize_t i, count = PyTuple_GET_SIZE(words);
    int64_t *values;
    if (PyObject_GetBuffer(snapshot, &snap, PyBUF_WRITABLE) < 0)
        return -1;
    values = (int64_t *)snap.buf;
    for (i = 0; i < count && (i + 1) * 8 <= snap.len; i++) {
        PyObject *pair;
        AtomicBuffer *ab;
        Py_ssize_t offset;
        int64_t v;
        if (!self->deferrable[i])
            continue;
        pair = PyTuple_GET_ITEM(words, i);
        ab = (AtomicBuffer *)PyTuple_GET_ITEM(pair, 0);
        offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1));
        if (offset == -1 && PyErr_Occurred())
            PyErr_Clear(); /* out of range: skipped like any unreadable word */
        if (!ab->has_view || ab->released || offset < 0 || (offset & 7) != 0 || offset > ab->capacity - 8)
            continue; /* the next check fires on it */
        v = __atomic_load_n((const int64_t *)(ab->data + offset), __ATOMIC_ACQUIRE);
        if (v != values[i]) {
            values[i] = v;
            self->deferred = 1;
        }
    }
    PyBuffer_Release(&snap);
    return 0;
}

/*
 * watch(words, snapshot, fds, checks) -> int: watch_words (deferrable words set `deferred`
 * instead of firing), and when a check fired, run() before returning (its work is added to
 * `work`; after work the deferrable words are read again).  The probe's watch for a SHARED driver.
 */
static PyObject *
EagerDataPath_watch(EagerDataPath *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t count = nargs >= 1 && PyTuple_Check(args[0]) ? PyTuple_GET_SIZE(args[0]) : -1;
    int masked = self->deferrable != NULL && count == self->deferrable_len;
    PyObject *fired = watch_words_deferring(args, nargs, masked ? self->deferrable : NULL, masked ? count : 0,
                                            &self->deferred);
    long round;
    if (fired == NULL)
        return NULL;
    round = PyLong_AsLong(fired);
    if (round > 0) {
        Py_ssize_t work = eager_run(self);
        if (work < 0 || (work > 0 && masked && reread_deferrable(self, args[0], args[1]) < 0)) {
            Py_DECREF(fired);
            return NULL;
        }
    }
    return fired;
}

/*
 * run_watched(words, snapshot) -> work: run() for a probe whose snapshot was just taken (the
 * SharedAgent's cycle right after work): after work its deferrable words are read into the
 * snapshot again, as after watch()'s run, so the run's own moves fire no check.
 */
static PyObject *
EagerDataPath_run_watched(EagerDataPath *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t work, i;
    int masked;
    EXPECT_ARGS(2, "run_watched");
    if (!PyTuple_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "run_watched(words, snapshot): words must be a tuple");
        return NULL;
    }
    masked = self->deferrable != NULL && PyTuple_GET_SIZE(args[0]) == self->deferrable_len;
    for (i = 0; masked && i < PyTuple_GET_SIZE(args[0]); i++) { /* what reread_deferrable relies on */
        PyObject *pair = PyTuple_GET_ITEM(args[0], i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyObject_TypeCheck(PyTuple_GET_ITEM(pair, 0), &AtomicBufferType) ||
            !PyLong_Check(PyTuple_GET_ITEM(pair, 1))) {
            PyErr_SetString(PyExc_TypeError, "run_watched: each word must be (AtomicBuffer, offset)");
            return NULL;
        }
    }
    work = eager_run(self);
    if (work < 0 || (work > 0 && masked && reread_deferrable(self, args[0], args[1]) < 0))
        return NULL;
    return PyLong_FromSsize_t(work);
}

static PyMethodDef EagerDataPath_methods[] = {
    {"set_plan", (PyCFunction)(void (*)(void))EagerDataPath_set_plan, METH_FASTCALL,
     "set_plan(txs, epoll_fd, receivers): the publications and sockets run() covers."},
    {"set_commands", (PyCFunction)(void (*)(void))EagerDataPath_set_commands, METH_FASTCALL,
     "set_commands(ring_buffer, tail_offset, head_offset): the to-driver ring's tail and head words."},
    {"run", (PyCFunction)EagerDataPath_run, METH_NOARGS, "run() -> work: the planned data path once."},
    {"run_watched", (PyCFunction)(void (*)(void))EagerDataPath_run_watched, METH_FASTCALL,
     "run_watched(words, snapshot) -> work: run(), then the deferrable words into the snapshot again after work."},
    {"set_deferrable", (PyCFunction)(void (*)(void))EagerDataPath_set_deferrable, METH_FASTCALL,
     "set_deferrable(count, indices): which of the count watched words a duty cycle may take late."},
    {"watch", (PyCFunction)(void (*)(void))EagerDataPath_watch, METH_FASTCALL,
     "watch(words, snapshot, fds, checks) -> round: watch_words, then run() when it fired."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef EagerDataPath_members[] = {
    {"txs", T_OBJECT, offsetof(EagerDataPath, txs), READONLY, "The planned (publication, PublicationTx) pairs."},
    {"receivers", T_OBJECT, offsetof(EagerDataPath, receivers), READONLY, "The planned receive sockets."},
    {"epoll_fd", T_INT, offsetof(EagerDataPath, epoll_fd), READONLY, "The shared epoll (-1: no receive side)."},
    {"work", T_LONGLONG, offsetof(EagerDataPath, work), 0, "Work done by runs since the agent last took it."},
    {"runs", T_LONGLONG, offsetof(EagerDataPath, runs), READONLY, "How many times the plan ran."},
    {"handled", T_INT, offsetof(EagerDataPath, handled), 0,
     "1: the last run left its duty cycle nothing to do before defer_until_ns (the agent clears it)."},
    {"quiet", T_INT, offsetof(EagerDataPath, quiet), 0,
     "1: the last run did nothing and saw nothing else a duty cycle could do before defer_until_ns."},
    {"whole", T_INT, offsetof(EagerDataPath, whole), 0,
     "1: the plan covers every publication (a run can only then stand in for a duty cycle)."},
    {"defer_until_ns", T_LONGLONG, offsetof(EagerDataPath, defer_until_ns), 0,
     "Until when a run may handle its duty cycle (the agent sets it; 0: never)."},
    {"handled_runs", T_LONGLONG, offsetof(EagerDataPath, handled_runs), READONLY,
     "How many runs handled their duty cycle."},
    {"deferred", T_INT, offsetof(EagerDataPath, deferred), 0,
     "1: a deferrable word moved since the agent last cleared this (its duty cycle is due by defer_until_ns)."},
    {NULL},
};

PyTypeObject EagerDataPathType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "aeronpy._atomic.EagerDataPath",
    .tp_basicsize = sizeof(EagerDataPath),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "EagerDataPath(clock, report, transient_errnos): the SHARED driver's data path, run the moment "
              "its idle probe fires.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)EagerDataPath_init,
    .tp_dealloc = (destructor)EagerDataPath_dealloc,
    .tp_traverse = (traverseproc)EagerDataPath_traverse,
    .tp_clear = (inquiry)EagerDataPath_clear,
    .tp_methods = EagerDataPath_methods,
    .tp_members = EagerDataPath_members,
};

#endif /* AERONPY_HAVE_RECVMMSG */
