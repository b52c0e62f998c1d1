/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The state of one vrdma-vhost-ns process, shared by its parts: vhost_ns.c
 * (options, namespaces, the event loop and its dispatch; it owns all of
 * this), vu_ctl.c (the vhost-user connection: handshake, shared memory,
 * reconnect), vu_tap.c (the tap in the namespace) and, one queue pair
 * each, vu_data.c (the copy loops). One thread runs everything: no locks.
 */
#ifndef VRDMA_VHOST_NS_H
#define VRDMA_VHOST_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vu_data.h"

#define VRDMA_VNS_MAX_QUEUES 8

/* What an epoll event is about: the kind in the upper 32 bits of its data,
 * a queue pair or connection number in the lower. */
enum vrdma_vns_ev {
	VRDMA_VNS_EV_SIGNAL = 1,
	VRDMA_VNS_EV_TIMER,
	VRDMA_VNS_EV_LISTEN,
	VRDMA_VNS_EV_SOCK,
	VRDMA_VNS_EV_TAP,
	VRDMA_VNS_EV_RX_CALL,
	VRDMA_VNS_EV_TX_CALL,
};

struct vrdma_vns_opts {
	const char *socket;
	const char *netns;
	const char *ifname;
	const char *name;
	const char *hugepages;
	bool server;
	bool busy_poll;
	bool io_uring; /* batch the tap's system calls (vu_data.c) */
	bool offloads;
	bool have_mac;
	uint8_t mac[6];
	unsigned int mtu;
	unsigned int queues;
	unsigned int ring;
};

struct vrdma_vns {
	struct vrdma_vns_opts o;
	int epfd;
	int sigfd;
	int timerfd;
	int listenfd;
	int sock;
	int memfd;
	uint8_t *mem;
	size_t mem_size;
	bool connected;
	bool more_work; /* a burst budget ran out: poll again */
	bool stopping;
	bool failed; /* stopping because of an error: exit 1 */
	uint64_t features;
	bool reply_ack; /* the switch acks each set-up message (REPLY_ACK) */
	unsigned int reply_ms; /* deadline for one whole reply of the switch */
	const char *last_wait; /* last "waiting" reason logged */
	uint64_t connections;
	unsigned int gen;      /* of the current socket, in its events */
	unsigned int failures; /* handshakes failed in a row */
	struct vrdma_vu_qpair qp[VRDMA_VNS_MAX_QUEUES];
};

/* One log line on stderr, "vrdma-vhost-ns[NAME]: ...". */
void vrdma_vns_log(const struct vrdma_vns *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Add (EPOLL_CTL_ADD) or change (EPOLL_CTL_MOD) fd in the event loop,
 * tagged with kind and q. */
int vrdma_vns_ep_set(struct vrdma_vns *v, int op, int fd, uint32_t events,
		     enum vrdma_vns_ev kind, unsigned int q);

/* Remove fd from the event loop; fd < 0 is ignored. */
void vrdma_vns_ep_del(struct vrdma_vns *v, int fd);

#endif /* VRDMA_VHOST_NS_H */
