/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the net_vrdma MAC learning table (pmd/vrdma_peers.c) with a
 * fake clock: learn, refresh and move; aging (expired entries are misses,
 * the sweep frees them); forgetting a disconnected peer; a full table
 * (learning fails counted, then evicts expired entries); flood sets; and a
 * long random run against a simple reference model, which checks that
 * deletion keeps every remaining entry reachable.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vrdma_peers.h"

#define MAX_AGE 100

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};

/* A distinct unicast, locally administered MAC per n. */
static void
mac_of(uint32_t n, uint8_t *mac)
{
	mac[0] = 0x02;
	mac[1] = 0x00;
	mac[2] = (uint8_t)(n >> 24);
	mac[3] = (uint8_t)(n >> 16);
	mac[4] = (uint8_t)(n >> 8);
	mac[5] = (uint8_t)n;
}

static int
setup(void **state)
{
	static struct vrdma_peers t;

	if (vrdma_peers_init(&t, 1024, MAX_AGE, 0x1234) != 0)
		return -1;
	*state = &t;
	return 0;
}

static int
teardown(void **state)
{
	vrdma_peers_free(*state);
	return 0;
}

static void
test_init(void **state)
{
	struct vrdma_peers t;
	uint8_t a[6];

	(void)state;
	mac_of(1, a);
	assert_int_equal(vrdma_peers_init(&t, 0, MAX_AGE, 0), -EINVAL);
	assert_int_equal(vrdma_peers_init(&t, 10, 0, 0), -EINVAL);
	assert_int_equal(
		vrdma_peers_init(&t, VRDMA_PEERS_MAX_CAPACITY + 1, 1, 0),
		-EINVAL);
	/* Rounded up to a power of two, never below one probe window. */
	assert_int_equal(vrdma_peers_init(&t, 1, MAX_AGE, 0), 0);
	assert_int_equal(t.mask + 1, VRDMA_PEERS_MAX_PROBE);
	vrdma_peers_free(&t);
	assert_int_equal(vrdma_peers_init(&t, 1000, MAX_AGE, 0), 0);
	assert_int_equal(t.mask + 1, 1024);
	assert_int_equal(t.used, 0);
	assert_int_equal(vrdma_peers_learn(&t, a, 0, 0), 0);
	/* Free is idempotent and a freed table holds nothing. */
	vrdma_peers_free(&t);
	vrdma_peers_free(&t);
	assert_int_equal(vrdma_peers_lookup(&t, a, 0), -1);
	assert_int_equal(vrdma_peers_learn(&t, a, 0, 0), -EINVAL);
	assert_int_equal(vrdma_peers_age(&t, 0), 0);
	assert_int_equal(vrdma_peers_forget_peer(&t, 0), 0);
}

static void
test_learn_lookup(void **state)
{
	struct vrdma_peers *t = *state;
	uint8_t a[6];
	uint8_t b[6];

	mac_of(1, a);
	mac_of(2, b);
	assert_int_equal(vrdma_peers_lookup(t, a, 0), -1);
	assert_int_equal(vrdma_peers_learn(t, a, 3, 10), 0);
	assert_int_equal(vrdma_peers_learn(t, b, 0, 10), 0);
	assert_int_equal(vrdma_peers_lookup(t, a, 10), 3);
	assert_int_equal(vrdma_peers_lookup(t, b, 10), 0);
	assert_int_equal(t->used, 2);
	assert_int_equal(t->stats.learned, 2);

	/* Refreshing on the same peer is not a move. */
	assert_int_equal(vrdma_peers_learn(t, a, 3, 20), 0);
	assert_int_equal(t->stats.moved, 0);
	assert_int_equal(t->stats.learned, 2);
	assert_int_equal(t->used, 2);

	/* Never learned: group addresses, peers out of range. */
	assert_int_equal(vrdma_peers_learn(t, bcast, 1, 10), -EINVAL);
	assert_int_equal(vrdma_peers_learn(t, mcast, 1, 10), -EINVAL);
	assert_int_equal(vrdma_peers_learn(t, a, -1, 10), -EINVAL);
	assert_int_equal(vrdma_peers_learn(t, a, VRDMA_PEERS_MAX_INDEX + 1, 10),
			 -EINVAL);
	assert_int_equal(vrdma_peers_learn(t, b, VRDMA_PEERS_MAX_INDEX, 10), 0);
	assert_int_equal(vrdma_peers_lookup(t, b, 10), VRDMA_PEERS_MAX_INDEX);
	assert_int_equal(vrdma_peers_lookup(t, bcast, 10), -1);
	assert_int_equal(vrdma_peers_lookup(t, mcast, 10), -1);
}

