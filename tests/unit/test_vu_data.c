/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the vrdma-vhost-ns data path (vhost-user/vu_data.c) with
 * the test playing both neighbours: the switch, on rings in a memfd laid
 * out by vrdma_vu_qpair_place as the real process lays them out, and the
 * namespace, on the far end of a SOCK_SEQPACKET socketpair standing in for
 * the tap (one frame per read and write, as a tap). Covered: the layout
 * and fresh rings after a reset; namespace to switch (one frame, header
 * num_buffers cleared, counters, kick; short frames dropped; the burst
 * budget; a full tx ring pausing the tap and reclaimed buffers resuming
 * it); switch to namespace (one frame, a frame merged from several
 * buffers, a frame whose buffers are not all returned yet, buffers given
 * back, a failed tap write counted as a drop); frames queued before a
 * connection discarded and counted; and every rejection of what
 * the switch writes: descriptor ids out of range, a tx buffer returned
 * that was never lent or twice, bad lengths, bad num_buffers, an
 * impossible used index. Each of these runs twice: the tap read and
 * written one frame per system call, and batched through io_uring.
 * For io_uring alone: a burst of reads in one submission, sized after the
 * last call's frames; an empty tap answering at once, nothing left in
 * flight; a burst of writes in one submission, a lone frame by writev, a
 * full tap dropping rather than waiting; a ring that fails in a loop
 * given up for read and writev without losing a frame; and io_uring
 * refused (seccomp here, as kernel.io_uring_disabled would) leaving the
 * plain path working.
 */

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <liburing.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "vu_data.h"

#define RING	      128 /* rx ring; the tx ring is as large (<= 256) */
#define HDR	      VRDMA_VU_VNET_HDR_LEN
#define FRAME_MAX     (VRDMA_VU_TX_BUF_SIZE + 1)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Set by the io_uring variant of each test: fx_new gives the pair an
 * io_uring. */
static bool with_uring;

struct fx {
	struct vrdma_vu_qpair p;
	uint8_t *mem;
	size_t size;
	int memfd;
	int ns;		  /* the namespace's end of the "tap" */
	uint16_t tx_seen; /* next tx avail slot the switch takes */
	uint16_t rx_seen; /* likewise rx */
	unsigned int pauses;
	unsigned int resumes;
};

static void
on_pause(struct vrdma_vu_qpair *p, bool pause)
{
	struct fx *f = p->owner;

	if (pause)
		f->pauses++;
	else
		f->resumes++;
}

static struct fx *
fx_new(bool event_idx)
{
	struct fx *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	f->size = vrdma_vu_qpair_bytes(RING);
	f->memfd = memfd_create("test_vu_data", MFD_CLOEXEC);
	assert_true(f->memfd >= 0);
	assert_int_equal(ftruncate(f->memfd, (off_t)f->size), 0);
	f->mem = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      f->memfd, 0);
	assert_true(f->mem != MAP_FAILED);
	/* Garbage where the rings go: the reset must not depend on zeroes. */
	memset(f->mem, 0xa5, f->size);
	assert_int_equal(
		socketpair(AF_UNIX,
			   SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
			   sv),
		0);
	assert_int_equal(vrdma_vu_qpair_init(&f->p, 0, RING, false), 0);
	vrdma_vu_qpair_place(&f->p, f->mem, 0);
	f->p.tap = sv[0];
	f->ns = sv[1];
	f->p.on_tap_pause = on_pause;
	f->p.owner = f;
	if (with_uring)
		assert_int_equal(vrdma_vu_uring_init(&f->p), 0);
	vrdma_vu_qpair_reset(&f->p, event_idx);
	return f;
}

static void
fx_free(struct fx *f)
{
	for (int i = 0; i < 2; i++) {
		close(f->p.kick[i]);
		close(f->p.call[i]);
	}
	vrdma_vu_uring_exit(&f->p);
	close(f->p.tap);
	if (f->ns >= 0)
		close(f->ns);
	free(f->p.tx_free);
	free(f->p.tx_busy);
	free(f->p.rx_busy);
	munmap(f->mem, f->size);
	close(f->memfd);
	free(f);
}

/* The switch's view of a descriptor: where its buffer is in the memfd,
 * after checking that it lies inside. */
static uint8_t *
dev_buf(struct fx *f, const struct vrdma_vring_desc *d)
{
	assert_true(d->addr >= VRDMA_VU_GPA_BASE);
	assert_true(d->addr - VRDMA_VU_GPA_BASE + d->len <= f->size);
	return f->mem + (d->addr - VRDMA_VU_GPA_BASE);
}

