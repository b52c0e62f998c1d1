/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the vrdma-vhost-ns handshake (vhost-user/vu_ctl.c) against
 * a fake switch: a thread on the far end of a socketpair that answers
 * vhost-user messages the way DPDK's vhost library does, offering
 * REPLY_ACK or not, refusing one request, or hanging up instead of
 * answering the GET_FEATURES barrier; it records every request and its
 * flags for the test to check once it has joined. The memory and the
 * rings are the real ones (a memfd); the rest of the process is stubbed
 * below: the log is captured, the event loop and the tap ioctls are
 * no-ops, the carrier is recorded. Covered: acknowledged ring set-up and
 * a refusal named in the log; without REPLY_ACK, no carrier before the
 * switch answered the GET_FEATURES barrier; one deadline for a whole
 * reply, not per read; frames left in the tap from before a reconnect
 * dropped and counted, not sent.
 */

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vu_ctl.h"
#include "vu_data.h"
#include "vu_proto.h"
#include "vu_tap.h"

#define RING	      128
#define MAX_SEEN      256
#define NEED_REPLY    (1u << 3) /* the spec's value, not ours */
#define REPLY_ACK_BIT 3		/* likewise */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- stubs for the rest of vrdma-vhost-ns ---- */

static char log_text[4096]; /* every line since the last reset */
static unsigned int carrier_ups;
static bool carrier_on;

void
vrdma_vns_log(const struct vrdma_vns *v, const char *fmt, ...)
{
	size_t used = strlen(log_text);
	va_list ap;

	(void)v;
	va_start(ap, fmt);
	vsnprintf(log_text + used, sizeof(log_text) - used, fmt, ap);
	va_end(ap);
	fprintf(stderr, "# log: %s\n", log_text + used);
	used = strlen(log_text);
	if (used + 1 < sizeof(log_text))
		strcpy(log_text + used, "\n");
}

int
vrdma_vns_ep_set(struct vrdma_vns *v, int op, int fd, uint32_t events,
		 enum vrdma_vns_ev kind, unsigned int q)
{
	(void)v, (void)op, (void)fd, (void)events, (void)kind, (void)q;
	return 0;
}

void
vrdma_vns_ep_del(struct vrdma_vns *v, int fd)
{
	(void)v, (void)fd;
}

void
vrdma_vu_tap_carrier(struct vrdma_vns *v, bool on)
{
	(void)v;
	carrier_on = on;
	if (on)
		carrier_ups++;
}

unsigned int
vrdma_vu_tap_offloads(uint64_t features)
{
	(void)features;
	return 0;
}

int
vrdma_vu_tap_offload(struct vrdma_vns *v, unsigned int off)
{
	(void)v, (void)off;
	return 0;
}

/* ---- the fake switch ---- */

struct backend {
	int fd;
	pthread_t thread;
	bool running; /* thread not joined yet */
	/* How it behaves, set before it starts. */
	bool reply_ack;		 /* offer the REPLY_ACK protocol feature */
	uint32_t refuse;	 /* ack this request with 1 (0: none) */
	bool hang_up_barrier;	 /* close instead of a second GET_FEATURES */
	unsigned int trickle_ms; /* first reply a byte at a time (0: whole) */
	/* What it saw, read after the join. */
	unsigned int n;
	uint64_t proto_set; /* SET_PROTOCOL_FEATURES' value */
	uint32_t req[MAX_SEEN];
	uint32_t flags[MAX_SEEN];
};

static uint64_t
offered_features(void)
{
	return VRDMA_BIT(VRDMA_VIRTIO_F_VERSION_1) |
	       VRDMA_BIT(VRDMA_VIRTIO_NET_F_MRG_RXBUF) |
	       VRDMA_BIT(VRDMA_VHOST_USER_F_PROTOCOL_FEATURES) |
	       VRDMA_BIT(VRDMA_VIRTIO_RING_F_EVENT_IDX) |
	       VRDMA_BIT(VRDMA_VIRTIO_NET_F_MQ);
}

