/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vrdma ethdev: the fabric port as DPDK sees it. Probe checks the
 * devargs (vrdma_devargs.c) and takes nothing else; configure and queue
 * setup record; dev_start acquires UCX and the transfer slots
 * (vrdma_fabric.c); dev_stop releases them; dev_close frees the rest. Link
 * is up while at least one peer is connected. The burst functions live in
 * vrdma_rxtx.c. Loaded into testpmd or ovs-vswitchd-dpdk with "-d".
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bus_vdev_driver.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>
#include <rte_cycles.h>
#include <rte_kvargs.h>
#include <rte_malloc.h>
#include <rte_telemetry.h>

#include "vrdma.h"

RTE_LOG_REGISTER(vrdma_logtype, pmd.net.vrdma, NOTICE);

#define VRDMA_TX_OFFLOADS                                              \
	(RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_TCP_TSO |  \
	 RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM | \
	 RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)

static unsigned int
port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)ss)
				     ->sin6_port);
	return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
}

/* The highest port number of the listen address and the peers'. */
static unsigned int
highest_port(const struct vrdma_devargs *da)
{
	unsigned int i, max = port_of(&da->listen);

	for (i = 0; i < da->n_peers; i++)
		max = RTE_MAX(max, port_of(&da->peers[i]));
	return max;
}

static int
vrdma_dev_configure(struct rte_eth_dev *dev)
{
	struct vrdma_port *port = dev->data->dev_private;

	if (dev->data->nb_rx_queues > VRDMA_MAX_RXQ ||
	    dev->data->nb_tx_queues > VRDMA_MAX_TXQ) {
		VRDMA_LOG(ERR,
			  "%s: %u rx / %u tx queues asked, %d / %d "
			  "supported",
			  port->name, dev->data->nb_rx_queues,
			  dev->data->nb_tx_queues, VRDMA_MAX_RXQ,
			  VRDMA_MAX_TXQ);
		return -EINVAL;
	}
	port->n_rxq_conf = RTE_MAX(dev->data->nb_rx_queues, 1);
	/* Lane i listens on the listen port + i and connects to each peer's
	 * port + i (vrdma.h): those must exist. */
	if (highest_port(&port->da) + port->n_rxq_conf - 1 > UINT16_MAX) {
		VRDMA_LOG(ERR,
			  "%s: %u rx queues need ports up to %u above the "
			  "listen and peer ports (one per queue), past 65535: "
			  "use lower port numbers or fewer queues",
			  port->name, port->n_rxq_conf, port->n_rxq_conf - 1);
		return -EINVAL;
	}
	return 0;
}

static int
vrdma_dev_infos_get(struct rte_eth_dev *dev, struct rte_eth_dev_info *info)
{
	RTE_SET_USED(dev);
	info->max_mac_addrs = 1;
	info->max_rx_pktlen = VRDMA_MAX_FRAME_LEN;
	info->min_mtu = RTE_ETHER_MIN_MTU;
	info->max_mtu = UINT16_MAX; /* TSO frames are not bound by it */
	info->max_rx_queues = VRDMA_MAX_RXQ;
	info->max_tx_queues = VRDMA_MAX_TXQ;
	info->rx_offload_capa = RTE_ETH_RX_OFFLOAD_SCATTER;
	info->tx_offload_capa = VRDMA_TX_OFFLOADS;
	/* No descriptor rings on transmit: any count is fine (sends in
	 * flight are bounded by VRDMA_TX_SLOTS). On receive the descriptors
	 * are the rx ring's slots: the most received frames, each in an mbuf
	 * of the application's pool, the queue holds. */
	info->tx_desc_lim.nb_max = UINT16_MAX;
	info->tx_desc_lim.nb_min = 1;
	info->tx_desc_lim.nb_align = 1;
	info->rx_desc_lim.nb_max = VRDMA_RING_SIZE;
	info->rx_desc_lim.nb_min = VRDMA_RX_GROUP;
	info->rx_desc_lim.nb_align = 1;
	info->default_rxportconf.ring_size = VRDMA_RX_DESC_DEFAULT;
	info->speed_capa = RTE_ETH_LINK_SPEED_100G;
	return 0;
}

