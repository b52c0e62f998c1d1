/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data path of vrdma-vhost-ns: queue pair layout and the two copy
 * loops; see vu_data.h for the contract. The switch is not trusted: every
 * id, length and buffer count it returns is checked before use. The tap
 * is read and written either one frame per system call (read, writev) or
 * in batches through an io_uring, one io_uring_enter per batch.
 */
#include "vu_data.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

unsigned int
vrdma_vu_tx_ring(unsigned int ring)
{
	return ring < VRDMA_VU_TX_RING_MAX ? ring : VRDMA_VU_TX_RING_MAX;
}

size_t
vrdma_vu_qpair_bytes(unsigned int ring)
{
	unsigned int tx = vrdma_vu_tx_ring(ring);

	return vrdma_vring_size((uint16_t)ring) +
	       vrdma_vring_size((uint16_t)tx) + 4096 +
	       (size_t)ring * VRDMA_VU_RX_BUF_SIZE +
	       (size_t)tx * VRDMA_VU_TX_BUF_SIZE;
}

int
vrdma_vu_qpair_init(struct vrdma_vu_qpair *p, unsigned int index,
		    unsigned int ring, bool busy_poll)
{
	unsigned int tx = vrdma_vu_tx_ring(ring);

	p->index = index;
	p->rx_num = (uint16_t)ring;
	p->tx_num = (uint16_t)tx;
	p->busy_poll = busy_poll;
	p->tx_free = calloc(tx, sizeof(*p->tx_free));
	p->tx_busy = calloc(tx, sizeof(*p->tx_busy));
	p->rx_busy = calloc(ring, sizeof(*p->rx_busy));
	for (int i = 0; i < 2; i++) {
		p->kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		p->call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->kick[i] < 0 || p->call[i] < 0)
			return -1;
	}
	if (!p->tx_free || !p->tx_busy || !p->rx_busy)
		return -1;
	return 0;
}

void
vrdma_vu_qpair_place(struct vrdma_vu_qpair *p, uint8_t *mem, size_t base)
{
	size_t rx = vrdma_vring_size(p->rx_num),
	       tx = vrdma_vring_size(p->tx_num);

	p->mem = mem;
	p->rx_ring_off = base;
	p->tx_ring_off = base + rx;
	p->rx_buf_off = (base + rx + tx + 4095) & ~(size_t)4095;
	p->tx_buf_off =
		p->rx_buf_off + (size_t)p->rx_num * VRDMA_VU_RX_BUF_SIZE;
}

unsigned int
vrdma_vu_tap_discard(struct vrdma_vu_qpair *p)
{
	/* A tap read into a short buffer still takes the whole frame off
	 * its queue (as a SEQPACKET socket does), but the buffer must hold
	 * the virtio-net header or the read fails with EINVAL. */
	uint8_t scratch[256];
	unsigned int n = 0;

	/* Bounded: the namespace keeps sending while we drain. */
	for (unsigned int i = 0; i < 65536; i++) {
		ssize_t len = read(p->tap, scratch, sizeof(scratch));

		if (len < 0 && errno == EINTR)
			continue;
		/* EINVAL: a GSO frame the tap could not describe in a
		 * virtio-net header; it freed the frame all the same. */
		if (len <= 0 && !(len < 0 && errno == EINVAL))
			break; /* EAGAIN: empty; else the loop will see why */
		n++;
	}
	p->to_switch.drops += n;
	return n;
}

void
vrdma_vu_drain_eventfd(int fd)
{
	uint64_t n;

	/* One read takes the whole count (no EFD_SEMAPHORE); a second
	 * would only meet EAGAIN, and a write after this one makes the fd
	 * readable again for epoll (level-triggered). */
	if (read(fd, &n, sizeof(n)) < 0)
		return;
}