/* Send len bytes, at once or trickled a byte every trickle_ms. */
static int
send_reply(struct backend *b, const uint8_t *buf, size_t len)
{
	struct timespec gap = {
		.tv_nsec = (long)b->trickle_ms * 1000000,
	};

	if (b->trickle_ms == 0)
		return send(b->fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0
									   : -1;
	for (size_t i = 0; i < len; i++) {
		if (send(b->fd, buf + i, 1, MSG_NOSIGNAL) != 1)
			return -1;
		nanosleep(&gap, NULL);
	}
	b->trickle_ms = 0;
	return 0;
}

static int
send_u64(struct backend *b, uint32_t req, uint64_t value)
{
	struct vrdma_vu_hdr hdr = {
		.request = req,
		.flags = VRDMA_VU_VERSION | VRDMA_VU_FLAG_REPLY,
		.size = sizeof(value),
	};
	uint8_t buf[sizeof(hdr) + sizeof(value)];

	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), &value, sizeof(value));
	return send_reply(b, buf, sizeof(buf));
}

/* One message in: the header with any file descriptors (closed here),
 * then the payload. Returns 0, or -1 at the end of the connection. */
static int
recv_msg(struct backend *b, struct vrdma_vu_hdr *hdr,
	 union vrdma_vu_payload *payload)
{
	char cbuf[CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov = {.iov_base = hdr, .iov_len = sizeof(*hdr)};
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;

	if (recvmsg(b->fd, &mh, MSG_WAITALL) != sizeof(*hdr))
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < nfd; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			close(fd);
		}
	}
	if (hdr->size > sizeof(*payload))
		return -1;
	if (hdr->size > 0 &&
	    recv(b->fd, payload, hdr->size, MSG_WAITALL) != (ssize_t)hdr->size)
		return -1;
	return 0;
}

static void *
backend_run(void *arg)
{
	struct backend *b = arg;
	unsigned int get_features = 0;
	union vrdma_vu_payload payload;
	struct vrdma_vu_hdr hdr;
	int ret = 0;

	while (ret == 0 && recv_msg(b, &hdr, &payload) == 0) {
		if (b->n < MAX_SEEN) {
			b->req[b->n] = hdr.request;
			b->flags[b->n] = hdr.flags;
			b->n++;
		}
		switch (hdr.request) {
		case VRDMA_VU_GET_FEATURES:
			if (++get_features > 1 && b->hang_up_barrier)
				ret = -1;
			else
				ret = send_u64(b, hdr.request,
					       offered_features());
			break;
		case VRDMA_VU_GET_PROTOCOL_FEATURES:
			ret = send_u64(
				b, hdr.request,
				VRDMA_BIT(VRDMA_VU_PROTOCOL_F_MQ) |
					(b->reply_ack ? VRDMA_BIT(REPLY_ACK_BIT)
						      : 0));
			break;
		case VRDMA_VU_SET_PROTOCOL_FEATURES:
			b->proto_set = payload.u64;
			break;
		case VRDMA_VU_GET_QUEUE_NUM:
			ret = send_u64(b, hdr.request, VRDMA_VNS_MAX_QUEUES);
			break;
		default:
			/* As DPDK: an ack when asked for one, whether or not
			 * REPLY_ACK was negotiated. */
			if (hdr.flags & NEED_REPLY)
				ret = send_u64(b, hdr.request,
					       hdr.request == b->refuse);
			break;
		}
	}
	close(b->fd);
	return NULL;
}

/* ---- the frontend ---- */

struct fx {
	struct vrdma_vns v;
	struct backend b;
	int ns; /* the namespace's end of the "tap", a SEQPACKET pair */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vrdma_vns *v;
	int sv[2];