static void
rxq_free(struct vrdma_rxq *rxq)
{
	struct rte_mbuf *m;

	if (rxq == NULL)
		return;
	while (rxq->ring != NULL &&
	       rte_ring_dequeue(rxq->ring, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(rxq->ring);
	rte_free(rxq);
}

static int
vrdma_rx_queue_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc,
		     unsigned int socket, const struct rte_eth_rxconf *conf,
		     struct rte_mempool *mp)
{
	struct vrdma_port *port = dev->data->dev_private;
	char name[RTE_RING_NAMESIZE];
	struct vrdma_rxq *rxq;

	RTE_SET_USED(conf);
	rxq = rte_zmalloc_socket("vrdma_rxq", sizeof(*rxq), 0, (int)socket);
	if (rxq == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "vrdma_rx_%u_%u", port->port_id, qid);
	/* Exactly nb_desc frames (ethdev checked it against rx_desc_lim):
	 * frames beyond are dropped and counted as missed, as a NIC's are,
	 * so a slow application cannot have its pool drained by peers. */
	rxq->ring = rte_ring_create(name, nb_desc, (int)socket,
				    RING_F_SC_DEQ | RING_F_EXACT_SZ);
	if (rxq->ring == NULL) {
		rte_free(rxq);
		return -rte_errno;
	}
	rxq->port = port;
	rxq->mp = mp;
	rxq->id = qid;
	rte_spinlock_lock(&port->lock);
	rxq_free(port->rxqs[qid]);
	port->rxqs[qid] = rxq;
	rte_spinlock_unlock(&port->lock);
	dev->data->rx_queues[qid] = rxq;
	return 0;
}

static void
vrdma_rx_queue_release(struct rte_eth_dev *dev, uint16_t qid)
{
	struct vrdma_port *port = dev->data->dev_private;

	rte_spinlock_lock(&port->lock);
	rxq_free(port->rxqs[qid]);
	port->rxqs[qid] = NULL;
	rte_spinlock_unlock(&port->lock);
	dev->data->rx_queues[qid] = NULL;
}

static int
vrdma_tx_queue_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc,
		     unsigned int socket, const struct rte_eth_txconf *conf)
{
	struct vrdma_port *port = dev->data->dev_private;
	struct vrdma_txq *txq;

	RTE_SET_USED(nb_desc);
	RTE_SET_USED(conf);
	txq = rte_zmalloc_socket("vrdma_txq", sizeof(*txq), 0, (int)socket);
	if (txq == NULL)
		return -ENOMEM;
	txq->port = port;
	txq->id = qid;
	rte_free(port->txqs[qid]);
	port->txqs[qid] = txq;
	dev->data->tx_queues[qid] = txq;
	return 0;
}

static void
vrdma_tx_queue_release(struct rte_eth_dev *dev, uint16_t qid)
{
	struct vrdma_port *port = dev->data->dev_private;

	rte_free(port->txqs[qid]);
	port->txqs[qid] = NULL;
	dev->data->tx_queues[qid] = NULL;
}

static void
set_link(struct rte_eth_dev *dev, bool up)
{
	struct rte_eth_link link = {
		.link_speed =
			up ? RTE_ETH_SPEED_NUM_100G : RTE_ETH_SPEED_NUM_NONE,
		.link_duplex = RTE_ETH_LINK_FULL_DUPLEX,
		.link_autoneg = RTE_ETH_LINK_FIXED,
		.link_status = up ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN,
	};

	rte_eth_linkstatus_set(dev, &link);
}

