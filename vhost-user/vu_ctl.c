/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control side of vrdma-vhost-ns, the vhost-user frontend: the shared
 * memory (a memfd or a hugetlbfs file) that holds every queue pair's rings
 * and buffers, the handshake that hands it to the switch (features,
 * protocol features, owner, memory table, vrings, enable, each acked when
 * the switch offers REPLY_ACK, else one GET_FEATURES after them all as a
 * barrier, before the carrier goes up), and the socket
 * life cycle (listen, accept, connect and reconnect with back-off,
 * disconnect). The switch never speaks unasked, so after the handshake
 * the socket is only watched for its close. vu_proto.c builds and checks
 * the messages; vu_data.c runs the rings once they are handed over;
 * vhost_ns.c's event loop calls in here.
 */
#include "vu_ctl.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "vu_data.h"
#include "vu_proto.h"
#include "vu_tap.h"
#include "vu_vring.h"

#define HUGETLBFS_MAGIC 0x958458f6

/* ---- shared memory and rings ---- */

int
vrdma_vu_ctl_mem_create(struct vrdma_vns *v)
{
	size_t page = 4096, per_q = vrdma_vu_qpair_bytes(v->o.ring);
	struct statfs sfs;
	int flags = MAP_SHARED;

	if (v->o.hugepages != NULL) {
		char path[4096];

		if (statfs(v->o.hugepages, &sfs) != 0 ||
		    (unsigned long)sfs.f_type != HUGETLBFS_MAGIC) {
			vrdma_vns_log(
				v,
				"error: %s is not a hugetlbfs mount; fix: mount "
				"one (vrdma hugepages) or drop --hugepages",
				v->o.hugepages);
			return -1;
		}
		page = (size_t)sfs.f_bsize;
		snprintf(path, sizeof(path), "%s/vrdma-vhost-ns.XXXXXX",
			 v->o.hugepages);
		v->memfd = mkstemp(path);
		if (v->memfd >= 0)
			unlink(path);
		flags |= MAP_POPULATE;
	} else {
		v->memfd = memfd_create("vrdma-vhost-ns", MFD_CLOEXEC);
	}
	if (v->memfd < 0) {
		vrdma_vns_log(v, "error: cannot create shared memory: %s",
			      strerror(errno));
		return -1;
	}
	v->mem_size = (per_q * v->o.queues + page - 1) & ~(page - 1);
	if (ftruncate(v->memfd, (off_t)v->mem_size) != 0) {
		vrdma_vns_log(v,
			      "error: cannot size shared memory to %zu MiB: %s",
			      v->mem_size >> 20, strerror(errno));
		return -1;
	}
	v->mem = mmap(NULL, v->mem_size, PROT_READ | PROT_WRITE, flags,
		      v->memfd, 0);
	if (v->mem == MAP_FAILED) {
		v->mem = NULL;
		vrdma_vns_log(
			v,
			"error: cannot map %zu MiB of shared memory%s: %s; fix: "
			"%s",
			v->mem_size >> 20,
			v->o.hugepages ? " from hugepages" : "",
			strerror(errno),
			v->o.hugepages
				? "reserve more hugepages (vrdma hugepages)"
				: "free some memory");
		return -1;
	}
	for (unsigned int q = 0; q < v->o.queues; q++)
		vrdma_vu_qpair_place(&v->qp[q], v->mem, per_q * q);
	return 0;
}

/* Fresh rings for a new connection (vrdma_vu_qpair_reset). */
static void
rings_reset(struct vrdma_vns *v)
{
	bool event_idx = v->features & VRDMA_BIT(VRDMA_VIRTIO_RING_F_EVENT_IDX);

	for (unsigned int q = 0; q < v->o.queues; q++)
		vrdma_vu_qpair_reset(&v->qp[q], event_idx);
}

/* ---- the control channel ---- */