	assert_non_null(f);
	v = &f->v;
	v->o.socket = "(socketpair)";
	v->o.name = "test";
	v->o.queues = 1;
	v->o.ring = RING;
	v->o.offloads = true;
	/* Long enough for a loaded machine; the trickle test shortens it. */
	v->reply_ms = 2000;
	v->epfd = v->sigfd = v->timerfd = v->listenfd = -1;
	v->sock = v->memfd = -1;
	for (unsigned int q = 0; q < VRDMA_VNS_MAX_QUEUES; q++)
		v->qp[q].tap = -1;
	assert_int_equal(vrdma_vu_qpair_init(&v->qp[0], 0, RING, false), 0);
	assert_int_equal(
		socketpair(AF_UNIX,
			   SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
			   sv),
		0);
	v->qp[0].tap = sv[0];
	f->ns = sv[1];
	assert_int_equal(vrdma_vu_ctl_mem_create(v), 0);
	log_text[0] = '\0';
	carrier_ups = 0;
	carrier_on = false;
	*state = f;
	return 0;
}

/* Start the fake switch as configured in f->b and shake hands with it. */
static void
shake_hands(struct fx *f)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	f->b.fd = sv[1];
	f->b.n = 0;
	assert_int_equal(pthread_create(&f->b.thread, NULL, backend_run, &f->b),
			 0);
	f->b.running = true;
	vrdma_vu_ctl_attach(&f->v, sv[0]);
}

/* End the connection (if still up) and wait for the switch to see it. */
static void
hang_up(struct fx *f)
{
	vrdma_vu_ctl_disconnect(&f->v, "test over");
	assert_int_equal(f->v.sock, -1);
	f->b.running = false;
	assert_int_equal(pthread_join(f->b.thread, NULL), 0);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	/* After a failed assertion the connection may still be up. */
	if (f->b.running)
		hang_up(f);
	for (int i = 0; i < 2; i++) {
		close(f->v.qp[0].kick[i]);
		close(f->v.qp[0].call[i]);
	}
	close(f->v.qp[0].tap);
	close(f->ns);
	free(f->v.qp[0].tx_free);
	free(f->v.qp[0].tx_busy);
	free(f->v.qp[0].rx_busy);
	munmap(f->v.mem, f->v.mem_size);
	close(f->v.memfd);
	free(f);
	return 0;
}

/* Index of the first request req the switch saw at or after from, or -1. */
static int
seen(const struct backend *b, uint32_t req, unsigned int from)
{
	for (unsigned int i = from; i < b->n; i++)
		if (b->req[i] == req)
			return (int)i;
	return -1;
}

static const uint32_t ring_setup[] = {
	VRDMA_VU_SET_MEM_TABLE,	   VRDMA_VU_SET_VRING_NUM,
	VRDMA_VU_SET_VRING_BASE,   VRDMA_VU_SET_VRING_ADDR,
	VRDMA_VU_SET_VRING_CALL,   VRDMA_VU_SET_VRING_KICK,
	VRDMA_VU_SET_VRING_ENABLE,
};

/* With REPLY_ACK offered, it is negotiated and every ring set-up message
 * asks for an ack; the carrier goes up once all were acked. */
static void
test_reply_ack_negotiated(void **state)
{
	struct fx *f = *state;

	f->b.reply_ack = true;
	shake_hands(f);
	assert_true(f->v.connected);
	assert_true(carrier_on);
	hang_up(f);

	assert_true(seen(&f->b, VRDMA_VU_SET_PROTOCOL_FEATURES, 0) >= 0);
	assert_true(f->b.proto_set & VRDMA_BIT(REPLY_ACK_BIT));
	for (size_t i = 0; i < ARRAY_SIZE(ring_setup); i++) {
		unsigned int n = 0;

		for (unsigned int j = 0; j < f->b.n; j++) {
			if (f->b.req[j] != ring_setup[i])
				continue;
			assert_true(f->b.flags[j] & NEED_REPLY);
			n++;
		}
		assert_true(n > 0);
	}
}

