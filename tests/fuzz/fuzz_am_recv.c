/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the fabric port's receive path: the UCX
 * active-message handler vrdma_am_recv() (pmd/vrdma_rxtx.c) and all it does
 * with a message from a hostile peer, the wire decoder (vrdma_wire.c), the
 * copy into mbufs, batches, lends, the rx ring and the learning table
 * (vrdma_peers.c). The parts are real: DPDK's EAL (no PCI, no hugepages),
 * a net_vrdma port probed and configured through ethdev from the driver
 * compiled into this program, rx queues set up by it with real mempools
 * and rings, and frames collected by the driver's own vrdma_rx_burst().
 * The port is never started: no UCX context, worker or endpoint exists,
 * and the peers' endpoints are opaque tokens the handler only compares.
 *
 * Input: byte 0 controls the call: bits 0-2 the AM id's queue, bit 3
 * UCP_AM_RECV_ATTR_FLAG_DATA (UCX lets the handler keep the data: the lend
 * path), bit 4 the reply endpoint field, bit 5 UCP_AM_RECV_ATTR_FLAG_RNDV
 * (which clears FLAG_DATA: UCX never sets both; the data then stands for
 * UCX's descriptor, len for the whole message), bit 6 the target queue's
 * pool left with only K free mbufs, bit 7 its ring with only K free
 * slots. Byte 1: bits 0-2 which endpoint replied (in or out of peers 0-2,
 * an unknown one, none), bit 3 the rendezvous receive fails, bits 4-7 K.
 * Byte 2 is header_len, then the header bytes, then the data (len bytes);
 * each in an exactly sized heap buffer, so that AddressSanitizer sees any
 * read past either.
 *
 * Covered for real: every decode result, plain and batch messages, copies
 * into one or chained mbufs (a pool of small mbufs on queue 1, a segment
 * limit), empty pools and full rings, lends (the mbuf points into the
 * input) and their return through vrdma_lends_reclaim(). Not real: the two
 * UCX calls that take UCX's own message descriptor, which only a message
 * in flight in a real worker has. They are replaced at link time
 * (--wrap): ucp_am_data_release() checks that the driver gives back
 * exactly the buffer it kept, once; ucp_am_recv_data_nbx() checks the
 * rendezvous receive asks for exactly len bytes into an iov, copies the
 * input's data there and completes at once, or fails as byte 1 says. A
 * rendezvous that completes later (a request, its callback) is not
 * covered. Checked after every input: every frame delivered has pkt_len
 * equal to the sum of its segments, the bytes and the offload request the
 * header announced; all mbufs and lends return (the pools' in-use counts
 * come back to their baseline); counters never run backwards and agree
 * with what was delivered; every accounted frame's source MAC was learned;
 * a message from an unknown endpoint or none is dropped whole and counted
 * (rx_untrusted). Authentication (keyfile=) is not set up here: its
 * exchange needs real endpoints (tests/system/test_fabric.py).
 * Seeds: corpus/am_recv/, from gen_corpus.py.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ethdev_driver.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "vrdma.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
ucs_status_ptr_t __wrap_ucp_am_recv_data_nbx(ucp_worker_h worker,
					     void *data_desc, void *buffer,
					     size_t count,
					     const ucp_request_param_t *param);
void __wrap_ucp_am_data_release(ucp_worker_h worker, void *data);

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

#define PORT_NAME "net_vrdma_fuzz0"
/* Addresses are only parsed: the port never starts. */
#define PORT_ARGS                                      \
	"listen=198.18.0.1:7000,peer=198.18.0.2:7000," \
	"peer=198.18.0.3:7000,peer=198.18.0.4:7000"
#define N_PEERS	   3
#define N_RXQ	   3 /* configured; queue 2 is never set up */
#define N_POOL_A   2047
#define N_POOL_B   511
#define SMALL_MBUF 512 /* queue 1: data room of its pool's mbufs */

struct rx_queue_fix {
	struct vrdma_rxq *rxq;
	struct rte_mempool *mp;
	unsigned int base_in_use;
};

static struct vrdma_port *port;
static struct vrdma_lane *lane; /* the port's first: the handler's */
static struct rx_queue_fix qs[2];
/* The peers' endpoints: in and out of each. Tokens, never dereferenced. */
static char ep_tokens[N_PEERS][2];
static char unknown_ep;

/* Stands for frames an application left in a ring: never dereferenced
 * by the driver, taken out by the harness before vrdma_rx_burst(). */
static struct rte_mbuf *fill[VRDMA_RING_SIZE];
static struct rte_mbuf *held[N_POOL_A];

/* What the UCX wrappers check against: the message being handled. */
static struct {
	void *data;
	size_t len;
	uint16_t pad; /* of a plain message, from the header */
	bool rndv_fail;
	void *desc; /* what the driver handed the wrappers */
	void *released;
	unsigned int recv_calls;
	unsigned int releases;
} cur;

ucs_status_ptr_t
__wrap_ucp_am_recv_data_nbx(ucp_worker_h worker, void *data_desc, void *buffer,
			    size_t count, const ucp_request_param_t *param)
{
	const ucp_dt_iov_t *iov = buffer;
	const uint8_t *src = cur.data;
	size_t i, total = 0;

	cur.desc = data_desc;
	CHECK(worker == lane->worker);
	CHECK(cur.desc == cur.data);
	CHECK(++cur.recv_calls == 1);
	CHECK(param->op_attr_mask & UCP_OP_ATTR_FIELD_DATATYPE);
	if (param->datatype == ucp_dt_make_contig(1)) {
		/* Padding and frame into one mbuf: the whole message. */
		CHECK(buffer != NULL && count == cur.len);
		if (cur.rndv_fail)
			return UCS_STATUS_PTR(UCS_ERR_CANCELED);
		memcpy(buffer, src, count);
		return NULL;
	}
	CHECK(param->datatype == ucp_dt_make_iov());
	CHECK(count >= 1 && count <= VRDMA_MAX_SEGS + 1);
	for (i = 0; i < count; i++) {
		CHECK(iov[i].buffer != NULL && iov[i].length > 0);
		if (iov[i].buffer == lane->pad_sink) {
			/* The padding, first, into the sink. */
			CHECK(i == 0 && iov[i].length == cur.pad);
			CHECK(iov[i].length <= sizeof(lane->pad_sink));
		}
		total += iov[i].length;
	}
	/* A rendezvous receive takes the whole message or nothing. */
	CHECK(total == cur.len);
	if (cur.rndv_fail)
		return UCS_STATUS_PTR(UCS_ERR_CANCELED);
	for (i = 0; i < count; i++) {
		memcpy(iov[i].buffer, src, iov[i].length);
		src += iov[i].length;
	}
	return NULL; /* done at once: no callback */
}

void
__wrap_ucp_am_data_release(ucp_worker_h worker, void *data)
{
	cur.released = data;
	CHECK(worker == lane->worker);
	CHECK(cur.released == cur.data && cur.released != NULL);
	CHECK(++cur.releases == 1);
}

static struct rte_mempool *
pool(const char *name, unsigned int n, unsigned int cache, uint16_t room)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create(
		name, n, cache, 0, RTE_PKTMBUF_HEADROOM + room, SOCKET_ID_ANY);

	CHECK(mp != NULL);
	return mp;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* --no-pci: DPDK must never probe this machine's NIC. */
	char *eal_argv[] = {
		(*argv)[0],
		"--no-pci",
		"--no-huge",
		"--iova-mode=va", /* the port lends frames only then */
		"-m",
		"256",
		"--no-shconf",
		"--no-telemetry",
		"--lcores=0@(0-1)",
		"--log-level=*:error",
		"--vdev=" PORT_NAME "," PORT_ARGS,
	};
	struct rte_eth_conf conf;
	uint16_t port_id;
	unsigned int i;

	RTE_SET_USED(argc);
	CHECK(rte_eal_init((int)RTE_DIM(eal_argv), eal_argv) >= 0);
	CHECK(rte_eth_dev_get_port_by_name(PORT_NAME, &port_id) == 0);
	memset(&conf, 0, sizeof(conf));
	CHECK(rte_eth_dev_configure(port_id, N_RXQ, 1, &conf) == 0);
	/* Queue 0 like a switch's (a per-lcore cache: the last mbuf freed
	 * is the next allocated), queue 1 with small mbufs that chain. */
	qs[0].mp = pool("fuzz_pool_a", N_POOL_A, 64, RTE_MBUF_DEFAULT_DATAROOM);
	qs[1].mp = pool("fuzz_pool_b", N_POOL_B, 0, SMALL_MBUF);
	for (i = 0; i < RTE_DIM(qs); i++)
		CHECK(rte_eth_rx_queue_setup(port_id, (uint16_t)i, 512,
					     SOCKET_ID_ANY, NULL,
					     qs[i].mp) == 0);
	port = rte_eth_devices[port_id].data->dev_private;
	CHECK(port->n_peers == N_PEERS && port->n_rxq_conf == N_RXQ);
	for (i = 0; i < RTE_DIM(qs); i++) {
		qs[i].rxq = port->rxqs[i];
		qs[i].base_in_use = rte_mempool_in_use_count(qs[i].mp);
	}
	CHECK(port->rxqs[2] == NULL);
	/* As vrdma_fabric_start() would for its first lane, less UCX. */
	lane = &port->lanes[0];
	CHECK(lane->port == port);
	CHECK(vrdma_lane_slots_init(lane) == 0);
	CHECK(vrdma_lends_init(lane) == 0);
	for (i = 0; i < N_PEERS; i++) {
		lane->peers[i].in_ep = (ucp_ep_h)(void *)&ep_tokens[i][0];
		lane->peers[i].out_ep = (ucp_ep_h)(void *)&ep_tokens[i][1];
	}
	return 0;
}