/* The switch takes the next descriptor made available on r, if any. */
static bool
dev_take(struct vrdma_vring *r, uint16_t *seen, uint16_t *id,
	 const struct vrdma_vring_desc **d)
{
	uint16_t avail = __atomic_load_n(&r->avail->idx, __ATOMIC_ACQUIRE);

	if (avail == *seen)
		return false;
	*id = r->avail->ring[*seen & (r->num - 1)];
	assert_true(*id < r->num);
	*d = &r->desc[*id];
	(*seen)++;
	return true;
}

/* The switch returns buffer id with len bytes written. */
static void
dev_use(struct vrdma_vring *r, uint32_t id, uint32_t len)
{
	struct vrdma_vring_used_elem *e =
		&r->used->ring[r->used->idx & (r->num - 1)];

	e->id = id;
	e->len = len;
	__atomic_store_n(&r->used->idx, (uint16_t)(r->used->idx + 1),
			 __ATOMIC_RELEASE);
}

/* A frame of len bytes: a virtio-net header whose num_buffers is nbufs,
 * then bytes that depend on seed. */
static void
frame_fill(uint8_t *buf, size_t len, uint16_t nbufs, unsigned int seed)
{
	memset(buf, 0, HDR);
	memcpy(buf + VRDMA_VU_NUM_BUFFERS_OFF, &nbufs, sizeof(nbufs));
	for (size_t i = HDR; i < len; i++)
		buf[i] = (uint8_t)(seed * 31 + i);
}

/* The namespace sends a frame of len bytes into the tap. */
static void
ns_send(struct fx *f, size_t len, unsigned int seed)
{
	static uint8_t buf[FRAME_MAX];

	frame_fill(buf, len, 0x5a5a, seed);
	assert_int_equal(send(f->ns, buf, len, 0), (ssize_t)len);
}

/* Frames the data path left unread in the tap (read and counted here). */
static unsigned int
tap_drain(struct fx *f)
{
	static uint8_t buf[FRAME_MAX];
	unsigned int n = 0;

	while (recv(f->p.tap, buf, sizeof(buf), 0) > 0)
		n++;
	return n;
}

/* Value of an eventfd's counter, emptying it. */
static uint64_t
eventfd_take(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return 0;
	return n;
}

/* The switch puts a frame of len bytes into the next nbufs rx buffers
 * (split evenly) and returns the first `use` of them. */
static void
dev_rx_frame(struct fx *f, size_t len, uint16_t nbufs, uint16_t use,
	     unsigned int seed, uint8_t *expect)
{
	size_t chunk = (len + nbufs - 1) / nbufs, off = 0;

	assert_true(chunk <= VRDMA_VU_RX_BUF_SIZE);
	frame_fill(expect, len, nbufs, seed);
	for (uint16_t k = 0; k < nbufs; k++) {
		const struct vrdma_vring_desc *d;
		size_t n = len - off < chunk ? len - off : chunk;
		uint16_t id;

		assert_true(dev_take(&f->p.rx, &f->rx_seen, &id, &d));
		assert_int_equal(d->flags, VRDMA_VRING_DESC_F_WRITE);
		assert_int_equal(d->len, VRDMA_VU_RX_BUF_SIZE);
		memcpy(dev_buf(f, d), expect + off, n);
		if (k < use)
			dev_use(&f->p.rx, id, (uint32_t)n);
		off += n;
	}
}

/* A reset lays the rings and buffers out inside the queue pair's bytes,
 * offers every rx buffer (each its own, device-writable) and keeps every
 * tx buffer; calls are wanted for rx only. */
static void
test_reset(void **state)
{
	struct fx *f = fx_new(false);
	static bool seen[RING];
	uint16_t id;
	const struct vrdma_vring_desc *d;

	(void)state;
	assert_int_equal(f->p.rx_num, RING);
	assert_int_equal(f->p.tx_num, vrdma_vu_tx_ring(RING));
	assert_int_equal(vrdma_vu_tx_ring(1024), VRDMA_VU_TX_RING_MAX);
	assert_true(f->p.tx_buf_off +
			    (size_t)f->p.tx_num * VRDMA_VU_TX_BUF_SIZE <=
		    f->size);
	assert_int_equal(f->p.rx_buf_off % 4096, 0);
	assert_int_equal(f->p.rx.avail->idx, RING);
	assert_int_equal(f->p.tx.avail->idx, 0);
	assert_int_equal(f->p.tx_nfree, f->p.tx_num);
	for (unsigned int i = 0; i < RING; i++) {
		uint8_t *b;

		assert_true(dev_take(&f->p.rx, &f->rx_seen, &id, &d));
		assert_false(seen[id]);
		seen[id] = true;
		assert_int_equal(d->flags, VRDMA_VRING_DESC_F_WRITE);
		assert_int_equal(d->len, VRDMA_VU_RX_BUF_SIZE);
		b = dev_buf(f, d);
		assert_true(b >= f->mem + f->p.rx_buf_off);
		assert_true(b + VRDMA_VU_RX_BUF_SIZE <=
			    f->mem + f->p.tx_buf_off);
	}
	assert_false(dev_take(&f->p.rx, &f->rx_seen, &id, &d));
	assert_int_equal(f->p.rx.avail->flags, 0);
	assert_int_equal(f->p.tx.avail->flags,
			 VRDMA_VRING_AVAIL_F_NO_INTERRUPT);
	fx_free(f);
}