static int
vrdma_dev_start(struct rte_eth_dev *dev)
{
	struct vrdma_port *port = dev->data->dev_private;
	uint16_t i;
	int ret;

	ret = vrdma_fabric_start(port);
	if (ret != 0)
		return ret;
	port->started_at = rte_get_timer_cycles();
	for (i = 0; i < port->n_lanes; i++) {
		struct vrdma_lane *lane = &port->lanes[i];

		rte_spinlock_lock(&lane->lock);
		lane->started = true;
		vrdma_fabric_progress_idle(lane);
		rte_spinlock_unlock(&lane->lock);
	}
	for (i = 0; i < dev->data->nb_rx_queues; i++)
		dev->data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
	for (i = 0; i < dev->data->nb_tx_queues; i++)
		dev->data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STARTED;
	return 0;
}

static int
vrdma_dev_stop(struct rte_eth_dev *dev)
{
	struct vrdma_port *port = dev->data->dev_private;
	bool was_started = false;
	uint16_t i;

	/* Under the locks only the switch to stopped: a thread that comes
	 * for a lane later (a link query, a late burst) finds it stopped and
	 * leaves UCX alone, so the stop itself, which may drain sends and
	 * wait up to a second for lent frames, runs unlocked and keeps
	 * nobody spinning on a lock meanwhile. */
	for (i = 0; i < port->n_lanes; i++) {
		struct vrdma_lane *lane = &port->lanes[i];

		rte_spinlock_lock(&lane->lock);
		was_started |= lane->started;
		lane->started = false;
		rte_spinlock_unlock(&lane->lock);
	}
	if (was_started)
		vrdma_fabric_stop(port);
	set_link(dev, false);
	for (i = 0; i < dev->data->nb_rx_queues; i++)
		dev->data->rx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
	for (i = 0; i < dev->data->nb_tx_queues; i++)
		dev->data->tx_queue_state[i] = RTE_ETH_QUEUE_STATE_STOPPED;
	return 0;
}

static int
vrdma_dev_close(struct rte_eth_dev *dev)
{
	struct vrdma_port *port = dev->data->dev_private;
	uint16_t i;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return 0;
	vrdma_dev_stop(dev);
	for (i = 0; i < dev->data->nb_rx_queues; i++)
		vrdma_rx_queue_release(dev, i);
	for (i = 0; i < dev->data->nb_tx_queues; i++)
		vrdma_tx_queue_release(dev, i);
	vrdma_peers_free(&port->learn);
	memset(&port->key, 0, sizeof(port->key)); /* no secret left behind */
	/* mac_addrs points into dev_private: not for ethdev to free. */
	dev->data->mac_addrs = NULL;
	return 0;
}

static int
vrdma_link_update(struct rte_eth_dev *dev, int wait)
{
	struct vrdma_port *port = dev->data->dev_private;
	bool up = false, started = false;
	uint16_t i;

	RTE_SET_USED(wait);
	for (i = 0; i < port->n_lanes; i++) {
		struct vrdma_lane *lane = &port->lanes[i];

		rte_spinlock_lock(&lane->lock);
		if (lane->started) {
			started = true;
			/* OVS and testpmd poll the link of an idle port:
			 * that is when connections get made. */
			vrdma_fabric_progress_idle(lane);
			up |= vrdma_fabric_connected_mask(lane) != 0;
		}
		rte_spinlock_unlock(&lane->lock);
	}
	if (started) {
		/* Down for VRDMA_LINK_SETTLE_MS after a start, whatever the
		 * peers, as a NIC's link takes a while: OVS reads the link
		 * right after starting a port and keeps it without telling
		 * its bridge, which only learns of changes; a link already up
		 * then (a restarted switch whose peers reconnect at once)
		 * stayed "down" in the OVSDB for good. The watchdog's next
		 * query, seconds later, is the change it reports. */
		if (rte_get_timer_cycles() - port->started_at <
		    rte_get_timer_hz() / 1000 * VRDMA_LINK_SETTLE_MS)
			up = false;
	}
	set_link(dev, up);
	return 0;
}

