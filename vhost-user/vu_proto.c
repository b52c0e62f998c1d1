/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user message encoding, reply and ack validation and feature
 * negotiation for the frontend; see vu_proto.h. No I/O here.
 */
#include "vu_proto.h"

#include <errno.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "vhost-user fields are little endian; so must the host be");

enum reply_kind { REPLY_NONE, REPLY_U64, REPLY_STATE };

static const struct {
	uint32_t num;
	const char *name;
	enum reply_kind reply;
} requests[] = {
#define VRDMA_VU_ROW(n, v, r) {v, #n, REPLY_##r},
	VRDMA_VU_REQUESTS(VRDMA_VU_ROW)
#undef VRDMA_VU_ROW
};

static int
request_row(uint32_t req)
{
	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
		if (requests[i].num == req)
			return (int)i;
	return -1;
}

const char *
vrdma_vu_request_name(uint32_t req)
{
	int row = request_row(req);

	return row < 0 ? "UNKNOWN" : requests[row].name;
}

size_t
vrdma_vu_reply_size(uint32_t req)
{
	int row = request_row(req);

	if (row < 0)
		return 0;
	switch (requests[row].reply) {
	case REPLY_U64:
		return sizeof(uint64_t);
	case REPLY_STATE:
		return sizeof(struct vrdma_vu_vring_state);
	case REPLY_NONE:
		break;
	}
	return 0;
}

static size_t
msg_init(struct vrdma_vu_msg *msg, enum vrdma_vu_request req, size_t size)
{
	memset(msg, 0, sizeof(*msg));
	msg->hdr.request = req;
	msg->hdr.flags = VRDMA_VU_VERSION;
	msg->hdr.size = (uint32_t)size;
	return sizeof(msg->hdr) + size;
}

size_t
vrdma_vu_msg_none(struct vrdma_vu_msg *msg, enum vrdma_vu_request req)
{
	return msg_init(msg, req, 0);
}

size_t
vrdma_vu_msg_u64(struct vrdma_vu_msg *msg, enum vrdma_vu_request req,
		 uint64_t value)
{
	size_t len = msg_init(msg, req, sizeof(uint64_t));

	msg->payload.u64 = value;
	return len;
}

size_t
vrdma_vu_msg_state(struct vrdma_vu_msg *msg, enum vrdma_vu_request req,
		   uint32_t index, uint32_t num)
{
	size_t len = msg_init(msg, req, sizeof(struct vrdma_vu_vring_state));

	msg->payload.state.index = index;
	msg->payload.state.num = num;
	return len;
}

size_t
vrdma_vu_msg_addr(struct vrdma_vu_msg *msg,
		  const struct vrdma_vu_vring_addr *addr)
{
	size_t len = msg_init(msg, VRDMA_VU_SET_VRING_ADDR, sizeof(*addr));

	msg->payload.addr = *addr;
	return len;
}

size_t
vrdma_vu_msg_memory(struct vrdma_vu_msg *msg,
		    const struct vrdma_vu_region *regions, uint32_t nregions)
{
	size_t len;

	if (nregions > VRDMA_VU_MAX_REGIONS)
		nregions = VRDMA_VU_MAX_REGIONS;
	/* As QEMU sends it: the header and only the regions in use. */
	len = msg_init(msg, VRDMA_VU_SET_MEM_TABLE,
		       offsetof(struct vrdma_vu_memory, regions) +
			       nregions * sizeof(*regions));
	msg->payload.memory.nregions = nregions;
	if (nregions > 0)
		memcpy(msg->payload.memory.regions, regions,
		       nregions * sizeof(*regions));
	return len;
}

/* The checks common to replies and acks: a reply of exactly want payload
 * bytes to req. */
static int
reply_check(const void *buf, size_t len, uint32_t req, size_t want,
	    const char **why)
{
	struct vrdma_vu_hdr hdr;

	*why = NULL;
	if (len < sizeof(hdr)) {
		*why = "reply shorter than the 12-byte header";
		return -EPROTO;
	}
	memcpy(&hdr, buf, sizeof(hdr));
	if ((hdr.flags & VRDMA_VU_VERSION_MASK) != VRDMA_VU_VERSION)
		*why = "unknown protocol version";
	else if (!(hdr.flags & VRDMA_VU_FLAG_REPLY))
		*why = "message is not a reply";
	else if (hdr.request != req)
		*why = "reply to a different request";
	else if (hdr.size != want)
		*why = "payload size wrong for this request";
	else if (len != sizeof(hdr) + want)
		*why = "length does not match the header's size";
	return *why != NULL ? -EPROTO : 0;
}

int
vrdma_vu_reply_parse(const void *buf, size_t len, uint32_t req,
		     union vrdma_vu_payload *out, const char **why)
{
	size_t want = vrdma_vu_reply_size(req);

	if (want == 0) {
		*why = "no reply expected to this request";
		return -EPROTO;
	}
	if (reply_check(buf, len, req, want, why) != 0)
		return -EPROTO;
	memset(out, 0, sizeof(*out));
	memcpy(out, (const uint8_t *)buf + sizeof(struct vrdma_vu_hdr), want);
	return 0;
}

int
vrdma_vu_ack_parse(const void *buf, size_t len, uint32_t req, uint64_t *status,
		   const char **why)
{
	if (vrdma_vu_reply_size(req) != 0 || request_row(req) < 0) {
		*why = "no ack expected to this request";
		return -EPROTO;
	}
	if (reply_check(buf, len, req, sizeof(*status), why) != 0)
		return -EPROTO;
	memcpy(status, (const uint8_t *)buf + sizeof(struct vrdma_vu_hdr),
	       sizeof(*status));
	return 0;
}

int
vrdma_vu_negotiate(uint64_t offered, uint64_t wanted, uint64_t required,
		   uint64_t *out, unsigned int *missing)
{
	uint64_t lacking = required & ~offered;

	if (lacking != 0) {
		*missing = (unsigned int)__builtin_ctzll(lacking);
		return -ENOTSUP;
	}
	*out = offered & (wanted | required);
	return 0;
}

const char *
vrdma_vu_feature_name(unsigned int bit)
{
	switch (bit) {
	case VRDMA_VIRTIO_NET_F_CSUM:
		return "CSUM";
	case VRDMA_VIRTIO_NET_F_GUEST_CSUM:
		return "GUEST_CSUM";
	case VRDMA_VIRTIO_NET_F_GUEST_TSO4:
		return "GUEST_TSO4";
	case VRDMA_VIRTIO_NET_F_GUEST_TSO6:
		return "GUEST_TSO6";
	case VRDMA_VIRTIO_NET_F_HOST_TSO4:
		return "HOST_TSO4";
	case VRDMA_VIRTIO_NET_F_HOST_TSO6:
		return "HOST_TSO6";
	case VRDMA_VIRTIO_NET_F_MRG_RXBUF:
		return "MRG_RXBUF";
	case VRDMA_VIRTIO_NET_F_MQ:
		return "MQ";
	case VRDMA_VIRTIO_RING_F_EVENT_IDX:
		return "EVENT_IDX";
	case VRDMA_VHOST_USER_F_PROTOCOL_FEATURES:
		return "PROTOCOL_FEATURES";
	case VRDMA_VIRTIO_F_VERSION_1:
		return "VERSION_1";
	}
	return NULL;
}
