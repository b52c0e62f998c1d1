/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vrdma-vhost-ns: attach a network namespace to a vhost-user switch port
 * without a VM. It plays the part QEMU plays for a virtio-net device: the
 * vhost-user frontend on a unix socket (server for OVS dpdkvhostuserclient
 * ports, client for dpdkvhostuser ports) and the virtio driver of the
 * split rings in a shared memfd or hugetlbfs file. The other end of the
 * rings is a tap with virtio-net headers inside the namespace, so the
 * kernel's TCP stack hands over checksum-offloaded and 64 KiB TSO frames
 * as they are, and takes them back the same way. One thread, one epoll:
 * idle costs nothing; --busy-poll trades a core for latency.
 * This file holds the options and the event loop and its dispatch;
 * vu_ctl.c the vhost-user connection (shared memory, handshake,
 * reconnect), vu_data.c the two copy loops between the rings and the tap,
 * vu_tap.c the namespace and the tap's set-up, vu_proto.c the message
 * code, vu_vring.c the ring code; vhost_ns.h the state they share.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vhost_ns.h"
#include "vu_ctl.h"
#include "vu_data.h"
#include "vu_tap.h"

void
vrdma_vns_log(const struct vrdma_vns *v, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vrdma-vhost-ns[%s]: ", v->o.name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static uint64_t
ev_data(enum vrdma_vns_ev kind, unsigned int q)
{
	return (uint64_t)kind << 32 | q;
}

int
vrdma_vns_ep_set(struct vrdma_vns *v, int op, int fd, uint32_t events,
		 enum vrdma_vns_ev kind, unsigned int q)
{
	struct epoll_event ev = {.events = events,
				 .data.u64 = ev_data(kind, q)};

	return epoll_ctl(v->epfd, op, fd, &ev);
}

void
vrdma_vns_ep_del(struct vrdma_vns *v, int fd)
{
	if (fd >= 0)
		epoll_ctl(v->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* ---- the data path (vu_data.c) ---- */

static void
tap_pause(struct vrdma_vu_qpair *p, bool pause)
{
	vrdma_vns_ep_set(p->owner, EPOLL_CTL_MOD, p->tap, pause ? 0 : EPOLLIN,
			 VRDMA_VNS_EV_TAP, p->index);
}

/* The loops gave io_uring up (p->uring_err): say so, once. */
static void
uring_lost(struct vrdma_vns *v, struct vrdma_vu_qpair *p)
{
	vrdma_vns_log(v,
		      "queue %u: io_uring failed (%s); the tap is read and "
		      "written one frame per system call from now on",
		      p->index, strerror(p->uring_err));
	p->uring_err = 0;
}

static void
tap_to_switch(struct vrdma_vns *v, struct vrdma_vu_qpair *p)
{
	const char *why;

	if (vrdma_vu_tap_to_switch(p, &v->more_work, &why) != 0)
		vrdma_vu_ctl_disconnect(v, why);
	if (p->uring_err != 0)
		uring_lost(v, p);
}

static void
switch_to_tap(struct vrdma_vns *v, struct vrdma_vu_qpair *p)
{
	const char *why;

	if (vrdma_vu_switch_to_tap(p, &v->more_work, &why) != 0)
		vrdma_vu_ctl_disconnect(v, why);
	if (p->uring_err != 0)
		uring_lost(v, p);
}

/* Batch each queue's tap reads and writes with io_uring, or say why
 * not (one line) and keep read and writev. */
static void
uring_setup(struct vrdma_vns *v)
{
	int ret = 0;

	if (!v->o.io_uring) {
		vrdma_vns_log(v, "tap I/O: read and writev (--no-io-uring)");
		return;
	}
	for (unsigned int q = 0; q < v->o.queues && ret == 0; q++)
		ret = vrdma_vu_uring_init(&v->qp[q]);
	if (ret == 0) {
		vrdma_vns_log(v, "tap I/O: batched with io_uring");
		return;
	}
	for (unsigned int q = 0; q < v->o.queues; q++)
		vrdma_vu_uring_exit(&v->qp[q]);
	vrdma_vns_log(v,
		      "tap I/O: read and writev, io_uring is not available "
		      "(%s%s)",
		      strerror(-ret),
		      ret == -EPERM ? ": kernel.io_uring_disabled or seccomp"
				    : "");
}

static void
poll_all(struct vrdma_vns *v)
{
	for (unsigned int q = 0; q < v->o.queues && v->connected; q++) {
		switch_to_tap(v, &v->qp[q]);
		if (v->connected)
			tap_to_switch(v, &v->qp[q]);
	}
}

/* ---- set-up, options, main loop ---- */

static int
setup(struct vrdma_vns *v)
{
	sigset_t sigs;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	v->sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	v->timerfd =
		timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (v->epfd < 0 || v->sigfd < 0 || v->timerfd < 0) {
		vrdma_vns_log(v, "error: cannot create event fds: %s",
			      strerror(errno));
		return -1;
	}
	vrdma_vns_ep_set(v, EPOLL_CTL_ADD, v->sigfd, EPOLLIN,
			 VRDMA_VNS_EV_SIGNAL, 0);
	vrdma_vns_ep_set(v, EPOLL_CTL_ADD, v->timerfd, EPOLLIN,
			 VRDMA_VNS_EV_TIMER, 0);
	for (unsigned int q = 0; q < v->o.queues; q++) {
		struct vrdma_vu_qpair *p = &v->qp[q];

		if (vrdma_vu_qpair_init(p, q, v->o.ring, v->o.busy_poll) != 0)
			return -1;
		p->on_tap_pause = tap_pause;
		p->owner = v;
	}
	if (vrdma_vu_ctl_mem_create(v) != 0 || vrdma_vu_enter_netns(v) != 0 ||
	    vrdma_vu_tap_create(v) != 0)
		return -1;
	uring_setup(v);
	if (v->o.server)
		return vrdma_vu_ctl_listen(v);
	vrdma_vu_ctl_connect(v);
	return 0;
}

static void
on_signal(struct vrdma_vns *v)
{
	struct signalfd_siginfo si;

	while (read(v->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			vrdma_vu_ctl_print_stats(v);
			continue;
		}
		vrdma_vns_log(v, "signal %u: shutting down", si.ssi_signo);
		v->stopping = true;
	}
}

static void
dispatch(struct vrdma_vns *v, const struct epoll_event *ev)
{
	enum vrdma_vns_ev kind = (enum vrdma_vns_ev)(ev->data.u64 >> 32);
	unsigned int q = (unsigned int)(ev->data.u64 & 0xffffffffu);
	uint64_t n;
	char junk;

	switch (kind) {
	case VRDMA_VNS_EV_SIGNAL:
		on_signal(v);
		break;
	case VRDMA_VNS_EV_TIMER:
		if (read(v->timerfd, &n, sizeof(n)) < 0)
			break;
		if (v->sock < 0 && !v->o.server)
			vrdma_vu_ctl_connect(v);
		break;
	case VRDMA_VNS_EV_LISTEN:
		vrdma_vu_ctl_accept(v);
		break;
	case VRDMA_VNS_EV_SOCK:
		if (q != v->gen || v->sock < 0)
			break; /* left over from a closed connection */
		/* The switch never sends unasked; anything but a close is a
		 * protocol violation, and both end this connection. */
		if (recv(v->sock, &junk, 1, MSG_DONTWAIT | MSG_PEEK) == 0 ||
		    (ev->events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
			vrdma_vu_ctl_disconnect(
				v, "the switch closed the connection");
		else
			vrdma_vu_ctl_disconnect(
				v, "the switch sent an unexpected message");
		break;
	case VRDMA_VNS_EV_TAP:
		/* Reported even while the tap is paused: a tap that was
		 * deleted (or whose namespace was) reports it on every wait,
		 * for ever. Nothing is left to serve. */
		if (ev->events & (EPOLLERR | EPOLLHUP)) {
			vrdma_vns_log(v,
				      "error: the tap of queue %u is gone "
				      "(deleted, or its namespace removed); "
				      "stopping (fix: vrdma ns del, then ns "
				      "add)",
				      q);
			v->failed = true;
			v->stopping = true;
			break;
		}
		if (v->connected)
			tap_to_switch(v, &v->qp[q]);
		break;
	case VRDMA_VNS_EV_RX_CALL:
		vrdma_vu_drain_eventfd(v->qp[q].call[0]);
		if (v->connected)
			switch_to_tap(v, &v->qp[q]);
		break;
	case VRDMA_VNS_EV_TX_CALL:
		vrdma_vu_drain_eventfd(v->qp[q].call[1]);
		if (v->connected)
			tap_to_switch(v, &v->qp[q]);
		break;
	}
}

static int
run(struct vrdma_vns *v)
{
	struct epoll_event evs[16];

	while (!v->stopping) {
		int timeout = (v->o.busy_poll && v->connected) || v->more_work
				      ? 0
				      : -1;
		int n = epoll_wait(v->epfd, evs, 16, timeout);

		if (n < 0 && errno != EINTR) {
			vrdma_vns_log(v, "error: epoll_wait: %s",
				      strerror(errno));
			return 1;
		}
		for (int i = 0; i < n && !v->stopping; i++)
			dispatch(v, &evs[i]);
		if (v->connected && !v->stopping &&
		    (v->more_work || v->o.busy_poll)) {
			v->more_work = false;
			poll_all(v);
		}
	}
	return v->failed ? 1 : 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: vrdma-vhost-ns --socket PATH [options]\n"
		"Attach a network namespace to a vhost-user switch port, as a\n"
		"VM's virtio-net device would be: a tap with virtio-net headers\n"
		"in the namespace, the port's rings in shared memory.\n\n"
		"  --socket PATH     the port's vhost-user socket\n"
		"  --server          listen on PATH (OVS dpdkvhostuserclient "
		"ports; default)\n"
		"  --client          connect to PATH (OVS dpdkvhostuser ports);"
		" retried\n"
		"                    every second until the switch is there\n"
		"  --netns NAME      namespace (/run/netns/NAME, or a path) for "
		"the tap\n"
		"  --ifname NAME     tap name in the namespace (default eth0)\n"
		"  --mac MAC         tap MAC address (default: the kernel's)\n"
		"  --mtu N           tap MTU (default 1500)\n"
		"  --queues N        queue pairs, 1-%d (default 1)\n"
		"  --ring N          rx ring size, power of two 64-1024 "
		"(default 1024;\n"
		"                    the tx ring takes at most 256)\n"
		"  --hugepages DIR   shared memory from this hugetlbfs mount "
		"(default: memfd)\n"
		"  --no-offloads     no checksum offload, no TSO\n"
		"  --busy-poll       poll the rings instead of sleeping (a core"
		" for latency)\n"
		"  --no-io-uring     read and write the tap one frame per system"
		" call\n"
		"                    (default: batched with io_uring where the "
		"kernel allows)\n"
		"  --name NAME       name in log lines (default: the ifname)\n"
		"  -h, --help        this text\n\n"
		"SIGTERM/SIGINT stop cleanly; SIGUSR1 prints counters.\n",
		VRDMA_VNS_MAX_QUEUES);
}

static int
parse_uint(const char *s, unsigned int lo, unsigned int hi, unsigned int *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || n < lo || n > hi)
		return -1;
	*out = (unsigned int)n;
	return 0;
}

static int
parse_args(int argc, char **argv, struct vrdma_vns_opts *o)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"server", no_argument, NULL, 'S'},
		{"client", no_argument, NULL, 'C'},
		{"netns", required_argument, NULL, 'n'},
		{"ifname", required_argument, NULL, 'i'},
		{"mac", required_argument, NULL, 'm'},
		{"mtu", required_argument, NULL, 'M'},
		{"queues", required_argument, NULL, 'q'},
		{"ring", required_argument, NULL, 'r'},
		{"hugepages", required_argument, NULL, 'H'},
		{"no-offloads", no_argument, NULL, 'O'},
		{"busy-poll", no_argument, NULL, 'b'},
		{"no-io-uring", no_argument, NULL, 'U'},
		{"name", required_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned int m[6];
	char trail;
	int c;

	*o = (struct vrdma_vns_opts){.ifname = "eth0",
				     .server = true,
				     .offloads = true,
				     .io_uring = true,
				     .mtu = 1500,
				     .queues = 1,
				     .ring = 1024};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'S':
			o->server = true;
			break;
		case 'C':
			o->server = false;
			break;
		case 'n':
			o->netns = optarg;
			break;
		case 'i':
			if (strlen(optarg) == 0 || strlen(optarg) >= IFNAMSIZ) {
				fprintf(stderr, "vrdma-vhost-ns: --ifname must "
						"be 1-15 characters\n");
				return 2;
			}
			o->ifname = optarg;
			break;
		case 'm':
			if (sscanf(optarg, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0],
				   &m[1], &m[2], &m[3], &m[4], &m[5],
				   &trail) != 6 ||
			    (m[0] & 1)) {
				fprintf(stderr,
					"vrdma-vhost-ns: --mac %s: want a "
					"unicast MAC like 02:00:00:00:00:01\n",
					optarg);
				return 2;
			}
			for (int i = 0; i < 6; i++)
				o->mac[i] = (uint8_t)m[i];
			o->have_mac = true;
			break;
		case 'M':
			if (parse_uint(optarg, 68, 65535, &o->mtu)) {
				fprintf(stderr,
					"vrdma-vhost-ns: --mtu %s: want "
					"68-65535\n",
					optarg);
				return 2;
			}
			break;
		case 'q':
			if (parse_uint(optarg, 1, VRDMA_VNS_MAX_QUEUES,
				       &o->queues)) {
				fprintf(stderr,
					"vrdma-vhost-ns: --queues %s: want "
					"1-%d\n",
					optarg, VRDMA_VNS_MAX_QUEUES);
				return 2;
			}
			break;
		case 'r':
			if (parse_uint(optarg, 64, 1024, &o->ring) ||
			    (o->ring & (o->ring - 1))) {
				fprintf(stderr,
					"vrdma-vhost-ns: --ring %s: want a "
					"power of two, 64-1024\n",
					optarg);
				return 2;
			}
			break;
		case 'H':
			o->hugepages = optarg;
			break;
		case 'O':
			o->offloads = false;
			break;
		case 'b':
			o->busy_poll = true;
			break;
		case 'U':
			o->io_uring = false;
			break;
		case 'N':
			o->name = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vrdma-vhost-ns: unexpected argument %s\n",
			argv[optind]);
		return 2;
	}
	if (o->socket == NULL) {
		fprintf(stderr, "vrdma-vhost-ns: --socket PATH is required "
				"(see --help)\n");
		return 2;
	}
	if (o->name == NULL)
		o->name = o->ifname;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct vrdma_vns v;
	int ret = parse_args(argc, argv, &v.o);

	if (ret != 0)
		return ret == 1 ? 0 : 2;
	v.sock = -1;
	v.reply_ms = VRDMA_VU_CTL_REPLY_MS;
	v.listenfd = -1;
	v.memfd = -1;
	for (unsigned int q = 0; q < VRDMA_VNS_MAX_QUEUES; q++)
		v.qp[q].tap = -1;
	if (setup(&v) != 0)
		return 1;
	ret = run(&v);
	v.stopping = true;
	vrdma_vu_ctl_disconnect(&v, "shutting down");
	if (v.listenfd >= 0) {
		close(v.listenfd);
		unlink(v.o.socket);
	}
	vrdma_vns_log(&v, "stopped after %" PRIu64 " connection%s",
		      v.connections, v.connections == 1 ? "" : "s");
	return ret;
}