/* Without REPLY_ACK no message asks for an ack, and a GET_FEATURES after
 * the last SET_VRING_ENABLE confirms the set-up before the carrier. */
static void
test_barrier_without_reply_ack(void **state)
{
	struct fx *f = *state;
	int enable = -1, at;

	shake_hands(f);
	assert_true(f->v.connected);
	hang_up(f);
	for (unsigned int j = 0; j < f->b.n; j++) {
		assert_false(f->b.flags[j] & NEED_REPLY);
		if (f->b.req[j] == VRDMA_VU_SET_VRING_ENABLE)
			enable = (int)j;
	}
	assert_true(enable > 0);
	at = seen(&f->b, VRDMA_VU_GET_FEATURES, (unsigned int)enable);
	assert_int_equal(at, enable + 1);
}

/* A switch that goes away instead of answering the barrier never sees
 * the carrier up: the handshake failed. */
static void
test_barrier_unanswered(void **state)
{
	struct fx *f = *state;

	f->b.hang_up_barrier = true;
	shake_hands(f);
	assert_false(f->v.connected);
	assert_int_equal(carrier_ups, 0);
	assert_false(carrier_on);
	hang_up(f);
}

/* A refused ring set-up message ends the handshake with its name in the
 * log; the carrier stays down. */
static void
test_refusal_named(void **state)
{
	struct fx *f = *state;
	char want[64];

	for (size_t i = 0; i < ARRAY_SIZE(ring_setup); i++) {
		f->b.reply_ack = true;
		f->b.refuse = ring_setup[i];
		log_text[0] = '\0';
		shake_hands(f);
		assert_false(f->v.connected);
		assert_int_equal(carrier_ups, 0);
		hang_up(f);
		snprintf(want, sizeof(want), "refused %s",
			 vrdma_vu_request_name(ring_setup[i]));
		assert_non_null(strstr(log_text, want));
	}
}

/* A switch that trickles its reply a byte at a time, each within any
 * per-read timeout, is given up on once the reply as a whole is late. */
static void
test_trickled_reply_times_out(void **state)
{
	struct fx *f = *state;

	f->v.reply_ms = 100;
	f->b.trickle_ms = 30; /* 20 bytes: 600 ms for the whole reply */
	shake_hands(f);
	assert_false(f->v.connected);
	assert_int_equal(carrier_ups, 0);
	assert_non_null(strstr(log_text, "no reply to GET_FEATURES"));
	assert_non_null(strstr(log_text, "timed out"));
	hang_up(f);
}

/* Frames the namespace queued in the tap while the switch was away were
 * built for the offloads of the last connection; a new connection drops
 * them (counted) instead of sending them. */
static void
test_reconnect_drops_queued_tap_frames(void **state)
{
	struct fx *f = *state;
	struct vrdma_vu_qpair *p = &f->v.qp[0];
	uint8_t frame[VRDMA_VU_VNET_HDR_LEN + 60];
	uint64_t drops;

	shake_hands(f);
	assert_true(f->v.connected);
	hang_up(f);
	memset(frame, 0, sizeof(frame));
	for (int i = 0; i < 3; i++)
		assert_int_equal(send(f->ns, frame, sizeof(frame), 0),
				 (ssize_t)sizeof(frame));
	drops = p->to_switch.drops;
	shake_hands(f);
	assert_true(f->v.connected);
	assert_int_equal(recv(p->tap, frame, sizeof(frame), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(p->to_switch.drops - drops, 3);
	assert_int_equal(p->to_switch.frames, 0);
	assert_non_null(strstr(log_text, "3 frames"));
	hang_up(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reply_ack_negotiated,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_barrier_without_reply_ack,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_barrier_unanswered, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refusal_named, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_trickled_reply_times_out,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_reconnect_drops_queued_tap_frames, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