/* One frame from the namespace lands in one tx descriptor, as read, with
 * num_buffers cleared, counted, and the switch kicked. */
static void
test_tx_one_frame(void **state)
{
	struct fx *f = fx_new(false);
	static uint8_t expect[FRAME_MAX];
	const struct vrdma_vring_desc *d;
	const char *why = NULL;
	bool more = false;
	uint16_t id;

	(void)state;
	ns_send(f, 1514, 7);
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_false(more);
	assert_true(dev_take(&f->p.tx, &f->tx_seen, &id, &d));
	assert_false(dev_take(&f->p.tx, &f->tx_seen, &id, &d));
	assert_int_equal(d->len, 1514);
	assert_int_equal(d->flags, 0);
	frame_fill(expect, 1514, 0, 7);
	assert_memory_equal(dev_buf(f, d), expect, 1514);
	assert_int_equal(eventfd_take(f->p.kick[1]), 1);
	assert_int_equal(f->p.to_switch.frames, 1);
	assert_int_equal(f->p.to_switch.bytes, 1514 - HDR);
	assert_int_equal(f->p.to_switch.drops, 0);
	assert_int_equal(f->p.tx_nfree, f->p.tx_num - 1);
	assert_true(f->p.tx_busy[id]);
	assert_null(why);
	fx_free(f);
}

/* A 64 KiB TSO frame and its header fit one tx buffer. */
static void
test_tx_large_frame(void **state)
{
	struct fx *f = fx_new(false);
	const struct vrdma_vring_desc *d;
	const char *why;
	bool more = false;
	uint16_t id;
	size_t len = 65536 + HDR;

	(void)state;
	ns_send(f, len, 3);
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_true(dev_take(&f->p.tx, &f->tx_seen, &id, &d));
	assert_int_equal(d->len, len);
	assert_int_equal(dev_buf(f, d)[len - 1], (uint8_t)(3 * 31 + len - 1));
	assert_int_equal(f->p.to_switch.bytes, 65536);
	fx_free(f);
}

/* Frames no longer than a header carry nothing: dropped and counted,
 * without using a buffer. */
static void
test_tx_short_frames(void **state)
{
	struct fx *f = fx_new(false);
	const struct vrdma_vring_desc *d;
	const char *why;
	bool more = false;
	uint16_t id;

	(void)state;
	ns_send(f, HDR, 1);
	ns_send(f, 5, 2);
	ns_send(f, HDR + 1, 3);
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_int_equal(f->p.to_switch.drops, 2);
	assert_int_equal(f->p.to_switch.frames, 1);
	assert_int_equal(f->p.tx_nfree, f->p.tx_num - 1);
	assert_true(dev_take(&f->p.tx, &f->tx_seen, &id, &d));
	assert_int_equal(d->len, HDR + 1);
	assert_false(dev_take(&f->p.tx, &f->tx_seen, &id, &d));
	fx_free(f);
}

/* One call reads at most a burst and then asks to be run again. */
static void
test_tx_burst_budget(void **state)
{
	struct fx *f = fx_new(false);
	const char *why;
	bool more = false;

	(void)state;
	for (unsigned int i = 0; i < VRDMA_VU_BURST + 1; i++)
		ns_send(f, 60, i);
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_true(more);
	assert_int_equal(f->p.to_switch.frames, VRDMA_VU_BURST);
	assert_int_equal(f->p.tx.avail->idx, VRDMA_VU_BURST);
	more = false;
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_false(more);
	assert_int_equal(f->p.to_switch.frames, VRDMA_VU_BURST + 1);
	fx_free(f);
}

/* A full tx ring stops reading the tap and asks the switch for a call;
 * buffers given back are reclaimed, reused and resume the tap. */
