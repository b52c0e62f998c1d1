/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vrdma data path: the rx and tx bursts and the active-message receive
 * handler. A frame leaves as one UCX active message whose header is the
 * wire header (vrdma_wire.h) and whose data is the frame, straight from the
 * mbuf (an iov for a chained mbuf; one contiguous range when the padding
 * fits the mbuf's headroom, so that UCX can send it from registered
 * memory without a copy). Frames up to the port's rndv_thresh go eager;
 * larger ones by rendezvous, which the receiver reads straight into one
 * mbuf when the frame fits one (RDMA on verbs: UCX 1.13 reads only into a
 * contiguous buffer; into a chain it copies through fragments). On
 * receive the header is checked before anything else, the frame lands in
 * mbufs of the rx queue's pool (chained when larger than one) or, when UCX
 * lets us keep its buffer and the sender left headroom (VRDMA_PAD), stays
 * where it is, in an mbuf of the pool that points at UCX's buffer (a
 * lend); its offload request is restored as transmit flags, so the switch
 * treats it like a guest's frame. Nothing here blocks, logs above DEBUG or
 * allocates from the heap: sends, rendezvous receives and lends in flight
 * use fixed slots.
 */

#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "vrdma.h"

/* --- slots ---------------------------------------------------------------- */

static struct vrdma_tx_slot *
tx_slot_get(struct vrdma_lane *lane)
{
	struct vrdma_tx_slot *slot;

	if (lane->tx_free < 0)
		return NULL;
	slot = &lane->tx_slots[lane->tx_free];
	lane->tx_free = slot->next_free;
	lane->n_tx_free--;
	return slot;
}

static void
tx_slot_put(struct vrdma_lane *lane, struct vrdma_tx_slot *slot)
{
	rte_pktmbuf_free(slot->m);
	slot->m = NULL;
	slot->next_free = (int)(slot - lane->tx_slots);
	RTE_SWAP(slot->next_free, lane->tx_free);
	lane->n_tx_free++;
}

static struct vrdma_rx_slot *
rx_slot_get(struct vrdma_lane *lane)
{
	struct vrdma_rx_slot *slot;

	if (lane->rx_free < 0)
		return NULL;
	slot = &lane->rx_slots[lane->rx_free];
	lane->rx_free = slot->next_free;
	return slot;
}

static void
rx_slot_put(struct vrdma_lane *lane, struct vrdma_rx_slot *slot)
{
	slot->m = NULL;
	slot->next_free = (int)(slot - lane->rx_slots);
	RTE_SWAP(slot->next_free, lane->rx_free);
}

static struct vrdma_batch *
batch_get(struct vrdma_lane *lane, int peer)
{
	struct vrdma_batch *b;

	if (lane->batch_free < 0)
		return NULL;
	b = &lane->batches[lane->batch_free];
	lane->batch_free = b->next_free;
	lane->n_batch_free--;
	b->lane = lane;
	b->peer = peer;
	b->n_iov = 0;
	vrdma_wire_batch_init(&b->wb, b->buf, sizeof(b->buf));
	return b;
}

/* Back on the free list, with the references to its frames dropped. */
static void
batch_put(struct vrdma_lane *lane, struct vrdma_batch *b)
{
	if (b->wb.count > 0)
		rte_pktmbuf_free_bulk(b->m, b->wb.count);
	b->wb.count = 0;
	b->next_free = (int)(b - lane->batches);
	RTE_SWAP(b->next_free, lane->batch_free);
	lane->n_batch_free++;
}

/* --- lends ------------------------------------------------------------- */

/* The mbuf's last reference is gone, on whatever thread: queue the lend
 * for the worker's thread. The ring holds every lend: never full. Only the
 * lend and its ring are touched: after a stop that left lends behind, the
 * port may be closed and gone by now. */
static void
lend_return(void *addr, void *opaque)
{
	struct vrdma_lend *l = opaque;

	RTE_SET_USED(addr);
	rte_ring_mp_enqueue(l->ring, l);
}

int
vrdma_lends_init(struct vrdma_lane *lane)
{
	char name[RTE_RING_NAMESIZE];
	int i;

	lane->lends = rte_zmalloc("vrdma_lends",
				  sizeof(*lane->lends) * VRDMA_LENDS, 0);
	if (lane->lends == NULL)
		return -ENOMEM;
	/* A ring left behind by an unclean stop keeps its name. */
	snprintf(name, sizeof(name), "vrdma_lend%u_%u_%u", lane->port->port_id,
		 lane->id, lane->lend_gen++);
	lane->lend_ring = rte_ring_create(name, VRDMA_LENDS, SOCKET_ID_ANY,
					  RING_F_SC_DEQ | RING_F_EXACT_SZ);
	if (lane->lend_ring == NULL) {
		rte_free(lane->lends);
		lane->lends = NULL;
		return -rte_errno;
	}
	for (i = 0; i < VRDMA_LENDS; i++) {
		lane->lends[i].ring = lane->lend_ring;
		lane->lends[i].next_free = i + 1 < VRDMA_LENDS ? i + 1 : -1;
	}
	lane->lend_free = 0;
	lane->n_lent = 0;
	return 0;
}

/* Give UCX back the buffers of lent frames the application has freed. */
void
vrdma_lends_reclaim(struct vrdma_lane *lane)
{
	struct vrdma_lend *ls[32];
	unsigned int n, i;

	if (lane->lend_ring == NULL)
		return;
	do {
		n = rte_ring_sc_dequeue_burst(lane->lend_ring, (void **)ls,
					      RTE_DIM(ls), NULL);
		for (i = 0; i < n; i++) {
			struct vrdma_lend *l = ls[i];

			ucp_am_data_release(lane->worker, l->data);
			l->data = NULL;
			l->next_free = (int)(l - lane->lends);
			RTE_SWAP(l->next_free, lane->lend_free);
			lane->n_lent--;
		}
	} while (n == RTE_DIM(ls));
}

