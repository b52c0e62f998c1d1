/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data path of vrdma-vhost-ns: one virtio-net queue pair's rings and
 * buffers in the memory shared with the vhost-user backend (the switch),
 * and the two copy loops between them and the tap: namespace to switch
 * (tap -> tx ring) and switch to namespace (rx ring -> tap). The "tap" is
 * any non-blocking fd that carries one frame, virtio-net header first, per
 * read and per write, so the unit tests drive these loops on socketpairs.
 * Everything the switch writes (used ids, lengths, num_buffers) is checked
 * here; a violation is returned with a reason and the caller disconnects
 * (vu_ctl.c). No logging, no allocation, no blocking in the loops.
 * With vrdma_vu_uring_init, the loops batch the tap's reads and writes
 * through an io_uring (many per system call); without it, or when it
 * fails, they make one read or writev per frame.
 * vu_vring.h holds the ring code, vu_ctl.c the handshake that hands these
 * rings to the switch, vhost_ns.c the event loop that runs the loops.
 */
#ifndef VRDMA_VU_DATA_H
#define VRDMA_VU_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_vring.h"

struct io_uring;
struct iovec;

#define VRDMA_VU_VNET_HDR_LEN	 12 /* struct virtio_net_hdr_v1, VERSION_1 */
#define VRDMA_VU_NUM_BUFFERS_OFF 10
#define VRDMA_VU_RX_BUF_SIZE	 4096
/* A 64 KiB GSO frame and its header in one descriptor. */
#define VRDMA_VU_TX_BUF_SIZE (65536 + 4096)
/* tx buffers hold a whole 64 KiB frame each: their ring stays small. rx
 * buffers are 4 KiB and their ring large, so that the switch finds room
 * for a burst while we sleep (a 256-entry rx ring lost 0.5% of the frames
 * of a bulk TCP transfer to OVS tx drops). */
#define VRDMA_VU_TX_RING_MAX 256
#define VRDMA_VU_BURST	     64
#define VRDMA_VU_GPA_BASE    0x40000000ull /* no descriptor ever points at 0 */
/* Tap reads in one io_uring submission, at least: a lone frame and the
 * -EAGAIN that says the tap is empty cost one system call. */
#define VRDMA_VU_URING_MIN_READS 2

struct vrdma_vu_dir_stats {
	uint64_t frames;
	uint64_t bytes;
	uint64_t drops;
};

/*
 * One virtio-net queue pair: vring 2q receives (switch to namespace),
 * vring 2q+1 transmits (namespace to switch). Descriptor id == buffer
 * index in both rings. Everything here belongs to the one thread that
 * runs the loops; only the rings and buffers in mem are shared with the
 * switch, with the ordering vu_vring.h describes.
 */
struct vrdma_vu_qpair {
	unsigned int index;
	int tap;
	int kick[2];	 /* eventfds we write: rx, tx */
	int call[2];	 /* eventfds the switch writes: rx, tx */
	uint16_t rx_num; /* ring sizes, powers of two */
	uint16_t tx_num;
	bool busy_poll; /* never ask the switch for calls */
	struct vrdma_vring rx;
	struct vrdma_vring tx;
	uint8_t *mem; /* the shared memory, at guest physical GPA_BASE */
	size_t rx_ring_off, tx_ring_off, rx_buf_off, tx_buf_off;
	uint16_t *tx_free;
	uint16_t tx_nfree;
	bool *tx_busy;	 /* descriptor id lent to the switch */
	bool *rx_busy;	 /* likewise for rx */
	bool tap_paused; /* tx ring full: tap not polled */
	/* Called when tap_paused changes, so that the owner stops (pause)
	 * or resumes watching the tap; may be NULL. */
	void (*on_tap_pause)(struct vrdma_vu_qpair *p, bool pause);
	void *owner; /* for on_tap_pause */
	/* io_uring batching of the tap's reads and writes; NULL: one read or
	 * writev per frame. Nothing is ever left in flight between calls of
	 * the loops: every submission is reaped before they return. */
	struct io_uring *uring;
	struct iovec *uring_iov;  /* one burst's frames, for the writes */
	unsigned int uring_reads; /* reads in the next call's first batch */
	int uring_err;		  /* errno of io_uring given up in a loop; the
				   * owner logs it and sets it back to 0 */
	struct vrdma_vu_dir_stats to_switch;
	struct vrdma_vu_dir_stats from_switch;
};