static uint16_t
le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Counters of the port, its peers, queues and table, before and after. */
struct counters {
	uint64_t bad_headers;
	uint64_t rx_untrusted;
	uint64_t bad_reason[VRDMA_WIRE_REASON_MAX];
	struct vrdma_peer_stats peer[N_PEERS];
	uint64_t missed[2], nombuf[2], packets[2], bytes[2];
	struct vrdma_peers_stats learn;
};

static void
snapshot(struct counters *c)
{
	unsigned int i;

	c->bad_headers = lane->bad_headers;
	c->rx_untrusted = lane->rx_untrusted;
	memcpy(c->bad_reason, lane->bad_reason, sizeof(c->bad_reason));
	for (i = 0; i < N_PEERS; i++)
		c->peer[i] = lane->peers[i].stats;
	for (i = 0; i < 2; i++) {
		c->missed[i] = qs[i].rxq->missed;
		c->nombuf[i] = qs[i].rxq->nombuf;
		c->packets[i] = qs[i].rxq->stats.packets;
		c->bytes[i] = qs[i].rxq->stats.bytes;
	}
	c->learn = port->learn.stats;
}

/* Every uint64_t of after is at least that of before. */
static void
check_monotonic(const struct counters *before, const struct counters *after)
{
	const uint64_t *b = (const uint64_t *)before;
	const uint64_t *a = (const uint64_t *)after;
	size_t i;

	RTE_BUILD_BUG_ON(sizeof(*before) % sizeof(uint64_t) != 0);
	for (i = 0; i < sizeof(*before) / sizeof(uint64_t); i++)
		CHECK(a[i] >= b[i]);
}