static int
vrdma_stats_get(struct rte_eth_dev *dev, struct rte_eth_stats *stats)
{
	struct vrdma_port *port = dev->data->dev_private;
	uint16_t i;

	for (i = 0; i < VRDMA_MAX_RXQ; i++) {
		const struct vrdma_rxq *q = port->rxqs[i];

		if (q == NULL)
			continue;
		stats->ipackets += q->stats.packets;
		stats->ibytes += q->stats.bytes;
		stats->imissed += q->missed;
		stats->rx_nombuf += q->nombuf;
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			stats->q_ipackets[i] = q->stats.packets;
			stats->q_ibytes[i] = q->stats.bytes;
		}
	}
	for (i = 0; i < VRDMA_MAX_TXQ; i++) {
		const struct vrdma_txq *q = port->txqs[i];

		if (q == NULL)
			continue;
		stats->opackets += q->stats.packets;
		stats->obytes += q->stats.bytes;
		stats->oerrors += q->stats.errors;
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			stats->q_opackets[i] = q->stats.packets;
			stats->q_obytes[i] = q->stats.bytes;
		}
	}
	for (i = 0; i < port->n_lanes; i++) {
		stats->oerrors += port->lanes[i].tx_failed;
		stats->ierrors += port->lanes[i].bad_headers;
	}
	return 0;
}

static int
vrdma_stats_reset(struct rte_eth_dev *dev)
{
	struct vrdma_port *port = dev->data->dev_private;
	unsigned int i, j;

	rte_spinlock_lock(&port->lock);
	for (i = 0; i < VRDMA_MAX_RXQ; i++)
		if (port->rxqs[i] != NULL) {
			memset(&port->rxqs[i]->stats, 0,
			       sizeof(port->rxqs[i]->stats));
			port->rxqs[i]->missed = 0;
			port->rxqs[i]->nombuf = 0;
		}
	for (i = 0; i < VRDMA_MAX_TXQ; i++)
		if (port->txqs[i] != NULL)
			memset(&port->txqs[i]->stats, 0,
			       sizeof(port->txqs[i]->stats));
	rte_spinlock_unlock(&port->lock);
	for (j = 0; j < VRDMA_MAX_RXQ; j++) {
		struct vrdma_lane *lane = &port->lanes[j];

		rte_spinlock_lock(&lane->lock);
		for (i = 0; i < port->n_peers; i++)
			memset(&lane->peers[i].stats, 0,
			       sizeof(lane->peers[i].stats));
#define X(name, help) lane->name = 0;
		VRDMA_LANE_COUNTERS(X)
#undef X
		memset(lane->bad_reason, 0, sizeof(lane->bad_reason));
		rte_spinlock_unlock(&lane->lock);
	}
	rte_spinlock_lock(&port->learn_lock);
	memset(&port->learn.stats, 0, sizeof(port->learn.stats));
	rte_spinlock_unlock(&port->learn_lock);
	return 0;
}

/* xstats: the lanes' counters summed, the learning table's (learn_entries
 * is a state: the MACs it holds, expired ones not yet aged out included),
 * one per decoder reason, then per peer (summed over the lanes; "via" as
 * lane 0 sees it), then per lane the frames it sent and received. */
#define VRDMA_PORT_XSTATS(X)              \
	X(rejected_connections, rejected) \
	X(auth_failures, auth_failures)   \
	X(rx_untrusted, rx_untrusted)     \
	X(tx_failed, tx_failed)           \
	X(tx_full, tx_full)               \
	X(bad_headers, bad_headers)

#define VRDMA_LEARN_XSTATS(X)           \
	X(learn_entries, used)          \
	X(learn_learned, stats.learned) \
	X(learn_moved, stats.moved)     \
	X(learn_evicted, stats.evicted) \
	X(learn_full, stats.full)       \
	X(learn_aged, stats.aged)       \
	X(learn_forgotten, stats.forgotten)

enum {
#define X(name, field) VRDMA_XSTAT_##name,
	VRDMA_PORT_XSTATS(X) VRDMA_LEARN_XSTATS(X)
#undef X
		VRDMA_N_PORT_XSTATS
};

enum {
#define X(name, help) VRDMA_PEER_XSTAT_##name,
	VRDMA_PEER_STATS(X)
#undef X
		VRDMA_N_PEER_XSTATS
};

/* Per peer: its counters, then one "via" per transport family; per lane
 * two. */