static void
test_tx_ring_full(void **state)
{
	struct fx *f = fx_new(false);
	const struct vrdma_vring_desc *d;
	unsigned int n = f->p.tx_num, extra = 3;
	uint16_t ids[2];
	const char *why;
	bool more;

	(void)state;
	for (unsigned int i = 0; i < n + extra; i++)
		ns_send(f, 100, i);
	for (unsigned int i = 0; i < 4 && f->p.tx_nfree > 0; i++) {
		more = false;
		assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	}
	assert_int_equal(f->p.tx_nfree, 0);
	assert_true(f->p.tap_paused);
	assert_int_equal(f->pauses, 1);
	assert_int_equal(f->resumes, 0);
	assert_int_equal(f->p.tx.avail->flags, 0); /* calls wanted */
	assert_int_equal(f->p.to_switch.frames, n);

	/* Still full: nothing more is read, the tap stays paused. */
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_int_equal(f->p.to_switch.frames, n);
	assert_int_equal(f->pauses, 1);

	/* The switch sends two frames on and gives their buffers back. */
	for (int i = 0; i < 2; i++) {
		assert_true(dev_take(&f->p.tx, &f->tx_seen, &ids[i], &d));
		dev_use(&f->p.tx, ids[i], 0);
	}
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_int_equal(f->resumes, 1);
	assert_int_equal(f->p.to_switch.frames, n + 2);
	/* The same two buffers carry the next two frames: full again. */
	assert_int_equal(f->p.tx_nfree, 0);
	assert_true(f->p.tx_busy[ids[0]] && f->p.tx_busy[ids[1]]);
	assert_int_equal(f->pauses, 2);
	assert_int_equal(tap_drain(f), extra - 2);
	fx_free(f);
}

/* A used tx id outside the ring, or one never lent, ends the connection
 * with a reason; nothing is read from the tap meanwhile. */
static void
test_tx_bad_used(void **state)
{
	struct fx *f = fx_new(false);
	const struct vrdma_vring_desc *d;
	const char *why = NULL;
	bool more = false;
	uint16_t id;

	(void)state;
	dev_use(&f->p.tx, f->p.tx_num, 0);
	ns_send(f, 100, 1);
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), -EPROTO);
	assert_non_null(why);
	assert_non_null(strstr(why, "out of range"));
	assert_int_equal(f->p.tx.bad_used, 1);
	assert_int_equal(f->p.to_switch.frames, 0);
	fx_free(f);

	f = fx_new(false);
	why = NULL;
	dev_use(&f->p.tx, 5, 0); /* never lent */
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), -EPROTO);
	assert_non_null(why);
	assert_non_null(strstr(why, "twice"));
	assert_int_equal(f->p.tx_nfree, f->p.tx_num);
	fx_free(f);

	/* Lent, returned and taken back once: a second return is a lie. */
	f = fx_new(false);
	why = NULL;
	ns_send(f, 100, 1);
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_true(dev_take(&f->p.tx, &f->tx_seen, &id, &d));
	dev_use(&f->p.tx, id, 0);
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_int_equal(f->p.tx_nfree, f->p.tx_num);
	dev_use(&f->p.tx, id, 0);
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), -EPROTO);
	assert_non_null(why);
	assert_non_null(strstr(why, "twice"));
	fx_free(f);
}

/* One frame in one rx buffer reaches the namespace as one frame; the
 * buffer is offered again and the switch kicked. */
static void
test_rx_one_frame(void **state)
{
	struct fx *f = fx_new(false);
	static uint8_t expect[FRAME_MAX], got[FRAME_MAX];
	const char *why = NULL;
	bool more = false;

	(void)state;
	dev_rx_frame(f, 1000, 1, 1, 9, expect);
	assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why), 0);
	assert_false(more);
	assert_null(why);
	assert_int_equal(recv(f->ns, got, sizeof(got), 0), 1000);
	assert_memory_equal(got, expect, 1000);
	assert_int_equal(recv(f->ns, got, sizeof(got), 0), -1);
	assert_int_equal(f->p.from_switch.frames, 1);
	assert_int_equal(f->p.from_switch.bytes, 1000 - HDR);
	assert_int_equal(f->p.rx.avail->idx, RING + 1);
	assert_int_equal(f->p.rx.last_used, 1);
	assert_int_equal(eventfd_take(f->p.kick[0]), 1);
	fx_free(f);
}

/* A frame merged from three buffers (num_buffers 3) goes out as one
 * frame, all three buffers offered again. */
static void
test_rx_merged_frame(void **state)
{
	struct fx *f = fx_new(false);
	static uint8_t expect[FRAME_MAX], got[FRAME_MAX];
	const char *why;
	bool more = false;
	size_t len = 3 * VRDMA_VU_RX_BUF_SIZE - 100;

	(void)state;
	dev_rx_frame(f, len, 3, 3, 4, expect);
	assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why), 0);
	assert_int_equal(recv(f->ns, got, sizeof(got), 0), (ssize_t)len);
	assert_memory_equal(got, expect, len);
	assert_int_equal(f->p.from_switch.frames, 1);
	assert_int_equal(f->p.rx.avail->idx, RING + 3);
	assert_int_equal(f->p.rx.last_used, 3);
	fx_free(f);
}

/* A frame whose later buffers are not returned yet waits, with a call
 * asked for once they are (EVENT_IDX: used_event past the first). */
