/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vhost-user control protocol as its frontend (the side QEMU plays)
 * speaks it: message layout, the requests we send, the replies we accept,
 * and feature negotiation. Pure C with no I/O, so that the unit tests and
 * the fuzz target exercise exactly what vrdma-vhost-ns runs; vu_vring.h
 * holds the ring side, vu_ctl.c the socket and handshake.
 *
 * Reference: QEMU docs/interop/vhost-user.rst. All fields are little
 * endian on the wire; like QEMU and DPDK we only run on little-endian
 * hosts (checked at build time in vu_proto.c).
 */
#ifndef VRDMA_VU_PROTO_H
#define VRDMA_VU_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Requests, frontend to backend: X(name, number, reply payload). */
#define VRDMA_VU_REQUESTS(X)               \
	X(GET_FEATURES, 1, U64)            \
	X(SET_FEATURES, 2, NONE)           \
	X(SET_OWNER, 3, NONE)              \
	X(SET_MEM_TABLE, 5, NONE)          \
	X(SET_VRING_NUM, 8, NONE)          \
	X(SET_VRING_ADDR, 9, NONE)         \
	X(SET_VRING_BASE, 10, NONE)        \
	X(GET_VRING_BASE, 11, STATE)       \
	X(SET_VRING_KICK, 12, NONE)        \
	X(SET_VRING_CALL, 13, NONE)        \
	X(GET_PROTOCOL_FEATURES, 15, U64)  \
	X(SET_PROTOCOL_FEATURES, 16, NONE) \
	X(GET_QUEUE_NUM, 17, U64)          \
	X(SET_VRING_ENABLE, 18, NONE)

enum vrdma_vu_request {
#define VRDMA_VU_ENUM(name, num, reply) VRDMA_VU_##name = num,
	VRDMA_VU_REQUESTS(VRDMA_VU_ENUM)
#undef VRDMA_VU_ENUM
};

/* Header flags: version in bits 0-1, reply in bit 2, and in bit 3 "ack
 * this message" (only once REPLY_ACK is negotiated). */
#define VRDMA_VU_VERSION	 0x1u
#define VRDMA_VU_VERSION_MASK	 0x3u
#define VRDMA_VU_FLAG_REPLY	 (1u << 2)
#define VRDMA_VU_FLAG_NEED_REPLY (1u << 3)

/* SET_VRING_KICK/CALL payload: vring index in bits 0-7; bit 8 says
 * "no file descriptor, poll instead" (we always send one). */
#define VRDMA_VU_VRING_IDX_MASK 0xffu
#define VRDMA_VU_VRING_NOFD	(1u << 8)

/* Memory regions per SET_MEM_TABLE without the CONFIGURE_MEM_SLOTS
 * protocol feature. */
#define VRDMA_VU_MAX_REGIONS 8

/* Virtio feature bits used by a virtio-net frontend. */
#define VRDMA_VIRTIO_NET_F_CSUM		     0
#define VRDMA_VIRTIO_NET_F_GUEST_CSUM	     1
#define VRDMA_VIRTIO_NET_F_GUEST_TSO4	     7
#define VRDMA_VIRTIO_NET_F_GUEST_TSO6	     8
#define VRDMA_VIRTIO_NET_F_HOST_TSO4	     11
#define VRDMA_VIRTIO_NET_F_HOST_TSO6	     12
#define VRDMA_VIRTIO_NET_F_MRG_RXBUF	     15
#define VRDMA_VIRTIO_NET_F_MQ		     22
#define VRDMA_VIRTIO_RING_F_EVENT_IDX	     29
#define VRDMA_VHOST_USER_F_PROTOCOL_FEATURES 30
#define VRDMA_VIRTIO_F_VERSION_1	     32

/* Protocol feature bits. */
#define VRDMA_VU_PROTOCOL_F_MQ	      0
#define VRDMA_VU_PROTOCOL_F_REPLY_ACK 3

#define VRDMA_BIT(n) (1ull << (n))