static unsigned int
xstats_count(const struct vrdma_port *port)
{
	return VRDMA_N_PORT_XSTATS + VRDMA_WIRE_REASON_MAX - 1 +
	       port->n_peers * (VRDMA_N_PEER_XSTATS + VRDMA_TL_MAX) +
	       2u * port->n_lanes;
}

static int
vrdma_xstats_get_names(struct rte_eth_dev *dev,
		       struct rte_eth_xstat_name *names, unsigned int size)
{
	static const char *const port_names[] = {
#define X(name, field) #name,
		VRDMA_PORT_XSTATS(X) VRDMA_LEARN_XSTATS(X)
#undef X
	};
	static const char *const peer_names[] = {
#define X(name, help) #name,
		VRDMA_PEER_STATS(X)
#undef X
	};
	struct vrdma_port *port = dev->data->dev_private;
	unsigned int n = xstats_count(port), i, j, k = 0;

	if (names == NULL || size < n)
		return (int)n;
	for (i = 0; i < VRDMA_N_PORT_XSTATS; i++)
		snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE, "%s",
			 port_names[i]);
	for (i = 1; i < VRDMA_WIRE_REASON_MAX; i++)
		snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE,
			 "bad_header_%s", vrdma_wire_reason_name(i));
	for (j = 0; j < port->n_peers; j++) {
		for (i = 0; i < VRDMA_N_PEER_XSTATS; i++)
			snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE,
				 "peer%u_%s", j, peer_names[i]);
		for (i = 0; i < VRDMA_TL_MAX; i++)
			snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE,
				 "peer%u_via_%s", j, vrdma_tl_family_name(i));
	}
	for (j = 0; j < port->n_lanes; j++) {
		snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE,
			 "lane%u_tx_frames", j);
		snprintf(names[k++].name, RTE_ETH_XSTATS_NAME_SIZE,
			 "lane%u_rx_frames", j);
	}
	return (int)n;
}

/* Everything xstats report, summed over the lanes, each read under its
 * lane's lock. */
struct vrdma_xstats_sum {
#define X(name, help) uint64_t name;
	VRDMA_LANE_COUNTERS(X)
#undef X
	uint64_t bad_reason[VRDMA_WIRE_REASON_MAX];
	struct vrdma_peer_stats peers[VRDMA_MAX_PEERS];
	unsigned int via[VRDMA_MAX_PEERS][VRDMA_TL_MAX];
	uint64_t lane_tx[VRDMA_MAX_RXQ], lane_rx[VRDMA_MAX_RXQ];
	struct vrdma_peers learn;
};

static void
xstats_sum(struct vrdma_port *port, struct vrdma_xstats_sum *sum)
{
	unsigned int i, j, l;

	memset(sum, 0, sizeof(*sum));
	for (l = 0; l < port->n_lanes; l++) {
		struct vrdma_lane *lane = &port->lanes[l];

		rte_spinlock_lock(&lane->lock);
#define X(name, help) sum->name += lane->name;
		VRDMA_LANE_COUNTERS(X)
#undef X
		for (i = 0; i < VRDMA_WIRE_REASON_MAX; i++)
			sum->bad_reason[i] += lane->bad_reason[i];
		for (j = 0; j < port->n_peers; j++) {
			const struct vrdma_peer *peer = &lane->peers[j];

#define X(name, help) sum->peers[j].name += peer->stats.name;
			VRDMA_PEER_STATS(X)
#undef X
			sum->lane_tx[l] += peer->stats.tx_frames;
			sum->lane_rx[l] += peer->stats.rx_frames;
			/* A state, not a counter: reset leaves it; 0 while
			 * our own connection to the peer is down. */
			for (i = 0; l == 0 && i < VRDMA_TL_MAX; i++)
				sum->via[j][i] =
					peer->connected ? peer->via[i] : 0;
		}
		rte_spinlock_unlock(&lane->lock);
	}
	rte_spinlock_lock(&port->learn_lock);
	sum->learn = port->learn;
	rte_spinlock_unlock(&port->learn_lock);
}