/*
 * At stop, before the worker goes: every lent buffer back to UCX. Waits
 * up to a second for the application to free what it still holds; false
 * if it did not, and then the lends (and the worker, whose memory they
 * point into) must stay.
 */
bool
vrdma_lends_fini(struct vrdma_lane *lane)
{
	unsigned int waited;

	if (lane->lends == NULL)
		return true;
	for (waited = 0; waited < 1000; waited++) {
		vrdma_lends_reclaim(lane);
		if (lane->n_lent == 0)
			break;
		rte_delay_us_sleep(1000);
	}
	if (lane->n_lent != 0) {
		VRDMA_LOG(WARNING,
			  "%s: the application still holds %u received "
			  "frames at stop; their UCX buffers stay until exit",
			  lane->port->name, lane->n_lent);
		lane->lends = NULL;
		lane->lend_ring = NULL;
		return false;
	}
	rte_ring_free(lane->lend_ring);
	lane->lend_ring = NULL;
	rte_free(lane->lends);
	lane->lends = NULL;
	return true;
}

int
vrdma_lane_slots_init(struct vrdma_lane *lane)
{
	int i;

	lane->tx_slots = rte_zmalloc(
		"vrdma_tx_slots", sizeof(*lane->tx_slots) * VRDMA_TX_SLOTS, 0);
	lane->rx_slots = rte_zmalloc(
		"vrdma_rx_slots", sizeof(*lane->rx_slots) * VRDMA_RX_SLOTS, 0);
	lane->batches = rte_zmalloc("vrdma_batches",
				    sizeof(*lane->batches) * VRDMA_BATCHES, 0);
	if (lane->tx_slots == NULL || lane->rx_slots == NULL ||
	    lane->batches == NULL) {
		vrdma_lane_slots_fini(lane);
		return -ENOMEM;
	}
	for (i = 0; i < VRDMA_TX_SLOTS; i++)
		lane->tx_slots[i].next_free =
			i + 1 < VRDMA_TX_SLOTS ? i + 1 : -1;
	lane->tx_free = 0;
	lane->n_tx_free = VRDMA_TX_SLOTS;
	for (i = 0; i < VRDMA_RX_SLOTS; i++)
		lane->rx_slots[i].next_free =
			i + 1 < VRDMA_RX_SLOTS ? i + 1 : -1;
	lane->rx_free = 0;
	for (i = 0; i < VRDMA_BATCHES; i++)
		lane->batches[i].next_free = i + 1 < VRDMA_BATCHES ? i + 1 : -1;
	lane->batch_free = 0;
	lane->n_batch_free = VRDMA_BATCHES;
	memset(lane->open, 0, sizeof(lane->open));
	return 0;
}

void
vrdma_lane_slots_fini(struct vrdma_lane *lane)
{
	rte_free(lane->tx_slots);
	lane->tx_slots = NULL;
	rte_free(lane->rx_slots);
	lane->rx_slots = NULL;
	rte_free(lane->batches);
	lane->batches = NULL;
}

/* --- learning ------------------------------------------------------------ */

void
vrdma_learn_forget(struct vrdma_port *port, int peer)
{
	rte_spinlock_lock(&port->learn_lock);
	vrdma_peers_forget_peer(&port->learn, peer);
	rte_spinlock_unlock(&port->learn_lock);
}

/* --- offload flags <-> wire -------------------------------------------- */