/* One message as the handler saw it, and what came of it. */
struct msg {
	const uint8_t *hdr;
	size_t hdr_len;
	const uint8_t *data;
	size_t len;
	bool batch;		/* header's BATCH flag, read here */
	size_t batch_off;	/* next record a delivered frame may be */
	unsigned int delivered; /* frames out of the ring */
	uint64_t bytes;
	bool lent_seen;
};

/* The frame's bytes are those the header announced: the plain frame
 * after the padding, or the next batch records, in order. */
static void
check_frame(struct msg *msg, const struct rte_mbuf *m, bool lent_ok)
{
	static uint8_t flat[VRDMA_MAX_FRAME_LEN];
	const struct rte_mbuf *seg;
	uint32_t sum = 0, off = 0;
	uint16_t nseg = 0;

	for (seg = m; seg != NULL; seg = seg->next) {
		CHECK(++nseg <= VRDMA_MAX_SEGS);
		sum += seg->data_len;
		CHECK(sum <= sizeof(flat));
		memcpy(flat + off, rte_pktmbuf_mtod(seg, const void *),
		       seg->data_len);
		off += seg->data_len;
	}
	CHECK(nseg == m->nb_segs);
	CHECK(sum == m->pkt_len);
	CHECK(m->pkt_len >= VRDMA_MIN_FRAME_LEN &&
	      m->pkt_len <= VRDMA_MAX_FRAME_LEN);
	CHECK(m->port == port->port_id);
	if (RTE_MBUF_HAS_EXTBUF(m)) {
		/* Only a lent frame points into UCX's (the input's) buffer. */
		CHECK(lent_ok && !msg->lent_seen && m->nb_segs == 1);
		CHECK(m->buf_addr == msg->data);
		msg->lent_seen = true;
	}
	if (!msg->batch) {
		uint16_t flags = le16(msg->hdr + 4);
		uint16_t pad = le16(msg->hdr + 18);

		CHECK(msg->delivered == 0);
		CHECK(m->pkt_len + (size_t)pad == msg->len);
		CHECK(memcmp(flat, msg->data + pad, m->pkt_len) == 0);
		CHECK(m->tso_segsz == le16(msg->hdr + 12));
		CHECK(m->l3_len == le16(msg->hdr + 14));
		CHECK(m->l2_len == msg->hdr[16]);
		CHECK(m->l4_len == msg->hdr[17]);
		CHECK(!!(m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) ==
		      !!(flags & VRDMA_WIRE_F_TSO));
		CHECK(!!(m->ol_flags & RTE_MBUF_F_TX_IPV4) ==
		      !!(flags & VRDMA_WIRE_F_IPV4));
		CHECK(!!(m->ol_flags & RTE_MBUF_F_TX_IPV6) ==
		      !!(flags & VRDMA_WIRE_F_IPV6));
	} else {
		/* A batch frame is one of the records after the last one
		 * delivered (those between had no mbufs). */
		bool found = false;

		while (!found &&
		       msg->batch_off + VRDMA_WIRE_FRAME_HDR_LEN <= msg->len) {
			const uint8_t *r = msg->data + msg->batch_off;
			uint32_t len = le32(r);

			CHECK(len <= msg->len - msg->batch_off -
					     VRDMA_WIRE_FRAME_HDR_LEN);
			found = len == m->pkt_len &&
				memcmp(flat, r + VRDMA_WIRE_FRAME_HDR_LEN,
				       len) == 0 &&
				m->tso_segsz == le16(r + 6) &&
				m->l3_len == le16(r + 8) &&
				m->l2_len == r[10] && m->l4_len == r[11];
			msg->batch_off += VRDMA_WIRE_FRAME_HDR_LEN + len;
		}
		CHECK(found);
	}
	msg->delivered++;
	msg->bytes += m->pkt_len;
}

