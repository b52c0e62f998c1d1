/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fabric_peer: one end of a net_vrdma system test. A DPDK application with
 * one port (the net_vrdma vdev, loaded with -d and --vdev in the EAL
 * arguments) that either sends numbered frames of the given sizes, each
 * filled with a pattern derived from its size and sequence number, or
 * receives them and checks length, header, every payload byte across
 * all segments and that each segment has an IO address (a hardware port
 * on the same switch could DMA it). It fails if the process's environment
 * changed between EAL's init and the port's close (a driver must not
 * setenv while the application's threads run). It prints one line per size
 * and exits 0
 * only if every frame arrived intact (receiver) or was accepted by the port
 * (sender).
 *
 * With --pingpong N the sender sends one frame of the first size at a time
 * and waits for its echo, timing N round trips (after N/10 untimed ones)
 * with the TSC, and prints "rtt median_us=X p99_us=Y n=N lost=L"; the
 * receiver echoes every intact frame of another sender back to it until it
 * has been idle for a second. Any one-port PMD will do: the fabric
 * benchmark drives net_af_packet, net_af_xdp and net_memif with it too.
 * With --rate the sender does not pace itself and the receiver checks
 * headers only (length, size, sequence), so that the port, not the
 * checking, sets the pace; both then also print, per size, "tx|rx size=S
 * span_us=X" (first to last frame the port took, or that arrived) and
 * the receiver stops
 * once idle for a second after the first frame: a benchmark (bench/
 * roce_bench.py) takes frames per second from it.
 * With --hold N the receiver keeps its first N intact frames past the
 * port's stop and close, then checks them again ("held frames=N
 * intact=K").
 *
 *   fabric_peer EAL-ARGS -- --send|--recv --sizes 64,1500,9000,65536
 *               [--count N] [--timeout S] [--dst MAC] [--pingpong N]
 *               [--hold N] [--rate] [--rxd N] [--stall S] [--watchdog]
 *               [--linger S] [--mbuf-size N]
 *
 * --rxd sets the receive descriptors per queue (default 1024); with
 * --stall S the receiver only polls the link for S seconds after it comes
 * up, then receives, and prints the most mbufs its pool had out meanwhile
 * ("stall in_use max=N"). --watchdog: another lcore queries the link
 * while the port stops (see watchdog()).
 * --linger S: after the run, print "linger" and keep polling the port
 * for S seconds before stopping it (a test inspects the process
 * meanwhile: its RDMA memory regions). --mbuf-size N: the pool's mbufs
 * hold N bytes of data (default RTE_MBUF_DEFAULT_DATAROOM, at most
 * 65535 minus the headroom), so that large frames fit one mbuf.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#define ETHERTYPE_TEST	0x88b5 /* IEEE local experimental: test frames */
#define ETHERTYPE_HELLO 0x88b6 /* "I am here": lets peers learn our MAC */
#define MAX_SIZES	8
#define MAX_RXQ		8
#define HDR_BYTES	(RTE_ETHER_HDR_LEN + 8) /* + size, sequence */
#define RTT_LIMIT_MS	200 /* a round trip slower than this is lost */
#define ECHO_IDLE_S	1   /* the echoer stops after this long idle */

struct opts {
	bool send;
	uint32_t sizes[MAX_SIZES];
	unsigned int n_sizes;
	unsigned int count;
	unsigned int timeout_s;
	unsigned int hello;	   /* broadcast this many hellos first */
	unsigned int learn_wait_s; /* sender: receive this long first */
	unsigned int rxq;	   /* receiver: rx queues to set up and poll */
	unsigned int flows;	   /* sender: source MACs to cycle through */
	unsigned int pingpong;	   /* round trips to time (0: stream) */
	unsigned int hold;	   /* receiver: frames kept until after close */
	bool rate;		   /* unpaced, headers-only checks, spans */
	unsigned int rxd;	   /* rx descriptors asked per queue */
	unsigned int stall_s;	   /* receiver: only poll the link this long */
	bool watchdog;		   /* query the link from a 2nd lcore at stop */
	unsigned int linger_s;	   /* poll this long after the run */
	unsigned int mbuf_size;	   /* data room of the pool's mbufs */
	struct rte_ether_addr dst;
};

#define MAX_HOLD 64
/* Received frames the receiver has not freed yet (--hold). */
static struct rte_mbuf *held[MAX_HOLD];
static unsigned int n_held;

static uint8_t
pattern(uint32_t size, uint32_t seq, uint32_t off)
{
	return (uint8_t)(size * 7 + seq * 13 + off);
}

static int
parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"send", no_argument, NULL, 's'},
		{"recv", no_argument, NULL, 'r'},
		{"sizes", required_argument, NULL, 'z'},
		{"count", required_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 't'},
		{"dst", required_argument, NULL, 'd'},
		{"hello", required_argument, NULL, 'h'},
		{"learn-wait", required_argument, NULL, 'l'},
		{"rxq", required_argument, NULL, 'q'},
		{"flows", required_argument, NULL, 'f'},
		{"pingpong", required_argument, NULL, 'p'},
		{"hold", required_argument, NULL, 'H'},
		{"rate", no_argument, NULL, 'R'},
		{"rxd", required_argument, NULL, 'D'},
		{"stall", required_argument, NULL, 'S'},
		{"watchdog", no_argument, NULL, 'W'},
		{"linger", required_argument, NULL, 'L'},
		{"mbuf-size", required_argument, NULL, 'M'},
		{NULL, 0, NULL, 0},
	};
	char *tok, *save = NULL;
	int c;

	o->count = 100;
	o->timeout_s = 30;
	o->rxq = 1;
	o->flows = 1;
	o->rxd = 1024;
	o->mbuf_size = RTE_MBUF_DEFAULT_DATAROOM;
	memset(&o->dst, 0xff, sizeof(o->dst));
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->send = true;
			break;
		case 'r':
			o->send = false;
			break;
		case 'z':
			for (tok = strtok_r(optarg, ",", &save); tok != NULL;
			     tok = strtok_r(NULL, ",", &save)) {
				if (o->n_sizes == MAX_SIZES)
					return -EINVAL;
				o->sizes[o->n_sizes] = (uint32_t)atoi(tok);
				if (o->sizes[o->n_sizes] < HDR_BYTES ||
				    o->sizes[o->n_sizes] > 65536 + 14)
					return -EINVAL;
				o->n_sizes++;
			}
			break;
		case 'c':
			o->count = (unsigned int)atoi(optarg);
			break;
		case 't':
			o->timeout_s = (unsigned int)atoi(optarg);
			break;
		case 'd':
			if (rte_ether_unformat_addr(optarg, &o->dst) != 0)
				return -EINVAL;
			break;
		case 'h':
			o->hello = (unsigned int)atoi(optarg);
			break;
		case 'l':
			o->learn_wait_s = (unsigned int)atoi(optarg);
			break;
		case 'q':
			o->rxq = (unsigned int)atoi(optarg);
			if (o->rxq < 1 || o->rxq > MAX_RXQ)
				return -EINVAL;
			break;
		case 'f':
			o->flows = (unsigned int)atoi(optarg);
			break;
		case 'p':
			o->pingpong = (unsigned int)atoi(optarg);
			if (o->pingpong < 1)
				return -EINVAL;
			break;
		case 'R':
			o->rate = true;
			break;
		case 'D':
			o->rxd = (unsigned int)atoi(optarg);
			if (o->rxd < 1 || o->rxd > UINT16_MAX)
				return -EINVAL;
			break;
		case 'S':
			o->stall_s = (unsigned int)atoi(optarg);
			break;
		case 'W':
			o->watchdog = true;
			break;
		case 'L':
			o->linger_s = (unsigned int)atoi(optarg);
			break;
		case 'M':
			o->mbuf_size = (unsigned int)atoi(optarg);
			if (o->mbuf_size < RTE_ETHER_MIN_LEN ||
			    o->mbuf_size > UINT16_MAX - RTE_PKTMBUF_HEADROOM)
				return -EINVAL;
			break;
		case 'H':
			o->hold = (unsigned int)atoi(optarg);
			if (o->hold > MAX_HOLD)
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	}
	/* A receiver may expect nothing (--count 0): it then listens until
	 * the timeout and fails on any frame. */
	return o->n_sizes > 0 && (o->count > 0 || !o->send) ? 0 : -EINVAL;
}