static void
test_move(void **state)
{
	struct vrdma_peers *t = *state;
	uint8_t a[6];

	mac_of(7, a);
	assert_int_equal(vrdma_peers_learn(t, a, 1, 0), 0);
	/* The host behind a (say, a migrated VM) now sits behind peer 2. */
	assert_int_equal(vrdma_peers_learn(t, a, 2, 5), 0);
	assert_int_equal(vrdma_peers_lookup(t, a, 5), 2);
	assert_int_equal(t->stats.moved, 1);
	assert_int_equal(t->stats.learned, 1);
	assert_int_equal(t->used, 1);
	assert_int_equal(vrdma_peers_learn(t, a, 1, 6), 0);
	assert_int_equal(t->stats.moved, 2);
	assert_int_equal(vrdma_peers_lookup(t, a, 6), 1);
}

static void
test_age(void **state)
{
	struct vrdma_peers *t = *state;
	uint8_t a[6];
	uint8_t b[6];

	mac_of(1, a);
	mac_of(2, b);
	assert_int_equal(vrdma_peers_learn(t, a, 1, 1000), 0);
	assert_int_equal(vrdma_peers_learn(t, b, 2, 1050), 0);
	/* Live through max_age inclusive, a miss one tick later. */
	assert_int_equal(vrdma_peers_lookup(t, a, 1000 + MAX_AGE), 1);
	assert_int_equal(vrdma_peers_lookup(t, a, 1000 + MAX_AGE + 1), -1);
	assert_int_equal(vrdma_peers_lookup(t, b, 1000 + MAX_AGE + 1), 2);
	/* A clock read a little behind does not expire anything. */
	assert_int_equal(vrdma_peers_lookup(t, a, 990), 1);

	/* Lookups ignore expired entries; the sweep frees them. */
	assert_int_equal(t->used, 2);
	assert_int_equal(vrdma_peers_age(t, 1000 + MAX_AGE), 0);
	assert_int_equal(vrdma_peers_age(t, 1000 + MAX_AGE + 1), 1);
	assert_int_equal(t->used, 1);
	assert_int_equal(t->stats.aged, 1);
	assert_int_equal(vrdma_peers_lookup(t, a, 1000), -1);
	assert_int_equal(vrdma_peers_lookup(t, b, 1100), 2);

	/* Refreshing keeps an entry alive. */
	assert_int_equal(vrdma_peers_learn(t, b, 2, 1140), 0);
	assert_int_equal(vrdma_peers_age(t, 1200), 0);
	assert_int_equal(vrdma_peers_lookup(t, b, 1240), 2);

	/* An expired MAC learned again counts as new, not as a move. */
	assert_int_equal(vrdma_peers_learn(t, b, 3, 5000), 0);
	assert_int_equal(t->stats.moved, 0);
	assert_int_equal(vrdma_peers_lookup(t, b, 5000), 3);
	assert_int_equal(vrdma_peers_age(t, 5000 + MAX_AGE + 1), 1);
	assert_int_equal(t->used, 0);
}

static void
test_forget_peer(void **state)
{
	struct vrdma_peers *t = *state;
	uint8_t mac[6];
	uint32_t i;

	for (i = 0; i < 300; i++) {
		mac_of(i, mac);
		assert_int_equal(vrdma_peers_learn(t, mac, (int)(i % 3), 0), 0);
	}
	assert_int_equal(t->used, 300);
	assert_int_equal(vrdma_peers_forget_peer(t, 1), 100);
	assert_int_equal(t->used, 200);
	assert_int_equal(t->stats.forgotten, 100);
	for (i = 0; i < 300; i++) {
		mac_of(i, mac);
		assert_int_equal(vrdma_peers_lookup(t, mac, 1),
				 i % 3 == 1 ? -1 : (int)(i % 3));
	}
	assert_int_equal(vrdma_peers_forget_peer(t, 1), 0);
	assert_int_equal(vrdma_peers_forget_peer(t, -1), 0);
	assert_int_equal(vrdma_peers_forget_peer(t, 64), 0);
	assert_int_equal(vrdma_peers_forget_peer(t, 0), 100);
	assert_int_equal(vrdma_peers_forget_peer(t, 2), 100);
	assert_int_equal(t->used, 0);
}