/* Takes every frame out of queue i's ring, through the driver's burst. */
static void
drain(struct msg *msg, unsigned int i, unsigned int n_fill, bool target,
      bool lent_ok)
{
	struct rte_mbuf *bufs[32];
	uint16_t n, j;

	if (n_fill > 0)
		CHECK(rte_ring_sc_dequeue_bulk(qs[i].rxq->ring, (void **)fill,
					       n_fill, NULL) == n_fill);
	while ((n = vrdma_rx_burst(qs[i].rxq, bufs, RTE_DIM(bufs))) > 0) {
		CHECK(target);
		for (j = 0; j < n; j++) {
			check_frame(msg, bufs[j], lent_ok);
			rte_pktmbuf_free(bufs[j]);
		}
	}
}

/* Fills the ring but for k slots, with pointers it never follows. */
static unsigned int
fill_ring(struct rte_ring *r, unsigned int k)
{
	unsigned int n = rte_ring_get_capacity(r) - k;

	CHECK(rte_ring_enqueue_bulk(r, (void **)fill, n, NULL) == n);
	return n;
}

/* Takes all but k mbufs out of mp. */
static unsigned int
dry_pool(struct rte_mempool *mp, unsigned int k)
{
	unsigned int n = 0;

	while (rte_mempool_avail_count(mp) > k) {
		CHECK(n < RTE_DIM(held));
		held[n] = rte_pktmbuf_alloc(mp);
		CHECK(held[n] != NULL);
		n++;
	}
	return n;
}