static struct rte_mbuf *
make_frame(struct rte_mempool *mp, uint16_t port, const struct opts *o,
	   uint32_t size, uint32_t seq)
{
	struct rte_mbuf *head = NULL, *tail = NULL, *m;
	uint32_t off = 0;

	while (off < size) {
		uint16_t n;
		uint8_t *p;
		uint32_t i;

		m = rte_pktmbuf_alloc(mp);
		if (m == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		n = (uint16_t)RTE_MIN(size - off,
				      (uint32_t)rte_pktmbuf_tailroom(m));
		p = (uint8_t *)rte_pktmbuf_append(m, n);
		for (i = 0; i < n; i++)
			p[i] = pattern(size, seq, off + i);
		if (head == NULL) {
			struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;

			rte_ether_addr_copy(&o->dst, &eth->dst_addr);
			rte_eth_macaddr_get(port, &eth->src_addr);
			/* Several flows: the port spreads them over queues. */
			if (o->flows > 1)
				eth->src_addr.addr_bytes[5] =
					(uint8_t)(seq % o->flows);
			eth->ether_type = rte_cpu_to_be_16(ETHERTYPE_TEST);
			memcpy(p + RTE_ETHER_HDR_LEN, &size, 4);
			memcpy(p + RTE_ETHER_HDR_LEN + 4, &seq, 4);
			head = m;
		} else {
			tail->next = m;
			head->nb_segs++;
			head->pkt_len += n;
		}
		tail = m;
		off += n;
	}
	return head;
}

/* 0 if m is an intact frame of ours; its size in *size. With headers_only,
 * the payload's bytes are not compared. */
static int
check_frame(const struct rte_mbuf *m, uint32_t *size, bool headers_only)
{
	uint8_t copy[HDR_BYTES];
	const struct rte_mbuf *seg;
	uint32_t seq, off = 0, i;
	const uint8_t *hdr;

	/* Points into the mbuf, or at copy if the header spans segments. */
	hdr = m->pkt_len < HDR_BYTES ? NULL
				     : rte_pktmbuf_read(m, 0, HDR_BYTES, copy);
	if (hdr == NULL)
		return -1;
	if (((const struct rte_ether_hdr *)hdr)->ether_type ==
	    rte_cpu_to_be_16(ETHERTYPE_HELLO))
		return 1;
	if (((const struct rte_ether_hdr *)hdr)->ether_type !=
	    rte_cpu_to_be_16(ETHERTYPE_TEST))
		return -2;
	memcpy(size, hdr + RTE_ETHER_HDR_LEN, 4);
	memcpy(&seq, hdr + RTE_ETHER_HDR_LEN + 4, 4);
	if (*size != m->pkt_len)
		return -3;
	if (headers_only)
		return 0;
	for (seg = m; seg != NULL; seg = seg->next) {
		const uint8_t *p = rte_pktmbuf_mtod(seg, const uint8_t *);

		/* A frame the switch may hand to a hardware port needs an IO
		 * address in every segment, whatever memory it sits in. */
		if (seg->buf_iova == RTE_BAD_IOVA)
			return -6;
		for (i = 0; i < seg->data_len; i++, off++)
			if (off >= HDR_BYTES &&
			    p[i] != pattern(*size, seq, off))
				return -4;
	}
	return off == m->pkt_len ? 0 : -5;
}

static bool
wait_link(uint16_t port, uint64_t deadline)
{
	struct rte_eth_link link;

	while (rte_get_timer_cycles() < deadline) {
		if (rte_eth_link_get_nowait(port, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_UP)
			return true;
		rte_delay_ms(10);
	}
	return false;
}

/* Broadcast n small hello frames, so the peers learn our MAC. */
static void
send_hellos(uint16_t port, struct rte_mempool *mp, unsigned int n)
{
	while (n-- > 0) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		struct rte_ether_hdr *eth;
		char *p;

		if (m == NULL)
			return;
		p = rte_pktmbuf_append(m, 64);
		if (p == NULL) {
			rte_pktmbuf_free(m);
			return;
		}
		memset(p, 0, 64);
		eth = (struct rte_ether_hdr *)p;
		memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
		rte_eth_macaddr_get(port, &eth->src_addr);
		eth->ether_type = rte_cpu_to_be_16(ETHERTYPE_HELLO);
		while (rte_eth_tx_burst(port, 0, &m, 1) == 0)
			;
		rte_delay_ms(100); /* spread: peers may still be connecting */
	}
}

/* Receive and drop for s seconds: the port learns who is where. */
static void
drain(uint16_t port, unsigned int nq, unsigned int s)
{
	uint64_t end = rte_get_timer_cycles() + rte_get_timer_hz() * s;
	struct rte_mbuf *bufs[32];
	unsigned int q = 0;

	while (rte_get_timer_cycles() < end) {
		uint16_t n = rte_eth_rx_burst(port, (uint16_t)q, bufs, 32);

		rte_pktmbuf_free_bulk(bufs, n);
		q = (q + 1) % nq; /* every queue: each progresses its lane */
	}
}

/* Let the last sends complete before the port stops. */
static void
settle_tx(uint16_t port)
{
	unsigned int i;

	for (i = 0; i < 200; i++) {
		struct rte_mbuf *none[1];

		rte_eth_tx_burst(port, 0, none, 0);
		rte_delay_ms(5);
	}
}

static int
run_send(uint16_t port, struct rte_mempool *mp, const struct opts *o,
	 uint64_t deadline)
{
	unsigned int s, seq;
	int fails = 0;

	for (s = 0; s < o->n_sizes; s++) {
		uint64_t first = 0, last = 0;
		unsigned int sent = 0;

		/* Bursts of up to 16 frames to one destination, as a switch
		 * hands them over; what the port does not take now is
		 * offered again. */
		for (seq = 0; seq < o->count;) {
			struct rte_mbuf *burst[16];
			uint16_t n = 0, done = 0;

			while (n < 16 && seq < o->count) {
				burst[n] = make_frame(mp, port, o, o->sizes[s],
						      seq++);
				if (burst[n] != NULL)
					n++;
			}
			while (done < n && rte_get_timer_cycles() <= deadline)
				done += rte_eth_tx_burst(port, 0, burst + done,
							 n - done);
			if (done > 0) {
				last = rte_get_timer_cycles();
				if (sent == 0)
					first = last;
			}
			sent += done;
			if (done < n)
				rte_pktmbuf_free_bulk(burst + done, n - done);
			/* Pace to ~100 MB/s: below what the receiver checks
			 * byte by byte, so no frame is lost to its pool. */
			if (!o->rate)
				rte_delay_us(o->sizes[s] * 16 / 100 + 10);
		}
		printf("tx size=%u frames=%u\n", o->sizes[s], sent);
		if (o->rate)
			printf("tx size=%u span_us=%.1f\n", o->sizes[s],
			       (double)(last - first) * 1e6 /
				       (double)rte_get_timer_hz());
		fails += sent != o->count;
	}
	settle_tx(port);
	return fails ? 1 : 0;
}

static int
run_recv(uint16_t port, const struct opts *o, uint64_t deadline)
{
	unsigned int got[MAX_SIZES] = {0}, bad = 0, total = 0, s;
	unsigned int per_q[MAX_RXQ] = {0}, q = 0;
	const unsigned int want = o->count * o->n_sizes;
	uint64_t first[MAX_SIZES] = {0}, last[MAX_SIZES] = {0};
	const uint64_t idle = rte_get_timer_hz() * ECHO_IDLE_S;
	uint64_t now = 0, seen = 0;
	struct rte_mbuf *bufs[32];
	int fails = 0;

	while ((want == 0 || total < want) &&
	       (now = rte_get_timer_cycles()) < deadline) {
		uint16_t n, i;

		/* --rate: frames lost unpaced would keep us to the deadline. */
		if (o->rate && total > 0 && now - seen > idle)
			break;
		q = (q + 1) % o->rxq;
		n = rte_eth_rx_burst(port, (uint16_t)q, bufs, 32);
		per_q[q] += n;
		if (n > 0)
			seen = now;

		for (i = 0; i < n; i++) {
			uint32_t size = 0;

			int why = check_frame(bufs[i], &size, o->rate);

			if (why == 1) {
				rte_pktmbuf_free(bufs[i]);
				continue; /* a hello */
			}
			if (why != 0) {
				if (bad++ == 0)
					printf("rx first bad frame: check %d, "
					       "%u bytes, %u segments\n",
					       why, bufs[i]->pkt_len,
					       bufs[i]->nb_segs);

			} else {
				for (s = 0; s < o->n_sizes; s++)
					if (o->sizes[s] == size)
						break;
				if (s < o->n_sizes) {
					if (got[s]++ == 0)
						first[s] = now;
					last[s] = now;
				} else
					bad++;
				total++;
				if (n_held < o->hold) {
					held[n_held++] = bufs[i];
					continue;
				}
			}
			rte_pktmbuf_free(bufs[i]);
		}
	}
	for (s = 0; s < o->n_sizes; s++) {
		printf("rx size=%u frames=%u/%u\n", o->sizes[s], got[s],
		       o->count);
		/* (with --count 0, any frame of ours is a failure) */
		fails += got[s] != o->count;
		if (o->rate)
			printf("rx size=%u span_us=%.1f\n", o->sizes[s],
			       (double)(last[s] - first[s]) * 1e6 /
				       (double)rte_get_timer_hz());
	}
	printf("rx bad=%u\n", bad);
	for (q = 0; q < o->rxq; q++)
		printf("rx queue %u frames=%u\n", q, per_q[q]);
	return fails || bad ? 1 : 0;
}

/* The sequence number of m if it is an intact test frame from another
 * sender (not one of ours coming back unanswered), else -1. */
static int64_t
foreign_seq(const struct rte_mbuf *m, const struct rte_ether_addr *self)
{
	const struct rte_ether_hdr *eth;
	uint32_t size, copy;
	const void *seq;

	if (check_frame(m, &size, false) != 0)
		return -1;
	eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (rte_is_same_ether_addr(&eth->src_addr, self))
		return -1;
	seq = rte_pktmbuf_read(m, RTE_ETHER_HDR_LEN + 4, 4, &copy);
	if (seq == NULL)
		return -1;
	memcpy(&copy, seq, 4);
	return copy;
}

/* TSC cycles from sending frame seq to receiving its echo; 0 if it did not
 * come back within RTT_LIMIT_MS. */
static uint64_t
round_trip(uint16_t port, struct rte_mempool *mp, const struct opts *o,
	   const struct rte_ether_addr *self, uint32_t seq)
{
	struct rte_mbuf *m = make_frame(mp, port, o, o->sizes[0], seq);
	struct rte_mbuf *bufs[32];
	uint64_t start, limit;

	if (m == NULL)
		return 0;
	start = rte_rdtsc();
	limit = start + rte_get_tsc_hz() * RTT_LIMIT_MS / 1000;
	while (rte_eth_tx_burst(port, 0, &m, 1) == 0)
		if (rte_rdtsc() > limit) {
			rte_pktmbuf_free(m);
			return 0;
		}
	while (rte_rdtsc() < limit) {
		uint16_t n = rte_eth_rx_burst(port, 0, bufs, 32), i;
		uint64_t now = rte_rdtsc();
		bool back = false;

		for (i = 0; i < n; i++) {
			back |= foreign_seq(bufs[i], self) == seq;
			rte_pktmbuf_free(bufs[i]);
		}
		if (back)
			return now - start;
	}
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Time o->pingpong round trips of one frame each, after the peer answered
 * once (it may start later than our link comes up) and o->pingpong / 10
 * untimed ones. */
static int
run_ping(uint16_t port, struct rte_mempool *mp, const struct opts *o,
	 uint64_t deadline)
{
	const unsigned int warmup = o->pingpong / 10;
	struct rte_ether_addr self;
	unsigned int n = 0, lost = 0, i;
	uint32_t seq = 0;
	uint64_t *rtt;
	double us;

	rte_eth_macaddr_get(port, &self);
	rtt = calloc(o->pingpong, sizeof(*rtt));
	if (rtt == NULL)
		return 1;
	while (round_trip(port, mp, o, &self, seq++) == 0)
		if (rte_get_timer_cycles() > deadline) {
			printf("rtt no echo in %us\n", o->timeout_s);
			free(rtt);
			return 1;
		}
	for (i = 0; i < warmup + o->pingpong; i++) {
		uint64_t c = round_trip(port, mp, o, &self, seq++);

		if (i >= warmup && c == 0)
			lost++;
		else if (i >= warmup)
			rtt[n++] = c;
		if (rte_get_timer_cycles() > deadline)
			break;
	}
	if (n == 0) {
		printf("rtt n=0 lost=%u\n", lost);
		free(rtt);
		return 1;
	}
	qsort(rtt, n, sizeof(*rtt), cmp_u64);
	us = 1e6 / (double)rte_get_tsc_hz();
	printf("rtt median_us=%.2f p99_us=%.2f n=%u lost=%u\n",
	       (double)rtt[n / 2] * us,
	       (double)rtt[(n * 99 + 99) / 100 - 1] * us, n, lost);
	free(rtt);
	return n == o->pingpong ? 0 : 1;
}

/* Send every intact frame of another sender back to it, until idle for
 * ECHO_IDLE_S after the first one, or the deadline. */
static int
run_echo(uint16_t port, uint64_t deadline)
{
	const uint64_t idle = rte_get_timer_hz() * ECHO_IDLE_S;
	unsigned int echoed = 0, dropped = 0;
	struct rte_ether_addr self;
	struct rte_mbuf *bufs[32];
	uint64_t last = 0, now;

	rte_eth_macaddr_get(port, &self);
	while ((now = rte_get_timer_cycles()) < deadline &&
	       (echoed == 0 || now - last < idle)) {
		uint16_t n = rte_eth_rx_burst(port, 0, bufs, 32), i;

		for (i = 0; i < n; i++) {
			struct rte_ether_hdr *eth;

			if (foreign_seq(bufs[i], &self) < 0) {
				rte_pktmbuf_free(bufs[i]);
				continue;
			}
			eth = rte_pktmbuf_mtod(bufs[i], struct rte_ether_hdr *);
			rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
			rte_ether_addr_copy(&self, &eth->src_addr);
			if (rte_eth_tx_burst(port, 0, &bufs[i], 1) == 1) {
				echoed++;
			} else {
				rte_pktmbuf_free(bufs[i]);
				dropped++;
			}
			last = rte_get_timer_cycles();
		}
	}
	printf("echo frames=%u dropped=%u\n", echoed, dropped);
	settle_tx(port);
	return echoed > 0 && dropped == 0 ? 0 : 1;
}

static int
setup_rxqs(uint16_t port, unsigned int n, unsigned int rxd,
	   struct rte_mempool *mp)
{
	unsigned int q;

	for (q = 0; q < n; q++)
		if (rte_eth_rx_queue_setup(port, (uint16_t)q, (uint16_t)rxd,
					   rte_socket_id(), NULL, mp) != 0)
			return -1;
	return 0;
}

/*
 * --stall: an application that does not take its frames for a while (it
 * only polls the link, which progresses the port). Prints the most mbufs
 * the pool had out meanwhile: what the port holds is bounded by its rx
 * descriptors, not by what the peers send.
 */
static void
stall(uint16_t port, struct rte_mempool *mp, unsigned int seconds)
{
	uint64_t end = rte_get_timer_cycles() + rte_get_timer_hz() * seconds;
	unsigned int most = 0;
	struct rte_eth_link link;

	while (rte_get_timer_cycles() < end) {
		unsigned int now;

		rte_eth_link_get_nowait(port, &link);
		now = rte_mempool_in_use_count(mp);
		most = now > most ? now : most;
		rte_delay_us_sleep(1000);
	}
	printf("stall in_use max=%u\n", most);
	fflush(stdout);
}

/* Non-zero extended counters, "xstat NAME=VALUE", for the test to read. */
static void
print_xstats(uint16_t port)
{
	struct rte_eth_xstat_name *names;
	struct rte_eth_xstat *vals;
	int n = rte_eth_xstats_get_names(port, NULL, 0);

	if (n <= 0)
		return;
	names = calloc((size_t)n, sizeof(*names));
	vals = calloc((size_t)n, sizeof(*vals));
	if (names != NULL && vals != NULL &&
	    rte_eth_xstats_get_names(port, names, (unsigned int)n) == n &&
	    rte_eth_xstats_get(port, vals, (unsigned int)n) == n)
		for (int i = 0; i < n; i++)
			if (vals[i].value != 0)
				printf("xstat %s=%" PRIu64 "\n",
				       names[vals[i].id].name, vals[i].value);
	free(names);
	free(vals);
}

/*
 * --watchdog: another thread queries the link while the main thread stops
 * the port, as OVS's dpdk_watchdog thread does every few seconds while its
 * main thread reconfigures. The query must not wait for the stop (which
 * may wait a second for frames the application holds, --hold): it says
 * when it returned, and the test reads that line's place in the log.
 */
static uint16_t watch_port;
static int stopping;

static int
watchdog(void *arg)
{
	struct rte_eth_link link;

	RTE_SET_USED(arg);
	while (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE) == 0)
		rte_pause();
	rte_delay_us_sleep(100 * 1000); /* the stop is under way */
	rte_eth_link_get_nowait(watch_port, &link);
	printf("watchdog: link query during stop returned (link %s)\n",
	       link.link_status ? "up" : "down");
	fflush(stdout);
	return 0;
}

extern char **environ;

/* A hash of the process's environment: a driver must not change it while
 * the application's other threads may read it (setenv is not thread-safe
 * against getenv), so the environment after the port's start and stop is
 * compared with the one before. */
static uint64_t
env_hash(void)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	char **e;
	const char *c;

	for (e = environ; *e != NULL; e++) {
		for (c = *e; *c != '\0'; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ULL;
		h = (h ^ '\n') * 1099511628211ULL;
	}
	return h;
}

static void
env_changes(char **before, unsigned int n)
{
	char **e;
	unsigned int i;

	for (e = environ; *e != NULL; e++) {
		for (i = 0; i < n && strcmp(before[i], *e) != 0; i++)
			;
		if (i == n)
			printf("environment changed: %s\n", *e);
	}
}

int
main(int argc, char **argv)
{
	char *env_before[256];
	unsigned int n_env = 0;
	uint64_t env_start;
	struct rte_eth_conf conf = {
		.txmode.offloads = RTE_ETH_TX_OFFLOAD_MULTI_SEGS,
	};
	struct rte_eth_dev_info info;
	struct rte_mempool *mp;
	struct opts o = {0};
	uint64_t deadline;
	unsigned int in_use_start, in_use_end;
	uint16_t port = 0;
	int ret;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "fabric_peer: EAL init failed\n");
		return 2;
	}
	/* After EAL's init: DPDK's mlx4/mlx5 drivers set theirs while it
	 * loads them, before the application's threads exist. */
	for (n_env = 0; n_env < RTE_DIM(env_before) && environ[n_env] != NULL;
	     n_env++)
		env_before[n_env] = strdup(environ[n_env]);
	env_start = env_hash();
	if (parse(argc - ret, argv + ret, &o) != 0) {
		fprintf(stderr, "fabric_peer: usage: EAL-ARGS -- --send|--recv "
				"--sizes 64,1500 [--count N] [--timeout S] "
				"[--dst MAC] [--hello N] [--learn-wait S] "
				"[--pingpong N] [--hold N (<= 64)] [--rate] "
				"[--rxd N] [--stall S] [--watchdog] "
				"[--linger S] [--mbuf-size N]\n");
		return 2;
	}
	if (rte_eth_dev_count_avail() != 1) {
		fprintf(stderr,
			"fabric_peer: want exactly one port, have %u "
			"(was the net_vrdma vdev probed?)\n",
			rte_eth_dev_count_avail());
		return 2;
	}
	/* Chained frames need MULTI_SEGS; a PMD without it (net_af_xdp) is
	 * still good for single-segment ping-pong. */
	if (rte_eth_dev_info_get(port, &info) == 0)
		conf.txmode.offloads &= info.tx_offload_capa;
	/* Large mbufs: fewer, so that the pool fits the same memory. */
	mp = rte_pktmbuf_pool_create(
		"fabric_peer",
		o.mbuf_size > RTE_MBUF_DEFAULT_DATAROOM ? 4095 : 16383, 256, 0,
		(uint16_t)(o.mbuf_size + RTE_PKTMBUF_HEADROOM),
		(int)rte_socket_id());
	if (mp == NULL ||
	    rte_eth_dev_configure(port, (uint16_t)o.rxq, 1, &conf) != 0 ||
	    setup_rxqs(port, o.rxq, o.rxd, mp) != 0 ||
	    rte_eth_tx_queue_setup(port, 0, 1024, rte_socket_id(), NULL) != 0 ||
	    rte_eth_dev_start(port) != 0) {
		fprintf(stderr, "fabric_peer: port setup failed\n");
		return 2;
	}
	in_use_start = rte_mempool_in_use_count(mp);
	deadline = rte_get_timer_cycles() + rte_get_timer_hz() * o.timeout_s;
	if (!wait_link(port, deadline)) {
		fprintf(stderr, "fabric_peer: link did not come up in %us\n",
			o.timeout_s);
		ret = 1;
	} else {
		printf("link up\n");
		fflush(stdout);
		send_hellos(port, mp, o.hello);
		if (!o.send && o.stall_s > 0)
			stall(port, mp, o.stall_s);
		if (o.send && o.learn_wait_s > 0)
			drain(port, o.rxq, o.learn_wait_s);
		if (o.pingpong > 0)
			ret = o.send ? run_ping(port, mp, &o, deadline)
				     : run_echo(port, deadline);
		else
			ret = o.send ? run_send(port, mp, &o, deadline)
				     : run_recv(port, &o, deadline);
	}
	print_xstats(port);
	if (o.linger_s > 0) {
		printf("linger\n");
		fflush(stdout);
		drain(port, o.rxq, o.linger_s);
	}
	/* Frames handed to us were all freed by now: whatever the port still
	 * holds beyond the baseline taken after start is a leak. */
	in_use_end = rte_mempool_in_use_count(mp);
	if (o.watchdog) {
		unsigned int lcore = rte_get_next_lcore(-1, 1, 0);

		watch_port = port;
		if (lcore >= RTE_MAX_LCORE ||
		    rte_eal_remote_launch(watchdog, NULL, lcore) != 0) {
			fprintf(stderr, "fabric_peer: --watchdog needs a "
					"second lcore (--lcores 0@X,1@Y)\n");
			ret = 1;
		}
		__atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
	}
	rte_eth_dev_stop(port);
	if (o.watchdog)
		rte_eal_mp_wait_lcore();
	rte_eth_dev_close(port);
	printf("mempool in_use start=%u end=%u closed=%u\n", in_use_start,
	       in_use_end, rte_mempool_in_use_count(mp));
	if (o.hold > 0) {
		/* Frames still held when the port closed must be intact:
		 * a driver that lent its buffers has to keep them. */
		unsigned int intact = 0, i;
		uint32_t size;

		for (i = 0; i < n_held; i++) {
			intact += check_frame(held[i], &size, false) == 0;
			rte_pktmbuf_free(held[i]);
		}
		printf("held frames=%u intact=%u\n", n_held, intact);
		ret |= intact != n_held || n_held != o.hold;
	}
	if (env_hash() != env_start) {
		env_changes(env_before, n_env);
		ret = 1;
	}
	while (n_env > 0)
		free(env_before[--n_env]);
	rte_eal_cleanup();
	return ret;
}
