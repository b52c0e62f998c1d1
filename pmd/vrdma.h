/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vrdma internals shared by the driver's files: the port, its peers and
 * its queues. vrdma_ethdev.c owns the port's life (probe, configure, start,
 * stop, close, stats); vrdma_fabric.c owns the UCX side (context, worker,
 * listener, one endpoint per peer, reconnects, the active-message receive
 * handler); vrdma_rxtx.c holds the burst functions only. The pure-C core
 * they build on (wire format, devargs, learning table) is vrdma_core.
 *
 * Threading: one UCX worker per rx queue, a lane (struct vrdma_lane), as
 * UCX's model has it: a worker per thread. The thread that polls rx queue
 * i progresses lane i; a thread's tx bursts go on the lane of the first rx
 * queue it polled (another thread's, by tx queue, if it polls none). Each
 * lane has its own lock, its own connections to every peer, its own
 * sends, receives and lends in flight; with OVS's placement (one PMD
 * thread per rx queue, its tx queue its own) no two threads ever want one
 * lane: there is no port-wide lock on the data path. The lock is still
 * taken, uncontended, because the main thread (link queries, stats) and a
 * thread that polls no rx queue of the port may come for a lane too: its
 * worker is created in UCS_THREAD_MODE_SERIALIZED (several threads, one at
 * a time) and the lane's lock is what makes that true. The workers share
 * one UCX context (mt_workers_shared: its registration cache is used from
 * every lane's thread). The learning table, read by every lane's sends and
 * written by every lane's receives, has its own lock (port->learn_lock).
 * Received frames reach an rx queue through its ring (multi-producer,
 * single-consumer): the lane that received a frame is not necessarily the
 * queue's. Lane i listens on the listen address's port + i and connects
 * to each peer's port + i, so both ends of a fabric need the same number
 * of rx queues. dev_stop marks the port stopped under every lane's lock;
 * its drains and waits then run unlocked.
 */

#ifndef VRDMA_H
#define VRDMA_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_dev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_spinlock.h>
#include <ucp/api/ucp.h>

#include "vrdma_auth.h"
#include "vrdma_devargs.h"
#include "vrdma_peers.h"
#include "vrdma_tl.h"
#include "vrdma_wire.h"

extern int vrdma_logtype;
#define VRDMA_LOG(level, fmt, ...)                                      \
	rte_log(RTE_LOG_##level, vrdma_logtype, "net_vrdma: " fmt "\n", \
		##__VA_ARGS__)

#define VRDMA_AM_ID	      0x76 /* UCX active message id of frames */
#define VRDMA_AM_AUTH	      0x75 /* ... of authentication (vrdma_auth.h) */
#define VRDMA_MAX_RXQ	      8	   /* AM ids VRDMA_AM_ID + queue */
#define VRDMA_MAX_TXQ	      16
#define VRDMA_RING_SIZE	      4096  /* frames waiting per rx queue, at most */
#define VRDMA_RX_DESC_DEFAULT 1024  /* ... when the application says 0 */
#define VRDMA_TX_SLOTS	      1024  /* sends in flight per port */
#define VRDMA_RX_SLOTS	      1024  /* rendezvous receives in flight */
#define VRDMA_MAX_SEGS	      64    /* mbuf segments per frame */
#define VRDMA_LEARN_SLOTS     4096  /* learning table capacity */
#define VRDMA_BATCH_BYTES     16384 /* one coalesced message, eager size */
#define VRDMA_BATCH_FRAME     1536  /* frames up to this are coalesced */
#define VRDMA_BATCHES	      128   /* coalesced messages in flight */
/* A full batch of one-segment frames, or one frame of the most segments. */
#define VRDMA_BATCH_IOV	 (2 * VRDMA_WIRE_MAX_BATCH + VRDMA_MAX_SEGS)
#define VRDMA_TX_RECLAIM 64 /* progress calls before a burst stops */
/* A tx burst with no send in flight progresses UCX only if the last
 * progress call is older than this (connections, keepalive): a progress
 * call costs a system call (vrdma_fabric.c), on the round trip's path. */
#define VRDMA_TX_PROGRESS_US 50
#define VRDMA_RX_GROUP	     32 /* frames handed to an rx ring at once */
/* Plain frames of VRDMA_LEND_MIN bytes and more go with VRDMA_PAD bytes of
 * padding in front, so that the receiver can hand UCX's buffer to the
 * application as the mbuf's (no copy), the padding as its headroom;
 * smaller ones are cheaper to copy than to lend. Not when the padding
 * would split the frame: VRDMA_EAGER_PIECE is the most payload one UCX
 * 1.13 shared-memory FIFO element of UCX_MM_SEG_SIZE=65535 takes with our
 * header and UCX's (measured: 65487). */
#define VRDMA_PAD	     RTE_PKTMBUF_HEADROOM
#define VRDMA_LEND_MIN	     4096
#define VRDMA_EAGER_PIECE    65487
#define VRDMA_LENDS	     1024  /* received frames lent at once per port */
#define VRDMA_MAX_MEMH	     64	   /* ranges of DPDK memory registered */
#define VRDMA_RNDV_VERBS     16384 /* rndv_thresh=auto over verbs */
#define VRDMA_LEARN_AGE_S    300   /* a MAC not heard from is forgotten */
#define VRDMA_AGE_EVERY_S    30	   /* how often the table is swept */
#define VRDMA_BACKOFF_MIN_MS 100
#define VRDMA_BACKOFF_MAX_MS 5000
/* A connection whose wire-up (and, with a key, authentication) has not
 * finished by then is retried; an incoming one not proven by then is
 * closed. */
#define VRDMA_CONNECT_TIMEOUT_MS 3000
/* The link reads down this long after a start (vrdma_ethdev.c). */
#define VRDMA_LINK_SETTLE_MS 200
/* Log lines about refused connections: one per this many seconds. */
#define VRDMA_REFUSAL_LOG_S 10

/* Per-peer counters, exposed as xstats "peer<i>_<name>". */
#define VRDMA_PEER_STATS(X)                                  \
	X(tx_frames, "frames sent to the peer")              \
	X(tx_bytes, "bytes sent to the peer")                \
	X(rx_frames, "frames received from the peer")        \
	X(rx_bytes, "bytes received from the peer")          \
	X(drops, "frames to the peer dropped (send failed)") \
	X(reconnects, "connections (re)established")         \
	X(rndv_sends, "frames sent by rendezvous (large)")   \
	X(rx_lent, "frames received without a copy (lent)")  \
	X(batches, "coalesced messages sent (small frames)") \
	X(bad_headers, "messages refused by the wire decoder")

struct vrdma_peer_stats {
#define X(name, help) uint64_t name;
	VRDMA_PEER_STATS(X)
#undef X
};

struct vrdma_port;

/* At most one line per period; what it held back is counted. */
struct vrdma_ratelimit {
	uint64_t next;	     /* tsc of the next line allowed */
	uint64_t suppressed; /* lines held back since the last one */
};

/* One remote fabric port as one lane sees it: the lane's connections to
 * it. All fields under lane->lock. */
struct vrdma_peer {
	struct vrdma_port *port;
	struct vrdma_lane *lane;
	int index;
	char name[64]; /* "a.b.c.d:port" for logs: this lane's port */
	struct sockaddr_storage addr; /* this lane's listener at the peer */
	ucp_ep_h out_ep;    /* our connection to its listener, or NULL */
	ucp_ep_h in_ep;	    /* its connection to our listener, or NULL */
	ucp_ep_h old_in_ep; /* replaced by a restarted peer's new in_ep:
			     * closed by the next progress call */
	/* With a key: a connection from the peer's address that has not
	 * proven the key yet; it becomes in_ep once it has. in_ep only ever
	 * holds a proven connection, out_ep's is proven once out_trusted. */
	ucp_ep_h new_in_ep;
	uint64_t new_in_give_up; /* tsc: closed if not proven by then */
	bool new_in_failed;	 /* new_in_ep reported an error or failed */
	bool out_trusted;	 /* the server at out_ep proved the key */
	/* The authentication exchanges: the next message to send on out_ep
	 * (client) and new_in_ep/in_ep (server), the one awaited, the
	 * nonces, and each message's buffer, alive until UCX is done. */
	enum vrdma_auth_type out_send, out_wait, in_send, in_wait;
	uint8_t out_nc[VRDMA_AUTH_NONCE_LEN], out_ns[VRDMA_AUTH_NONCE_LEN];
	uint8_t in_nc[VRDMA_AUTH_NONCE_LEN], in_ns[VRDMA_AUTH_NONCE_LEN];
	uint8_t auth_buf[VRDMA_AUTH_WELCOME][VRDMA_AUTH_MSG_LEN];
	bool connected;	       /* out_ep is wired up: frames can go */
	bool connecting;       /* out_ep created, wire-up flush pending */
	bool out_failed;       /* out_ep reported an error: close and retry */
	bool in_failed;	       /* in_ep reported an error: close it */
	uint64_t next_try;     /* tsc of the next connection attempt */
	uint64_t give_up;      /* tsc: a wire-up still pending is retried */
	uint64_t backoff;      /* tsc; doubles up to VRDMA_BACKOFF_MAX_MS */
	unsigned int failures; /* attempts failed since the last success */
	bool mismatch_told;    /* lane_mismatch_check() said so */
	/* Per transport family, VRDMA_TL_ROLE_* bits of out_ep's lanes, as
	 * read when it was wired up; meaningful while connected. Exposed as
	 * xstats "peer<i>_via_<family>". */
	unsigned int via[VRDMA_TL_MAX];
	struct vrdma_peer_stats stats;
};

struct vrdma_queue_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t errors; /* rx: mbuf allocation failed; tx: dropped */
};

struct vrdma_rxq {
	struct vrdma_port *port;
	struct rte_mempool *mp;
	struct rte_ring *ring; /* received frames, produced by any lane;
				* as many slots as rx descriptors */
	uint16_t id;
	struct vrdma_queue_stats stats; /* written by the polling thread */
	/* Counted by any lane (atomically): */
	uint64_t missed; /* ring full or no rndv slot */
	uint64_t nombuf; /* mbuf pool empty */
};

struct vrdma_txq {
	struct vrdma_port *port;
	uint16_t id;
	struct vrdma_queue_stats stats; /* one thread at a time (ethdev) */
};

/* One send in flight: what to free when UCX is done with it. */
struct vrdma_tx_slot {
	struct vrdma_lane *lane;
	struct rte_mbuf *m;
	uint8_t hdr[VRDMA_WIRE_HDR_LEN]; /* the AM header, alive until done */
	ucp_dt_iov_t iov[VRDMA_MAX_SEGS + 1]; /* padding, segments */
	int next_free;
};

/* Small frames to one peer, coalesced in one burst into one message. */
struct vrdma_batch {
	struct vrdma_lane *lane;
	struct vrdma_wire_batch wb;
	int peer;
	uint16_t q; /* remote rx queue (AM id VRDMA_AM_ID + q) */
	int next_free;
	/* The frames' mbufs, held until UCX is done with the message, and
	 * the message's iov: each record's header (in buf), then its
	 * frame's segments. */
	struct rte_mbuf *m[VRDMA_WIRE_MAX_BATCH];
	unsigned int n_iov;
	ucp_dt_iov_t iov[VRDMA_BATCH_IOV];
	uint8_t buf[VRDMA_BATCH_BYTES];
};

/* The argument of the AM handler of one rx queue's id. */
struct vrdma_am_ctx {
	struct vrdma_lane *lane;
	uint16_t q;
};

/* One rendezvous receive in flight. */
struct vrdma_rx_slot {
	struct vrdma_lane *lane;
	struct vrdma_rxq *rxq; /* where the frame goes when it has arrived */
	struct rte_mbuf *m;
	struct vrdma_wire_frame frame;
	int peer;
	ucp_dt_iov_t iov[VRDMA_MAX_SEGS + 1]; /* padding, segments */
	int next_free;
};

/*
 * A received frame lent to the application: its mbuf's data is UCX's
 * receive buffer (an external buffer), given back to UCX when the last
 * reference to the mbuf is freed. That may happen on any thread, and UCX
 * takes buffers back on the worker's only: the free callback queues the
 * lend on its lane's lend_ring and the lane's next progress call (under
 * lane->lock) hands it to ucp_am_data_release().
 */
struct vrdma_lend {
	struct rte_mbuf_ext_shared_info shinfo;
	struct rte_ring *ring; /* lane->lend_ring, where it goes when freed */
	void *data; /* UCX's data pointer, for ucp_am_data_release() */
	int next_free;
};

/* Per-lane counters of the port, summed in the xstats. */
#define VRDMA_LANE_COUNTERS(X)                                     \
	X(rejected, "connections from unlisted addresses")         \
	X(auth_failures, "connections that did not prove the key") \
	X(rx_untrusted, "frames from no listed, proven peer")      \
	X(tx_failed, "sends UCX completed with an error")          \
	X(tx_full, "bursts cut short: sends still in flight")      \
	X(bad_headers, "messages refused by the wire decoder")

/* One UCX worker and all that goes with it (see the top of this file). */
struct vrdma_lane {
	struct vrdma_port *port;
	uint16_t id;
	rte_spinlock_t lock;
	bool started; /* under lock: the port is started */

	ucp_worker_h worker;
	ucp_listener_h listener;
	struct sockaddr_storage listen; /* the port's listen address + id */
	uint64_t listen_retry;	/* tsc of the next listen attempt, 0: none */
	uint64_t last_progress; /* tsc of the last vrdma_fabric_progress() */

	struct vrdma_peer peers[VRDMA_MAX_PEERS];
	struct vrdma_ratelimit refusal_log;
#define X(name, help) uint64_t name;
	VRDMA_LANE_COUNTERS(X)
#undef X
	uint64_t bad_reason[VRDMA_WIRE_REASON_MAX];

	struct vrdma_tx_slot *tx_slots; /* VRDMA_TX_SLOTS */
	int tx_free;			/* head of the free list, -1 empty */
	unsigned int n_tx_free;		/* entries on it */
	struct vrdma_rx_slot *rx_slots; /* VRDMA_RX_SLOTS */
	int rx_free;
	struct vrdma_batch *batches; /* VRDMA_BATCHES */
	int batch_free;		     /* free list head */
	unsigned int n_batch_free;   /* entries on it */
	struct vrdma_batch *open[VRDMA_MAX_PEERS][VRDMA_MAX_RXQ]; /* filling */
	struct vrdma_lend *lends;   /* VRDMA_LENDS, with the worker */
	int lend_free;		    /* free list head */
	unsigned int n_lent;	    /* lends the application holds */
	struct rte_ring *lend_ring; /* lends freed, to give back to UCX */
	unsigned int lend_gen;	    /* names lend rings uniquely */
	uint8_t pad_sink[VRDMA_WIRE_MAX_PAD]; /* rendezvous padding lands */
	struct vrdma_am_ctx am_ctx[VRDMA_MAX_RXQ];
} __rte_cache_aligned;

struct vrdma_port {
	uint16_t port_id;
	char name[RTE_DEV_NAME_MAX_LEN];
	struct vrdma_devargs da;
	struct rte_ether_addr mac;
	rte_spinlock_t lock; /* queue setup and release */

	/* UCX, acquired by dev_start, released by dev_stop. */
	ucp_context_h ctx;
	uint64_t progress_gap; /* tsc: a tx burst progresses after this */
	uint64_t started_at;   /* tsc of the start (link settling) */
	struct vrdma_lane lanes[VRDMA_MAX_RXQ];
	uint16_t n_lanes; /* as many as rx queues, fixed at start */

	unsigned int n_peers;
	rte_spinlock_t learn_lock; /* learn, next_age */
	struct vrdma_peers learn;
	uint64_t next_age;	   /* tsc: expired MACs are removed then */
	struct vrdma_auth_key key; /* keyfile's; len 0: no authentication */

	struct vrdma_rxq *rxqs[VRDMA_MAX_RXQ];
	struct vrdma_txq *txqs[VRDMA_MAX_TXQ];
	uint16_t n_rxq;
	uint16_t n_txq;

	ucp_mem_h memh[VRDMA_MAX_MEMH]; /* DPDK's memory, registered at start */
	unsigned int n_memh;
	size_t mapped;	     /* bytes of it registered */
	size_t unmapped;     /* bytes left to UCX's registration cache */
	uint16_t n_rxq_conf; /* rx queues configured: AM ids fold onto them */
};

/* vrdma_fabric.c: start and stop from the ethdev with no burst running;
 * the others under lane->lock. */
int vrdma_fabric_start(struct vrdma_port *port);
void vrdma_fabric_stop(struct vrdma_port *port);
/* Returns the events UCX reported (0: it had nothing to do). */
unsigned int vrdma_fabric_progress(struct vrdma_lane *lane);
void vrdma_fabric_progress_idle(struct vrdma_lane *lane);
uint64_t vrdma_fabric_connected_mask(const struct vrdma_lane *lane);

/* The endpoint our frames to peer go on: our own connection once wired
 * up; else, while no attempt of ours is under way (the last one failed),
 * the peer's connection to us. UCX endpoints carry messages both ways;
 * the fallback keeps a pair linked while one side cannot listen (a
 * restarted port's address stays busy for a minute, see vrdma_fabric.c).
 * Not while our own attempt is pending: sends on a connection still being
 * wired up failed (seen in test_fabric). NULL: the peer is unreachable. */
static inline ucp_ep_h
vrdma_peer_tx_ep(const struct vrdma_peer *peer)
{
	if (peer->connected)
		return peer->out_ep;
	return peer->connecting ? NULL : peer->in_ep;
}

/* The listed peer whose frames arrive on ep, or -1: none, or one that has
 * not proven the key (vrdma_auth.h) on that connection. */
static inline int
vrdma_peer_of_ep(const struct vrdma_lane *lane, ucp_ep_h ep)
{
	unsigned int i;

	for (i = 0; ep != NULL && i < lane->port->n_peers; i++) {
		const struct vrdma_peer *peer = &lane->peers[i];

		if (peer->in_ep == ep)
			return (int)i;
		if (peer->out_ep == ep)
			return lane->port->key.len == 0 || peer->out_trusted
				       ? (int)i
				       : -1;
	}
	return -1;
}

/* vrdma_rxtx.c */
uint16_t vrdma_rx_burst(void *queue, struct rte_mbuf **bufs, uint16_t n);
uint16_t vrdma_tx_burst(void *queue, struct rte_mbuf **bufs, uint16_t n);
ucs_status_t vrdma_am_recv(void *arg, const void *header, size_t header_len,
			   void *data, size_t len,
			   const ucp_am_recv_param_t *param);
/* A lane's sends, receives and lends in flight: slots for them at start,
 * drained at stop (false: lends the application holds keep the worker). */
int vrdma_lane_slots_init(struct vrdma_lane *lane);
void vrdma_lane_slots_fini(struct vrdma_lane *lane);
void vrdma_tx_slots_drain(struct vrdma_lane *lane);
int vrdma_lends_init(struct vrdma_lane *lane);
void vrdma_lends_reclaim(struct vrdma_lane *lane);
bool vrdma_lends_fini(struct vrdma_lane *lane);
/* Learning under port->learn_lock. */
void vrdma_learn_forget(struct vrdma_port *port, int peer);

#endif /* VRDMA_H */