/* The frames of a message that decodes, for the learning check: their
 * source MACs, in order; 0 if the header or payload would not decode. */
static unsigned int
frame_srcs(const struct msg *msg, const uint8_t *srcs[])
{
	struct vrdma_wire_msg w;
	struct vrdma_wire_frame f;
	unsigned int n = 0;

	if (vrdma_wire_decode_hdr(&w, msg->hdr, msg->hdr_len, msg->len, NULL) !=
		    0 ||
	    vrdma_wire_decode_payload(&w, msg->data, NULL) != 0)
		return 0;
	while (vrdma_wire_next_frame(&w, &f) == 1)
		srcs[n++] = (const uint8_t *)f.data + RTE_ETHER_ADDR_LEN;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *srcs[VRDMA_WIRE_MAX_BATCH];
	struct counters before, after;
	ucp_am_recv_param_t param;
	struct vrdma_am_ctx ctx;
	struct msg msg;
	uint8_t *hdr, *payload;
	unsigned int target, k, n_fill = 0, n_held = 0, i, n_srcs;
	uint64_t delivered_missed, rx_frames = 0;
	ucs_status_t ret;
	uint8_t ctl, sel;
	int peer = -1;

	if (size < 3)
		return 0;
	ctl = data[0];
	sel = data[1];
	memset(&msg, 0, sizeof(msg));
	msg.hdr_len = RTE_MIN((size_t)data[2], size - 3);
	msg.len = size - 3 - msg.hdr_len;
	hdr = dup_exact(data + 3, msg.hdr_len);
	payload =
		msg.len > 0 ? dup_exact(data + 3 + msg.hdr_len, msg.len) : NULL;
	msg.hdr = hdr;
	msg.data = payload;
	msg.batch = msg.hdr_len >= VRDMA_WIRE_HDR_LEN &&
		    (le16(hdr + 4) & VRDMA_WIRE_F_BATCH);

	memset(&cur, 0, sizeof(cur));
	cur.data = payload;
	cur.len = msg.len;
	cur.pad = msg.hdr_len >= VRDMA_WIRE_HDR_LEN ? le16(hdr + 18) : 0;
	cur.rndv_fail = sel & 0x08;

	ctx.lane = lane;
	ctx.q = ctl & 0x07;
	/* Where the handler must put frames: its queue, folded onto those
	 * configured, or queue 0 if that one is not set up. */
	target = ctx.q % N_RXQ;
	if (target >= RTE_DIM(qs))
		target = 0;
	memset(&param, 0, sizeof(param));
	if (ctl & 0x20)
		param.recv_attr |= UCP_AM_RECV_ATTR_FLAG_RNDV;
	else if (ctl & 0x08)
		param.recv_attr |= UCP_AM_RECV_ATTR_FLAG_DATA;
	if (ctl & 0x10) {
		unsigned int e = sel & 0x07;

		param.recv_attr |= UCP_AM_RECV_ATTR_FIELD_REPLY_EP;
		if (e < 2 * N_PEERS) {
			param.reply_ep =
				(ucp_ep_h)(void *)&ep_tokens[e / 2][e % 2];
			peer = (int)(e / 2);
		} else {
			param.reply_ep = e == 2 * N_PEERS
						 ? (ucp_ep_h)(void *)&unknown_ep
						 : NULL;
		}
	}
	k = sel >> 4;
	if (ctl & 0x40)
		n_held = dry_pool(qs[target].mp, k);
	if (ctl & 0x80)
		n_fill = fill_ring(qs[target].rxq->ring, k);

	snapshot(&before);
	ret = vrdma_am_recv(&ctx, hdr, msg.hdr_len, payload, msg.len, &param);
	snapshot(&after);

	/* Only a lend keeps the data, and only when UCX allowed it. */
	CHECK(ret == UCS_OK ||
	      (ret == UCS_INPROGRESS &&
	       (param.recv_attr & UCP_AM_RECV_ATTR_FLAG_DATA) && !msg.batch));
	CHECK(cur.recv_calls == 0 ||
	      (param.recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV));
	n_srcs = frame_srcs(&msg, srcs);

	for (i = 0; i < RTE_DIM(qs); i++)
		drain(&msg, i, i == target ? n_fill : 0, i == target,
		      ret == UCS_INPROGRESS);
	for (i = 0; i < n_held; i++)
		rte_pktmbuf_free(held[i]);

	/* Lends come back once their mbufs are freed, and go to UCX. */
	vrdma_lends_reclaim(lane);
	CHECK(lane->n_lent == 0);
	CHECK(cur.releases == (ret == UCS_INPROGRESS ? 1u : 0u));
	for (i = 0; i < RTE_DIM(qs); i++) {
		CHECK(rte_ring_count(qs[i].rxq->ring) == 0);
		CHECK(rte_mempool_in_use_count(qs[i].mp) == qs[i].base_in_use);
	}

	check_monotonic(&before, &after);
	/* A message from no listed peer's connection (an unknown endpoint, or
	 * none named) is dropped whole before anything reads it, and counted;
	 * one from a peer's never is. */
	CHECK(after.rx_untrusted - before.rx_untrusted == (peer < 0 ? 1u : 0u));
	if (peer < 0)
		CHECK(ret == UCS_OK && msg.delivered == 0 &&
		      cur.recv_calls == 0 &&
		      after.bad_headers == before.bad_headers);
	/* Only refusals are counted as bad headers, each with a reason. */
	{
		uint64_t reasons = 0;

		for (i = 0; i < VRDMA_WIRE_REASON_MAX; i++)
			reasons += after.bad_reason[i] - before.bad_reason[i];
		CHECK(after.bad_headers - before.bad_headers == reasons);
		CHECK(reasons <= 1);
		CHECK(reasons == 0 || msg.delivered == 0);
	}
	CHECK(msg.delivered <= (n_srcs > 0 ? n_srcs : 1));
	delivered_missed =
		msg.delivered + after.missed[target] - before.missed[target];
	CHECK(delivered_missed <= (n_srcs > 0 ? n_srcs : 1));
	for (i = 0; i < 2; i++) {
		uint64_t got = after.packets[i] - before.packets[i];

		/* vrdma_rx_burst counts after the snapshot: none yet. */
		CHECK(got == 0);
		CHECK(qs[i].rxq->stats.packets - after.packets[i] ==
		      (i == target ? msg.delivered : 0));
		CHECK(qs[i].rxq->stats.bytes - after.bytes[i] ==
		      (i == target ? msg.bytes : 0));
	}
	for (i = 0; i < N_PEERS; i++) {
		uint64_t d = after.peer[i].rx_frames - before.peer[i].rx_frames;

		if ((int)i != peer) {
			CHECK(d == 0);
			continue;
		}
		rx_frames = d;
		CHECK(after.peer[i].rx_bytes - before.peer[i].rx_bytes >=
		      msg.bytes);
		CHECK(after.peer[i].rx_lent - before.peer[i].rx_lent ==
		      (ret == UCS_INPROGRESS ? 1u : 0u));
	}
	/* A frame accounted to a peer was delivered or missed (ring full). */
	if (peer >= 0)
		CHECK(rx_frames == delivered_missed);

	/* Every frame accounted to a peer taught the table its source,
	 * unless a full queue dropped it, which it may before reading it. */
	if (peer >= 0 && rx_frames == n_srcs &&
	    after.missed[target] == before.missed[target] &&
	    after.learn.full == before.learn.full)
		for (i = 0; i < n_srcs; i++)
			if (!(srcs[i][0] & 0x01)) /* not multicast */
				CHECK(vrdma_peers_lookup(
					      &port->learn, srcs[i],
					      rte_get_timer_cycles()) == peer);
	/* Each input starts from an empty table. */
	for (i = 0; i < N_PEERS; i++)
		vrdma_peers_forget_peer(&port->learn, (int)i);

	free(payload);
	free(hdr);
	return 0;
}