static void
test_full_table(void **state)
{
	struct vrdma_peers t;
	uint8_t mac[6];
	uint32_t n_learned = 0;
	uint32_t i;

	(void)state;
	/* One window is the whole table: every MAC probes every slot. */
	assert_int_equal(
		vrdma_peers_init(&t, VRDMA_PEERS_MAX_PROBE, MAX_AGE, 99), 0);
	assert_int_equal(t.mask + 1, VRDMA_PEERS_MAX_PROBE);
	for (i = 0; i < VRDMA_PEERS_MAX_PROBE - 1; i++) {
		mac_of(i, mac);
		assert_int_equal(vrdma_peers_learn(&t, mac, 0, 0), 0);
	}
	assert_int_equal(t.used, VRDMA_PEERS_MAX_PROBE - 1);

	/* Full (one slot always stays empty): fails, counted, no damage. */
	mac_of(1000, mac);
	assert_int_equal(vrdma_peers_learn(&t, mac, 1, MAX_AGE), -ENOSPC);
	assert_int_equal(t.stats.full, 1);
	assert_int_equal(t.used, VRDMA_PEERS_MAX_PROBE - 1);
	assert_int_equal(vrdma_peers_lookup(&t, mac, MAX_AGE), -1);
	for (i = 0; i < VRDMA_PEERS_MAX_PROBE - 1; i++) {
		mac_of(i, mac);
		assert_int_equal(vrdma_peers_lookup(&t, mac, MAX_AGE), 0);
	}
	/* Known MACs still refresh and move while full. */
	mac_of(5, mac);
	assert_int_equal(vrdma_peers_learn(&t, mac, 2, MAX_AGE + 1), 0);
	assert_int_equal(vrdma_peers_lookup(&t, mac, MAX_AGE + 1), 2);

	/*
	 * Once the others expire, new MACs evict them. A new MAC probes up to
	 * the one empty slot only, so one whose home is that slot still
	 * fails: count both outcomes.
	 */
	for (i = 1000; i < 1008; i++) {
		mac_of(i, mac);
		if (vrdma_peers_learn(&t, mac, 1, MAX_AGE + 2) == 0) {
			assert_int_equal(
				vrdma_peers_lookup(&t, mac, MAX_AGE + 2), 1);
			n_learned++;
		}
	}
	assert_true(n_learned > 0);
	assert_int_equal(t.stats.evicted, n_learned);
	assert_int_equal(t.stats.full, 1 + 8 - n_learned);
	assert_int_equal(t.used, VRDMA_PEERS_MAX_PROBE - 1);
	mac_of(5, mac);
	assert_int_equal(vrdma_peers_lookup(&t, mac, MAX_AGE + 2), 2);
	/* All but the fresh entries age out. */
	assert_int_equal(vrdma_peers_age(&t, MAX_AGE + 2),
			 VRDMA_PEERS_MAX_PROBE - 2 - n_learned);
	assert_int_equal(t.used, 1 + n_learned);
	vrdma_peers_free(&t);
}

static void
test_flood_set(void **state)
{
	struct vrdma_peers *t = *state;
	const uint64_t connected = 0x2d; /* peers 0, 2, 3, 5 */
	uint8_t known[6];
	uint8_t gone[6];
	uint8_t unknown[6];

	mac_of(1, known);
	mac_of(2, gone);
	mac_of(3, unknown);
	assert_int_equal(vrdma_peers_learn(t, known, 3, 0), 0);
	assert_int_equal(vrdma_peers_learn(t, gone, 1, 0), 0);

	/* From the local switch: everything to every connected peer. */
	assert_int_equal(vrdma_peers_flood_set(t, bcast, connected, -1, 0),
			 connected);
	assert_int_equal(vrdma_peers_flood_set(t, mcast, connected, -1, 0),
			 connected);
	assert_int_equal(vrdma_peers_flood_set(t, unknown, connected, -1, 0),
			 connected);
	/* Known unicast: that one peer. */
	assert_int_equal(vrdma_peers_flood_set(t, known, connected, -1, 0),
			 UINT64_C(1) << 3);
	/* Known, but its peer is down: nowhere. */
	assert_int_equal(vrdma_peers_flood_set(t, gone, connected, -1, 0), 0);

	/* From peer 2: never back to it. */
	assert_int_equal(vrdma_peers_flood_set(t, bcast, connected, 2, 0),
			 connected & ~(UINT64_C(1) << 2));
	assert_int_equal(vrdma_peers_flood_set(t, unknown, connected, 2, 0),
			 connected & ~(UINT64_C(1) << 2));
	assert_int_equal(vrdma_peers_flood_set(t, known, connected, 2, 0),
			 UINT64_C(1) << 3);
	assert_int_equal(vrdma_peers_flood_set(t, known, connected, 3, 0), 0);

	/* Expired known unicast is unknown again: flooded. */
	assert_int_equal(
		vrdma_peers_flood_set(t, known, connected, -1, MAX_AGE + 1),
		connected);
	/* Nobody connected: nowhere. */
	assert_int_equal(vrdma_peers_flood_set(t, bcast, 0, -1, 0), 0);
	assert_int_equal(vrdma_peers_flood_set(t, known, 0, -1, 0), 0);
	/* Peer 63, the last index, works both as target and ingress. */
	assert_int_equal(vrdma_peers_learn(t, unknown, 63, 0), 0);
	assert_int_equal(vrdma_peers_flood_set(t, unknown, UINT64_MAX, -1, 0),
			 UINT64_C(1) << 63);
	assert_int_equal(vrdma_peers_flood_set(t, bcast, UINT64_MAX, 63, 0),
			 UINT64_MAX >> 1);
}