static uint32_t
wire_flags_of(uint64_t ol)
{
	uint32_t f = 0;

	if (ol & RTE_MBUF_F_TX_TCP_SEG)
		f |= VRDMA_WIRE_F_TSO;
	if ((ol & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM)
		f |= VRDMA_WIRE_F_TCP_CKSUM;
	if ((ol & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_UDP_CKSUM)
		f |= VRDMA_WIRE_F_UDP_CKSUM;
	if (ol & RTE_MBUF_F_TX_IP_CKSUM)
		f |= VRDMA_WIRE_F_IP_CKSUM;
	if (ol & RTE_MBUF_F_TX_IPV4)
		f |= VRDMA_WIRE_F_IPV4;
	if (ol & RTE_MBUF_F_TX_IPV6)
		f |= VRDMA_WIRE_F_IPV6;
	return f;
}

static void
set_offloads(struct rte_mbuf *m, const struct vrdma_wire_frame *f)
{
	uint64_t ol = 0;

	if (f->flags & VRDMA_WIRE_F_TSO)
		ol |= RTE_MBUF_F_TX_TCP_SEG;
	if (f->flags & VRDMA_WIRE_F_TCP_CKSUM)
		ol |= RTE_MBUF_F_TX_TCP_CKSUM;
	if (f->flags & VRDMA_WIRE_F_UDP_CKSUM)
		ol |= RTE_MBUF_F_TX_UDP_CKSUM;
	if (f->flags & VRDMA_WIRE_F_IP_CKSUM)
		ol |= RTE_MBUF_F_TX_IP_CKSUM;
	if (f->flags & VRDMA_WIRE_F_IPV4)
		ol |= RTE_MBUF_F_TX_IPV4;
	if (f->flags & VRDMA_WIRE_F_IPV6)
		ol |= RTE_MBUF_F_TX_IPV6;
	m->ol_flags |= ol;
	m->tso_segsz = f->tso_segsz;
	m->l2_len = f->l2_len;
	m->l3_len = f->l3_len;
	m->l4_len = f->l4_len;
}

/* --- receive ------------------------------------------------------------ */

/* An mbuf chain for len bytes; iov (if not NULL) gets one entry per
 * segment. NULL if the pool runs dry or len needs too many segments. */
static struct rte_mbuf *
alloc_chain(struct rte_mempool *mp, uint32_t len, ucp_dt_iov_t *iov, int *nseg)
{
	struct rte_mbuf *head = NULL, *tail = NULL, *m;
	uint32_t left = len;
	int n = 0;

	do {
		uint16_t room;

		if (n == VRDMA_MAX_SEGS)
			goto err_free;
		m = rte_pktmbuf_alloc(mp);
		if (m == NULL)
			goto err_free;
		room = rte_pktmbuf_tailroom(m);
		m->data_len = RTE_MIN(left, (uint32_t)room);
		if (iov != NULL) {
			iov[n].buffer = rte_pktmbuf_mtod(m, void *);
			iov[n].length = m->data_len;
		}
		left -= m->data_len;
		if (head == NULL) {
			head = m;
		} else {
			tail->next = m;
			head->nb_segs++;
		}
		tail = m;
		n++;
	} while (left > 0);
	head->pkt_len = len;
	*nseg = n;
	return head;

err_free:
	rte_pktmbuf_free(head);
	return NULL;
}

/* Count a received frame and, if learn, learn where its source MAC is. */
static void
rx_account(struct vrdma_lane *lane, const struct rte_mbuf *m, int peer,
	   uint64_t now, bool learn)
{
	const struct rte_ether_hdr *eth =
		rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	struct vrdma_port *port = lane->port;

	if (peer < 0)
		return;
	if (learn) {
		rte_spinlock_lock(&port->learn_lock);
		vrdma_peers_learn(&port->learn, eth->src_addr.addr_bytes, peer,
				  now);
		rte_spinlock_unlock(&port->learn_lock);
	}
	lane->peers[peer].stats.rx_frames++;
	lane->peers[peer].stats.rx_bytes += m->pkt_len;
}

/* A queue's counter, which every lane may count into. */
static inline void
rxq_count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* A frame from peer that the queue has no room for: received, dropped. */
static void
rx_missed(struct vrdma_lane *lane, struct vrdma_rxq *rxq, int peer,
	  uint32_t len)
{
	rxq_count(&rxq->missed, 1);
	lane->peers[peer].stats.rx_frames++;
	lane->peers[peer].stats.rx_bytes += len;
}

/* Hand n complete frames to the rx queue at once; the ring's cost is per
 * call, not per frame. */
static void
rx_enqueue(struct vrdma_rxq *rxq, struct rte_mbuf **ms, unsigned int n)
{
	unsigned int done;

	if (n == 0)
		return;
	done = rte_ring_mp_enqueue_burst(rxq->ring, (void **)ms, n, NULL);
	if (done < n) {
		rxq_count(&rxq->missed, n - done);
		rte_pktmbuf_free_bulk(ms + done, n - done);
	}
}

/* Hand a complete frame to the rx queue: offloads, learning, counters. */
static void
rx_deliver(struct vrdma_lane *lane, struct vrdma_rxq *rxq, struct rte_mbuf *m,
	   const struct vrdma_wire_frame *f, int peer)
{
	set_offloads(m, f);
	rx_account(lane, m, peer, rte_get_timer_cycles(), true);
	rx_enqueue(rxq, &m, 1);
}

/*
 * A received frame left where UCX received it: an mbuf of the queue's pool
 * pointing at UCX's buffer, the sender's padding as its headroom. payload
 * is UCX's data pointer (padding first). False if the frame cannot be lent
 * (no lend or mbuf free, too long for an mbuf, misaligned): the caller
 * copies it.
 */
static bool
rx_lend(struct vrdma_lane *lane, struct vrdma_rxq *rxq, void *payload,
	const struct vrdma_wire_frame *f, int peer)
{
	uint32_t room = (uint32_t)f->pad + f->len;
	struct vrdma_lend *l;
	struct rte_mbuf *m;

	/* UCX's memory has an IO address only where those are virtual
	 * addresses; in PA mode a lent frame would have none, and a hardware
	 * port on the same switch could not send it: copied instead. */
	if (room > UINT16_MAX || lane->lend_free < 0 ||
	    rte_eal_iova_mode() != RTE_IOVA_VA)
		return false;
	/* The peer chooses the padding: an odd one would leave the frame's
	 * Ethernet header misaligned for everyone who reads it. */
	if (!rte_is_aligned(RTE_PTR_ADD(payload, f->pad),
			    _Alignof(struct rte_ether_hdr)))
		return false;
	m = rte_pktmbuf_alloc(rxq->mp);
	if (m == NULL)
		return false;
	l = &lane->lends[lane->lend_free];
	lane->lend_free = l->next_free;
	lane->n_lent++;
	l->data = payload;
	l->shinfo.free_cb = lend_return;
	l->shinfo.fcb_opaque = l;
	rte_mbuf_ext_refcnt_set(&l->shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, payload, (rte_iova_t)(uintptr_t)payload,
				  (uint16_t)room, &l->shinfo);
	m->data_off = f->pad;
	m->data_len = (uint16_t)f->len;
	m->pkt_len = f->len;
	if (peer >= 0)
		lane->peers[peer].stats.rx_lent++;
	rx_deliver(lane, rxq, m, f, peer);
	return true;
}

/* A received frame copied into mbufs of the queue's pool, its offload
 * request restored; NULL (counted) when the pool is dry. */
static struct rte_mbuf *
rx_copy(struct vrdma_rxq *rxq, const struct vrdma_wire_frame *f)
{
	const uint8_t *src = f->data;
	struct rte_mbuf *m, *seg;
	int nseg;

	m = alloc_chain(rxq->mp, f->len, NULL, &nseg);
	if (m == NULL) {
		rxq_count(&rxq->nombuf, 1);
		return NULL;
	}
	for (seg = m; seg != NULL; seg = seg->next) {
		memcpy(rte_pktmbuf_mtod(seg, void *), src, seg->data_len);
		src += seg->data_len;
	}
	set_offloads(m, f);
	return m;
}

static void
bad_header(struct vrdma_lane *lane, int peer, enum vrdma_wire_reason reason)
{
	lane->bad_headers++;
	if (reason < VRDMA_WIRE_REASON_MAX)
		lane->bad_reason[reason]++;
	if (peer >= 0)
		lane->peers[peer].stats.bad_headers++;
}

/*
 * Every frame of a received message into the queue: copied, then handed
 * over VRDMA_RX_GROUP at a time; the learning table is told once per run
 * of frames from one source MAC (a batch is mostly one flow's). The last
 * source is kept as a copy: a group that finds the ring full is freed, and
 * the next frame may be copied into the mbuf that held it.
 */
static void
rx_frames(struct vrdma_lane *lane, struct vrdma_rxq *rxq,
	  struct vrdma_wire_msg *msg, int peer)
{
	struct rte_mbuf *ms[VRDMA_RX_GROUP];
	struct rte_ether_addr last_src;
	bool have_last = false;
	struct vrdma_wire_frame f;
	uint64_t now = rte_get_timer_cycles();
	unsigned int n = 0;

	int more;

	while ((more = vrdma_wire_next_frame(msg, &f)) == 1) {
		const struct rte_ether_addr *src;
		struct rte_mbuf *m;
		bool learn;

		/* No room in the queue: dropped before it takes an mbuf. */
		if (rte_ring_free_count(rxq->ring) <= n) {
			rx_missed(lane, rxq, peer, f.len);
			continue;
		}
		m = rx_copy(rxq, &f);
		if (m == NULL)
			continue;
		src = &rte_pktmbuf_mtod(m, const struct rte_ether_hdr *)
			       ->src_addr;
		learn = !have_last || !rte_is_same_ether_addr(&last_src, src);
		rx_account(lane, m, peer, now, learn);
		rte_ether_addr_copy(src, &last_src);
		have_last = true;
		ms[n++] = m;
		if (n == VRDMA_RX_GROUP) {
			rx_enqueue(rxq, ms, n);
			n = 0;
		}
	}
	rx_enqueue(rxq, ms, n);
	if (more < 0) /* the sender rewrote a record after the check */
		bad_header(lane, peer, VRDMA_WIRE_BAD_CHANGED);
}

static void
rndv_done(void *request, ucs_status_t status, size_t length, void *user_data)
{
	struct vrdma_rx_slot *slot = user_data;
	struct vrdma_lane *lane = slot->lane;

	RTE_SET_USED(length);
	if (status == UCS_OK)
		rx_deliver(lane, slot->rxq, slot->m, &slot->frame, slot->peer);
	else
		rte_pktmbuf_free(slot->m);
	rx_slot_put(lane, slot);
	if (request != NULL)
		ucp_request_free(request);
}

static void
rx_rndv(struct vrdma_lane *lane, struct vrdma_rxq *rxq, void *desc,
	const struct vrdma_wire_msg *msg, int peer)
{
	ucp_request_param_t param = {
		.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK |
				UCP_OP_ATTR_FIELD_USER_DATA |
				UCP_OP_ATTR_FIELD_DATATYPE,
		.cb.recv_am = rndv_done,
		.datatype = ucp_dt_make_iov(),
	};
	struct vrdma_rx_slot *slot = rx_slot_get(lane);
	ucs_status_ptr_t req;
	ucp_dt_iov_t *iov;
	int nseg;

	if (slot == NULL)
		goto err_drop;
	slot->frame = msg->frame;
	slot->peer = peer;
	slot->lane = lane;
	slot->rxq = rxq;
	param.user_data = slot;
	/* Padding and frame in one mbuf, the padding in its headroom: one
	 * contiguous buffer, which UCX reads into without a copy. */
	if (rte_pktmbuf_data_room_size(rxq->mp) >=
		    RTE_PKTMBUF_HEADROOM + msg->frame.len &&
	    msg->frame.pad <= RTE_PKTMBUF_HEADROOM) {
		slot->m = rte_pktmbuf_alloc(rxq->mp);
		if (slot->m == NULL) {
			rxq_count(&rxq->nombuf, 1);
			goto err_put_slot;
		}
		slot->m->data_len = (uint16_t)msg->frame.len;
		slot->m->pkt_len = msg->frame.len;
		param.datatype = ucp_dt_make_contig(1);
		req = ucp_am_recv_data_nbx(
			lane->worker, desc,
			rte_pktmbuf_mtod(slot->m, uint8_t *) - msg->frame.pad,
			(size_t)msg->frame.pad + msg->frame.len, &param);
		goto check;
	}
	slot->m = alloc_chain(rxq->mp, msg->frame.len, slot->iov + 1, &nseg);
	if (slot->m == NULL) {
		rxq_count(&rxq->nombuf, 1);
		goto err_put_slot;
	}
	iov = slot->iov + 1;
	if (msg->frame.pad != 0) {
		/* The padding is of no use in a fresh mbuf: discarded. */
		iov = slot->iov;
		iov[0].buffer = lane->pad_sink;
		iov[0].length = msg->frame.pad;
		nseg++;
	}
	req = ucp_am_recv_data_nbx(lane->worker, desc, iov, (size_t)nseg,
				   &param);
check:
	if (req == NULL)
		rndv_done(NULL, UCS_OK, msg->frame.len, slot);
	else if (UCS_PTR_IS_ERR(req))
		rndv_done(NULL, UCS_PTR_STATUS(req), 0, slot);
	return;

err_put_slot:
	/* Returning from the handler without receiving drops the message;
	 * releasing desc here as well would free it twice. */
	rx_slot_put(lane, slot);
	return;
err_drop:
	rxq_count(&rxq->missed, 1);
}

ucs_status_t
vrdma_am_recv(void *arg, const void *header, size_t header_len, void *data,
	      size_t len, const ucp_am_recv_param_t *param)
{
	const struct vrdma_am_ctx *ctx = arg;
	struct vrdma_lane *lane = ctx->lane;
	struct vrdma_port *port = lane->port;
	struct vrdma_rxq *rxq = port->rxqs[ctx->q % port->n_rxq_conf];
	enum vrdma_wire_reason reason;
	struct vrdma_wire_msg msg;
	bool rndv = param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV;
	int peer = -1;

	/* A rendezvous message that is not received here is dropped by
	 * returning UCS_OK: UCX then tells the sender it is done. Frames
	 * count only from a listed peer's connection, proven if there is a
	 * key: a connection that is not (yet), a replaced one, a sender that
	 * does not say who it is (no reply endpoint) are dropped. */
	if (param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP)
		peer = vrdma_peer_of_ep(lane, param->reply_ep);
	if (peer < 0) {
		lane->rx_untrusted++;
		return UCS_OK;
	}
	if (vrdma_wire_decode_hdr(&msg, header, header_len, len, &reason) !=
	    0) {
		bad_header(lane, peer, reason);
		return UCS_OK;
	}
	if (rxq == NULL)
		rxq = port->rxqs[0]; /* queue not set up (yet): the first */
	if (rxq == NULL)
		return UCS_OK;
	/* A full queue takes no frame: not even an mbuf is spent on one.
	 * (Batches are checked frame by frame in rx_frames.) */
	if (!(msg.flags & VRDMA_WIRE_F_BATCH) &&
	    rte_ring_free_count(rxq->ring) == 0) {
		rx_missed(lane, rxq, peer, msg.frame.len);
		return UCS_OK;
	}
	if (rndv) {
		if (msg.flags & VRDMA_WIRE_F_BATCH)
			/* Batches are small by construction: never rndv. */
			bad_header(lane, peer, VRDMA_WIRE_BAD_FLAGS);
		else
			rx_rndv(lane, rxq, data, &msg, peer);
		return UCS_OK;
	}
	if (msg.flags & VRDMA_WIRE_F_BATCH) {
		/* The sender's core wrote the batch: ask for all of it at
		 * once, not a cache miss per record header and frame. */
		size_t off;

		for (off = 0; off < len; off += RTE_CACHE_LINE_SIZE)
			rte_prefetch0((const uint8_t *)data + off);
	}
	if (vrdma_wire_decode_payload(&msg, data, &reason) != 0) {
		bad_header(lane, peer, reason);
		return UCS_OK;
	}
	/* Keeping UCX's buffer needs its leave (FLAG_DATA: not inline data)
	 * and the sender's padding for headroom. */
	if (msg.frame.pad != 0 &&
	    (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_DATA) &&
	    rx_lend(lane, rxq, data, &msg.frame, peer))
		return UCS_INPROGRESS;
	rx_frames(lane, rxq, &msg, peer);
	return UCS_OK;
}

/* Per port, the lane this thread's tx bursts use: 1 + the first of the
 * port's rx queues it polled (its own lane then, see vrdma.h); 0: none. */
static __thread uint8_t thread_lane[RTE_MAX_ETHPORTS];

uint16_t
vrdma_rx_burst(void *queue, struct rte_mbuf **bufs, uint16_t n)
{
	struct vrdma_rxq *rxq = queue;
	struct vrdma_port *port = rxq->port;
	unsigned int got, i;

	if (rxq->id < port->n_lanes) {
		struct vrdma_lane *lane = &port->lanes[rxq->id];

		if (thread_lane[port->port_id] == 0)
			thread_lane[port->port_id] = (uint8_t)(rxq->id + 1);
		/* Whoever holds the lock is progressing it for us already. */
		if (rte_spinlock_trylock(&lane->lock)) {
			if (lane->started)
				vrdma_fabric_progress(lane);
			rte_spinlock_unlock(&lane->lock);
		}
	}
	got = rte_ring_sc_dequeue_burst(rxq->ring, (void **)bufs, n, NULL);
	for (i = 0; i < got; i++) {
		bufs[i]->port = port->port_id;
		rxq->stats.bytes += bufs[i]->pkt_len;
	}
	rxq->stats.packets += got;
	return (uint16_t)got;
}

/* --- transmit ----------------------------------------------------------- */

/*
 * Which of the receiver's queues a frame goes to: a hash of its flow (IP
 * addresses, protocol and ports; the MAC pair for non-IP frames), so one
 * flow's frames stay in order on one queue.
 */
static uint16_t
flow_queue(const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth =
		rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const uint8_t *l3 = (const uint8_t *)(eth + 1);
	uint32_t avail = m->data_len - RTE_ETHER_HDR_LEN;
	uint32_t h = 0, l4 = 0;
	uint8_t proto = 0;

	if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) &&
	    avail >= sizeof(struct rte_ipv4_hdr)) {
		const struct rte_ipv4_hdr *ip = (const void *)l3;

		h = rte_hash_crc_4byte(ip->src_addr, 0);
		h = rte_hash_crc_4byte(ip->dst_addr, h);
		proto = ip->next_proto_id;
		l4 = rte_ipv4_hdr_len(ip);
	} else if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6) &&
		   avail >= sizeof(struct rte_ipv6_hdr)) {
		const struct rte_ipv6_hdr *ip = (const void *)l3;

		h = rte_hash_crc(ip->src_addr, 32, 0); /* src and dst */
		proto = ip->proto;
		l4 = sizeof(*ip);
	} else {
		return (uint16_t)(rte_hash_crc(eth, 2 * RTE_ETHER_ADDR_LEN, 0) %
				  VRDMA_MAX_RXQ);
	}
	h = rte_hash_crc_1byte(proto, h);
	if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && avail >= l4 + 4)
		h = rte_hash_crc_4byte(*(const unaligned_uint32_t *)(l3 + l4),
				       h);
	return (uint16_t)(h % VRDMA_MAX_RXQ);
}

