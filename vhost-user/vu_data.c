/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data path of vrdma-vhost-ns: queue pair layout and the two copy
 * loops; see vu_data.h for the contract. The switch is not trusted: every
 * id, length and buffer count it returns is checked before use.
 */
#include "vu_data.h"

#include <errno.h>
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
	vrdma_vring_publish(&p->rx);
	/* Calls for received frames; tx completions are reclaimed
	 * lazily and asked for only when the ring fills. */
	vrdma_vring_interrupts(&p->rx, !p->busy_poll);
	vrdma_vring_interrupts(&p->tx, false);
	vrdma_vu_drain_eventfd(p->call[0]);
	vrdma_vu_drain_eventfd(p->call[1]);
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
	while (p->tx_nfree > 0 && n < VRDMA_VU_BURST) {
		uint16_t id = p->tx_free[p->tx_nfree - 1];
		size_t off = p->tx_buf_off + (size_t)id * VRDMA_VU_TX_BUF_SIZE;
		ssize_t len = read(p->tap, p->mem + off, VRDMA_VU_TX_BUF_SIZE);

		if (len <= 0)
			break; /* EAGAIN: drained; else the tap is gone */
		if (len <= VRDMA_VU_VNET_HDR_LEN) {
			p->to_switch.drops++;
			continue;
		}
		memset(p->mem + off + VRDMA_VU_NUM_BUFFERS_OFF, 0, 2);
		p->tx_nfree--;
		p->tx_busy[id] = true;
		vrdma_vring_post(&p->tx, id, vrdma_vu_gpa(off), (uint32_t)len,
				 0);
		p->to_switch.frames++;
		p->to_switch.bytes += (uint64_t)len - VRDMA_VU_VNET_HDR_LEN;
		n++;
	}
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

/* Switch to namespace: each frame is one or more used rx buffers (the
 * first header's num_buffers says how many); write them to the tap as
 * one iovec and give the buffers back. */
int
vrdma_vu_switch_to_tap(struct vrdma_vu_qpair *p, bool *more, const char **why)
{
	struct iovec iov[VRDMA_VU_BURST];
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
		if (writev(p->tap, iov, nbufs) == (ssize_t)total) {
			p->from_switch.frames++;
			p->from_switch.bytes += total - VRDMA_VU_VNET_HDR_LEN;
		} else {
			p->from_switch.drops++;
		}
		vrdma_vring_consume(&p->rx, nbufs);
		memcpy(repost + posted, ids, nbufs * sizeof(ids[0]));
		posted += nbufs;
		frames++;
	}
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