/* xorshift64: reproducible without libc's rand(). */
static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#define MODEL_MACS  400
#define WORKING_SET 150

struct model_entry {
	bool present;
	int peer;
	uint64_t last_seen;
};

static int
model_lookup(const struct model_entry *m, uint64_t now)
{
	if (!m->present || (now > m->last_seen && now - m->last_seen > MAX_AGE))
		return -1;
	return m->peer;
}

/*
 * 128 slots for a working set of 150 live MACs that slides through 400:
 * windows fill (learning fails), MACs that leave the set expire and are
 * evicted, peers are forgotten and sweeps delete, all while every lookup
 * must agree with the model.
 */
static void
test_random_against_model(void **state)
{
	struct model_entry model[MODEL_MACS];
	struct vrdma_peers t;
	uint64_t rng = 0x9e3779b97f4a7c15;
	uint64_t now = 1;
	uint32_t base = 0;
	uint8_t mac[6];
	int step;
	int i;

	(void)state;
	memset(model, 0, sizeof(model));
	assert_int_equal(vrdma_peers_init(&t, 128, MAX_AGE, 7), 0);
	for (step = 0; step < 200000; step++) {
		uint64_t r = next_rand(&rng);
		uint32_t n =
			(base + (uint32_t)(r >> 8) % WORKING_SET) % MODEL_MACS;
		int op = (int)(r % 1000);
		int peer = (int)((r >> 20) % 8);

		/* About one tick per 8 steps: most of the set stays live. */
		if ((r >> 40) % 8 == 0)
			now++;
		if (step % 500 == 0)
			base += 10;
		mac_of(n, mac);
		if (op < 700) {
			int ret = vrdma_peers_learn(&t, mac, peer, now);

			if (ret == 0) {
				model[n].present = true;
				model[n].peer = peer;
				model[n].last_seen = now;
			} else {
				assert_int_equal(ret, -ENOSPC);
				/* Only live MACs fill a window. */
				assert_int_equal(model_lookup(&model[n], now),
						 -1);
			}
		} else if (op < 703) {
			vrdma_peers_forget_peer(&t, peer);
			for (i = 0; i < MODEL_MACS; i++)
				if (model[i].peer == peer)
					model[i].present = false;
		} else if (op < 710) {
			vrdma_peers_age(&t, now);
		} else {
			assert_int_equal(vrdma_peers_lookup(&t, mac, now),
					 model_lookup(&model[n], now));
		}
	}
	/* Every live entry the model holds is still reachable. */
	for (i = 0; i < MODEL_MACS; i++) {
		mac_of((uint32_t)i, mac);
		assert_int_equal(vrdma_peers_lookup(&t, mac, now),
				 model_lookup(&model[i], now));
	}
	assert_true(t.stats.full > 0);
	assert_true(t.stats.evicted > 0);
	assert_true(t.stats.aged > 0);
	assert_true(t.stats.forgotten > 0);
	assert_true(t.used <= t.mask);
	vrdma_peers_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test_setup_teardown(test_learn_lookup, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_age, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_peer, setup,
						teardown),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test_setup_teardown(test_flood_set, setup,
						teardown),
		cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