static int
vrdma_xstats_get(struct rte_eth_dev *dev, struct rte_eth_xstat *xstats,
		 unsigned int size)
{
	struct vrdma_port *port = dev->data->dev_private;
	unsigned int n = xstats_count(port), i, j, k = 0;
	struct vrdma_xstats_sum *sum;

	if (xstats == NULL || size < n)
		return (int)n;
	sum = rte_malloc("vrdma_xstats", sizeof(*sum), 0);
	if (sum == NULL)
		return -ENOMEM;
	xstats_sum(port, sum);
#define X(name, field) xstats[k].id = k, xstats[k].value = sum->field, k++;
	VRDMA_PORT_XSTATS(X)
#undef X
#define X(name, field) \
	xstats[k].id = k, xstats[k].value = sum->learn.field, k++;
	VRDMA_LEARN_XSTATS(X)
#undef X
	for (i = 1; i < VRDMA_WIRE_REASON_MAX; i++, k++) {
		xstats[k].id = k;
		xstats[k].value = sum->bad_reason[i];
	}
	for (j = 0; j < port->n_peers; j++) {
		const struct vrdma_peer_stats *s = &sum->peers[j];

#define X(name, help) xstats[k].id = k, xstats[k].value = s->name, k++;
		VRDMA_PEER_STATS(X)
#undef X
		for (i = 0; i < VRDMA_TL_MAX; i++, k++) {
			xstats[k].id = k;
			xstats[k].value = sum->via[j][i];
		}
	}
	for (j = 0; j < port->n_lanes; j++) {
		xstats[k].id = k;
		xstats[k++].value = sum->lane_tx[j];
		xstats[k].id = k;
		xstats[k++].value = sum->lane_rx[j];
	}
	rte_free(sum);
	return (int)n;
}

static int
vrdma_noop(struct rte_eth_dev *dev)
{
	RTE_SET_USED(dev);
	return 0;
}

static int
vrdma_mtu_set(struct rte_eth_dev *dev, uint16_t mtu)
{
	/* Any MTU: a frame travels whole, however large (up to 64 KiB). */
	RTE_SET_USED(dev);
	RTE_SET_USED(mtu);
	return 0;
}

static int
vrdma_mac_addr_set(struct rte_eth_dev *dev, struct rte_ether_addr *addr)
{
	struct vrdma_port *port = dev->data->dev_private;

	rte_ether_addr_copy(addr, &port->mac);
	return 0;
}

static const struct eth_dev_ops vrdma_dev_ops = {
	.dev_configure = vrdma_dev_configure,
	.dev_infos_get = vrdma_dev_infos_get,
	.dev_start = vrdma_dev_start,
	.dev_stop = vrdma_dev_stop,
	.dev_close = vrdma_dev_close,
	.link_update = vrdma_link_update,
	.rx_queue_setup = vrdma_rx_queue_setup,
	.rx_queue_release = vrdma_rx_queue_release,
	.tx_queue_setup = vrdma_tx_queue_setup,
	.tx_queue_release = vrdma_tx_queue_release,
	.stats_get = vrdma_stats_get,
	.stats_reset = vrdma_stats_reset,
	.xstats_get = vrdma_xstats_get,
	.xstats_get_names = vrdma_xstats_get_names,
	.xstats_reset = vrdma_stats_reset,
	.promiscuous_enable = vrdma_noop,
	.promiscuous_disable = vrdma_noop,
	.allmulticast_enable = vrdma_noop,
	.allmulticast_disable = vrdma_noop,
	.mtu_set = vrdma_mtu_set,
	.mac_addr_set = vrdma_mac_addr_set,
};

