/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vrdma MAC learning table (see vrdma_peers.h for the contract).
 * Linear probing keeps a lookup within a few cache lines; every entry sits
 * at most VRDMA_PEERS_MAX_PROBE - 1 slots after its home slot, so a probe
 * may stop at the first empty slot or after VRDMA_PEERS_MAX_PROBE slots.
 * Deletion shifts later entries back instead of leaving tombstones, which
 * keeps that bound and keeps misses short after many peers come and go; it
 * relies on at least one slot staying empty, so the table holds at most
 * capacity - 1 entries.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vrdma_peers.h"

#define MAC_LEN 6

struct vrdma_peers_entry {
	uint64_t last_seen; /* now of the last learn */
	uint8_t mac[MAC_LEN];
	uint8_t used; /* 0: empty slot */
	uint8_t peer; /* 0..VRDMA_PEERS_MAX_INDEX */
};

_Static_assert(sizeof(struct vrdma_peers_entry) == 16,
	       "four entries per 64-byte cache line");
_Static_assert(VRDMA_PEERS_MAX_INDEX < 64 && VRDMA_PEERS_MAX_INDEX <= UINT8_MAX,
	       "peer indexes must fit the uint64_t masks and the entry");

static bool
is_multicast(const uint8_t *mac)
{
	/* The I/G bit; broadcast is a multicast address too. */
	return (mac[0] & 0x01) != 0;
}

static uint32_t
home_slot(const struct vrdma_peers *t, const uint8_t *mac)
{
	uint64_t k = 0;
	unsigned int i;

	for (i = 0; i < MAC_LEN; i++)
		k |= (uint64_t)mac[i] << (8 * i);
	/* MurmurHash3's 64-bit finalizer: every input bit moves the slot. */
	k ^= t->seed;
	k ^= k >> 33;
	k *= UINT64_C(0xff51afd7ed558ccd);
	k ^= k >> 33;
	k *= UINT64_C(0xc4ceb9fe1a85ec53);
	k ^= k >> 33;
	return (uint32_t)k & t->mask;
}

static bool
is_expired(const struct vrdma_peers *t, const struct vrdma_peers_entry *e,
	   uint64_t now)
{
	/*
	 * A caller whose clock is read on several cores may pass a now a
	 * little behind last_seen; that entry is fresh, not 2^64 old.
	 */
	return now > e->last_seen && now - e->last_seen > t->max_age;
}

int
vrdma_peers_init(struct vrdma_peers *t, uint32_t capacity, uint64_t max_age,
		 uint64_t seed)
{
	uint32_t slots = VRDMA_PEERS_MAX_PROBE;

	memset(t, 0, sizeof(*t));
	if (capacity == 0 || capacity > VRDMA_PEERS_MAX_CAPACITY ||
	    max_age == 0)
		return -EINVAL;
	/* At least one window, so a probe never wraps onto itself. */
	while (slots < capacity)
		slots <<= 1;
	t->slots = calloc(slots, sizeof(*t->slots));
	if (t->slots == NULL)
		return -ENOMEM;
	t->mask = slots - 1;
	t->max_age = max_age;
	t->seed = seed;
	return 0;
}

