/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vrdma MAC learning table: which peer (fabric host) a MAC address was
 * last seen behind, so known unicast goes to one peer and everything else is
 * flooded to all connected peers. Pure C with the clock passed in by the
 * caller (now, in any unit, with max_age in the same unit), so it runs
 * without DPDK in the unit tests. A fixed-capacity open-addressing hash
 * (linear probing within a bounded window, backward-shift deletion) is
 * allocated once by vrdma_peers_init(); learning and lookup never allocate
 * and never loop more than VRDMA_PEERS_MAX_PROBE slots. vrdma_rxtx.c learns
 * on receive and asks vrdma_peers_flood_set() on transmit; vrdma_fabric.c
 * calls vrdma_peers_forget_peer() when a peer disconnects.
 *
 * Threading contract: one table per port. The table has no lock and no
 * atomics. Every call that writes (learn, forget_peer, age, free) must be
 * serialized with every other call on the same table by the caller: either
 * all calls come from one thread, or the caller holds one lock per table
 * around them (e.g. a spinlock taken once per rx or tx burst, not per
 * frame). Read-only calls (lookup, flood_set) may run concurrently with each
 * other but never with a writer. The counters in struct vrdma_peers_stats
 * are plain uint64_t written under the same rule; read them under it too.
 */

#ifndef VRDMA_PEERS_H
#define VRDMA_PEERS_H

#include <stdint.h>

/* Peer indexes are bits of a uint64_t mask: 0..63. */
#define VRDMA_PEERS_MAX_INDEX 63

/*
 * Longest probe sequence. Bounds the work of one learn or lookup, so a
 * guest that floods source MACs aimed at one window makes learning fail
 * (counted, frames then flood) instead of making the hot path slow.
 */
#define VRDMA_PEERS_MAX_PROBE 32

/* Largest capacity vrdma_peers_init() accepts (slots, 16 bytes each). */
#define VRDMA_PEERS_MAX_CAPACITY (1u << 22)

/* Table events, counted by the writer; the port shows them as xstats. */
struct vrdma_peers_stats {
	uint64_t learned;   /* new MACs inserted */
	uint64_t moved;	    /* known MAC seen behind another peer */
	uint64_t evicted;   /* expired entries reused by learn */
	uint64_t full;	    /* learn failed: probe window full of live MACs */
	uint64_t aged;	    /* entries removed by vrdma_peers_age() */
	uint64_t forgotten; /* entries removed by vrdma_peers_forget_peer() */
};

struct vrdma_peers_entry; /* private to vrdma_peers.c */

struct vrdma_peers {
	struct vrdma_peers_entry *slots; /* capacity slots */
	uint32_t mask;			 /* capacity - 1; capacity 2^n */
	uint32_t used;			 /* occupied slots, expired or not */
	uint64_t max_age;		 /* entry lifetime, unit of now */
	uint64_t seed;			 /* hash seed */
	struct vrdma_peers_stats stats;
};

/*
 * Allocates a table of at least capacity slots (rounded up to a power of
 * two, at least VRDMA_PEERS_MAX_PROBE), all empty; it holds one entry less
 * than it has slots. An entry learned at time t
 * is live while now - t <= max_age. seed perturbs the hash (pass a random
 * value per port, so one crafted set of MACs does not collide everywhere).
 * Returns 0, -EINVAL (capacity 0 or above VRDMA_PEERS_MAX_CAPACITY, or
 * max_age 0), or -ENOMEM.
 */
int vrdma_peers_init(struct vrdma_peers *t, uint32_t capacity, uint64_t max_age,
		     uint64_t seed);

/* Frees the slots; t can be initialized again. Safe on a zeroed table. */
void vrdma_peers_free(struct vrdma_peers *t);

/*
 * Records that a frame with source MAC mac (6 bytes) came from peer at time
 * now: inserts the MAC, refreshes it, or moves it to peer (counted). Reuses
 * an expired slot when the probe window is full (counted). Returns 0;
 * -EINVAL for a multicast or broadcast source (never a real sender), a peer
 * outside 0..VRDMA_PEERS_MAX_INDEX, or a freed table; -ENOSPC (counted as full)
 * when the window holds only live entries of other MACs, or the table holds
 * its maximum and the window no expired entry.
 */
int vrdma_peers_learn(struct vrdma_peers *t, const uint8_t *mac, int peer,
		      uint64_t now);

/*
 * The peer behind unicast MAC mac at time now, or -1 if unknown, expired,
 * or mac is multicast.
 */
int vrdma_peers_lookup(const struct vrdma_peers *t, const uint8_t *mac,
		       uint64_t now);

/*
 * Removes every entry of peer (when it disconnects: its MACs are not
 * reachable through another peer until learned again). Returns the number
 * removed. Walks the whole table: control path only.
 */
unsigned int vrdma_peers_forget_peer(struct vrdma_peers *t, int peer);

/*
 * Removes every entry expired at time now. Returns the number removed.
 * Walks the whole table: run it from a timer or a slow path, not per frame.
 * Lookups already ignore expired entries; this only frees their slots.
 */
unsigned int vrdma_peers_age(struct vrdma_peers *t, uint64_t now);

/*
 * The peers a frame to dst (6 bytes) must be sent to, as a mask of peer
 * indexes: with connected the mask of connected peers and ingress the peer
 * the frame came from, or -1 for a frame from the local switch.
 * Broadcast, multicast and unknown (or expired) unicast: every connected
 * peer except ingress. Known unicast: that peer if it is connected and not
 * ingress, else none (0): its MAC is behind it, so flooding would not reach
 * it either.
 */
uint64_t vrdma_peers_flood_set(const struct vrdma_peers *t, const uint8_t *dst,
			       uint64_t connected, int ingress, uint64_t now);

#endif /* VRDMA_PEERS_H */