static void
test_rx_partial_frame(void **state)
{
	struct fx *f = fx_new(true);
	static uint8_t expect[FRAME_MAX], got[FRAME_MAX];
	uint16_t used_event;
	const char *why;
	bool more = false;
	size_t len = 2 * VRDMA_VU_RX_BUF_SIZE;

	(void)state;
	dev_rx_frame(f, len, 2, 1, 5, expect);
	assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why), 0);
	assert_false(more);
	assert_int_equal(recv(f->ns, got, sizeof(got), 0), -1);
	assert_int_equal(f->p.rx.last_used, 0);
	used_event = f->p.rx.avail->ring[f->p.rx.num];
	assert_int_equal(used_event, 1);
	assert_int_equal(f->p.from_switch.frames, 0);

	/* The second buffer: the switch's index now crosses used_event. */
	dev_use(&f->p.rx, f->p.rx.avail->ring[1], VRDMA_VU_RX_BUF_SIZE);
	assert_true(vrdma_vring_need_event(used_event, 2, 1));
	assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why), 0);
	assert_int_equal(recv(f->ns, got, sizeof(got), 0), (ssize_t)len);
	assert_memory_equal(got, expect, len);
	assert_int_equal(f->p.rx.last_used, 2);
	fx_free(f);
}

/* A frame the tap refuses is dropped and counted; its buffers still go
 * back to the switch. */
static void
test_rx_tap_write_fails(void **state)
{
	struct fx *f = fx_new(false);
	static uint8_t expect[FRAME_MAX];
	const char *why;
	bool more = false;

	(void)state;
	close(f->ns);
	f->ns = -1;
	dev_rx_frame(f, 500, 1, 1, 2, expect);
	assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why), 0);
	assert_int_equal(f->p.from_switch.frames, 0);
	assert_int_equal(f->p.from_switch.drops, 1);
	assert_int_equal(f->p.rx.avail->idx, RING + 1);
	fx_free(f);
}

/* One call writes at most a burst of frames. */
static void
test_rx_burst_budget(void **state)
{
	struct fx *f = fx_new(false);
	static uint8_t expect[FRAME_MAX];
	const char *why;
	bool more = false;

	(void)state;
	for (unsigned int i = 0; i < VRDMA_VU_BURST + 1; i++)
		dev_rx_frame(f, 60, 1, 1, i, expect);
	assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why), 0);
	assert_true(more);
	assert_int_equal(f->p.from_switch.frames, VRDMA_VU_BURST);
	more = false;
	assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why), 0);
	assert_false(more);
	assert_int_equal(f->p.from_switch.frames, VRDMA_VU_BURST + 1);
	fx_free(f);
}

/* Each way the switch can lie about a used rx buffer is refused with a
 * reason, and nothing reaches the namespace. */
static void
test_rx_bad_used(void **state)
{
	static const struct {
		uint32_t id;	/* UINT32_MAX: the first offered buffer */
		uint32_t len;	/* of the used element */
		uint16_t nbufs; /* in the buffer's header */
		const char *why;
	} cases[] = {
		{RING, 100, 1, "out of range"},
		{UINT32_MAX, VRDMA_VU_RX_BUF_SIZE + 1, 1, "bad id or length"},
		{UINT32_MAX, HDR - 1, 1, "bad id or length"},
		{UINT32_MAX, 100, 0, "num_buffers"},
		{UINT32_MAX, 100, VRDMA_VU_BURST + 1, "num_buffers"},
	};
	static uint8_t got[FRAME_MAX];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fx *f = fx_new(false);
		uint16_t id = f->p.rx.avail->ring[0];
		uint32_t uid = cases[i].id == UINT32_MAX ? id : cases[i].id;
		const char *why = NULL;
		bool more = false;
		uint8_t *b = f->mem + f->p.rx_buf_off +
			     (size_t)id * VRDMA_VU_RX_BUF_SIZE;

		memcpy(b + VRDMA_VU_NUM_BUFFERS_OFF, &cases[i].nbufs, 2);
		dev_use(&f->p.rx, uid, cases[i].len);
		assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why),
				 -EPROTO);
		assert_non_null(why);
		assert_non_null(strstr(why, cases[i].why));
		assert_int_equal(recv(f->ns, got, sizeof(got), 0), -1);
		assert_int_equal(f->p.from_switch.frames, 0);
		fx_free(f);
	}
}

/* A switch that returns one rx buffer twice, before it was offered
 * again: across two frames of one burst, or twice inside one merged
 * frame. Either is refused, and nothing reaches the tap. */