static void
kick(int fd)
{
	uint64_t one = 1;

	/* An eventfd write only fails when the counter would overflow,
	 * which means the switch is kicked already. */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

void
vrdma_vu_qpair_reset(struct vrdma_vu_qpair *p, bool event_idx)
{
	uint16_t n = p->rx_num, nt = p->tx_num;

	vrdma_vring_init(&p->rx, p->mem + p->rx_ring_off, n, event_idx);
	vrdma_vring_init(&p->tx, p->mem + p->tx_ring_off, nt, event_idx);
	for (uint16_t id = 0; id < n; id++) {
		vrdma_vring_post(
			&p->rx, id,
			vrdma_vu_gpa(p->rx_buf_off +
				     (size_t)id * VRDMA_VU_RX_BUF_SIZE),
			VRDMA_VU_RX_BUF_SIZE, VRDMA_VRING_DESC_F_WRITE);
		p->rx_busy[id] = true;
	}
	for (uint16_t id = 0; id < nt; id++) {
		p->tx_busy[id] = false;
		p->tx_free[id] = (uint16_t)(nt - 1 - id);
	}
	p->tx_nfree = nt;
	p->tap_paused = false;
	p->uring_reads = VRDMA_VU_URING_MIN_READS;
	vrdma_vring_publish(&p->rx);
	/* Calls for received frames; tx completions are reclaimed
	 * lazily and asked for only when the ring fills. */
	vrdma_vring_interrupts(&p->rx, !p->busy_poll);
	vrdma_vring_interrupts(&p->tx, false);
	vrdma_vu_drain_eventfd(p->call[0]);
	vrdma_vu_drain_eventfd(p->call[1]);
}

/* Requests of one io_uring submission that never ran: a reaped request
 * never carries this result. */
#define URING_NOT_RUN INT32_MIN

int
vrdma_vu_uring_init(struct vrdma_vu_qpair *p)
{
	struct io_uring *ring = calloc(1, sizeof(*ring));
	/* A burst of frames of at most a burst of buffers each. */
	struct iovec *iov =
		calloc((size_t)VRDMA_VU_BURST * VRDMA_VU_BURST, sizeof(*iov));
	int ret;

	if (ring == NULL || iov == NULL) {
		ret = -ENOMEM;
		goto err_free;
	}
	/* SUBMIT_ALL (Linux 5.18): a request refused at submission does not
	 * keep the ones after it back, so that each submission is reaped
	 * whole. Older kernels refuse the flag; uring_run copes without. */
	ret = io_uring_queue_init(VRDMA_VU_BURST, ring,
				  IORING_SETUP_SUBMIT_ALL);
	if (ret == -EINVAL)
		ret = io_uring_queue_init(VRDMA_VU_BURST, ring, 0);
	if (ret < 0)
		goto err_free;
	p->uring = ring;
	p->uring_iov = iov;
	p->uring_reads = VRDMA_VU_URING_MIN_READS;
	p->uring_err = 0;
	return 0;

err_free:
	free(iov);
	free(ring);
	return ret;
}

void
vrdma_vu_uring_exit(struct vrdma_vu_qpair *p)
{
	if (p->uring == NULL)
		return;
	/* Nothing is in flight between calls of the loops: closing the ring
	 * cannot leave a read writing into a buffer. */
	io_uring_queue_exit(p->uring);
	free(p->uring);
	free(p->uring_iov);
	p->uring = NULL;
	p->uring_iov = NULL;
}

/* io_uring failed with -err inside a loop: back to read and writev for
 * good, and tell the owner, who logs. */
static void
uring_give_up(struct vrdma_vu_qpair *p, int err)
{
	vrdma_vu_uring_exit(p);
	p->uring_err = -err;
}

/*
 * Submit the n requests prepared on ring, user_data 0..n-1, and reap
 * them, each result into res[user_data]: one io_uring_enter. Every
 * request is a read or write with RWF_NOWAIT, which completes during the
 * submission (-EAGAIN rather than a poll armed), so the wait never
 * sleeps. Returns 0, or -errno when the ring failed; then the requests
 * it did not run keep URING_NOT_RUN and the caller gives io_uring up,
 * which discards them.
 */
static int
uring_run(struct io_uring *ring, unsigned int n, int32_t *res)
{
	int ret = io_uring_submit_and_wait(ring, n);

	if (ret < 0)
		return ret;
	for (int i = 0; i < ret; i++) {
		struct io_uring_cqe *cqe;
		int r = io_uring_wait_cqe(ring, &cqe);

		if (r < 0)
			return r;
		if (cqe->user_data < n)
			res[cqe->user_data] = cqe->res;
		io_uring_cqe_seen(ring, cqe);
	}
	return (unsigned int)ret == n ? 0 : -EIO;
}

static uint8_t *
tx_buf(const struct vrdma_vu_qpair *p, uint16_t id)
{
	return p->mem + p->tx_buf_off + (size_t)id * VRDMA_VU_TX_BUF_SIZE;
}

static int
tx_reclaim(struct vrdma_vu_qpair *p, const char **why)
{
	uint16_t id;
	uint32_t len;
	int r;

	while ((r = vrdma_vring_peek_used(&p->tx, 0, &id, &len)) == 1) {
		if (!p->tx_busy[id]) {
			*why = "switch returned a tx buffer twice";
			return -EPROTO;
		}
		p->tx_busy[id] = false;
		p->tx_free[p->tx_nfree++] = id;
		vrdma_vring_consume(&p->tx, 1);
	}
	if (r < 0) {
		*why = "switch returned a tx descriptor id out of range";
		return -EPROTO;
	}
	return 0;
}

static void
tap_pause(struct vrdma_vu_qpair *p, bool pause)
{
	if (p->tap_paused == pause)
		return;
	p->tap_paused = pause;
	if (p->on_tap_pause != NULL)
		p->on_tap_pause(p, pause);
}

/* Hand the frame of len bytes just read into free tx buffer id to the
 * switch; a frame no longer than its header carries nothing and is
 * dropped. Returns whether the buffer was lent (taking it off the free
 * list is the caller's). */
static bool
tx_take(struct vrdma_vu_qpair *p, uint16_t id, ssize_t len)
{
	size_t off = p->tx_buf_off + (size_t)id * VRDMA_VU_TX_BUF_SIZE;

	if (len <= VRDMA_VU_VNET_HDR_LEN) {
		p->to_switch.drops++;
		return false;
	}
	memset(p->mem + off + VRDMA_VU_NUM_BUFFERS_OFF, 0, 2);
	p->tx_busy[id] = true;
	vrdma_vring_post(&p->tx, id, vrdma_vu_gpa(off), (uint32_t)len, 0);
	p->to_switch.frames++;
	p->to_switch.bytes += (uint64_t)len - VRDMA_VU_VNET_HDR_LEN;
	return true;
}

/* Up to budget frames from the tap, one read each, until it is empty. */
static unsigned int
tap_read_plain(struct vrdma_vu_qpair *p, unsigned int budget)
{
	unsigned int n = 0;

	while (p->tx_nfree > 0 && n < budget) {
		uint16_t id = p->tx_free[p->tx_nfree - 1];
		ssize_t len = read(p->tap, tx_buf(p, id), VRDMA_VU_TX_BUF_SIZE);

		if (len <= 0)
			break; /* EAGAIN: drained; else the tap is gone */
		if (tx_take(p, id, len)) {
			p->tx_nfree--;
			n++;
		}
	}
	return n;
}

/*
 * Up to a burst of frames from the tap through io_uring: batches of reads
 * into free tx buffers, one io_uring_enter each, until a read finds the
 * tap empty. The first batch is twice the last call's frames (at least
 * VRDMA_VU_URING_MIN_READS), so that a lone frame and the -EAGAIN after
 * it take one system call and a steady stream a burst per call, without
 * paying for dozens of reads into an empty tap; a batch whose reads all
 * got a frame is followed by one twice as large. The reads are issued in
 * order, so the frames go to the switch in the tap's order. Returns the
 * frames lent; when io_uring fails, those lent before (p->uring is NULL
 * then and the caller reads on with read).
 */
static unsigned int
tap_read_uring(struct vrdma_vu_qpair *p)
{
	uint16_t ids[VRDMA_VU_BURST];
	int32_t res[VRDMA_VU_BURST];
	unsigned int want = p->uring_reads, n = 0, reads = 0;
	bool drained = false;

	while (!drained && p->tx_nfree > 0 && n < VRDMA_VU_BURST) {
		unsigned int batch = VRDMA_VU_BURST - n, i;
		int ret;

		if (batch > want)
			batch = want;
		if (batch > p->tx_nfree)
			batch = p->tx_nfree;
		/* Off the free list while the kernel may write them. */
		for (i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(p->uring);

			if (sqe == NULL)
				break; /* not with an empty ring of a burst */
			ids[i] = p->tx_free[--p->tx_nfree];
			io_uring_prep_read(sqe, p->tap, tx_buf(p, ids[i]),
					   VRDMA_VU_TX_BUF_SIZE, 0);
			/* An empty tap answers -EAGAIN now instead of keeping
			 * the read, and the buffer, until a frame comes. */
			sqe->rw_flags = RWF_NOWAIT;
			io_uring_sqe_set_data64(sqe, i);
			res[i] = URING_NOT_RUN;
		}
		batch = i;
		ret = uring_run(p->uring, batch, res);
		for (i = 0; i < batch; i++) {
			if (res[i] == -EOPNOTSUPP && ret == 0)
				ret = res[i]; /* a tap without RWF_NOWAIT */
			if (res[i] > 0)
				reads++;
			else
				drained = true; /* EAGAIN; else as read */
			if (res[i] > 0 && tx_take(p, ids[i], res[i]))
				n++;
			else
				p->tx_free[p->tx_nfree++] = ids[i];
		}
		if (ret < 0) {
			uring_give_up(p, ret);
			return n;
		}
		want *= 2;
	}
	reads *= 2;
	if (reads < VRDMA_VU_URING_MIN_READS)
		reads = VRDMA_VU_URING_MIN_READS;
	p->uring_reads = reads < VRDMA_VU_BURST ? reads : VRDMA_VU_BURST;
	return n;
}

/* Namespace to switch: read frames from the tap straight into tx
 * buffers in shared memory, one descriptor per frame. */
int
vrdma_vu_tap_to_switch(struct vrdma_vu_qpair *p, bool *more, const char **why)
{
	unsigned int n = 0;
	int ret;

	ret = tx_reclaim(p, why);
	if (ret != 0)
		return ret;
	if (p->tap_paused && p->tx_nfree > 0) {
		vrdma_vring_interrupts(&p->tx, false);
		tap_pause(p, false);
	}
	if (p->uring != NULL)
		n = tap_read_uring(p);
	if (p->uring == NULL) /* never had one, or just gave it up */
		n += tap_read_plain(p, VRDMA_VU_BURST - n);
	if (n > 0 && vrdma_vring_publish(&p->tx))
		kick(p->kick[1]);
	if (n == VRDMA_VU_BURST)
		*more = true;
	if (p->tx_nfree == 0 && !p->busy_poll) {
		/* Ring full: stop reading the tap (the kernel queues and
		 * then drops, as a full NIC would) until the switch gives
		 * buffers back. */
		tap_pause(p, true);
		if (vrdma_vring_interrupts(&p->tx, true))
			*more = true;
	}
	return 0;
}

/* Where one frame of a burst lies in p->uring_iov, for io_uring. */
struct tap_frame {
	unsigned int iov; /* first iovec */
	uint16_t nbufs;
	size_t len;
};

/* Count the outcome of writing a frame of len bytes to the tap. */
static void
tap_wrote(struct vrdma_vu_qpair *p, ssize_t ret, size_t len)
{
	if (ret == (ssize_t)len) {
		p->from_switch.frames++;
		p->from_switch.bytes += len - VRDMA_VU_VNET_HDR_LEN;
	} else {
		p->from_switch.drops++;
	}
}

/*
 * Write a burst of frames to the tap through io_uring, one writev request
 * each, all with one io_uring_enter, and count them. The requests are
 * reaped before this returns, so their buffers may be offered again: the
 * kernel reads none of them any more. A lone frame goes by writev, one
 * system call as well, and a cheaper one. When io_uring fails, the frames
 * it did not write go by writev and it is given up.
 */
static void
tap_write_uring(struct vrdma_vu_qpair *p, const struct tap_frame *f,
		unsigned int frames)
{
	int32_t res[VRDMA_VU_BURST];
	unsigned int i;
	int ret;

	if (frames == 1) {
		tap_wrote(p,
			  writev(p->tap, p->uring_iov + f[0].iov, f[0].nbufs),
			  f[0].len);
		return;
	}
	for (i = 0; i < frames; i++)
		res[i] = URING_NOT_RUN;
	for (i = 0; i < frames; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(p->uring);

		if (sqe == NULL)
			break; /* not with an empty ring of a burst */
		io_uring_prep_writev(sqe, p->tap, p->uring_iov + f[i].iov,
				     f[i].nbufs, 0);
		/* A full socket buffer (the unit tests' tap) answers -EAGAIN,
		 * a drop, as writev on the non-blocking fd does, instead of
		 * holding the burst until there is room. */
		sqe->rw_flags = RWF_NOWAIT;
		io_uring_sqe_set_data64(sqe, i);
	}
	ret = uring_run(p->uring, i, res);
	for (i = 0; i < frames; i++) {
		if (res[i] == -EOPNOTSUPP || res[i] == URING_NOT_RUN) {
			if (ret == 0)
				ret = res[i] == -EOPNOTSUPP ? -EOPNOTSUPP
							    : -EIO;
			res[i] = (int32_t)writev(
				p->tap, p->uring_iov + f[i].iov, f[i].nbufs);
		}
		tap_wrote(p, res[i], f[i].len);
	}
	if (ret < 0)
		uring_give_up(p, ret);
}

/* Switch to namespace: each frame is one or more used rx buffers (the
 * first header's num_buffers says how many); write them to the tap as
 * one iovec and give the buffers back. */
int
vrdma_vu_switch_to_tap(struct vrdma_vu_qpair *p, bool *more, const char **why)
{
	struct iovec iov[VRDMA_VU_BURST];
	struct tap_frame out[VRDMA_VU_BURST];
	uint16_t ids[VRDMA_VU_BURST];
	/* Buffers are offered again at the end of the burst, not one frame
	 * at a time: until then a buffer the switch returns a second time is
	 * not busy, and refused. */
	uint16_t repost[VRDMA_VU_BURST * VRDMA_VU_BURST];
	unsigned int frames = 0, posted = 0;
	uint16_t partial = 0;
	int ret = 0;

	while (frames < VRDMA_VU_BURST) {
		uint16_t id, nbufs;
		uint32_t len;
		size_t total = 0;
		int r = vrdma_vring_peek_used(&p->rx, 0, &id, &len);

		if (r == 0)
			break;
		if (r < 0 || !p->rx_busy[id]) {
			*why = r < 0 ? "switch returned an rx descriptor id out "
				       "of range"
				     : "switch returned an rx buffer twice";
			ret = -EPROTO;
			break;
		}
		memcpy(&nbufs,
		       p->mem + p->rx_buf_off +
			       (size_t)id * VRDMA_VU_RX_BUF_SIZE +
			       VRDMA_VU_NUM_BUFFERS_OFF,
		       sizeof(nbufs));
		if (nbufs == 0 || nbufs > VRDMA_VU_BURST) {
			*why = "switch sent a frame with a bad num_buffers";
			ret = -EPROTO;
			break;
		}
		uint16_t taken = 0;

		for (uint16_t k = 0; k < nbufs; k++) {
			r = vrdma_vring_peek_used(&p->rx, k, &id, &len);
			if (r <= 0)
				break;
			if (!p->rx_busy[id] || len > VRDMA_VU_RX_BUF_SIZE ||
			    (k == 0 && len < VRDMA_VU_VNET_HDR_LEN)) {
				r = -1;
				break;
			}
			/* Not busy until offered again: the same id twice in
			 * one frame is refused above. */
			p->rx_busy[id] = false;
			taken++;
			iov[k].iov_base = p->mem + p->rx_buf_off +
					  (size_t)id * VRDMA_VU_RX_BUF_SIZE;
			iov[k].iov_len = len;
			ids[k] = id;
			total += len;
		}
		if (r <= 0) {
			/* Not consumed: still the switch's. */
			for (uint16_t k = 0; k < taken; k++)
				p->rx_busy[ids[k]] = true;
		}
		if (r == 0) {
			/* The rest of the frame is not returned yet. */
			partial = (uint16_t)(nbufs - 1);
			break;
		}
		if (r < 0) {
			*why = "switch returned an rx buffer with a bad id or "
			       "length";
			ret = -EPROTO;
			break;
		}
		if (p->uring != NULL) {
			/* Written with the rest of the burst at its end: the
			 * frame's iovecs are kept till then. */
			memcpy(p->uring_iov + posted, iov,
			       nbufs * sizeof(iov[0]));
			out[frames] = (struct tap_frame){posted, nbufs, total};
		} else {
			tap_wrote(p, writev(p->tap, iov, nbufs), total);
		}
		vrdma_vring_consume(&p->rx, nbufs);
		memcpy(repost + posted, ids, nbufs * sizeof(ids[0]));
		posted += nbufs;
		frames++;
	}
	if (p->uring != NULL && frames > 0)
		tap_write_uring(p, out, frames);
	/* Frames already written give their buffers back even when a later
	 * one was refused. */
	for (unsigned int k = 0; k < posted; k++) {
		vrdma_vring_post(
			&p->rx, repost[k],
			vrdma_vu_gpa(p->rx_buf_off +
				     (size_t)repost[k] * VRDMA_VU_RX_BUF_SIZE),
			VRDMA_VU_RX_BUF_SIZE, VRDMA_VRING_DESC_F_WRITE);
		p->rx_busy[repost[k]] = true;
	}
	if (posted > 0 && vrdma_vring_publish(&p->rx))
		kick(p->kick[0]);
	if (ret < 0)
		return ret;
	if (frames == VRDMA_VU_BURST)
		*more = true;
	else if (!p->busy_poll && vrdma_vring_call_after(&p->rx, partial))
		*more = true;
	return 0;
}