void
vrdma_peers_free(struct vrdma_peers *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

int
vrdma_peers_learn(struct vrdma_peers *t, const uint8_t *mac, int peer,
		  uint64_t now)
{
	struct vrdma_peers_entry *e;
	uint32_t home;
	uint32_t i;
	int64_t free_slot = -1;

	if (t->slots == NULL || is_multicast(mac) || peer < 0 ||
	    peer > VRDMA_PEERS_MAX_INDEX)
		return -EINVAL;
	home = home_slot(t, mac);
	for (i = 0; i < VRDMA_PEERS_MAX_PROBE; i++) {
		uint32_t idx = (home + i) & t->mask;

		e = &t->slots[idx];
		if (!e->used) {
			/*
			 * The MAC cannot sit beyond an empty slot. The last
			 * empty slot of the table is never taken: deletion
			 * shifts entries back until it meets an empty slot,
			 * and in a full table that shift could run all the
			 * way round and strand entries behind the new hole.
			 */
			if (free_slot < 0 && t->used < t->mask)
				free_slot = idx;
			break;
		}
		if (memcmp(e->mac, mac, MAC_LEN) == 0) {
			if (is_expired(t, e, now))
				t->stats.learned++;
			else if (e->peer != peer)
				t->stats.moved++;
			e->peer = (uint8_t)peer;
			e->last_seen = now;
			return 0;
		}
		if (free_slot < 0 && is_expired(t, e, now))
			free_slot = idx;
	}
	if (free_slot < 0) {
		t->stats.full++;
		return -ENOSPC;
	}
	e = &t->slots[free_slot];
	if (e->used)
		t->stats.evicted++;
	else
		t->used++;
	t->stats.learned++;
	memcpy(e->mac, mac, MAC_LEN);
	e->peer = (uint8_t)peer;
	e->last_seen = now;
	e->used = 1;
	return 0;
}

int
vrdma_peers_lookup(const struct vrdma_peers *t, const uint8_t *mac,
		   uint64_t now)
{
	uint32_t home;
	uint32_t i;

	if (t->slots == NULL || is_multicast(mac))
		return -1;
	home = home_slot(t, mac);
	for (i = 0; i < VRDMA_PEERS_MAX_PROBE; i++) {
		const struct vrdma_peers_entry *e =
			&t->slots[(home + i) & t->mask];

		if (!e->used)
			return -1;
		if (memcmp(e->mac, mac, MAC_LEN) == 0)
			return is_expired(t, e, now) ? -1 : e->peer;
	}
	return -1;
}

/*
 * Empties slot hole and moves back each later entry of the cluster that may
 * sit there: one whose home is not after the hole (cyclically). Stops at an
 * empty slot, or once the scan is a whole window past the hole, since no
 * entry that far can have its home at or before the hole.
 */
static void
delete_slot(struct vrdma_peers *t, uint32_t hole)
{
	uint32_t j = hole;
	uint32_t n;

	for (n = 0; n < t->mask; n++) {
		struct vrdma_peers_entry *e;
		uint32_t home;

		j = (j + 1) & t->mask;
		e = &t->slots[j];
		if (!e->used || ((j - hole) & t->mask) >= VRDMA_PEERS_MAX_PROBE)
			break;
		home = home_slot(t, e->mac);
		if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
			t->slots[hole] = *e;
			hole = j;
		}
	}
	memset(&t->slots[hole], 0, sizeof(t->slots[hole]));
	t->used--;
}

/*
 * Deletes every entry that matches; after a deletion the same slot is
 * examined again because a later entry may have moved into it. An entry
 * moved across the end of the table may be passed over: the next sweep
 * finds it.
 */
static unsigned int
sweep(struct vrdma_peers *t,
      bool (*match)(const struct vrdma_peers *,
		    const struct vrdma_peers_entry *, uint64_t),
      uint64_t arg)
{
	unsigned int removed = 0;
	uint32_t idx = 0;

	if (t->slots == NULL)
		return 0;
	while (idx <= t->mask) {
		const struct vrdma_peers_entry *e = &t->slots[idx];

		if (e->used && match(t, e, arg)) {
			delete_slot(t, idx);
			removed++;
		} else {
			idx++;
		}
	}
	return removed;
}

static bool
match_peer(const struct vrdma_peers *t, const struct vrdma_peers_entry *e,
	   uint64_t peer)
{
	(void)t;
	return e->peer == peer;
}

static bool
match_expired(const struct vrdma_peers *t, const struct vrdma_peers_entry *e,
	      uint64_t now)
{
	return is_expired(t, e, now);
}

unsigned int
vrdma_peers_forget_peer(struct vrdma_peers *t, int peer)
{
	unsigned int n;

	if (peer < 0 || peer > VRDMA_PEERS_MAX_INDEX)
		return 0;
	n = sweep(t, match_peer, (uint64_t)peer);
	t->stats.forgotten += n;
	return n;
}

unsigned int
vrdma_peers_age(struct vrdma_peers *t, uint64_t now)
{
	unsigned int n = sweep(t, match_expired, now);

	t->stats.aged += n;
	return n;
}

uint64_t
vrdma_peers_flood_set(const struct vrdma_peers *t, const uint8_t *dst,
		      uint64_t connected, int ingress, uint64_t now)
{
	uint64_t others = connected;
	int peer;

	if (ingress >= 0 && ingress <= VRDMA_PEERS_MAX_INDEX)
		others &= ~(UINT64_C(1) << ingress);
	if (is_multicast(dst))
		return others;
	peer = vrdma_peers_lookup(t, dst, now);
	if (peer < 0)
		return others;
	return others & (UINT64_C(1) << peer);
}