static void
tx_done(void *request, ucs_status_t status, void *user_data)
{
	struct vrdma_tx_slot *slot = user_data;

	if (status != UCS_OK)
		slot->lane->tx_failed++;
	tx_slot_put(slot->lane, slot);
	ucp_request_free(request);
}

/* What the sender's padding is made of: never read by the receiver.
 * Writable on purpose: UCX registers zero-copy send buffers with an RDMA
 * device, asking local write access, which fails on read-only pages. */
static uint8_t pad_bytes[VRDMA_PAD] __rte_cache_aligned;

/* Frames to peer larger than this go by rendezvous. auto: when verbs
 * carry its frames, rendezvous from 16 KiB, where reading the frame by
 * RDMA straight into the receiver's mbuf beats eager's copies through
 * UCX's buffers (measured with vrdma bench roce: 1.5x at 65226 B, even at
 * 16000 B, eager ahead at 9000 B and below); over shared memory and tcp
 * every frame eager: the receiver keeps UCX's buffer (a lend), and
 * rendezvous would add a round trip. */
static inline uint32_t
rndv_thresh(const struct vrdma_peer *peer)
{
	const struct vrdma_port *port = peer->port;

	if (port->da.rndv_thresh != VRDMA_RNDV_THRESH_AUTO)
		return port->da.rndv_thresh;
	if ((peer->via[VRDMA_TL_rc] | peer->via[VRDMA_TL_dc]) &
	    VRDMA_TL_ROLE_AM)
		return VRDMA_RNDV_VERBS;
	return UINT16_MAX;
}