static int
vrdma_probe(struct rte_vdev_device *vdev)
{
	const char *name = rte_vdev_device_name(vdev);
	struct vrdma_auth_key key = {.len = 0};
	struct vrdma_devargs da;
	struct vrdma_port *port;
	struct rte_eth_dev *dev;
	char err[384];
	unsigned int i, l;
	int ret;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
		VRDMA_LOG(ERR, "%s: secondary processes are not supported",
			  name);
		return -ENOTSUP;
	}
	ret = vrdma_devargs_parse(rte_vdev_device_args(vdev), &da, err,
				  sizeof(err));
	if (ret != 0) {
		VRDMA_LOG(ERR, "%s: bad devargs: %s", name, err);
		return ret;
	}
	if (da.keyfile[0] != '\0') {
		ret = vrdma_auth_load_key(da.keyfile, &key, err, sizeof(err));
		if (ret != 0) {
			VRDMA_LOG(ERR, "%s: %s", name, err);
			return ret;
		}
	}
	dev = rte_eth_vdev_allocate(vdev, sizeof(*port));
	if (dev == NULL)
		return -ENOMEM;
	port = dev->data->dev_private;
	port->port_id = dev->data->port_id;
	snprintf(port->name, sizeof(port->name), "%s", name);
	port->da = da;
	port->key = key;
	memset(&key, 0, sizeof(key));
	rte_spinlock_init(&port->lock);
	rte_spinlock_init(&port->learn_lock);
	memcpy(port->mac.addr_bytes, da.mac, RTE_ETHER_ADDR_LEN);
	port->n_peers = da.n_peers;
	port->n_lanes = 1; /* until a start makes one per rx queue */
	for (l = 0; l < VRDMA_MAX_RXQ; l++) {
		struct vrdma_lane *lane = &port->lanes[l];

		lane->port = port;
		lane->id = (uint16_t)l;
		rte_spinlock_init(&lane->lock);
		/* Named by the peers' own addresses until a start names
		 * each lane's by its port. */
		for (i = 0; i < da.n_peers; i++) {
			struct vrdma_peer *peer = &lane->peers[i];

			peer->port = port;
			peer->lane = lane;
			peer->index = (int)i;
			vrdma_devargs_format_addr(&da.peers[i], peer->name,
						  sizeof(peer->name));
		}
	}
	ret = vrdma_peers_init(&port->learn, VRDMA_LEARN_SLOTS,
			       rte_get_timer_hz() * VRDMA_LEARN_AGE_S,
			       rte_get_timer_cycles());
	if (ret != 0)
		goto err_release;
	dev->dev_ops = &vrdma_dev_ops;
	dev->rx_pkt_burst = vrdma_rx_burst;
	dev->tx_pkt_burst = vrdma_tx_burst;
	dev->data->mac_addrs = &port->mac;
	dev->data->dev_flags |= RTE_ETH_DEV_AUTOFILL_QUEUE_XSTATS;
	rte_eth_dev_probing_finish(dev);
	VRDMA_LOG(INFO, "%s: port %u, %u peer(s), %s", name, port->port_id,
		  da.n_peers,
		  port->key.len != 0 ? "peers authenticated by key"
				     : "peers trusted by address alone");
	return 0;

err_release:
	dev->data->mac_addrs = NULL;
	rte_eth_dev_release_port(dev);
	return ret;
}

static int
vrdma_remove(struct rte_vdev_device *vdev)
{
	struct rte_eth_dev *dev;

	dev = rte_eth_dev_allocated(rte_vdev_device_name(vdev));
	if (dev == NULL)
		return 0;
	vrdma_dev_close(dev);
	return rte_eth_dev_release_port(dev);
}

static struct rte_vdev_driver vrdma_vdev_driver = {
	.probe = vrdma_probe,
	.remove = vrdma_remove,
};

/*
 * Telemetry "/vrdma/peers,PORT_ID": the fabric port's peers by address,
 * for operators' tools (`vrdma fabric status`), which xstats cannot give:
 * they are numbers named by index. Each peer "peer<i>" (the devargs'
 * order) is a dict: address; state (connected: our connection is up;
 * connecting: being set up; inbound: only the peer's connection to us
 * carries frames; down); trusted (with a keyfile: the peer proved it);
 * transport (the families of the active-message lane, "+"-joined; "" when
 * not connected) and lanes (every lane's), as the port's first lane
 * (worker) sees them; then its counters, summed over the lanes.
 */
