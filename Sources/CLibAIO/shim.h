#ifndef QCB_CLIBAIO_SHIM_H
#define QCB_CLIBAIO_SHIM_H
#include <libaio.h>
#include <stdint.h>
#include <fcntl.h>

/* O_DIRECT is only visible with _GNU_SOURCE, which the Swift importer does
   not define; its value is fixed by the kernel ABI on x86_64 and arm64. */
#ifdef O_DIRECT
static const int qcb_o_direct = O_DIRECT;
#elif defined(__aarch64__)
static const int qcb_o_direct = 0200000;
#else
static const int qcb_o_direct = 040000;
#endif

/* libaio's io_prep_pwrite is a static inline the importer may not see;
   a plain-C twin keeps the Swift side free of struct layout details. */
static inline void qcb_prep_pwrite(struct iocb *cb, int fd, void *buf, size_t len, long long off, void *data) {
    io_prep_pwrite(cb, fd, buf, len, off);
    cb->data = data;
}

/* The kernel's completion ring, mapped at the address io_setup returns as the
   context (fs/aio.c, struct aio_ring; a stable ABI that fio reads too). */
struct qcb_aio_ring {
    unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
    struct io_event io_events[];
};

/* True when the ring has the layout read below. */
static inline int qcb_ring_readable(io_context_t ctx) {
    const struct qcb_aio_ring *ring = (const struct qcb_aio_ring *)ctx;
    return ring->magic == 0xa10a10a1 && ring->incompat_features == 0;
}

/* Takes up to max completions straight from the ring, without a system call;
   0 when there are none. Only for a ring qcb_ring_readable accepted. The
   kernel reads head back when io_submit needs free slots. */
static inline int qcb_user_reap(io_context_t ctx, int max, struct io_event *events) {
    struct qcb_aio_ring *ring = (struct qcb_aio_ring *)ctx;
    unsigned nr = ring->nr, head = ring->head;
    unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
    int n = 0;
    while (n < max && head != tail) {
        events[n++] = ring->io_events[head];
        if (++head == nr) head = 0;
    }
    if (n > 0) __atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
    return n;
}
#endif