/* Whether the pad bytes in front of m's data may be written: m has that
 * much headroom and nobody else holds its buffer (not shared, not
 * attached to another mbuf's, not an external buffer with other users). */
static bool
headroom_is_ours(const struct rte_mbuf *m, uint16_t pad)
{
	if (rte_pktmbuf_headroom(m) < pad || rte_mbuf_refcnt_read(m) != 1)
		return false;
	if (RTE_MBUF_DIRECT(m))
		return true;
	return RTE_MBUF_HAS_EXTBUF(m) && m->shinfo != NULL &&
	       rte_mbuf_ext_refcnt_read(m->shinfo) == 1;
}

/* Send one reference of m, after pad bytes of padding, to peer; consumes
 * that reference. False if it was dropped (counted). */
static bool
tx_one(struct vrdma_lane *lane, struct vrdma_txq *txq, struct vrdma_peer *peer,
       struct rte_mbuf *m, const uint8_t *hdr, uint16_t pad, uint16_t q)
{
	ucp_request_param_t param = {
		.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK |
				UCP_OP_ATTR_FIELD_USER_DATA |
				UCP_OP_ATTR_FIELD_FLAGS |
				UCP_OP_ATTR_FIELD_DATATYPE,
		.cb.send = tx_done,
		/* REPLY: the receiver learns which peer a frame came from. */
		.flags = UCP_AM_SEND_FLAG_REPLY,
	};
	ucp_ep_h ep = vrdma_peer_tx_ep(peer);
	struct vrdma_tx_slot *slot = ep != NULL ? tx_slot_get(lane) : NULL;
	struct rte_mbuf *seg;
	ucs_status_ptr_t req;
	const void *buf;
	size_t count;

