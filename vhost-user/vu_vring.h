/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The driver side of a virtio split virtqueue (virtio 1.x, section 2.7),
 * living in memory shared with the vhost-user backend. vrdma-vhost-ns uses
 * one descriptor per buffer and descriptor id == buffer index, so there
 * are no chains to walk; everything the device writes (used ids, lengths)
 * is checked before use.
 *
 * Ownership and ordering: the descriptor table and the avail ring are
 * written by us (one thread) and read by the device; the used ring is
 * written by the device and read by us. We publish avail->idx with a
 * release store after filling descriptors and ring slots, and read
 * used->idx with an acquire load before reading used elements. The
 * notification checks need a full fence
 * between our store and the load of the device's flag or event index,
 * as in Linux's virtqueue_kick_prepare: see vrdma_vring_publish and
 * vrdma_vring_call_after.
 */
#ifndef VRDMA_VU_VRING_H
#define VRDMA_VU_VRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VRDMA_VRING_DESC_F_WRITE	 2u /* device writes this buffer */
#define VRDMA_VRING_AVAIL_F_NO_INTERRUPT 1u /* driver: don't call me */
#define VRDMA_VRING_USED_F_NO_NOTIFY	 1u /* device: don't kick me */

struct vrdma_vring_desc {
	uint64_t addr; /* guest physical address */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vrdma_vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* num entries, then used_event */
};

struct vrdma_vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vrdma_vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vrdma_vring_used_elem ring[]; /* num entries, then avail_event */
};

struct vrdma_vring {
	uint16_t num; /* power of two */
	bool event_idx;
	struct vrdma_vring_desc *desc;
	struct vrdma_vring_avail *avail;
	struct vrdma_vring_used *used;
	uint16_t avail_idx;	/* next avail slot we fill (shadow) */
	uint16_t published_idx; /* avail->idx at the last publish */
	uint16_t last_used;	/* next used slot we consume */
	/* Counted for the user; never reset by the ring code. */
	uint64_t bad_used; /* used elements with an id out of range; the
			    * caller checks lengths against its buffers */
};

/* Bytes of shared memory a ring of num entries needs (64-byte aligned). */
size_t vrdma_vring_size(uint16_t num);

/* Lay a ring of num entries out at mem (vrdma_vring_size(num) bytes,
 * 16-byte aligned, zeroed here) and reset all indexes. num must be a power
 * of two, at most 32768. */
int vrdma_vring_init(struct vrdma_vring *r, void *mem, uint16_t num,
		     bool event_idx);

/* Offsets of the three parts from mem, for SET_VRING_ADDR. */
size_t vrdma_vring_avail_offset(uint16_t num);
size_t vrdma_vring_used_offset(uint16_t num);

/* Virtio's vring_need_event: should a party that asked to be told at
 * index event_idx be told, now that the index moved from old to new? */
static inline bool
vrdma_vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old);
}

/* Fill descriptor id (< num) and queue it for the device (not yet
 * visible). */
void vrdma_vring_post(struct vrdma_vring *r, uint16_t id, uint64_t addr,
		      uint32_t len, uint16_t flags);

/* Make every posted descriptor visible to the device. Returns true when
 * the device asked to be kicked for them (EVENT_IDX's avail_event, or
 * no USED_F_NO_NOTIFY). */
bool vrdma_vring_publish(struct vrdma_vring *r);

/* Used elements the device has returned and we have not consumed. */
uint16_t vrdma_vring_used_pending(const struct vrdma_vring *r);

/* Peek at the used element `ahead` places after the next one: 1 when
 * there is one, 0 when not (yet), -EPROTO (counted in bad_used) when its
 * id is outside the ring: the device is broken, the caller disconnects. */
int vrdma_vring_peek_used(struct vrdma_vring *r, uint16_t ahead, uint16_t *id,
			  uint32_t *len);

/* Consume n used elements. */
void vrdma_vring_consume(struct vrdma_vring *r, uint16_t n);

/*
 * Ask for (on) or against (off) a call when the device uses buffers. With
 * EVENT_IDX, "on" asks to be called for the next used element. Returns
 * true when used elements arrived meanwhile: turning calls on and then
 * finding work is the race every virtio driver must close by looking
 * again.
 */
bool vrdma_vring_interrupts(struct vrdma_vring *r, bool on);

/* Ask for a call only once more than `ahead` further elements are used
 * (a frame whose buffers are partly returned); returns true when they
 * already are. */
bool vrdma_vring_call_after(struct vrdma_vring *r, uint16_t ahead);

#endif /* VRDMA_VU_VRING_H */