/* The guest physical address of offset off in the shared memory. */
static inline uint64_t
vrdma_vu_gpa(size_t off)
{
	return VRDMA_VU_GPA_BASE + off;
}

/* The tx ring's size for an rx ring of `ring` entries. */
unsigned int vrdma_vu_tx_ring(unsigned int ring);

/* Bytes of shared memory one queue pair with an rx ring of `ring`
 * entries takes: both rings, then page-aligned buffers. */
size_t vrdma_vu_qpair_bytes(unsigned int ring);

/* Set queue pair p up as number `index` with an rx ring of `ring` entries
 * (a power of two, at most 32768): its id lists and its four eventfds.
 * Returns 0 or -1 (errno set); the process gives up then. */
int vrdma_vu_qpair_init(struct vrdma_vu_qpair *p, unsigned int index,
			unsigned int ring, bool busy_poll);

/* Place p's rings and buffers at offset base of the shared memory mem,
 * which holds vrdma_vu_qpair_bytes() bytes from there. */
void vrdma_vu_qpair_place(struct vrdma_vu_qpair *p, uint8_t *mem, size_t base);

/* Fresh rings for a new connection: every rx buffer offered to the switch,
 * every tx buffer free. Whatever the last connection left is dropped. */
void vrdma_vu_qpair_reset(struct vrdma_vu_qpair *p, bool event_idx);

/*
 * Namespace to switch: read up to VRDMA_VU_BURST frames from the tap into
 * tx buffers, after taking back the ones the switch has used. Sets *more
 * (never clears it) when the loop should run again without waiting for an
 * event. Returns 0, or -EPROTO with *why saying what the switch did wrong.
 */
int vrdma_vu_tap_to_switch(struct vrdma_vu_qpair *p, bool *more,
			   const char **why);

/* Switch to namespace: write up to VRDMA_VU_BURST received frames to the
 * tap and give their buffers back. *more, the return value and *why as
 * for vrdma_vu_tap_to_switch. */
int vrdma_vu_switch_to_tap(struct vrdma_vu_qpair *p, bool *more,
			   const char **why);

/*
 * Read and drop every frame queued in the tap, counting each as a drop
 * towards the switch; returns how many. For a new connection: those
 * frames were built for the offloads of the last one, which the switch
 * may not have accepted this time. Control path, not the copy loops.
 */
unsigned int vrdma_vu_tap_discard(struct vrdma_vu_qpair *p);

/*
 * Batch p's tap reads and writes through an io_uring of its own from now
 * on: a loop call reads a burst of frames with one io_uring_enter (reads
 * with RWF_NOWAIT: an empty tap answers -EAGAIN, it never holds a buffer
 * in flight) and writes a burst of frames with another. Set p->tap first.
 * Returns 0, or -errno when io_uring is not available (the sysctl
 * kernel.io_uring_disabled, seccomp, an old kernel): p keeps read and
 * writev.
 * If io_uring fails later, in a loop, the loop goes back to read and
 * writev for good and sets p->uring_err.
 */
int vrdma_vu_uring_init(struct vrdma_vu_qpair *p);

/* Release p's io_uring, if any; p goes back to read and writev. */
void vrdma_vu_uring_exit(struct vrdma_vu_qpair *p);

/* Empty an eventfd's counter (a call or a kick we have seen): one read. */
void vrdma_vu_drain_eventfd(int fd);

#endif /* VRDMA_VU_DATA_H */