	/* ep: the progress call in tx_room may just have failed the peer. */
	if (slot == NULL || m->nb_segs > VRDMA_MAX_SEGS) {
		if (slot != NULL) {
			slot->m = m;
			tx_slot_put(lane, slot);
		} else {
			rte_pktmbuf_free(m);
		}
		peer->stats.drops++;
		txq->stats.errors++;
		return false;
	}
	slot->lane = lane;
	slot->m = m;
	/* The header must live until the send completes: it sits in the
	 * slot, not in the mbuf, whose buffer may be shared. */
	memcpy(slot->hdr, hdr, VRDMA_WIRE_HDR_LEN);
	if (m->nb_segs == 1 && pad == 0) {
		param.datatype = ucp_dt_make_contig(1);
		buf = rte_pktmbuf_mtod(m, const void *);
		count = m->data_len;
	} else if (m->nb_segs == 1 && headroom_is_ours(m, pad)) {
		/* The padding from the headroom: one contiguous range, which
		 * UCX sends from registered memory without a copy (an iov it
		 * copies). Zeroed: no stale bytes of other frames leave. */
		uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *) - pad;

		memset(p, 0, pad);
		param.datatype = ucp_dt_make_contig(1);
		buf = p;
		count = (size_t)pad + m->data_len;
	} else {
		int i = 0;

		if (pad != 0) {
			slot->iov[i].buffer = (void *)(uintptr_t)pad_bytes;
			slot->iov[i++].length = pad;
		}
		for (seg = m; seg != NULL; seg = seg->next, i++) {
			slot->iov[i].buffer = rte_pktmbuf_mtod(seg, void *);
			slot->iov[i].length = seg->data_len;
		}
		param.datatype = ucp_dt_make_iov();
		buf = slot->iov;
		count = (size_t)i;
	}
	if (m->pkt_len > rndv_thresh(peer)) {
		param.flags |= UCP_AM_SEND_FLAG_RNDV;
		peer->stats.rndv_sends++;
	} else {
		param.flags |= UCP_AM_SEND_FLAG_EAGER;
	}
	param.user_data = slot;
	req = ucp_am_send_nbx(ep, VRDMA_AM_ID + q, slot->hdr,
			      VRDMA_WIRE_HDR_LEN, buf, count, &param);
	if (UCS_PTR_IS_ERR(req)) {
		peer->stats.drops++;
		txq->stats.errors++;
		tx_slot_put(lane, slot);
		return false;
	}
	peer->stats.tx_frames++;
	peer->stats.tx_bytes += m->pkt_len;
	if (req == NULL)
		tx_slot_put(lane, slot);
	return true;
}

