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

#endif