static void
test_rx_buffer_returned_twice(void **state)
{
	static uint8_t got[FRAME_MAX];

	(void)state;
	for (uint16_t nbufs = 1; nbufs <= 2; nbufs++) {
		struct fx *f = fx_new(false);
		uint16_t id = f->p.rx.avail->ring[0];
		uint8_t *b = f->mem + f->p.rx_buf_off +
			     (size_t)id * VRDMA_VU_RX_BUF_SIZE;
		const char *why = NULL;
		bool more = false;

		memcpy(b + VRDMA_VU_NUM_BUFFERS_OFF, &nbufs, 2);
		dev_use(&f->p.rx, id, 100);
		dev_use(&f->p.rx, id, 100);
		assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why),
				 -EPROTO);
		assert_non_null(why);
		assert_non_null(
			strstr(why, nbufs == 1 ? "twice" : "bad id or length"));
		if (nbufs == 2)
			assert_int_equal(recv(f->ns, got, sizeof(got), 0), -1);
		fx_free(f);
	}
}

/* A used index further ahead than the ring holds is refused too. */
static void
test_rx_impossible_used_idx(void **state)
{
	struct fx *f = fx_new(false);
	const char *why = NULL;
	bool more = false;

	(void)state;
	__atomic_store_n(&f->p.rx.used->idx, (uint16_t)(RING + 1),
			 __ATOMIC_RELEASE);
	assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why), -EPROTO);
	assert_non_null(why);
	assert_int_equal(f->p.rx.bad_used, 1);
	fx_free(f);
}

/* Frames queued before a connection are read and dropped whatever their
 * size, counted as drops towards the switch and never put on the ring;
 * the namespace's frames after that pass as usual. */
static void
test_tap_discard(void **state)
{
	struct fx *f = fx_new(false);
	const char *why = NULL;
	bool more = false;

	(void)state;
	ns_send(f, HDR + 60, 1);
	ns_send(f, HDR + 1500, 2);
	ns_send(f, VRDMA_VU_TX_BUF_SIZE, 3);
	assert_int_equal(vrdma_vu_tap_discard(&f->p), 3);
	assert_int_equal(f->p.to_switch.drops, 3);
	assert_int_equal(f->p.to_switch.frames, 0);
	assert_int_equal(tap_drain(f), 0);
	assert_int_equal(vrdma_vu_tap_discard(&f->p), 0);
	ns_send(f, HDR + 60, 4);
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_int_equal(f->p.to_switch.frames, 1);
	assert_int_equal(f->p.to_switch.drops, 3);
	assert_null(why);
	fx_free(f);
}

/* Requests the kernel has taken from f's ring so far. */
static unsigned int
sqes_taken(const struct fx *f)
{
	return __atomic_load_n(f->p.uring->sq.khead, __ATOMIC_ACQUIRE);
}

/* Nothing of f's ring is left to submit or to reap. */
static void
assert_ring_idle(const struct fx *f)
{
	assert_int_equal(io_uring_sq_ready(f->p.uring), 0);
	assert_int_equal(io_uring_cq_ready(f->p.uring), 0);
}

/* After a call that read 8 frames, 10 frames queued are read by one
 * batch of 16 reads: 10 frames and 6 -EAGAINs, one submission (a second
 * batch would take more requests). The next call starts with 20 reads,
 * twice the frames. */
static void
test_uring_tx_one_submission(void **state)
{
	struct fx *f = fx_new(false);
	const struct vrdma_vring_desc *d;
	const char *why = NULL;
	bool more = false;
	unsigned int before;
	uint16_t id;

	(void)state;
	f->p.uring_reads = 16;
	for (unsigned int i = 0; i < 10; i++)
		ns_send(f, 100 + i, i);
	before = sqes_taken(f);
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_int_equal(sqes_taken(f) - before, 16);
	assert_false(more);
	assert_int_equal(f->p.to_switch.frames, 10);
	/* In the tap's order. */
	for (unsigned int i = 0; i < 10; i++) {
		assert_true(dev_take(&f->p.tx, &f->tx_seen, &id, &d));
		assert_int_equal(d->len, 100 + i);
	}
	assert_int_equal(f->p.tx_nfree, f->p.tx_num - 10);
	assert_int_equal(f->p.uring_reads, 20);
	assert_int_equal(eventfd_take(f->p.kick[1]), 1);
	assert_ring_idle(f);
	fx_free(f);
}

/* A lone frame (ping-pong) takes one submission of two reads, and so
 * does the next; a burst grows the batches to the budget. */