static void
batch_done(void *request, ucs_status_t status, void *user_data)
{
	struct vrdma_batch *b = user_data;

	if (status != UCS_OK)
		b->lane->tx_failed++;
	batch_put(b->lane, b);
	ucp_request_free(request);
}

/* Send peer's open batch, if any, as one message. */
static void
batch_flush(struct vrdma_lane *lane, struct vrdma_txq *txq, int peer_idx,
	    uint16_t q)
{
	struct vrdma_batch *b = lane->open[peer_idx][q];
	struct vrdma_peer *peer = &lane->peers[peer_idx];
	ucp_request_param_t param = {
		.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK |
				UCP_OP_ATTR_FIELD_USER_DATA |
				UCP_OP_ATTR_FIELD_FLAGS |
				UCP_OP_ATTR_FIELD_DATATYPE,
		.cb.send = batch_done,
		.user_data = b,
		.datatype = ucp_dt_make_iov(),
		.flags = UCP_AM_SEND_FLAG_REPLY | UCP_AM_SEND_FLAG_EAGER,
	};
	ucs_status_ptr_t req;
	int len;

	if (b == NULL)
		return;
	lane->open[peer_idx][q] = NULL;
	len = vrdma_wire_batch_finish(&b->wb);
	if (len < 0 || vrdma_peer_tx_ep(peer) == NULL) {
		peer->stats.drops += b->wb.count;
		txq->stats.errors += b->wb.count;
		batch_put(lane, b);
		return;
	}
	req = ucp_am_send_nbx(vrdma_peer_tx_ep(peer), VRDMA_AM_ID + q, b->buf,
			      VRDMA_WIRE_HDR_LEN, b->iov, b->n_iov, &param);
	if (UCS_PTR_IS_ERR(req)) {
		peer->stats.drops += b->wb.count;
		txq->stats.errors += b->wb.count;
		batch_put(lane, b);
		return;
	}
	peer->stats.batches++;
	if (req == NULL)
		batch_put(lane, b);
}

/* Add one reference of small frame m to peer's open batch, which holds it
 * until the message is sent; false if it cannot be (the reference is the
 * caller's still). */
static bool
batch_add(struct vrdma_lane *lane, struct vrdma_txq *txq, int peer_idx,
	  uint16_t q, struct rte_mbuf *m, struct vrdma_wire_frame *f)
{
	struct vrdma_peer *peer = &lane->peers[peer_idx];
	void *hdr;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		struct vrdma_batch *b = lane->open[peer_idx][q];

		if (b == NULL) {
			b = batch_get(lane, peer_idx);
			if (b == NULL)
				return false;
			b->q = q;
			lane->open[peer_idx][q] = b;
		}
		if (b->n_iov + 1u + m->nb_segs <= RTE_DIM(b->iov) &&
		    vrdma_wire_batch_add_gather(&b->wb, f, &hdr) == 0) {
			b->m[b->wb.count - 1] = m;
			b->iov[b->n_iov].buffer = hdr;
			b->iov[b->n_iov++].length = VRDMA_WIRE_FRAME_HDR_LEN;
			for (struct rte_mbuf *seg = m; seg != NULL;
			     seg = seg->next) {
				b->iov[b->n_iov].buffer =
					rte_pktmbuf_mtod(seg, void *);
				b->iov[b->n_iov++].length = seg->data_len;
			}
			peer->stats.tx_frames++;
			peer->stats.tx_bytes += m->pkt_len;
			return true;
		}
		batch_flush(lane, txq, peer_idx, q); /* full: send, retry */
	}
	return false;
}

/*
 * Room for one frame to nb peers: a batch (small frames) or a send slot
 * (large) each. When the transport has not finished earlier sends yet
 * (over shared memory a send completes only once the receiver has taken
 * it), progress it a little; if still full, the burst stops there and the
 * caller keeps the rest, as with a NIC's full TX ring.
 */
static bool
tx_room(struct vrdma_lane *lane, bool small, unsigned int nb)
{
	unsigned int tries;

	for (tries = 0; tries < VRDMA_TX_RECLAIM; tries++) {
		if ((small ? lane->n_batch_free : lane->n_tx_free) >= nb)
			return true;
		ucp_worker_progress(lane->worker);
	}
	return false;
}

/* One reference of m per peer's send, on every segment: each completion
 * frees the whole chain (rte_pktmbuf_free). */
static void
add_refs(struct rte_mbuf *m, unsigned int nb)
{
	if (nb > 1)
		for (struct rte_mbuf *seg = m; seg != NULL; seg = seg->next)
			rte_mbuf_refcnt_update(seg, (int16_t)(nb - 1));
}