struct vrdma_vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* of the payload that follows */
};

struct vrdma_vu_vring_state {
	uint32_t index;
	uint32_t num;
};

/* Ring addresses are in the frontend's virtual address space; the backend
 * translates them through the userspace_addr of the memory regions. */
struct vrdma_vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

struct vrdma_vu_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct vrdma_vu_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vrdma_vu_region regions[VRDMA_VU_MAX_REGIONS];
};

union vrdma_vu_payload {
	uint64_t u64;
	struct vrdma_vu_vring_state state;
	struct vrdma_vu_vring_addr addr;
	struct vrdma_vu_memory memory;
};

/* In memory only: on the wire the payload follows the 12-byte header with
 * no padding, so a message goes out as two iovecs (vu_ctl.c). */
struct vrdma_vu_msg {
	struct vrdma_vu_hdr hdr;
	union vrdma_vu_payload payload;
};

_Static_assert(sizeof(struct vrdma_vu_hdr) == 12, "vhost-user header");
_Static_assert(sizeof(struct vrdma_vu_vring_addr) == 40, "vring addr");
_Static_assert(sizeof(struct vrdma_vu_memory) == 8 + 8 * 32, "memory table");

/* The request's name ("SET_MEM_TABLE"), or "UNKNOWN". */
const char *vrdma_vu_request_name(uint32_t request);

/* Fill msg for a request; each returns the message's length on the wire
 * (header plus payload). */
size_t vrdma_vu_msg_u64(struct vrdma_vu_msg *msg, enum vrdma_vu_request req,
			uint64_t value);
size_t vrdma_vu_msg_state(struct vrdma_vu_msg *msg, enum vrdma_vu_request req,
			  uint32_t index, uint32_t num);
size_t vrdma_vu_msg_addr(struct vrdma_vu_msg *msg,
			 const struct vrdma_vu_vring_addr *addr);
size_t vrdma_vu_msg_memory(struct vrdma_vu_msg *msg,
			   const struct vrdma_vu_region *regions,
			   uint32_t nregions);
size_t vrdma_vu_msg_none(struct vrdma_vu_msg *msg, enum vrdma_vu_request req);

/*
 * Check a reply of len bytes in buf, received for request req, and copy
 * its value out. The backend is not trusted: the version, the reply flag,
 * the request number and the payload size must be exactly right. Other
 * flag bits are ignored, as QEMU does; a GET_VRING_BASE reply's ring index
 * is the caller's to compare.
 * Returns 0, or -EPROTO with *why naming what was wrong.
 */
int vrdma_vu_reply_parse(const void *buf, size_t len, uint32_t req,
			 union vrdma_vu_payload *out, const char **why);

/*
 * Check the ack (REPLY_ACK) of len bytes in buf to request req, which has
 * no reply of its own, as strictly as vrdma_vu_reply_parse: a reply to
 * req with a 64-bit payload. *status is that payload: 0 when the backend
 * carried the request out, anything else when it failed.
 * Returns 0, or -EPROTO with *why naming what was wrong.
 */
int vrdma_vu_ack_parse(const void *buf, size_t len, uint32_t req,
		       uint64_t *status, const char **why);

/* Size of a reply's payload for req, or 0 when req gets no reply. */
size_t vrdma_vu_reply_size(uint32_t req);

/*
 * Feature negotiation. `offered` is what the backend said in GET_FEATURES,
 * `wanted` what we would like, `required` what we cannot run without.
 * Returns 0 with *out = offered & (wanted | required), or -ENOTSUP with
 * *missing set to the lowest required bit the backend lacks.
 */
int vrdma_vu_negotiate(uint64_t offered, uint64_t wanted, uint64_t required,
		       uint64_t *out, unsigned int *missing);

/* Name of a virtio-net/vhost-user feature bit ("MRG_RXBUF"), or NULL. */
const char *vrdma_vu_feature_name(unsigned int bit);

#endif /* VRDMA_VU_PROTO_H */
