/* aeronpy._atomic: batched datagram receive and send (see _atomic_buffer.h). */
#include "_atomic_buffer.h"

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
 * OSError.  Equal consecutive source addresses share one tuple, and an IPv4 source equal to the
 * last one made (in any call) gets that tuple again.  The GIL is released around
 * the syscall.  Python twin: aeronpy.driver.media.udp_transport.recvmmsg_into_py.
 *
 * recvmmsg_into(sock, buffer, slot_length, max_messages, timestamps) also asks for each
 * datagram's control messages and writes its kernel receive time (SCM_TIMESTAMPNS, CLOCK_REALTIME
 * nanoseconds; the socket needs SO_TIMESTAMPNS) into timestamps[i], a writable buffer of at
 * least max_messages native int64; -1 where a datagram came without one.
 */
#define RECVMMSG_STACK_SLOTS 64
#define RECVMMSG_CMSG_SPACE CMSG_SPACE(sizeof(struct timespec))

typedef union {
    struct cmsghdr align;
    char buf[RECVMMSG_CMSG_SPACE];
} recv_cmsg_t;

static int64_t
receive_timestamp_of(struct msghdr *hdr)
{
    struct cmsghdr *cmsg;
    for (cmsg = CMSG_FIRSTHDR(hdr); cmsg != NULL; cmsg = CMSG_NXTHDR(hdr, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_TIMESTAMPNS &&
            cmsg->cmsg_len == CMSG_LEN(sizeof(struct timespec))) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(cmsg), sizeof(ts));
            return (int64_t)ts.tv_sec * INT64_C(1000000000) + (int64_t)ts.tv_nsec;
        }
    }
    return -1;
}