static const char *
peer_state(const struct vrdma_peer *peer)
{
	if (peer->connected)
		return "connected";
	if (peer->connecting)
		return "connecting";
	return peer->in_ep != NULL ? "inbound" : "down";
}

static void
families(const struct vrdma_peer *peer, unsigned int role, char *buf,
	 size_t size)
{
	unsigned int i;
	size_t n = 0;

	buf[0] = '\0';
	for (i = 0; peer->connected && i < VRDMA_TL_MAX && n < size; i++)
		if (peer->via[i] & role)
			n += (size_t)snprintf(buf + n, size - n, "%s%s",
					      n ? "+" : "",
					      vrdma_tl_family_name(i));
}

static int
telemetry_peers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *one[VRDMA_MAX_PEERS] = {NULL};
	struct vrdma_xstats_sum *sum;
	struct vrdma_lane *lane;
	struct vrdma_port *port;
	char *end, name[16], buf[64];
	unsigned long id;
	unsigned int i;

	RTE_SET_USED(cmd);
	if (params == NULL || params[0] == '\0')
		return -EINVAL;
	id = strtoul(params, &end, 10);
	if (*end != '\0' || id >= RTE_MAX_ETHPORTS ||
	    !rte_eth_dev_is_valid_port((uint16_t)id) ||
	    rte_eth_devices[id].dev_ops != &vrdma_dev_ops)
		return -EINVAL;
	port = rte_eth_devices[id].data->dev_private;
	sum = rte_malloc("vrdma_telemetry", sizeof(*sum), 0);
	if (sum == NULL)
		return -ENOMEM;
	for (i = 0; i < port->n_peers; i++) {
		one[i] = rte_tel_data_alloc();
		if (one[i] == NULL) {
			while (i > 0)
				rte_tel_data_free(one[--i]);
			rte_free(sum);
			return -ENOMEM;
		}
		rte_tel_data_start_dict(one[i]);
	}
	rte_tel_data_start_dict(d);
	xstats_sum(port, sum);
	lane = &port->lanes[0];
	rte_spinlock_lock(&lane->lock);
	for (i = 0; i < port->n_peers; i++) {
		const struct vrdma_peer *peer = &lane->peers[i];

		char addr[64];

		vrdma_devargs_format_addr(&port->da.peers[i], addr,
					  sizeof(addr));
		rte_tel_data_add_dict_string(one[i], "address", addr);
		rte_tel_data_add_dict_string(one[i], "state", peer_state(peer));
		rte_tel_data_add_dict_int(
			one[i], "trusted",
			port->key.len == 0 ||
				(peer->connected && peer->out_trusted) ||
				(!peer->connected && peer->in_ep != NULL));
		families(peer, VRDMA_TL_ROLE_AM, buf, sizeof(buf));
		rte_tel_data_add_dict_string(one[i], "transport", buf);
		families(peer, VRDMA_TL_ROLE_AM | VRDMA_TL_ROLE_OTHER, buf,
			 sizeof(buf));
		rte_tel_data_add_dict_string(one[i], "lanes", buf);
#define X(field, help) \
	rte_tel_data_add_dict_u64(one[i], #field, sum->peers[i].field);
		VRDMA_PEER_STATS(X)
#undef X
	}
	rte_spinlock_unlock(&lane->lock);
	rte_free(sum);
	for (i = 0; i < port->n_peers; i++) {
		snprintf(name, sizeof(name), "peer%u", i);
		rte_tel_data_add_dict_container(d, name, one[i], 0);
	}
	return 0;
}

RTE_INIT(vrdma_telemetry_init)
{
	rte_telemetry_register_cmd("/vrdma/peers", telemetry_peers,
				   "The fabric port's peers: address, state, "
				   "transport, counters. Parameters: int "
				   "port_id");
}

RTE_PMD_REGISTER_VDEV(net_vrdma, vrdma_vdev_driver);
RTE_PMD_REGISTER_PARAM_STRING(net_vrdma, VRDMA_DEVARGS_PARAM_STRING);