static void
test_uring_tx_batch_size(void **state)
{
	struct fx *f = fx_new(false);
	const char *why;
	bool more = false;
	unsigned int before;

	(void)state;
	assert_int_equal(f->p.uring_reads, VRDMA_VU_URING_MIN_READS);
	for (int round = 0; round < 2; round++) {
		ns_send(f, 60, 1);
		before = sqes_taken(f);
		assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
		assert_int_equal(sqes_taken(f) - before, 2);
		assert_int_equal(f->p.uring_reads, 2);
	}
	/* 100 frames: batches of 2, 4, 8, 16, 32 and the 2 left of the
	 * budget, all full; the next call starts with a whole burst. */
	for (unsigned int i = 0; i < 100; i++)
		ns_send(f, 60, i);
	before = sqes_taken(f);
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_true(more);
	assert_int_equal(sqes_taken(f) - before, VRDMA_VU_BURST);
	assert_int_equal(f->p.to_switch.frames, 2 + VRDMA_VU_BURST);
	assert_int_equal(f->p.uring_reads, VRDMA_VU_BURST);
	/* The 36 left: one batch as large as the free buffers (62 of 128:
	 * the switch has not given any back), then a batch of twice 36 is
	 * more than a burst. */
	before = sqes_taken(f);
	more = false;
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_false(more);
	assert_int_equal(sqes_taken(f) - before, RING - 2 - VRDMA_VU_BURST);
	assert_int_equal(f->p.to_switch.frames, 102);
	assert_int_equal(f->p.uring_reads, VRDMA_VU_BURST);
	fx_free(f);
}

/* An empty tap answers -EAGAIN at once: the call returns (it would hang
 * here if a read waited for a frame), lends nothing and leaves nothing
 * in flight; a frame sent afterwards is read by the next call. */
static void
test_uring_tx_empty(void **state)
{
	struct fx *f = fx_new(false);
	const char *why = NULL;
	bool more = false;

	(void)state;
	f->p.uring_reads = VRDMA_VU_BURST;
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_false(more);
	assert_int_equal(f->p.to_switch.frames, 0);
	assert_int_equal(f->p.to_switch.drops, 0);
	assert_int_equal(f->p.tx_nfree, f->p.tx_num);
	assert_int_equal(f->p.tx.avail->idx, 0);
	assert_int_equal(eventfd_take(f->p.kick[1]), 0);
	assert_int_equal(f->p.uring_reads, VRDMA_VU_URING_MIN_READS);
	assert_ring_idle(f);
	ns_send(f, 200, 1);
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_int_equal(f->p.to_switch.frames, 1);
	assert_int_equal(tap_drain(f), 0);
	assert_null(why);
	fx_free(f);
}

/* A burst of frames, one of them merged from two buffers, goes to the
 * namespace with one submission, in order; a lone frame by writev. */
static void
test_uring_rx_one_submission(void **state)
{
	struct fx *f = fx_new(false);
	static uint8_t expect[5][FRAME_MAX], got[FRAME_MAX];
	static const size_t len[5] = {60, 1514, 2 * VRDMA_VU_RX_BUF_SIZE, 100,
				      42};
	const char *why = NULL;
	bool more = false;
	unsigned int before;

	(void)state;
	for (unsigned int i = 0; i < 5; i++)
		dev_rx_frame(f, len[i], i == 2 ? 2 : 1, i == 2 ? 2 : 1, i,
			     expect[i]);
	before = sqes_taken(f);
	assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why), 0);
	assert_int_equal(sqes_taken(f) - before, 5);
	assert_ring_idle(f);
	for (unsigned int i = 0; i < 5; i++) {
		assert_int_equal(recv(f->ns, got, sizeof(got), 0),
				 (ssize_t)len[i]);
		assert_memory_equal(got, expect[i], len[i]);
	}
	assert_int_equal(f->p.from_switch.frames, 5);
	assert_int_equal(f->p.rx.avail->idx, RING + 6);

	dev_rx_frame(f, 300, 1, 1, 9, expect[0]);
	before = sqes_taken(f);
	assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why), 0);
	assert_int_equal(sqes_taken(f) - before, 0);
	assert_int_equal(recv(f->ns, got, sizeof(got), 0), 300);
	assert_int_equal(f->p.from_switch.frames, 6);
	assert_null(why);
	fx_free(f);
}

/* A tap with no room answers -EAGAIN: the frames are dropped and
 * counted, as with writev on the non-blocking fd, and the call does not
 * wait for room; every buffer goes back to the switch. */
static void
test_uring_rx_tap_full(void **state)
{
	struct fx *f = fx_new(false);
	static uint8_t expect[FRAME_MAX];
	int small = 4096;
	const char *why;
	bool more = false;

	(void)state;
	assert_int_equal(setsockopt(f->p.tap, SOL_SOCKET, SO_SNDBUF, &small,
				    sizeof(small)),
			 0);
	for (unsigned int i = 0; i < 32; i++)
		dev_rx_frame(f, 4000, 1, 1, i, expect);
	assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why), 0);
	assert_true(f->p.from_switch.drops > 0);
	assert_true(f->p.from_switch.frames > 0);
	assert_int_equal(f->p.from_switch.frames + f->p.from_switch.drops, 32);
	assert_int_equal(f->p.rx.avail->idx, RING + 32);
	assert_ring_idle(f);
	fx_free(f);
}