static int
send_msg(struct vrdma_vns *v, struct vrdma_vu_msg *m, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov[2] = {
		{.iov_base = &m->hdr, .iov_len = sizeof(m->hdr)},
		{.iov_base = &m->payload, .iov_len = m->hdr.size},
	};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	n = sendmsg(v->sock, &mh, MSG_NOSIGNAL);
	if (n != (ssize_t)(sizeof(m->hdr) + m->hdr.size)) {
		vrdma_vns_log(v, "switch: sending %s failed: %s",
			      vrdma_vu_request_name(m->hdr.request),
			      n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

/* Now on CLOCK_MONOTONIC, in milliseconds. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Read len bytes by deadline (now_ms), or fail with -ETIMEDOUT: a
 * deadline for the whole, not a timeout per read, so that a switch
 * trickling a byte at a time cannot hold the event loop for minutes.
 */
static int
recv_full(int sock, void *buf, size_t len, int64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = {.fd = sock, .events = POLLIN};
		int64_t left = deadline - now_ms();
		ssize_t n;
		int ready;

		if (left <= 0)
			return -ETIMEDOUT;
		ready = poll(&pfd, 1, (int)(left < INT_MAX ? left : INT_MAX));
		if (ready < 0 && errno != EINTR)
			return -errno;
		if (ready <= 0)
			continue; /* the deadline is checked above */
		n = recv(sock, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Receive the reply to req, header and payload, into buf; *len is its
 * length. Returns 0 or -1 (logged). */
static int
recv_reply(struct vrdma_vns *v, uint32_t req, uint8_t *buf, size_t *len)
{
	int64_t deadline = now_ms() + v->reply_ms;
	struct vrdma_vu_hdr hdr;
	int ret;

	ret = recv_full(v->sock, &hdr, sizeof(hdr), deadline);
	if (ret == 0 && hdr.size > sizeof(union vrdma_vu_payload)) {
		vrdma_vns_log(v, "switch: reply to %s claims a %u-byte payload",
			      vrdma_vu_request_name(req), hdr.size);
		return -1;
	}
	memcpy(buf, &hdr, sizeof(hdr));
	if (ret == 0)
		ret = recv_full(v->sock, buf + sizeof(hdr), hdr.size, deadline);
	if (ret == -ETIMEDOUT) {
		vrdma_vns_log(v,
			      "switch: no reply to %s: timed out after %u ms",
			      vrdma_vu_request_name(req), v->reply_ms);
		return -1;
	}
	if (ret != 0) {
		vrdma_vns_log(v, "switch: no reply to %s: %s",
			      vrdma_vu_request_name(req), strerror(-ret));
		return -1;
	}
	*len = sizeof(hdr) + hdr.size;
	return 0;
}

/* Send a request that has a reply and check the reply strictly. */
static int
request(struct vrdma_vns *v, struct vrdma_vu_msg *m,
	union vrdma_vu_payload *out)
{
	uint8_t buf[sizeof(struct vrdma_vu_hdr) +
		    sizeof(union vrdma_vu_payload)];
	const char *why;
	uint32_t req = m->hdr.request;
	size_t len;

	if (send_msg(v, m, -1) != 0 || recv_reply(v, req, buf, &len) != 0)
		return -1;
	if (vrdma_vu_reply_parse(buf, len, req, out, &why) != 0) {
		vrdma_vns_log(v, "switch: bad reply to %s: %s",
			      vrdma_vu_request_name(req), why);
		return -1;
	}
	return 0;
}

/*
 * Send a request that has no reply of its own, with fd (or -1). Once
 * REPLY_ACK is negotiated the switch acks it, and a non-zero ack means
 * it failed to carry the request out: the handshake ends there, rather
 * than with the carrier up on rings the switch never took.
 */
static int
command(struct vrdma_vns *v, struct vrdma_vu_msg *m, int fd)
{
	uint8_t buf[sizeof(struct vrdma_vu_hdr) +
		    sizeof(union vrdma_vu_payload)];
	uint32_t req = m->hdr.request;
	uint64_t status;
	const char *why;
	size_t len;

	if (v->reply_ack)
		m->hdr.flags |= VRDMA_VU_FLAG_NEED_REPLY;
	if (send_msg(v, m, fd) != 0)
		return -1;
	if (!v->reply_ack)
		return 0;
	if (recv_reply(v, req, buf, &len) != 0)
		return -1;
	if (vrdma_vu_ack_parse(buf, len, req, &status, &why) != 0) {
		vrdma_vns_log(v, "switch: bad ack to %s: %s",
			      vrdma_vu_request_name(req), why);
		return -1;
	}
	if (status != 0) {
		vrdma_vns_log(v,
			      "error: the switch refused %s (status %" PRIu64
			      "); see its log for why",
			      vrdma_vu_request_name(req), status);
		return -1;
	}
	return 0;
}

static uint64_t
wanted_features(const struct vrdma_vns *v)
{
	uint64_t f = VRDMA_BIT(VRDMA_VIRTIO_RING_F_EVENT_IDX);

	if (v->o.offloads)
		f |= VRDMA_BIT(VRDMA_VIRTIO_NET_F_CSUM) |
		     VRDMA_BIT(VRDMA_VIRTIO_NET_F_GUEST_CSUM) |
		     VRDMA_BIT(VRDMA_VIRTIO_NET_F_GUEST_TSO4) |
		     VRDMA_BIT(VRDMA_VIRTIO_NET_F_GUEST_TSO6) |
		     VRDMA_BIT(VRDMA_VIRTIO_NET_F_HOST_TSO4) |
		     VRDMA_BIT(VRDMA_VIRTIO_NET_F_HOST_TSO6);
	return f;
}

static uint64_t
required_features(const struct vrdma_vns *v)
{
	uint64_t f = VRDMA_BIT(VRDMA_VIRTIO_F_VERSION_1) |
		     VRDMA_BIT(VRDMA_VIRTIO_NET_F_MRG_RXBUF) |
		     VRDMA_BIT(VRDMA_VHOST_USER_F_PROTOCOL_FEATURES);

	if (v->o.queues > 1)
		f |= VRDMA_BIT(VRDMA_VIRTIO_NET_F_MQ);
	return f;
}

/* Virtio makes TSO depend on checksum offload in the same direction:
 * drop what the switch offered without its prerequisite. */
static uint64_t
sane_features(uint64_t f)
{
	if (!(f & VRDMA_BIT(VRDMA_VIRTIO_NET_F_CSUM)))
		f &= ~(VRDMA_BIT(VRDMA_VIRTIO_NET_F_HOST_TSO4) |
		       VRDMA_BIT(VRDMA_VIRTIO_NET_F_HOST_TSO6));
	if (!(f & VRDMA_BIT(VRDMA_VIRTIO_NET_F_GUEST_CSUM)))
		f &= ~(VRDMA_BIT(VRDMA_VIRTIO_NET_F_GUEST_TSO4) |
		       VRDMA_BIT(VRDMA_VIRTIO_NET_F_GUEST_TSO6));
	return f;
}

static int
negotiate(struct vrdma_vns *v)
{
	union vrdma_vu_payload r;
	struct vrdma_vu_msg m;
	unsigned int missing;
	uint64_t f, proto;

	vrdma_vu_msg_none(&m, VRDMA_VU_GET_FEATURES);
	if (request(v, &m, &r) != 0)
		return -1;
	if (vrdma_vu_negotiate(r.u64, wanted_features(v), required_features(v),
			       &f, &missing) != 0) {
		const char *name = vrdma_vu_feature_name(missing);

		vrdma_vns_log(
			v,
			"error: feature mismatch: the switch does not offer "
			"%s (bit %u; it offers 0x%" PRIx64 ")%s",
			name ? name : "?", missing, r.u64,
			missing == VRDMA_VIRTIO_NET_F_MQ
				? "; fix: use --queues 1 or a multiqueue port"
				: "");
		return -1;
	}
	v->features = sane_features(f);

	vrdma_vu_msg_none(&m, VRDMA_VU_GET_PROTOCOL_FEATURES);
	if (request(v, &m, &r) != 0)
		return -1;
	if (v->o.queues > 1 && !(r.u64 & VRDMA_BIT(VRDMA_VU_PROTOCOL_F_MQ))) {
		vrdma_vns_log(
			v, "error: feature mismatch: the switch lacks the MQ "
			   "protocol feature; fix: use --queues 1");
		return -1;
	}
	proto = r.u64 & (VRDMA_BIT(VRDMA_VU_PROTOCOL_F_MQ) |
			 VRDMA_BIT(VRDMA_VU_PROTOCOL_F_REPLY_ACK));
	/* Not acked itself: REPLY_ACK takes effect after this message. */
	v->reply_ack = false;
	vrdma_vu_msg_u64(&m, VRDMA_VU_SET_PROTOCOL_FEATURES, proto);
	if (send_msg(v, &m, -1) != 0)
		return -1;
	v->reply_ack = proto & VRDMA_BIT(VRDMA_VU_PROTOCOL_F_REPLY_ACK);
	if (v->o.queues > 1) {
		vrdma_vu_msg_none(&m, VRDMA_VU_GET_QUEUE_NUM);
		if (request(v, &m, &r) != 0)
			return -1;
		if (r.u64 < v->o.queues) {
			vrdma_vns_log(
				v,
				"error: the switch port takes %" PRIu64
				" queue pairs, asked for %u; fix: --queues %" PRIu64,
				r.u64, v->o.queues, r.u64);
			return -1;
		}
	}
	vrdma_vu_msg_none(&m, VRDMA_VU_SET_OWNER);
	if (command(v, &m, -1) != 0)
		return -1;
	vrdma_vu_msg_u64(&m, VRDMA_VU_SET_FEATURES, v->features);
	return command(v, &m, -1);
}

static int
setup_vring(struct vrdma_vns *v, unsigned int idx, const struct vrdma_vring *r,
	    int kickfd, int callfd)
{
	struct vrdma_vu_vring_addr a = {
		.index = idx,
		.desc_user_addr = (uintptr_t)r->desc,
		.avail_user_addr = (uintptr_t)r->avail,
		.used_user_addr = (uintptr_t)r->used,
	};
	struct vrdma_vu_msg m;

	vrdma_vu_msg_state(&m, VRDMA_VU_SET_VRING_NUM, idx, r->num);
	if (command(v, &m, -1) != 0)
		return -1;
	vrdma_vu_msg_state(&m, VRDMA_VU_SET_VRING_BASE, idx, 0);
	if (command(v, &m, -1) != 0)
		return -1;
	vrdma_vu_msg_addr(&m, &a);
	if (command(v, &m, -1) != 0)
		return -1;
	vrdma_vu_msg_u64(&m, VRDMA_VU_SET_VRING_CALL, idx);
	if (command(v, &m, callfd) != 0)
		return -1;
	vrdma_vu_msg_u64(&m, VRDMA_VU_SET_VRING_KICK, idx);
	return command(v, &m, kickfd);
}

static int
handshake(struct vrdma_vns *v)
{
	struct vrdma_vu_region reg = {
		.guest_phys_addr = VRDMA_VU_GPA_BASE,
		.memory_size = v->mem_size,
		.userspace_addr = (uintptr_t)v->mem,
		.mmap_offset = 0,
	};
	union vrdma_vu_payload r;
	struct vrdma_vu_msg m;

	if (negotiate(v) != 0)
		return -1;
	rings_reset(v);
	vrdma_vu_msg_memory(&m, &reg, 1);
	if (command(v, &m, v->memfd) != 0)
		return -1;
	for (unsigned int q = 0; q < v->o.queues; q++) {
		struct vrdma_vu_qpair *p = &v->qp[q];

		if (setup_vring(v, 2 * q, &p->rx, p->kick[0], p->call[0]) ||
		    setup_vring(v, 2 * q + 1, &p->tx, p->kick[1], p->call[1]))
			return -1;
	}
	for (unsigned int i = 0; i < 2 * v->o.queues; i++) {
		vrdma_vu_msg_state(&m, VRDMA_VU_SET_VRING_ENABLE, i, 1);
		if (command(v, &m, -1) != 0)
			return -1;
	}
	if (v->reply_ack)
		return 0;
	/* Without acks, a GET_FEATURES is the barrier: the switch handles
	 * messages in order, so its reply says that it has taken everything
	 * before, and only then does the carrier go up. A refusal still
	 * goes unseen here, but the switch closes the connection on one,
	 * and that is seen now rather than after the carrier came up. */
	vrdma_vu_msg_none(&m, VRDMA_VU_GET_FEATURES);
	return request(v, &m, &r);
}

/* ---- connection life cycle ---- */

static void
arm_retry(struct vrdma_vns *v, unsigned int seconds)
{
	struct itimerspec t = {.it_value.tv_sec = seconds};

	timerfd_settime(v->timerfd, 0, &t, NULL);
}

void
vrdma_vu_ctl_print_stats(const struct vrdma_vns *v)
{
	for (unsigned int q = 0; q < v->o.queues; q++) {
		const struct vrdma_vu_qpair *p = &v->qp[q];

		vrdma_vns_log(v,
			      "queue %u: to switch %" PRIu64 " frames %" PRIu64
			      " bytes %" PRIu64 " drops; from switch %" PRIu64
			      " frames %" PRIu64 " bytes %" PRIu64 " drops",
			      q, p->to_switch.frames, p->to_switch.bytes,
			      p->to_switch.drops, p->from_switch.frames,
			      p->from_switch.bytes, p->from_switch.drops);
	}
}

void
vrdma_vu_ctl_disconnect(struct vrdma_vns *v, const char *why)
{
	if (v->sock < 0)
		return;
	if (v->connected) {
		vrdma_vns_log(v, "disconnected: %s", why);
		vrdma_vu_ctl_print_stats(v);
	} else {
		vrdma_vns_log(v, "handshake failed: %s", why);
	}
	vrdma_vns_ep_del(v, v->sock);
	close(v->sock);
	v->sock = -1;
	if (v->connected) {
		for (unsigned int q = 0; q < v->o.queues; q++) {
			vrdma_vns_ep_del(v, v->qp[q].tap);
			vrdma_vns_ep_del(v, v->qp[q].call[0]);
			vrdma_vns_ep_del(v, v->qp[q].call[1]);
		}
		vrdma_vu_tap_carrier(v, false);
	}
	if (!v->connected)
		v->failures++;
	v->connected = false;
	v->more_work = false;
	/* A switch that refuses us (a feature mismatch) is retried ever
	 * more slowly, up to every 32 s. */
	if (!v->o.server && !v->stopping)
		arm_retry(v, 1u << (v->failures < 5 ? v->failures : 5));
}

void
vrdma_vu_ctl_attach(struct vrdma_vns *v, int sock)
{
	struct timeval tv = {
		.tv_sec = v->reply_ms / 1000,
		.tv_usec = (v->reply_ms % 1000) * 1000,
	};
	unsigned int off;

	v->sock = sock;
	v->last_wait = NULL;
	/* The handshake is control path and may block, bounded: each reply
	 * by its deadline (recv_full), each send by SO_SNDTIMEO (a message
	 * fits the socket buffer unless the switch stopped reading). */
	setsockopt(v->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (handshake(v) != 0) {
		vrdma_vu_ctl_disconnect(v, "see above");
		return;
	}
	off = vrdma_vu_tap_offloads(v->features);
	if (vrdma_vu_tap_offload(v, off) != 0) {
		vrdma_vu_ctl_disconnect(v, "tap offloads");
		return;
	}
	/* Frames queued in the tap while the switch was away were built
	 * for the last connection's offloads (a 64 KiB TSO frame for a
	 * switch that no longer takes them): drop them, now that the tap
	 * builds new ones for this connection's. */
	for (unsigned int q = 0; q < v->o.queues; q++) {
		unsigned int n = vrdma_vu_tap_discard(&v->qp[q]);

		if (n > 0)
			vrdma_vns_log(v,
				      "queue %u: dropped %u frames queued in "
				      "the tap before this connection",
				      q, n);
	}
	vrdma_vns_ep_set(v, EPOLL_CTL_ADD, v->sock, EPOLLIN | EPOLLRDHUP,
			 VRDMA_VNS_EV_SOCK, ++v->gen);
	for (unsigned int q = 0; q < v->o.queues; q++) {
		struct vrdma_vu_qpair *p = &v->qp[q];

		vrdma_vns_ep_set(v, EPOLL_CTL_ADD, p->tap, EPOLLIN,
				 VRDMA_VNS_EV_TAP, q);
		vrdma_vns_ep_set(v, EPOLL_CTL_ADD, p->call[0], EPOLLIN,
				 VRDMA_VNS_EV_RX_CALL, q);
		vrdma_vns_ep_set(v, EPOLL_CTL_ADD, p->call[1], EPOLLIN,
				 VRDMA_VNS_EV_TX_CALL, q);
	}
	v->connected = true;
	v->connections++;
	v->failures = 0;
	vrdma_vu_tap_carrier(v, true);
	vrdma_vns_log(v,
		      "connected to %s as %s: features 0x%" PRIx64
		      " (offloads %s), %u queue pair%s, ring %u",
		      v->o.socket, v->o.server ? "server" : "client",
		      v->features, off ? "on" : "off", v->o.queues,
		      v->o.queues > 1 ? "s" : "", v->o.ring);
	v->more_work = true;
}

static void
wait_note(struct vrdma_vns *v, const char *why)
{
	/* Once per reason, not once per retry. */
	if (v->last_wait != why)
		vrdma_vns_log(v, "waiting for the switch: %s", why);
	v->last_wait = why;
}

void
vrdma_vu_ctl_connect(struct vrdma_vns *v)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", v->o.socket);
	v->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (v->sock < 0 ||
	    connect(v->sock, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int err = errno;

		if (v->sock >= 0)
			close(v->sock);
		v->sock = -1;
		wait_note(v, err == ENOENT
				     ? "socket missing (is the port added?)"
				     : "socket refuses connections");
		arm_retry(v, 1);
		return;
	}
	vrdma_vu_ctl_attach(v, v->sock);
}

void
vrdma_vu_ctl_accept(struct vrdma_vns *v)
{
	int s = accept4(v->listenfd, NULL, NULL, SOCK_CLOEXEC);

	if (s < 0)
		return;
	if (v->sock >= 0) {
		vrdma_vns_log(v, "refused a second switch connection on %s",
			      v->o.socket);
		close(s);
		return;
	}
	vrdma_vu_ctl_attach(v, s);
}

int
vrdma_vu_ctl_listen(struct vrdma_vns *v)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct stat st;

	if (strlen(v->o.socket) >= sizeof(a.sun_path)) {
		vrdma_vns_log(v,
			      "error: socket path %s is longer than %zu bytes",
			      v->o.socket, sizeof(a.sun_path) - 1);
		return -1;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", v->o.socket);
	if (lstat(v->o.socket, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			vrdma_vns_log(
				v,
				"error: %s exists and is not a socket; fix: "
				"remove it or pick another path",
				v->o.socket);
			return -1;
		}
		/* A stale socket from a crash is removed; a live one belongs
		 * to someone else. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 &&
		    connect(probe, (struct sockaddr *)&a, sizeof(a)) == 0) {
			close(probe);
			vrdma_vns_log(
				v,
				"error: %s is served by another process; fix: "
				"stop it or pick another path",
				v->o.socket);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(v->o.socket);
	}
	v->listenfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (v->listenfd < 0 ||
	    bind(v->listenfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(v->listenfd, 1) != 0) {
		vrdma_vns_log(
			v,
			"error: cannot listen on %s: %s; fix: check that its "
			"directory exists and is writable",
			v->o.socket, strerror(errno));
		return -1;
	}
	vrdma_vns_ep_set(v, EPOLL_CTL_ADD, v->listenfd, EPOLLIN,
			 VRDMA_VNS_EV_LISTEN, 0);
	vrdma_vns_log(v, "listening on %s", v->o.socket);
	return 0;
}