/* The lane of the tx burst's thread (see vrdma.h). */
static struct vrdma_lane *
tx_lane(struct vrdma_port *port, const struct vrdma_txq *txq)
{
	unsigned int l = thread_lane[port->port_id];

	if (l == 0 || l > port->n_lanes)
		l = txq->id % port->n_lanes + 1u;
	return &port->lanes[l - 1];
}

uint16_t
vrdma_tx_burst(void *queue, struct rte_mbuf **bufs, uint16_t n)
{
	struct vrdma_txq *txq = queue;
	struct vrdma_port *port = txq->port;
	struct vrdma_lane *lane = tx_lane(port, txq);
	uint8_t hdr[VRDMA_WIRE_HDR_LEN];
	struct vrdma_wire_frame f;
	uint64_t now = rte_get_timer_cycles();
	/* The destination of the burst's previous frame and its peers: a
	 * burst is mostly one flow's, and the table lookup is per frame. */
	struct rte_ether_addr last_dst;
	uint64_t connected, dests = 0, left;
	bool have_last = false;
	uint16_t i, q, sent;
	unsigned int taken;
	uint32_t len;

	rte_spinlock_lock(&lane->lock);
	if (!lane->started) {
		rte_spinlock_unlock(&lane->lock);
		return 0;
	}
	connected = vrdma_fabric_connected_mask(lane);
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = bufs[i];
		const struct rte_ether_hdr *eth;
		unsigned int nb, peer;

		if (m->data_len < RTE_ETHER_HDR_LEN ||
		    vrdma_wire_frame_init(&f, m->pkt_len,
					  wire_flags_of(m->ol_flags),
					  m->tso_segsz, m->l2_len, m->l3_len,
					  m->l4_len, NULL) != 0)
			goto drop;
		eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		if (!have_last ||
		    !rte_is_same_ether_addr(&last_dst, &eth->dst_addr)) {
			rte_spinlock_lock(&port->learn_lock);
			dests = vrdma_peers_flood_set(&port->learn,
						      eth->dst_addr.addr_bytes,
						      connected, -1, now);
			rte_spinlock_unlock(&port->learn_lock);
			rte_ether_addr_copy(&eth->dst_addr, &last_dst);
			have_last = true;
		}
		if (dests == 0)
			goto drop;
		nb = (unsigned int)__builtin_popcountll(dests);
		if (!tx_room(lane, m->pkt_len <= VRDMA_BATCH_FRAME, nb)) {
			lane->tx_full++;
			break;
		}
		q = flow_queue(m);
		len = m->pkt_len;
		taken = 0;
		if (len <= VRDMA_BATCH_FRAME) {
			/* Small: copied into one message per peer per burst;
			 * UCX's per-message cost is what limits small frames.
			 */
			add_refs(m, nb);
			for (peer = 0, left = dests; left != 0;
			     peer++, left >>= 1) {
				if (!(left & 1))
					continue;
				if (batch_add(lane, txq, (int)peer, q, m, &f)) {
					taken++;
				} else {
					rte_pktmbuf_free(m);
					lane->peers[peer].stats.drops++;
					txq->stats.errors++;
				}
			}
			goto count;
		}
		/* Large: a message of its own per peer, behind its header
		 * (batched frames carry theirs in the batch's records). */
		if (len >= VRDMA_LEND_MIN &&
		    len + VRDMA_PAD <= VRDMA_EAGER_PIECE)
			f.pad = VRDMA_PAD;
		if (vrdma_wire_encode(hdr, sizeof(hdr), &f) < 0)
			goto drop;
		add_refs(m, nb);
		for (peer = 0, left = dests; left != 0; peer++, left >>= 1)
			if ((left & 1) && tx_one(lane, txq, &lane->peers[peer],
						 m, hdr, f.pad, q))
				taken++;
	count:
		/* Sent if any peer took it; each peer's drop is an error. */
		if (taken > 0) {
			txq->stats.packets++;
			txq->stats.bytes += len;
		}
		continue;
	drop:
		txq->stats.errors++;
		rte_pktmbuf_free(m);
	}
	sent = i;
	for (i = 0; i < port->n_peers; i++)
		for (q = 0; q < VRDMA_MAX_RXQ; q++)
			batch_flush(lane, txq, i, q);
	/* Sends that did not complete at once need progress; otherwise
	 * (shared memory copies eager messages in place) only now and then:
	 * the receiver's own polling is what brings it the frames. */
	if (lane->n_tx_free < VRDMA_TX_SLOTS ||
	    lane->n_batch_free < VRDMA_BATCHES ||
	    now - lane->last_progress > port->progress_gap)
		vrdma_fabric_progress(lane);
	rte_spinlock_unlock(&lane->lock);
	return sent;
}

void
vrdma_tx_slots_drain(struct vrdma_lane *lane)
{
	unsigned int spins = 0;
	int i, used;

	if (lane->tx_slots == NULL)
		return;
	do {
		ucp_worker_progress(lane->worker);
		for (used = 0, i = 0; i < VRDMA_TX_SLOTS; i++)
			used += lane->tx_slots[i].m != NULL;
		for (i = 0; i < VRDMA_RX_SLOTS; i++)
			used += lane->rx_slots[i].m != NULL;
		/* Batches in flight too: their buffers are freed after. */
		used += VRDMA_BATCHES - (int)lane->n_batch_free;
	} while (used > 0 && ++spins < 100000);
	if (used > 0)
		VRDMA_LOG(WARNING,
			  "%s: lane %u: %d transfers still in flight at stop",
			  lane->port->name, lane->id, used);
}
