/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Driver side of a split virtqueue; see vu_vring.h for the contract and
 * the memory ordering.
 */
#include "vu_vring.h"

#include <errno.h>
#include <string.h>

#define RING_ALIGN 64

static size_t
align_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

size_t
vrdma_vring_avail_offset(uint16_t num)
{
	return sizeof(struct vrdma_vring_desc) * num;
}

size_t
vrdma_vring_used_offset(uint16_t num)
{
	/* flags, idx, ring[num], used_event */
	return align_up(vrdma_vring_avail_offset(num) + 4 + 2u * num + 2,
			RING_ALIGN);
}

size_t
vrdma_vring_size(uint16_t num)
{
	/* flags, idx, ring[num], avail_event */
	return align_up(vrdma_vring_used_offset(num) + 4 +
				sizeof(struct vrdma_vring_used_elem) * num + 2,
			RING_ALIGN);
}

int
vrdma_vring_init(struct vrdma_vring *r, void *mem, uint16_t num, bool event_idx)
{
	uint8_t *base = mem;

	if (num == 0 || (num & (num - 1)) != 0)
		return -EINVAL;
	memset(mem, 0, vrdma_vring_size(num));
	memset(r, 0, sizeof(*r));
	r->num = num;
	r->event_idx = event_idx;
	r->desc = mem;
	r->avail = (void *)(base + vrdma_vring_avail_offset(num));
	r->used = (void *)(base + vrdma_vring_used_offset(num));
	return 0;
}

static uint16_t *
used_event(struct vrdma_vring *r)
{
	return &r->avail->ring[r->num];
}

static uint16_t *
avail_event(struct vrdma_vring *r)
{
	return (uint16_t *)&r->used->ring[r->num];
}

void
vrdma_vring_post(struct vrdma_vring *r, uint16_t id, uint64_t addr,
		 uint32_t len, uint16_t flags)
{
	struct vrdma_vring_desc *d;

	id &= (uint16_t)(r->num - 1); /* ids are ours; keep them in range */
	d = &r->desc[id];

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = 0;
	r->avail->ring[r->avail_idx & (r->num - 1)] = id;
	r->avail_idx++;
}

bool
vrdma_vring_publish(struct vrdma_vring *r)
{
	uint16_t old = r->published_idx;

	if (old == r->avail_idx)
		return false;
	/* Release: descriptors and ring slots before the index. */
	__atomic_store_n(&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
	r->published_idx = r->avail_idx;
	/* Full fence: our index store before reading whether the device
	 * wants a kick, or a device going to sleep is never woken. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (r->event_idx)
		return vrdma_vring_need_event(
			__atomic_load_n(avail_event(r), __ATOMIC_RELAXED),
			r->avail_idx, old);
	return !(__atomic_load_n(&r->used->flags, __ATOMIC_RELAXED) &
		 VRDMA_VRING_USED_F_NO_NOTIFY);
}

uint16_t
vrdma_vring_used_pending(const struct vrdma_vring *r)
{
	/* Acquire: the used elements the index covers are visible. */
	return (uint16_t)(__atomic_load_n(&r->used->idx, __ATOMIC_ACQUIRE) -
			  r->last_used);
}

int
vrdma_vring_peek_used(struct vrdma_vring *r, uint16_t ahead, uint16_t *id,
		      uint32_t *len)
{
	const struct vrdma_vring_used_elem *e;
	uint32_t eid, elen;
	uint16_t pending = vrdma_vring_used_pending(r);

	/* A device claiming more used elements than the ring holds is
	 * as broken as one returning a bad id. */
	if (pending > r->num) {
		r->bad_used++;
		return -EPROTO;
	}
	if (ahead >= pending)
		return 0;
	e = &r->used->ring[(uint16_t)(r->last_used + ahead) & (r->num - 1)];
	/* The device shares this memory and may change it at any time: read
	 * each field once, then check and use that copy only. */
	eid = __atomic_load_n(&e->id, __ATOMIC_RELAXED);
	elen = __atomic_load_n(&e->len, __ATOMIC_RELAXED);
	if (eid >= r->num) {
		r->bad_used++;
		return -EPROTO;
	}
	*id = (uint16_t)eid;
	*len = elen;
	return 1;
}

void
vrdma_vring_consume(struct vrdma_vring *r, uint16_t n)
{
	r->last_used = (uint16_t)(r->last_used + n);
}

bool
vrdma_vring_call_after(struct vrdma_vring *r, uint16_t ahead)
{
	if (r->event_idx)
		__atomic_store_n(used_event(r),
				 (uint16_t)(r->last_used + ahead),
				 __ATOMIC_RELAXED);
	else
		__atomic_store_n(&r->avail->flags, 0, __ATOMIC_RELAXED);
	/* Full fence: our request before re-reading the used index. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vrdma_vring_used_pending(r) > ahead;
}

bool
vrdma_vring_interrupts(struct vrdma_vring *r, bool on)
{
	if (on)
		return vrdma_vring_call_after(r, 0);
	if (r->event_idx)
		/* An event index just behind us is only crossed again after
		 * 65535 more used elements. */
		__atomic_store_n(used_event(r), (uint16_t)(r->last_used - 1),
				 __ATOMIC_RELAXED);
	else
		__atomic_store_n(&r->avail->flags,
				 VRDMA_VRING_AVAIL_F_NO_INTERRUPT,
				 __ATOMIC_RELAXED);
	return false;
}