/* A ring that fails inside the loops (its fd gone) is given up for read
 * and writev, with the reason for the owner to log; no frame is lost. */
static void
test_uring_given_up(void **state)
{
	static uint8_t expect[FRAME_MAX], got[FRAME_MAX];
	const char *why = NULL;
	bool more = false;
	struct fx *f;

	(void)state;
	f = fx_new(false);
	ns_send(f, 100, 1);
	ns_send(f, 101, 2);
	close(f->p.uring->ring_fd);
	assert_int_equal(vrdma_vu_tap_to_switch(&f->p, &more, &why), 0);
	assert_null(f->p.uring);
	assert_int_equal(f->p.uring_err, EBADF);
	assert_int_equal(f->p.to_switch.frames, 2);
	assert_int_equal(tap_drain(f), 0);
	fx_free(f);

	f = fx_new(false);
	dev_rx_frame(f, 100, 1, 1, 1, expect);
	dev_rx_frame(f, 200, 1, 1, 2, expect);
	close(f->p.uring->ring_fd);
	assert_int_equal(vrdma_vu_switch_to_tap(&f->p, &more, &why), 0);
	assert_null(f->p.uring);
	assert_int_equal(f->p.uring_err, EBADF);
	assert_int_equal(f->p.from_switch.frames, 2);
	assert_int_equal(recv(f->ns, got, sizeof(got), 0), 100);
	assert_int_equal(recv(f->ns, got, sizeof(got), 0), 200);
	assert_int_equal(f->p.rx.avail->idx, RING + 2);
	fx_free(f);
	assert_null(why);
}

/* In a child that seccomp forbids io_uring_setup (EPERM, what
 * kernel.io_uring_disabled=2 answers too): vrdma_vu_uring_init says so
 * and leaves the pair on read and writev, which carry a frame each way.
 * Exits 0 when all of that holds. */
static void
uring_refused_child(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {ARRAY_SIZE(code), code};
	static uint8_t expect[FRAME_MAX], got[FRAME_MAX];
	const char *why;
	bool more = false;
	struct fx *f;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		_exit(2);
	f = fx_new(false);
	if (vrdma_vu_uring_init(&f->p) != -EPERM || f->p.uring != NULL)
		_exit(3);
	ns_send(f, 100, 1);
	dev_rx_frame(f, 200, 1, 1, 2, expect);
	dev_rx_frame(f, 300, 1, 1, 3, expect);
	if (vrdma_vu_tap_to_switch(&f->p, &more, &why) != 0 ||
	    vrdma_vu_switch_to_tap(&f->p, &more, &why) != 0)
		_exit(4);
	if (f->p.to_switch.frames != 1 || f->p.from_switch.frames != 2 ||
	    recv(f->ns, got, sizeof(got), 0) != 200 ||
	    recv(f->ns, got, sizeof(got), 0) != 300)
		_exit(5);
	fx_free(f);
	_exit(0);
}

static void
test_uring_refused(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		uring_refused_child();
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int
uring_on(void **state)
{
	(void)state;
	with_uring = true;
	return 0;
}

static int
uring_off(void **state)
{
	(void)state;
	with_uring = false;
	return 0;
}

/* Test f on the plain path, then through io_uring. */
#define BOTH(f)                                              \
	cmocka_unit_test(f),                                 \
	{                                                    \
#f "_io_uring", f, uring_on, uring_off, NULL \
	}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset),
		BOTH(test_tx_one_frame),
		BOTH(test_tx_large_frame),
		BOTH(test_tx_short_frames),
		BOTH(test_tx_burst_budget),
		BOTH(test_tx_ring_full),
		BOTH(test_tx_bad_used),
		BOTH(test_rx_one_frame),
		BOTH(test_rx_merged_frame),
		BOTH(test_rx_partial_frame),
		BOTH(test_rx_tap_write_fails),
		BOTH(test_rx_burst_budget),
		BOTH(test_rx_bad_used),
		BOTH(test_rx_buffer_returned_twice),
		BOTH(test_rx_impossible_used_idx),
		BOTH(test_tap_discard),
		cmocka_unit_test_setup_teardown(test_uring_tx_one_submission,
						uring_on, uring_off),
		cmocka_unit_test_setup_teardown(test_uring_tx_batch_size,
						uring_on, uring_off),
		cmocka_unit_test_setup_teardown(test_uring_tx_empty, uring_on,
						uring_off),
		cmocka_unit_test_setup_teardown(test_uring_rx_one_submission,
						uring_on, uring_off),
		cmocka_unit_test_setup_teardown(test_uring_rx_tap_full,
						uring_on, uring_off),
		cmocka_unit_test_setup_teardown(test_uring_given_up, uring_on,
						uring_off),
		cmocka_unit_test(test_uring_refused),
	};

	/* A write to a closed tap must fail, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
