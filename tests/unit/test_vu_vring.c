/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the driver side of a split virtqueue (vhost-user/vu_vring.c)
 * with the test playing the device: layout (sizes, alignment, no overlap),
 * init refusing bad sizes, vring_need_event against a reference model
 * including 16-bit wraparound, post and publish, the kick decision with
 * EVENT_IDX (the device's avail_event after used->ring[num]) and without
 * (USED_F_NO_NOTIFY), the used ring (peek ahead, consume, wrap past 65535,
 * bad ids and impossible used indexes refused and counted), and interrupt
 * suppression with and without EVENT_IDX, including the "work arrived
 * meanwhile" answer that closes the race of turning calls back on.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vu_vring.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NUM	      8

/* A ring of num entries in fresh memory full of garbage. */
static void *
ring_new(struct vrdma_vring *r, uint16_t num, bool event_idx)
{
	size_t size = vrdma_vring_size(num);
	void *mem = aligned_alloc(64, size);

	assert_non_null(mem);
	memset(mem, 0xff, size);
	assert_int_equal(vrdma_vring_init(r, mem, num, event_idx), 0);
	return mem;
}

/* The device's side of EVENT_IDX: where it wants the next kick. */
static uint16_t *
avail_event(struct vrdma_vring *r)
{
	return (uint16_t *)&r->used->ring[r->num];
}

/* Ours: where we want the next call. */
static uint16_t *
used_event(struct vrdma_vring *r)
{
	return &r->avail->ring[r->num];
}

/* Move every index to idx, as if the ring had been running for a while. */
static void
ring_at(struct vrdma_vring *r, uint16_t idx)
{
	r->avail_idx = idx;
	r->published_idx = idx;
	r->last_used = idx;
	r->avail->idx = idx;
	r->used->idx = idx;
}

/* The device returns buffer id with len bytes written. */
static void
device_use(struct vrdma_vring *r, uint32_t id, uint32_t len)
{
	struct vrdma_vring_used_elem *e =
		&r->used->ring[r->used->idx & (r->num - 1)];

	e->id = id;
	e->len = len;
	__atomic_store_n(&r->used->idx, (uint16_t)(r->used->idx + 1),
			 __ATOMIC_RELEASE);
}

/* Would a device that moved used->idx from old to new call us? */
static bool
device_calls(struct vrdma_vring *r, uint16_t old, uint16_t new_idx)
{
	if (r->event_idx)
		return vrdma_vring_need_event(*used_event(r), new_idx, old);
	return !(r->avail->flags & VRDMA_VRING_AVAIL_F_NO_INTERRUPT);
}

static void
post_n(struct vrdma_vring *r, uint16_t first_id, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		vrdma_vring_post(r, (uint16_t)((first_id + i) % r->num),
				 0x10000ull * (first_id + i), 1500, 0);
}

static void
test_layout(void **state)
{
	(void)state;
	for (uint32_t num = 1; num <= 32768; num *= 2) {
		size_t avail = vrdma_vring_avail_offset((uint16_t)num);
		size_t used = vrdma_vring_used_offset((uint16_t)num);
		size_t size = vrdma_vring_size((uint16_t)num);
		/* Ends of the avail ring (flags, idx, ring, used_event) and
		 * of the used ring (flags, idx, ring, avail_event). */
		size_t avail_end = avail + 4 + 2 * num + 2;
		size_t used_end = used + 4 + 8 * num + 2;

		/* Virtio's alignment: 16 for descriptors, 2 for the avail
		 * ring, 4 for the used ring; the whole is 64-byte aligned. */
		assert_int_equal(avail % 16, 0);
		assert_int_equal(used % 4, 0);
		assert_int_equal(size % 64, 0);
		/* In order, without overlap, and no waste past alignment. */
		assert_true(avail >= sizeof(struct vrdma_vring_desc) * num);
		assert_true(used >= avail_end);
		assert_true(size >= used_end);
		assert_true(used - avail_end < 64);
		assert_true(size - used_end < 64);
	}
	assert_int_equal(sizeof(struct vrdma_vring_desc), 16);
	assert_int_equal(sizeof(struct vrdma_vring_used_elem), 8);
	assert_int_equal(offsetof(struct vrdma_vring_avail, ring), 4);
	assert_int_equal(offsetof(struct vrdma_vring_used, ring), 4);
}

static void
test_init(void **state)
{
	static const uint16_t bad[] = {0, 3, 6, 100, 255, 257, 32767, 65535};
	struct vrdma_vring r;
	uint8_t *base;
	size_t size;

	(void)state;
	/* Not a power of two (none in 16 bits is above 32768). Room for
	 * the largest, so that a wrong acceptance fails and corrupts
	 * nothing. */
	base = aligned_alloc(64, vrdma_vring_size(65535));
	assert_non_null(base);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(vrdma_vring_init(&r, base, bad[i], false),
				 -EINVAL);
	free(base);

	base = ring_new(&r, 256, true);
	size = vrdma_vring_size(256);
	for (size_t i = 0; i < size; i++)
		if (base[i] != 0)
			fail_msg("byte %zu of the ring not zeroed", i);
	assert_int_equal(r.num, 256);
	assert_true(r.event_idx);
	assert_ptr_equal(r.desc, base);
	assert_ptr_equal(r.avail, base + vrdma_vring_avail_offset(256));
	assert_ptr_equal(r.used, base + vrdma_vring_used_offset(256));
	assert_int_equal(r.avail_idx, 0);
	assert_int_equal(r.published_idx, 0);
	assert_int_equal(r.last_used, 0);
	assert_int_equal(r.bad_used, 0);
	/* Init resets a ring that has been used. */
	ring_at(&r, 1000);
	r.bad_used = 3;
	assert_int_equal(vrdma_vring_init(&r, base, 256, false), 0);
	assert_false(r.event_idx);
	assert_int_equal(r.avail_idx, 0);
	assert_int_equal(r.published_idx, 0);
	assert_int_equal(r.last_used, 0);
	assert_int_equal(r.bad_used, 0);
	assert_int_equal(r.avail->idx, 0);
	free(base);

	/* The smallest and the largest ring. */
	base = ring_new(&r, 1, false);
	free(base);
	base = ring_new(&r, 32768, false);
	assert_ptr_equal(r.used, base + vrdma_vring_used_offset(32768));
	free(base);
}

static void
test_need_event(void **state)
{
	static const struct {
		uint16_t event;
		uint16_t new_idx;
		uint16_t old;
		bool want;
	} table[] = {
		{0, 1, 0, true},
		{0, 0, 0, false}, /* nothing moved: never */
		{1, 1, 0, false},
		{5, 10, 5, true},
		{9, 10, 5, true},
		{10, 10, 5, false},
		{4, 10, 5, false},
		{0, 0x8000, 0, true},
		{0x7fff, 0x8000, 0, true},
		{0x8000, 0x8000, 0, false},
		/* Across 65535. */
		{0xffff, 1, 0xfffe, true},
		{0, 1, 0xfffe, true},
		{1, 1, 0xfffe, false},
		{0xfffd, 1, 0xfffe, false},
		{0xfffe, 0xffff, 0xfffe, true},
		{0xffff, 0, 0xffff, true},
		{0, 0, 0xffff, false},
		{0xfffe, 0, 0xffff, false},
	};
	static const uint16_t olds[] = {0, 1, 100, 0x7fff, 0xfff0, 0xffff};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (vrdma_vring_need_event(table[i].event, table[i].new_idx,
					   table[i].old) != table[i].want)
			fail_msg("need_event(%u, %u, %u) != %d", table[i].event,
				 table[i].new_idx, table[i].old, table[i].want);

	/* Reference: true exactly when event is in [old, new). */
	for (size_t o = 0; o < ARRAY_SIZE(olds); o++) {
		for (uint16_t d = 0; d < 40; d++) {
			for (int e = -5; e < 45; e++) {
				uint16_t old = olds[o];
				uint16_t new_idx = (uint16_t)(old + d);
				uint16_t event = (uint16_t)(old + e);
				bool want = e >= 0 && e < d;

				assert_int_equal(vrdma_vring_need_event(
							 event, new_idx, old),
						 want);
			}
		}
	}
}

static void
test_post_publish(void **state)
{
	struct vrdma_vring r;
	void *mem = ring_new(&r, NUM, false);

	(void)state;
	vrdma_vring_post(&r, 5, 0x1000, 1500, 0);
	vrdma_vring_post(&r, 2, 0x2000, 2048, VRDMA_VRING_DESC_F_WRITE);
	vrdma_vring_post(&r, 7, 0x3000, 60, 0);
	assert_true(r.desc[5].addr == 0x1000);
	assert_int_equal(r.desc[5].len, 1500);
	assert_int_equal(r.desc[5].flags, 0);
	assert_int_equal(r.desc[5].next, 0);
	assert_true(r.desc[2].addr == 0x2000);
	assert_int_equal(r.desc[2].len, 2048);
	assert_int_equal(r.desc[2].flags, VRDMA_VRING_DESC_F_WRITE);
	assert_true(r.desc[7].addr == 0x3000);
	assert_int_equal(r.desc[7].len, 60);
	assert_int_equal(r.avail->ring[0], 5);
	assert_int_equal(r.avail->ring[1], 2);
	assert_int_equal(r.avail->ring[2], 7);
	/* Posted is not yet visible. */
	assert_int_equal(r.avail_idx, 3);
	assert_int_equal(r.avail->idx, 0);

	assert_true(vrdma_vring_publish(&r));
	assert_int_equal(r.avail->idx, 3);
	assert_int_equal(r.published_idx, 3);
	/* Nothing new: no store, no kick. */
	assert_false(vrdma_vring_publish(&r));
	assert_int_equal(r.avail->idx, 3);

	vrdma_vring_post(&r, 0, 0x4000, 100, 0);
	assert_int_equal(r.avail->idx, 3);
	assert_true(vrdma_vring_publish(&r));
	assert_int_equal(r.avail->idx, 4);
	assert_int_equal(r.avail->ring[3], 0);

	/* Across 65535: slots are the index modulo num. */
	ring_at(&r, 65534);
	post_n(&r, 0, 4);
	assert_int_equal(r.avail->idx, 65534);
	assert_true(vrdma_vring_publish(&r));
	assert_int_equal(r.avail->idx, 2);
	assert_int_equal(r.published_idx, 2);
	assert_int_equal(r.avail->ring[6], 0);
	assert_int_equal(r.avail->ring[7], 1);
	assert_int_equal(r.avail->ring[0], 2);
	assert_int_equal(r.avail->ring[1], 3);
	free(mem);
}

static void
test_kick_flags(void **state)
{
	struct vrdma_vring r;
	void *mem = ring_new(&r, NUM, false);

	(void)state;
	/* Nothing to publish: no kick, whatever the device says. */
	assert_false(vrdma_vring_publish(&r));
	post_n(&r, 0, 1);
	assert_true(vrdma_vring_publish(&r));
	r.used->flags = VRDMA_VRING_USED_F_NO_NOTIFY;
	post_n(&r, 1, 2);
	assert_false(vrdma_vring_publish(&r));
	assert_int_equal(r.avail->idx, 3);
	/* Without EVENT_IDX the avail_event slot means nothing. */
	*avail_event(&r) = 3;
	post_n(&r, 3, 1);
	assert_false(vrdma_vring_publish(&r));
	r.used->flags = 0;
	*avail_event(&r) = 100;
	post_n(&r, 4, 1);
	assert_true(vrdma_vring_publish(&r));
	assert_int_equal(r.avail->idx, 5);
	free(mem);
}

static void
test_kick_event_idx(void **state)
{
	struct vrdma_vring r;
	void *mem = ring_new(&r, NUM, true);

	(void)state;
	/* A fresh device waits at avail_event 0: 0 -> 3 crosses it. */
	post_n(&r, 0, 3);
	assert_true(vrdma_vring_publish(&r));
	/* The device went to sleep after reading all 3. */
	*avail_event(&r) = 3;
	post_n(&r, 3, 1);
	assert_true(vrdma_vring_publish(&r));
	/* It is awake and has not moved its event index: no kick. */
	post_n(&r, 4, 2);
	assert_false(vrdma_vring_publish(&r));
	assert_int_equal(r.avail->idx, 6);
	/* With EVENT_IDX, USED_F_NO_NOTIFY is ignored both ways. */
	*avail_event(&r) = 6;
	r.used->flags = VRDMA_VRING_USED_F_NO_NOTIFY;
	post_n(&r, 6, 1);
	assert_true(vrdma_vring_publish(&r));
	r.used->flags = 0;
	*avail_event(&r) = 8;
	post_n(&r, 7, 1);
	assert_false(vrdma_vring_publish(&r));
	/* A batch crossing the event index anywhere kicks. */
	*avail_event(&r) = 10;
	post_n(&r, 0, 2); /* 8 -> 10 */
	assert_false(vrdma_vring_publish(&r));
	post_n(&r, 2, 3); /* 10 -> 13 */
	assert_true(vrdma_vring_publish(&r));

	/* Across 65535. */
	ring_at(&r, 65534);
	*avail_event(&r) = 65535;
	post_n(&r, 0, 4); /* 65534 -> 2 */
	assert_true(vrdma_vring_publish(&r));
	assert_int_equal(r.avail->idx, 2);
	*avail_event(&r) = 1; /* behind us: already crossed */
	post_n(&r, 4, 1);
	assert_false(vrdma_vring_publish(&r));
	ring_at(&r, 65534);
	*avail_event(&r) = 2; /* just past the batch */
	post_n(&r, 0, 4);
	assert_false(vrdma_vring_publish(&r));
	ring_at(&r, 65534);
	*avail_event(&r) = 1; /* the batch's last entry */
	post_n(&r, 0, 4);
	assert_true(vrdma_vring_publish(&r));
	free(mem);
}

static void
test_used(void **state)
{
	struct vrdma_vring r;
	void *mem = ring_new(&r, NUM, false);
	uint32_t len;
	uint16_t id;

	(void)state;
	post_n(&r, 0, 4);
	vrdma_vring_publish(&r);
	assert_int_equal(vrdma_vring_used_pending(&r), 0);
	assert_int_equal(vrdma_vring_peek_used(&r, 0, &id, &len), 0);

	device_use(&r, 2, 100);
	device_use(&r, 0, 60);
	assert_int_equal(vrdma_vring_used_pending(&r), 2);
	assert_int_equal(vrdma_vring_peek_used(&r, 0, &id, &len), 1);
	assert_int_equal(id, 2);
	assert_int_equal(len, 100);
	assert_int_equal(vrdma_vring_peek_used(&r, 1, &id, &len), 1);
	assert_int_equal(id, 0);
	assert_int_equal(len, 60);
	assert_int_equal(vrdma_vring_peek_used(&r, 2, &id, &len), 0);
	assert_int_equal(vrdma_vring_peek_used(&r, 0xffff, &id, &len), 0);
	/* Peeking consumes nothing. */
	assert_int_equal(vrdma_vring_used_pending(&r), 2);

	vrdma_vring_consume(&r, 1);
	assert_int_equal(r.last_used, 1);
	assert_int_equal(vrdma_vring_used_pending(&r), 1);
	assert_int_equal(vrdma_vring_peek_used(&r, 0, &id, &len), 1);
	assert_int_equal(id, 0);
	assert_int_equal(len, 60);
	vrdma_vring_consume(&r, 1);
	assert_int_equal(vrdma_vring_used_pending(&r), 0);
	assert_int_equal(vrdma_vring_peek_used(&r, 0, &id, &len), 0);

	/* The last valid id, and a zero length, are fine. */
	device_use(&r, NUM - 1, 0);
	assert_int_equal(vrdma_vring_peek_used(&r, 0, &id, &len), 1);
	assert_int_equal(id, NUM - 1);
	assert_int_equal(len, 0);
	assert_int_equal(r.bad_used, 0);
	free(mem);
}

static void
test_used_wrap(void **state)
{
	struct vrdma_vring r;
	void *mem = ring_new(&r, NUM, false);
	uint32_t len;
	uint16_t id;

	(void)state;
	ring_at(&r, 65534);
	device_use(&r, 3, 30);
	device_use(&r, 4, 40);
	device_use(&r, 5, 50);
	assert_int_equal(r.used->idx, 1);
	assert_int_equal(r.used->ring[6].id, 3);
	assert_int_equal(r.used->ring[0].id, 5);
	assert_int_equal(vrdma_vring_used_pending(&r), 3);
	for (uint16_t i = 0; i < 3; i++) {
		assert_int_equal(vrdma_vring_peek_used(&r, i, &id, &len), 1);
		assert_int_equal(id, 3 + i);
		assert_int_equal(len, 30 + 10 * i);
	}
	assert_int_equal(vrdma_vring_peek_used(&r, 3, &id, &len), 0);
	vrdma_vring_consume(&r, 2);
	assert_int_equal(r.last_used, 0);
	assert_int_equal(vrdma_vring_peek_used(&r, 0, &id, &len), 1);
	assert_int_equal(id, 5);
	vrdma_vring_consume(&r, 1);
	assert_int_equal(r.last_used, 1);
	assert_int_equal(vrdma_vring_used_pending(&r), 0);

	/* A full ring across the wrap is still valid: exactly num. */
	ring_at(&r, 65530);
	for (uint32_t i = 0; i < NUM; i++)
		device_use(&r, i, i);
	assert_int_equal(r.used->idx, 2);
	assert_int_equal(vrdma_vring_used_pending(&r), NUM);
	assert_int_equal(vrdma_vring_peek_used(&r, NUM - 1, &id, &len), 1);
	assert_int_equal(id, NUM - 1);
	assert_int_equal(vrdma_vring_peek_used(&r, NUM, &id, &len), 0);
	assert_int_equal(r.bad_used, 0);
	free(mem);
}

static void
test_used_bad(void **state)
{
	static const uint32_t bad_ids[] = {
		NUM, NUM + 1, 0xffff, 0x10000, 0x10001, UINT32_MAX,
	};
	struct vrdma_vring r;
	void *mem = ring_new(&r, NUM, false);
	uint32_t len;
	uint16_t id;

	(void)state;
	/* An id outside the ring, even one that would truncate to a
	 * valid 16-bit id, is refused and counted; each peek counts. */
	for (size_t i = 0; i < ARRAY_SIZE(bad_ids); i++) {
		ring_at(&r, (uint16_t)(65533 + i));
		r.bad_used = 0;
		device_use(&r, 1, 10);
		device_use(&r, bad_ids[i], 10);
		assert_int_equal(vrdma_vring_peek_used(&r, 0, &id, &len), 1);
		assert_int_equal(id, 1);
		assert_int_equal(vrdma_vring_peek_used(&r, 1, &id, &len),
				 -EPROTO);
		assert_int_equal(r.bad_used, 1);
		vrdma_vring_consume(&r, 1);
		assert_int_equal(vrdma_vring_peek_used(&r, 0, &id, &len),
				 -EPROTO);
		assert_int_equal(r.bad_used, 2);
	}

	/* More used than the ring holds: refused whatever is asked. */
	ring_at(&r, 100);
	r.bad_used = 0;
	r.used->idx = 100 + NUM + 1;
	assert_int_equal(vrdma_vring_peek_used(&r, 0, &id, &len), -EPROTO);
	assert_int_equal(vrdma_vring_peek_used(&r, NUM + 5, &id, &len),
			 -EPROTO);
	assert_int_equal(r.bad_used, 2);
	/* A used index that went backwards is as many as 65535 pending. */
	r.used->idx = 99;
	assert_int_equal(vrdma_vring_peek_used(&r, 0, &id, &len), -EPROTO);
	assert_int_equal(r.bad_used, 3);
	/* Across the wrap. */
	ring_at(&r, 65535);
	r.used->idx = (uint16_t)(65535 + NUM + 1);
	assert_int_equal(vrdma_vring_peek_used(&r, 0, &id, &len), -EPROTO);
	assert_int_equal(r.bad_used, 4);
	free(mem);
}

static void
test_interrupts_event_idx(void **state)
{
	struct vrdma_vring r;
	void *mem = ring_new(&r, NUM, true);

	(void)state;
	ring_at(&r, 5);
	assert_false(vrdma_vring_interrupts(&r, false));
	assert_int_equal(*used_event(&r), 4);
	/* However far the device gets in one ring's worth, no call. */
	for (uint16_t old = 5; old < 5 + NUM; old++)
		for (uint16_t n = 1; old + n <= 5 + NUM; n++)
			assert_false(device_calls(&r, old, old + n));

	assert_false(vrdma_vring_interrupts(&r, true));
	assert_int_equal(*used_event(&r), 5);
	assert_true(device_calls(&r, 5, 6));
	/* The device used a buffer after we last looked: say so. */
	device_use(&r, 0, 10);
	assert_true(vrdma_vring_interrupts(&r, true));
	assert_int_equal(*used_event(&r), 5);
	assert_false(vrdma_vring_interrupts(&r, false));
	/* With EVENT_IDX the flags stay 0 (virtio 1.x 2.7.10). */
	assert_int_equal(r.avail->flags, 0);

	/* Across 65535. */
	ring_at(&r, 0);
	assert_false(vrdma_vring_interrupts(&r, false));
	assert_int_equal(*used_event(&r), 0xffff);
	assert_false(device_calls(&r, 0, NUM));
	ring_at(&r, 0xffff);
	assert_false(vrdma_vring_interrupts(&r, true));
	assert_int_equal(*used_event(&r), 0xffff);
	assert_true(device_calls(&r, 0xffff, 0));
	device_use(&r, 1, 1);
	assert_int_equal(r.used->idx, 0);
	assert_true(vrdma_vring_interrupts(&r, true));
	assert_int_equal(r.avail->flags, 0);
	free(mem);
}

static void
test_interrupts_flags(void **state)
{
	struct vrdma_vring r;
	void *mem = ring_new(&r, NUM, false);

	(void)state;
	ring_at(&r, 5);
	assert_false(vrdma_vring_interrupts(&r, false));
	assert_int_equal(r.avail->flags, VRDMA_VRING_AVAIL_F_NO_INTERRUPT);
	assert_false(device_calls(&r, 5, 6));
	assert_false(vrdma_vring_interrupts(&r, true));
	assert_int_equal(r.avail->flags, 0);
	assert_true(device_calls(&r, 5, 6));
	device_use(&r, 0, 10);
	assert_false(vrdma_vring_interrupts(&r, false));
	assert_true(vrdma_vring_interrupts(&r, true));
	assert_int_equal(r.avail->flags, 0);
	/* Without EVENT_IDX the used_event slot is never written. */
	assert_int_equal(*used_event(&r), 0);
	free(mem);
}

static void
test_call_after(void **state)
{
	struct vrdma_vring r;
	void *mem = ring_new(&r, NUM, true);

	(void)state;
	ring_at(&r, 10);
	assert_false(vrdma_vring_call_after(&r, 2));
	assert_int_equal(*used_event(&r), 12);
	device_use(&r, 0, 1);
	device_use(&r, 1, 1);
	/* Two more used: not yet more than 2, and the device agrees. */
	assert_false(device_calls(&r, 10, 12));
	assert_false(vrdma_vring_call_after(&r, 2));
	assert_true(device_calls(&r, 12, 13));
	device_use(&r, 2, 1);
	assert_true(vrdma_vring_call_after(&r, 2));
	assert_false(vrdma_vring_call_after(&r, 3));
	assert_int_equal(*used_event(&r), 13);
	/* ahead 0 is interrupts on. */
	assert_true(vrdma_vring_call_after(&r, 0));
	assert_int_equal(*used_event(&r), 10);
	assert_int_equal(r.avail->flags, 0);

	/* Across 65535. */
	ring_at(&r, 65534);
	assert_false(vrdma_vring_call_after(&r, 3));
	assert_int_equal(*used_event(&r), 1);
	free(mem);

	/* Without EVENT_IDX: calls on for every element; the answer still
	 * counts what is there. */
	mem = ring_new(&r, NUM, false);
	ring_at(&r, 10);
	vrdma_vring_interrupts(&r, false);
	assert_false(vrdma_vring_call_after(&r, 2));
	assert_int_equal(r.avail->flags, 0);
	device_use(&r, 0, 1);
	device_use(&r, 1, 1);
	assert_false(vrdma_vring_call_after(&r, 2));
	device_use(&r, 2, 1);
	assert_true(vrdma_vring_call_after(&r, 2));
	assert_int_equal(*used_event(&r), 0);
	free(mem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_need_event),
		cmocka_unit_test(test_post_publish),
		cmocka_unit_test(test_kick_flags),
		cmocka_unit_test(test_kick_event_idx),
		cmocka_unit_test(test_used),
		cmocka_unit_test(test_used_wrap),
		cmocka_unit_test(test_used_bad),
		cmocka_unit_test(test_interrupts_event_idx),
		cmocka_unit_test(test_interrupts_flags),
		cmocka_unit_test(test_call_after),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
