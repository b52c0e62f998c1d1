/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for vrdma-vhost-ns's data path (vhost-user/vu_data.c,
 * vu_vring.c) against a hostile switch: the switch owns the used rings and
 * writes every byte of the rx buffers it returns, so the input drives it.
 * One queue pair of 8 descriptors lives in an exactly sized heap buffer
 * (AddressSanitizer sees any access past it); its tap is a socketpair.
 * The input is a script of operations, each an opcode byte and its
 * arguments:
 *   0 ID LEN   the switch returns rx descriptor ID (2 bytes) as used, LEN
 *              (2 bytes) written, and the frontend copies to the tap
 *   1 ID       likewise for a tx descriptor, and the frontend reclaims it
 *   2 K NB     num_buffers NB (2 bytes) in the header of rx buffer K%8
 *   3 R IDX    used index of ring R (rx if even) set to IDX (2 bytes)
 *   4 LEN      the namespace sends a frame of LEN (2 bytes) into the tap
 *   5 OFF V    any byte of the shared rings set to V (OFF: 2 bytes)
 * The frontend must either work or refuse with a reason (-EPROTO and
 * why); after a refusal it resets the pair, as a reconnect does. Counters
 * never run backwards. Inputs of odd length run with the tap batched
 * through io_uring (one ring for the whole run, as setting one up per
 * input would cost more than the input), the others with read and
 * writev. Seeds: corpus/vu_data/, from gen_corpus.py.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

#define RING 8

struct cursor {
	const uint8_t *p;
	size_t left;
};

static unsigned int
take(struct cursor *c, unsigned int bytes)
{
	unsigned int v = 0;

	for (unsigned int i = 0; i < bytes && c->left > 0; i++) {
		v |= (unsigned int)c->p[0] << (8 * i);
		c->p++;
		c->left--;
	}
	return v;
}

static void
dev_use(struct vrdma_vring *r, unsigned int id, unsigned int len)
{
	struct vrdma_vring_used_elem *e =
		&r->used->ring[r->used->idx & (r->num - 1)];

	e->id = id;
	e->len = len;
	r->used->idx = (uint16_t)(r->used->idx + 1);
}

static void
drain(int fd)
{
	static uint8_t buf[VRDMA_VU_TX_BUF_SIZE];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* The run's io_uring, set up by the first input that wants one. */
static struct vrdma_vu_qpair uring;

/* Lend the run's io_uring to p (set up on first use). */
static void
uring_lend(struct vrdma_vu_qpair *p)
{
	if (uring.uring == NULL) {
		uring.tap = -1;
		CHECK(vrdma_vu_uring_init(&uring) == 0);
	}
	p->uring = uring.uring;
	p->uring_iov = uring.uring_iov;
	p->uring_reads = VRDMA_VU_URING_MIN_READS;
}

/* Run a data-path call: it works, or it refuses with a reason and the
 * pair is reset as a reconnect would. */
static void
step(struct vrdma_vu_qpair *p, int which)
{
	struct vrdma_vu_dir_stats to = p->to_switch, from = p->from_switch;
	const char *why = NULL;
	bool more = false;
	int r = which == 0 ? vrdma_vu_switch_to_tap(p, &more, &why)
			   : vrdma_vu_tap_to_switch(p, &more, &why);

	CHECK(r == 0 || r == -EPROTO);
	if (r < 0) {
		CHECK(why != NULL && why[0] != '\0');
		vrdma_vu_qpair_reset(p, false);
	}
	CHECK(p->to_switch.frames >= to.frames);
	CHECK(p->from_switch.frames >= from.frames);
	CHECK(p->from_switch.drops >= from.drops);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[VRDMA_VU_TX_BUF_SIZE];
	struct cursor c = {data, size};
	struct vrdma_vu_qpair p = {0};
	size_t bytes = vrdma_vu_qpair_bytes(RING);
	uint8_t *mem = malloc(bytes);
	int sv[2];

	CHECK(mem != NULL);
	memset(mem, 0, bytes);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) == 0);
	CHECK(vrdma_vu_qpair_init(&p, 0, RING, false) == 0);
	vrdma_vu_qpair_place(&p, mem, 0);
	p.tap = sv[0];
	if (size % 2 == 1)
		uring_lend(&p);
	vrdma_vu_qpair_reset(&p, false);
	for (unsigned int ops = 0; c.left > 0 && ops < 256; ops++) {
		unsigned int op = take(&c, 1) % 6, a, b;

		switch (op) {
		case 0:
			a = take(&c, 2);
			b = take(&c, 2);
			dev_use(&p.rx, a, b);
			step(&p, 0);
			drain(sv[1]);
			break;
		case 1:
			a = take(&c, 2);
			dev_use(&p.tx, a, 0);
			step(&p, 1);
			break;
		case 2:
			a = take(&c, 1) % RING;
			b = take(&c, 2);
			memcpy(mem + p.rx_buf_off +
				       (size_t)a * VRDMA_VU_RX_BUF_SIZE +
				       VRDMA_VU_NUM_BUFFERS_OFF,
			       &b, 2);
			break;
		case 3:
			a = take(&c, 1);
			b = take(&c, 2);
			(a % 2 == 0 ? p.rx : p.tx).used->idx = (uint16_t)b;
			break;
		case 4:
			a = take(&c, 2) % sizeof(frame);
			memset(frame, (int)a, a);
			if (a > 0)
				(void)send(sv[1], frame, a, MSG_DONTWAIT);
			step(&p, 1);
			break;
		case 5:
			a = take(&c, 2) % (unsigned int)p.rx_buf_off;
			b = take(&c, 1);
			mem[a] = (uint8_t)b;
			break;
		}
	}
	/* A ring given up inside the loops is gone; the next input that
	 * wants one sets one up again. */
	if (size % 2 == 1 && p.uring == NULL) {
		uring.uring = NULL;
		uring.uring_iov = NULL;
	}
	close(sv[0]);
	close(sv[1]);
	for (int i = 0; i < 2; i++) {
		close(p.kick[i]);
		close(p.call[i]);
	}
	free(p.tx_free);
	free(p.tx_busy);
	free(p.rx_busy);
	free(mem);
	return 0;
}