int
fd_of(PyObject *o)
{
    long v;
    if (PyLong_Check(o)) {
        v = PyLong_AsLong(o);
    } else {
        /* the name interned once: building it per call cost more than the call (idle cycles) */
        static PyObject *fileno_name = NULL;
        PyObject *r;
        if (fileno_name == NULL && (fileno_name = PyUnicode_InternFromString("fileno")) == NULL)
            return -2;
        r = PyObject_CallMethodNoArgs(o, fileno_name);
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

/* The last few IPv4 source addresses made, and their tuples: a receiver hears the same few peers
 * (a round trip's two channels alternate between two), so most datagrams find theirs here. */
#define ADDRESS_CACHE 8
static struct sockaddr_in cached_in[ADDRESS_CACHE];
static PyObject *cached_in_address[ADDRESS_CACHE];
static unsigned int cached_in_next;

static PyObject *
make_address(const struct sockaddr_storage *ss, socklen_t len)
{
    char host[INET6_ADDRSTRLEN];
    if (len == 0)
        Py_RETURN_NONE;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        PyObject *address;
        unsigned int k, slot;
        for (k = 0; k < ADDRESS_CACHE; k++) {
            if (cached_in_address[k] != NULL && a->sin_port == cached_in[k].sin_port &&
                a->sin_addr.s_addr == cached_in[k].sin_addr.s_addr) {
                Py_INCREF(cached_in_address[k]);
                return cached_in_address[k];
            }
        }
        if (inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host)) == NULL)
            return PyErr_SetFromErrno(PyExc_OSError);
        if ((address = Py_BuildValue("(si)", host, (int)ntohs(a->sin_port))) == NULL)
            return NULL;
        slot = cached_in_next++ % ADDRESS_CACHE;
        cached_in[slot] = *a;
        Py_INCREF(address);
        Py_XSETREF(cached_in_address[slot], address);
        return address;
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

PyObject *
mod_recvmmsg_into(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    struct mmsghdr stack_msgs[RECVMMSG_STACK_SLOTS];
    struct iovec stack_iovs[RECVMMSG_STACK_SLOTS];
    struct sockaddr_storage stack_addrs[RECVMMSG_STACK_SLOTS];
    recv_cmsg_t stack_cmsgs[RECVMMSG_STACK_SLOTS];
    struct mmsghdr *msgs = stack_msgs;
    struct iovec *iovs = stack_iovs;
    struct sockaddr_storage *addrs = stack_addrs;
    recv_cmsg_t *cmsgs = stack_cmsgs;
    void *heap = NULL;
    Py_buffer view, stamps;
    int has_stamps = 0;
    Py_ssize_t slot_length, max_messages, i;
    PyObject *result = NULL, *prev_addr = NULL;
    int fd, n, err = 0;
    (void)self;

    if (nargs != 4 && nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "recvmmsg_into(sock, buffer, slot_length, max_messages[, timestamps])");
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
    if (nargs == 5 && args[4] != Py_None) {
        if (PyObject_GetBuffer(args[4], &stamps, PyBUF_WRITABLE) < 0) {
            PyBuffer_Release(&view);
            return NULL;
        }
        has_stamps = 1;
    }
    if (max_messages > view.len / slot_length) {
        PyErr_SetString(PyExc_ValueError, "buffer too small for max_messages slots of slot_length");
        goto done;
    }
    if (has_stamps && stamps.len / (Py_ssize_t)sizeof(int64_t) < (max_messages > 1024 ? 1024 : max_messages)) {
        PyErr_SetString(PyExc_ValueError, "timestamps too small for max_messages int64 values");
        goto done;
    }
    if (max_messages > 1024)
        max_messages = 1024; /* UIO_MAXIOV: the kernel caps vlen there anyway */
    if (max_messages == 0) {
        result = PyList_New(0);
        goto done;
    }
    if (max_messages > RECVMMSG_STACK_SLOTS) {
        size_t each = sizeof(struct mmsghdr) + sizeof(struct iovec) + sizeof(struct sockaddr_storage)
                      + sizeof(recv_cmsg_t);
        heap = PyMem_Malloc(each * (size_t)max_messages);
        if (heap == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        addrs = (struct sockaddr_storage *)heap;
        cmsgs = (recv_cmsg_t *)(addrs + max_messages);
        msgs = (struct mmsghdr *)(cmsgs + max_messages);
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
        if (has_stamps) {
            msgs[i].msg_hdr.msg_control = cmsgs[i].buf;
            msgs[i].msg_hdr.msg_controllen = sizeof(cmsgs[i].buf);
        }
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
        if (has_stamps)
            ((int64_t *)stamps.buf)[i] = receive_timestamp_of(&msgs[i].msg_hdr);
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
    if (has_stamps)
        PyBuffer_Release(&stamps);
    PyBuffer_Release(&view);
    return result;
}

/*
 * send_frames(fd, sockaddr, term, term_offset, limit, mtu, max_datagrams, pad_type)
 *     -> (bytes_sent, advance, short_send)
 *
 * The sender's data path for one term: scans up to `max_datagrams` datagrams of committed
 * frames from `term_offset` (each at most `mtu` bytes and within `limit` bytes of the start,
 * counting skipped padding; a PAD frame sends only its header and its body is skipped, as
 * scan_for_availability) and sends them with one sendmmsg (MSG_DONTWAIT), to `sockaddr` (a
 * packed struct sockaddr as bytes) or, when it is None, to the connected peer.  Returns the
 * bytes sent, how far the term offset advanced over the datagrams sent (their lengths plus
 * the padding each skipped), and 1 if fewer datagrams went than were scanned (a short send:
 * a transient EAGAIN/EWOULDBLOCK/EINTR/ECONNREFUSED, or a partial sendmmsg), else 0.  Other
 * errors raise OSError when nothing was sent.  The GIL is released around the syscall (the
 * term buffer stays exported meanwhile).  At most 64 datagrams per call.  Python twin:
 * aeronpy.driver.media.udp_transport.send_frames_py.
 */
#define SEND_FRAMES_MAX 64

/*
 * The body of send_frames, shared with PublicationTx.send (_publication_tx.c): scan and send
 * with the GIL held around everything but the syscall.  `fd` < 0: the descriptor is `sock`'s,
 * asked for only when there is something to send.  0 with *bytes_sent, *advance and
 * *short_send set, or -1 with OSError set (nothing was sent).
 */
int
send_term_frames(int fd, PyObject *sock, const void *sockaddr, Py_ssize_t sockaddr_len, const uint8_t *data, Py_ssize_t capacity,
                 Py_ssize_t term_offset, Py_ssize_t limit, Py_ssize_t mtu, Py_ssize_t max_datagrams,
                 uint16_t pad_type, Py_ssize_t *bytes_sent, Py_ssize_t *advance, int *short_send)
{
    struct mmsghdr msgs[SEND_FRAMES_MAX];
    struct iovec iovs[SEND_FRAMES_MAX];
    Py_ssize_t advances[SEND_FRAMES_MAX];
    Py_ssize_t offset = term_offset;
    int n = 0, err = 0, count = 0, i;
    *bytes_sent = 0;
    *advance = 0;
    *short_send = 0;
    if (max_datagrams > SEND_FRAMES_MAX)
        max_datagrams = SEND_FRAMES_MAX;
    while (count < max_datagrams) {
        Py_ssize_t padding = 0, available, max_length = limit - (offset - term_offset);
        if (max_length > mtu)
            max_length = mtu;
        if (max_length <= 0)
            break;
        available = scan_availability(data, capacity, offset, max_length, pad_type, &padding);
        if (available == 0)
            break;
        iovs[count].iov_base = (uint8_t *)data + offset;
        iovs[count].iov_len = (size_t)available;
        memset(&msgs[count], 0, sizeof(msgs[count]));
        msgs[count].msg_hdr.msg_iov = &iovs[count];
        msgs[count].msg_hdr.msg_iovlen = 1;
        if (sockaddr != NULL) {
            msgs[count].msg_hdr.msg_name = (void *)sockaddr;
            msgs[count].msg_hdr.msg_namelen = (socklen_t)sockaddr_len;
        }
        advances[count] = available + padding;
        offset += available + padding;
        count++;
    }
    if (count == 0)
        return 0;
    if (fd < 0 && (fd = fd_of(sock)) < 0) /* looked up only when there is something to send */
        return -1;
    Py_BEGIN_ALLOW_THREADS
    n = sendmmsg(fd, msgs, (unsigned int)count, MSG_DONTWAIT);
    err = errno;
    Py_END_ALLOW_THREADS
    if (n < 0) {
        if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR && err != ECONNREFUSED) {
            errno = err;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        n = 0;
    }
    for (i = 0; i < n; i++) {
        if ((Py_ssize_t)msgs[i].msg_len != (Py_ssize_t)iovs[i].iov_len) {
            n = i;
            break;
        }
        *bytes_sent += (Py_ssize_t)iovs[i].iov_len;
        *advance += advances[i];
    }
    *short_send = n < count;
    return 0;
}

PyObject *
mod_send_frames(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer term, addr;
    int has_addr = 0, fd, short_send = 0;
    Py_ssize_t term_offset, limit, mtu, max_datagrams, bytes_sent = 0, advance = 0;
    int64_t pad_type;
    PyObject *result = NULL;
    (void)self;
    EXPECT_ARGS(8, "send_frames");
    if ((fd = fd_of(args[0])) < 0)
        return NULL;
    if (parse_ssize(args[3], &term_offset) < 0 || parse_ssize(args[4], &limit) < 0 ||
        parse_ssize(args[5], &mtu) < 0 || parse_ssize(args[6], &max_datagrams) < 0 ||
        parse_i64(args[7], &pad_type) < 0)
        return NULL;
    if (max_datagrams < 0 || max_datagrams > SEND_FRAMES_MAX) {
        PyErr_Format(PyExc_ValueError, "max_datagrams must be 0..%d: %zd", SEND_FRAMES_MAX, max_datagrams);
        return NULL;
    }
    if (PyObject_GetBuffer(args[2], &term, PyBUF_SIMPLE) < 0)
        return NULL;
    if (term_offset < 0 || term_offset > term.len || (term_offset & 7) != 0) {
        PyErr_Format(PyExc_IndexError, "term offset %zd invalid for capacity %zd", term_offset, term.len);
        PyBuffer_Release(&term);
        return NULL;
    }
    if (args[1] != Py_None) {
        if (PyObject_GetBuffer(args[1], &addr, PyBUF_SIMPLE) < 0) {
            PyBuffer_Release(&term);
            return NULL;
        }
        has_addr = 1;
        if (addr.len < (Py_ssize_t)sizeof(sa_family_t) || addr.len > (Py_ssize_t)sizeof(struct sockaddr_storage)) {
            PyErr_SetString(PyExc_ValueError, "sockaddr must be a packed struct sockaddr");
            goto done;
        }
    }
    if (send_term_frames(fd, NULL, has_addr ? addr.buf : NULL, has_addr ? addr.len : 0, (const uint8_t *)term.buf,
                         term.len, term_offset, limit, mtu, max_datagrams, (uint16_t)pad_type, &bytes_sent,
                         &advance, &short_send) == 0)
        result = Py_BuildValue("(nni)", bytes_sent, advance, short_send);
done:
    if (has_addr)
        PyBuffer_Release(&addr);
    PyBuffer_Release(&term);
    return result;
}
#endif /* AERONPY_HAVE_RECVMMSG */
