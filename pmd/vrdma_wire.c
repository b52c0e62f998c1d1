/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vrdma wire format: encoders and the receive-side decoder declared in
 * vrdma_wire.h. Encoders and decoder share one set of checks
 * (check_frame()), so a frame the sender accepts is a frame the receiver
 * accepts. The decoder treats every byte as hostile: each length is compared
 * against what was received before anything is read past it, and headers are
 * copied out with memcpy so no alignment is assumed. No allocation, no
 * logging: the caller counts refusals by reason.
 */

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vrdma_wire.h"

/* The layout is the protocol: pin every offset, not just the sizes. */
_Static_assert(offsetof(struct vrdma_wire_hdr, magic) == 0, "wire layout");
_Static_assert(offsetof(struct vrdma_wire_hdr, version) == 2, "wire layout");
_Static_assert(offsetof(struct vrdma_wire_hdr, hdr_len) == 3, "wire layout");
_Static_assert(offsetof(struct vrdma_wire_hdr, flags) == 4, "wire layout");
_Static_assert(offsetof(struct vrdma_wire_hdr, batch_count) == 6,
	       "wire layout");
_Static_assert(offsetof(struct vrdma_wire_hdr, payload_len) == 8,
	       "wire layout");
_Static_assert(offsetof(struct vrdma_wire_hdr, tso_segsz) == 12, "wire layout");
_Static_assert(offsetof(struct vrdma_wire_hdr, l3_len) == 14, "wire layout");
_Static_assert(offsetof(struct vrdma_wire_hdr, l2_len) == 16, "wire layout");
_Static_assert(offsetof(struct vrdma_wire_hdr, l4_len) == 17, "wire layout");
_Static_assert(offsetof(struct vrdma_wire_hdr, pad) == 18, "wire layout");
_Static_assert(offsetof(struct vrdma_wire_frame_hdr, frame_len) == 0,
	       "wire layout");
_Static_assert(offsetof(struct vrdma_wire_frame_hdr, flags) == 4,
	       "wire layout");
_Static_assert(offsetof(struct vrdma_wire_frame_hdr, tso_segsz) == 6,
	       "wire layout");
_Static_assert(offsetof(struct vrdma_wire_frame_hdr, l3_len) == 8,
	       "wire layout");
_Static_assert(offsetof(struct vrdma_wire_frame_hdr, l2_len) == 10,
	       "wire layout");
_Static_assert(offsetof(struct vrdma_wire_frame_hdr, l4_len) == 11,
	       "wire layout");

/* The smallest record a batch can hold: a header and a minimal frame. */
#define MIN_RECORD_LEN (VRDMA_WIRE_FRAME_HDR_LEN + VRDMA_MIN_FRAME_LEN)

static const char *const reason_names[VRDMA_WIRE_REASON_MAX] = {
	[VRDMA_WIRE_OK] = "ok",
#define X(id, name, desc) [VRDMA_WIRE_BAD_##id] = name,
	VRDMA_WIRE_REASONS(X)
#undef X
};

const char *
vrdma_wire_reason_name(enum vrdma_wire_reason reason)
{
	if ((unsigned int)reason >= VRDMA_WIRE_REASON_MAX)
		return "unknown";
	return reason_names[reason];
}

static void
set_reason(enum vrdma_wire_reason *reason, enum vrdma_wire_reason value)
{
	if (reason != NULL)
		*reason = value;
}

/*
 * Offload metadata of one frame, in the field widths of the wire. The rules
 * mirror what DPDK requires of a TX offload request (rte_mbuf_core.h), so
 * the receiver can hand the frame to the switch with the same request.
 */
static enum vrdma_wire_reason
check_offload(uint32_t len, uint16_t flags, uint16_t tso_segsz, uint8_t l2_len,
	      uint16_t l3_len, uint8_t l4_len)
{
	uint16_t l3_bits = flags & (VRDMA_WIRE_F_IPV4 | VRDMA_WIRE_F_IPV6);
	uint16_t l4_bits = flags & (VRDMA_WIRE_F_TSO | VRDMA_WIRE_F_TCP_CKSUM |
				    VRDMA_WIRE_F_UDP_CKSUM);
	uint32_t min_l3;
	uint32_t headers;

	if ((flags & VRDMA_WIRE_F_REQUEST_MASK) == 0) {
		/*
		 * Metadata without a request is meaningless; refusing it
		 * keeps one encoding per frame, which the fuzzer relies on.
		 */
		if (l3_bits != 0)
			return VRDMA_WIRE_BAD_OFFLOAD;
		if (tso_segsz != 0)
			return VRDMA_WIRE_BAD_TSO;
		if (l2_len != 0 || l3_len != 0 || l4_len != 0)
			return VRDMA_WIRE_BAD_LENGTHS;
		return VRDMA_WIRE_OK;
	}
	if (l3_bits != VRDMA_WIRE_F_IPV4 && l3_bits != VRDMA_WIRE_F_IPV6)
		return VRDMA_WIRE_BAD_OFFLOAD;
	if ((flags & VRDMA_WIRE_F_IP_CKSUM) && l3_bits != VRDMA_WIRE_F_IPV4)
		return VRDMA_WIRE_BAD_OFFLOAD;
	if ((flags & VRDMA_WIRE_F_UDP_CKSUM) &&
	    (flags & (VRDMA_WIRE_F_TCP_CKSUM | VRDMA_WIRE_F_TSO)))
		return VRDMA_WIRE_BAD_OFFLOAD;

	min_l3 = l3_bits == VRDMA_WIRE_F_IPV4 ? VRDMA_WIRE_MIN_IPV4_LEN
					      : VRDMA_WIRE_MIN_IPV6_LEN;
	if (l2_len < VRDMA_WIRE_MIN_L2_LEN || l2_len > VRDMA_WIRE_MAX_L2_LEN)
		return VRDMA_WIRE_BAD_LENGTHS;
	if (l3_len < min_l3 || l3_len > VRDMA_WIRE_MAX_L3_LEN)
		return VRDMA_WIRE_BAD_LENGTHS;
	if (l4_bits == 0 && l4_len != 0)
		return VRDMA_WIRE_BAD_LENGTHS;
	headers = (uint32_t)l2_len + l3_len + l4_len;
	if (headers > len)
		return VRDMA_WIRE_BAD_LENGTHS;

	if (flags & VRDMA_WIRE_F_TSO) {
		/* Segmenting needs an MSS and at least one payload byte. */
		if (tso_segsz == 0 || l4_len < VRDMA_WIRE_MIN_TCP_LEN ||
		    headers >= len)
			return VRDMA_WIRE_BAD_TSO;
	} else if (tso_segsz != 0) {
		return VRDMA_WIRE_BAD_TSO;
	}
	return VRDMA_WIRE_OK;
}

static enum vrdma_wire_reason
check_frame(uint32_t len, uint16_t flags, uint16_t tso_segsz, uint8_t l2_len,
	    uint16_t l3_len, uint8_t l4_len)
{
	if (flags & ~VRDMA_WIRE_F_OFFLOAD_MASK)
		return VRDMA_WIRE_BAD_FLAGS;
	if (len < VRDMA_MIN_FRAME_LEN || len > VRDMA_MAX_FRAME_LEN)
		return VRDMA_WIRE_BAD_FRAME_LEN;
	return check_offload(len, flags, tso_segsz, l2_len, l3_len, l4_len);
}

static enum vrdma_wire_reason
check_wire_frame(const struct vrdma_wire_frame *f)
{
	return check_frame(f->len, f->flags, f->tso_segsz, f->l2_len, f->l3_len,
			   f->l4_len);
}

int
vrdma_wire_frame_init(struct vrdma_wire_frame *f, uint32_t frame_len,
		      uint32_t req_flags, uint32_t tso_segsz, uint32_t l2_len,
		      uint32_t l3_len, uint32_t l4_len,
		      enum vrdma_wire_reason *reason)
{
	enum vrdma_wire_reason r = VRDMA_WIRE_OK;

	memset(f, 0, sizeof(*f));
	if (req_flags & ~(uint32_t)VRDMA_WIRE_F_OFFLOAD_MASK) {
		r = VRDMA_WIRE_BAD_FLAGS;
		goto out;
	}
	if (frame_len < VRDMA_MIN_FRAME_LEN ||
	    frame_len > VRDMA_MAX_FRAME_LEN) {
		r = VRDMA_WIRE_BAD_FRAME_LEN;
		goto out;
	}
	f->len = frame_len;
	/*
	 * An mbuf keeps stale lengths and L3 bits from earlier processing
	 * when nothing is requested; only a request makes them meaningful.
	 */
	if ((req_flags & VRDMA_WIRE_F_REQUEST_MASK) == 0)
		goto out;
	if ((req_flags & VRDMA_WIRE_F_TSO) == 0)
		tso_segsz = 0;
	if ((req_flags & (VRDMA_WIRE_F_TSO | VRDMA_WIRE_F_TCP_CKSUM |
			  VRDMA_WIRE_F_UDP_CKSUM)) == 0)
		l4_len = 0;
	if (tso_segsz > UINT16_MAX) {
		r = VRDMA_WIRE_BAD_TSO;
		goto out;
	}
	if (l2_len > VRDMA_WIRE_MAX_L2_LEN || l3_len > VRDMA_WIRE_MAX_L3_LEN ||
	    l4_len > VRDMA_WIRE_MAX_L4_LEN) {
		r = VRDMA_WIRE_BAD_LENGTHS;
		goto out;
	}
	f->flags = (uint16_t)req_flags;
	f->tso_segsz = (uint16_t)tso_segsz;
	f->l2_len = (uint8_t)l2_len;
	f->l3_len = (uint16_t)l3_len;
	f->l4_len = (uint8_t)l4_len;
	r = check_wire_frame(f);
out:
	set_reason(reason, r);
	if (r != VRDMA_WIRE_OK) {
		memset(f, 0, sizeof(*f));
		return -EINVAL;
	}
	return 0;
}

static void
put_hdr(uint8_t *buf, uint16_t flags, uint16_t count, uint32_t payload_len,
	const struct vrdma_wire_frame *f)
{
	struct vrdma_wire_hdr h = {
		.magic = htole16(VRDMA_WIRE_MAGIC),
		.version = VRDMA_WIRE_VERSION,
		.hdr_len = VRDMA_WIRE_HDR_LEN,
		.flags = htole16(flags),
		.batch_count = htole16(count),
		.payload_len = htole32(payload_len),
	};

	if (f != NULL) {
		h.tso_segsz = htole16(f->tso_segsz);
		h.l3_len = htole16(f->l3_len);
		h.l2_len = f->l2_len;
		h.l4_len = f->l4_len;
		h.pad = htole16(f->pad);
	}
	memcpy(buf, &h, sizeof(h));
}

int
vrdma_wire_encode(void *buf, size_t len, const struct vrdma_wire_frame *f)
{
	if (check_wire_frame(f) != VRDMA_WIRE_OK || f->pad > VRDMA_WIRE_MAX_PAD)
		return -EINVAL;
	if (len < VRDMA_WIRE_HDR_LEN)
		return -ENOSPC;
	put_hdr(buf, f->flags, 1, (uint32_t)f->pad + f->len, f);
	return VRDMA_WIRE_HDR_LEN;
}

int
vrdma_wire_batch_init(struct vrdma_wire_batch *b, void *buf, size_t cap)
{
	memset(b, 0, sizeof(*b));
	if (cap < VRDMA_WIRE_HDR_LEN + MIN_RECORD_LEN)
		return -ENOSPC;
	b->buf = buf;
	b->cap = cap;
	b->len = VRDMA_WIRE_HDR_LEN;
	b->used = VRDMA_WIRE_HDR_LEN;
	return 0;
}

/* Writes f's record header at the end of b's written bytes; 0, or as
 * vrdma_wire_batch_add refuses. */
static int
put_record(struct vrdma_wire_batch *b, const struct vrdma_wire_frame *f,
	   bool gather)
{
	struct vrdma_wire_frame_hdr fh;

	if (check_wire_frame(f) != VRDMA_WIRE_OK || f->pad != 0)
		return -EINVAL;
	if (b->count > 0 && b->gather != gather)
		return -EINVAL;
	if (b->buf == NULL || b->count >= VRDMA_WIRE_MAX_BATCH)
		return -ENOSPC;
	/*
	 * b->used <= b->len <= b->cap always holds; the static assert in
	 * vrdma_wire.h keeps a full batch's payload length within its 32-bit
	 * field.
	 */
	if (VRDMA_WIRE_FRAME_HDR_LEN + (size_t)f->len > b->cap - b->len)
		return -ENOSPC;

	fh.frame_len = htole32(f->len);
	fh.flags = htole16(f->flags);
	fh.tso_segsz = htole16(f->tso_segsz);
	fh.l3_len = htole16(f->l3_len);
	fh.l2_len = f->l2_len;
	fh.l4_len = f->l4_len;
	memcpy(b->buf + b->used, &fh, sizeof(fh));
	b->gather = gather;
	b->count++;
	b->len += sizeof(fh) + f->len;
	b->used += sizeof(fh);
	return 0;
}

int
vrdma_wire_batch_add(struct vrdma_wire_batch *b,
		     const struct vrdma_wire_frame *f, void **frame_dst)
{
	uint8_t *dst;
	int ret = put_record(b, f, false);

	if (ret != 0)
		return ret;
	dst = b->buf + b->used;
	if (f->data != NULL)
		memcpy(dst, f->data, f->len);
	if (frame_dst != NULL)
		*frame_dst = dst;
	b->used += f->len;
	return 0;
}

int
vrdma_wire_batch_add_gather(struct vrdma_wire_batch *b,
			    const struct vrdma_wire_frame *f, void **hdr_dst)
{
	size_t at = b->used;
	int ret = put_record(b, f, true);

	if (ret == 0 && hdr_dst != NULL)
		*hdr_dst = b->buf + at;
	return ret;
}

int
vrdma_wire_batch_finish(struct vrdma_wire_batch *b)
{
	if (b->buf == NULL || b->count == 0)
		return -EINVAL;
	put_hdr(b->buf, VRDMA_WIRE_F_BATCH, b->count,
		(uint32_t)(b->len - VRDMA_WIRE_HDR_LEN), NULL);
	return (int)b->len;
}

static int
refuse(struct vrdma_wire_msg *msg, enum vrdma_wire_reason *reason,
       enum vrdma_wire_reason r)
{
	memset(msg, 0, sizeof(*msg));
	set_reason(reason, r);
	if (r == VRDMA_WIRE_BAD_VERSION)
		return -EPROTONOSUPPORT;
	return -EBADMSG;
}

int
vrdma_wire_decode_hdr(struct vrdma_wire_msg *msg, const void *hdr,
		      size_t hdr_len, size_t payload_len,
		      enum vrdma_wire_reason *reason)
{
	struct vrdma_wire_hdr h;
	struct vrdma_wire_frame *f = &msg->frame;
	uint32_t plen;

	memset(msg, 0, sizeof(*msg));
	if (hdr == NULL || hdr_len < VRDMA_WIRE_HDR_LEN)
		return refuse(msg, reason, VRDMA_WIRE_BAD_SHORT);
	memcpy(&h, hdr, sizeof(h));
	if (le16toh(h.magic) != VRDMA_WIRE_MAGIC)
		return refuse(msg, reason, VRDMA_WIRE_BAD_MAGIC);
	if (h.version != VRDMA_WIRE_VERSION)
		return refuse(msg, reason, VRDMA_WIRE_BAD_VERSION);
	/*
	 * A version-2 header has exactly this size; bytes after it in the UCX
	 * AM header would be silently ignored, so they are refused instead.
	 */
	if (h.hdr_len != VRDMA_WIRE_HDR_LEN || hdr_len != VRDMA_WIRE_HDR_LEN)
		return refuse(msg, reason, VRDMA_WIRE_BAD_HDR_LEN);

	msg->flags = le16toh(h.flags);
	msg->count = le16toh(h.batch_count);
	plen = le32toh(h.payload_len);
	msg->payload_len = plen;
	if (msg->flags & ~(VRDMA_WIRE_F_OFFLOAD_MASK | VRDMA_WIRE_F_BATCH))
		return refuse(msg, reason, VRDMA_WIRE_BAD_FLAGS);

	if (msg->flags & VRDMA_WIRE_F_BATCH) {
		if (msg->count == 0 || msg->count > VRDMA_WIRE_MAX_BATCH)
			return refuse(msg, reason, VRDMA_WIRE_BAD_BATCH_COUNT);
		/* Offloads are per frame; the batch header carries none. */
		if (msg->flags & VRDMA_WIRE_F_OFFLOAD_MASK)
			return refuse(msg, reason, VRDMA_WIRE_BAD_OFFLOAD);
		if (h.tso_segsz != 0)
			return refuse(msg, reason, VRDMA_WIRE_BAD_TSO);
		if (h.pad != 0)
			return refuse(msg, reason, VRDMA_WIRE_BAD_PAD);
		if (h.l2_len != 0 || h.l3_len != 0 || h.l4_len != 0)
			return refuse(msg, reason, VRDMA_WIRE_BAD_LENGTHS);
	} else {
		enum vrdma_wire_reason r;

		if (msg->count != 1)
			return refuse(msg, reason, VRDMA_WIRE_BAD_BATCH_COUNT);
		f->pad = le16toh(h.pad);
		if (f->pad > VRDMA_WIRE_MAX_PAD || f->pad > plen)
			return refuse(msg, reason, VRDMA_WIRE_BAD_PAD);
		f->len = plen - f->pad;
		f->flags = msg->flags;
		f->tso_segsz = le16toh(h.tso_segsz);
		f->l3_len = le16toh(h.l3_len);
		f->l2_len = h.l2_len;
		f->l4_len = h.l4_len;
		r = check_wire_frame(f);
		if (r != VRDMA_WIRE_OK)
			return refuse(msg, reason, r);
	}

	if (plen > payload_len)
		return refuse(msg, reason, VRDMA_WIRE_BAD_TRUNCATED);
	if (plen < payload_len)
		return refuse(msg, reason, VRDMA_WIRE_BAD_TRAILING);
	set_reason(reason, VRDMA_WIRE_OK);
	return 0;
}

/* Reads the per-frame header at p, which the caller has bounds-checked. */
static void
get_frame_hdr(const uint8_t *p, struct vrdma_wire_frame *f)
{
	struct vrdma_wire_frame_hdr fh;

	memcpy(&fh, p, sizeof(fh));
	f->len = le32toh(fh.frame_len);
	f->flags = le16toh(fh.flags);
	f->tso_segsz = le16toh(fh.tso_segsz);
	f->l3_len = le16toh(fh.l3_len);
	f->l2_len = fh.l2_len;
	f->l4_len = fh.l4_len;
	f->pad = 0;
	f->data = p + sizeof(fh);
}

int
vrdma_wire_decode_payload(struct vrdma_wire_msg *msg, const void *payload,
			  enum vrdma_wire_reason *reason)
{
	const uint8_t *p = payload;
	struct vrdma_wire_frame f;
	uint32_t off = 0;
	uint16_t i;

	/* count is 0 exactly when vrdma_wire_decode_hdr() refused. */
	if (msg->count == 0 || (p == NULL && msg->payload_len != 0))
		return -EINVAL;
	msg->checked = false;
	msg->next_index = 0;
	msg->next_off = 0;

	if ((msg->flags & VRDMA_WIRE_F_BATCH) == 0) {
		msg->payload = p;
		msg->frame.data = p + msg->frame.pad;
		msg->checked = true;
		set_reason(reason, VRDMA_WIRE_OK);
		return 0;
	}

	/*
	 * Check every record before yielding any, so a batch is delivered
	 * whole or refused whole and counted once. off <= payload_len holds
	 * at the top of each pass, so the subtractions cannot wrap.
	 */
	for (i = 0; i < msg->count; i++) {
		enum vrdma_wire_reason r;

		if (msg->payload_len - off < VRDMA_WIRE_FRAME_HDR_LEN)
			return refuse(msg, reason, VRDMA_WIRE_BAD_TRUNCATED);
		get_frame_hdr(p + off, &f);
		off += VRDMA_WIRE_FRAME_HDR_LEN;
		r = check_wire_frame(&f);
		if (r != VRDMA_WIRE_OK)
			return refuse(msg, reason, r);
		if (f.len > msg->payload_len - off)
			return refuse(msg, reason, VRDMA_WIRE_BAD_TRUNCATED);
		off += f.len;
	}
	if (off != msg->payload_len)
		return refuse(msg, reason, VRDMA_WIRE_BAD_TRAILING);

	msg->payload = p;
	msg->checked = true;
	set_reason(reason, VRDMA_WIRE_OK);
	return 0;
}

int
vrdma_wire_decode(struct vrdma_wire_msg *msg, const void *buf, size_t len,
		  enum vrdma_wire_reason *reason)
{
	const uint8_t *p = buf;
	int ret;

	if (len < VRDMA_WIRE_HDR_LEN)
		return refuse(msg, reason, VRDMA_WIRE_BAD_SHORT);
	ret = vrdma_wire_decode_hdr(msg, p, VRDMA_WIRE_HDR_LEN,
				    len - VRDMA_WIRE_HDR_LEN, reason);
	if (ret < 0)
		return ret;
	return vrdma_wire_decode_payload(msg, p + VRDMA_WIRE_HDR_LEN, reason);
}

int
vrdma_wire_next_frame(struct vrdma_wire_msg *msg, struct vrdma_wire_frame *f)
{
	if (!msg->checked)
		return -EINVAL;
	if (msg->next_index >= msg->count)
		return 0;
	if ((msg->flags & VRDMA_WIRE_F_BATCH) == 0) {
		*f = msg->frame;
		msg->next_index = 1;
		return 1;
	}
	/*
	 * vrdma_wire_decode_payload() checked every record, but the payload
	 * may be the sender's shared memory: the record is read once, into
	 * *f, and what is yielded is what is checked again here.
	 */
	if (msg->payload_len - msg->next_off < VRDMA_WIRE_FRAME_HDR_LEN)
		return -EINVAL;
	get_frame_hdr(msg->payload + msg->next_off, f);
	if (check_wire_frame(f) != VRDMA_WIRE_OK ||
	    f->len > msg->payload_len - msg->next_off -
			     VRDMA_WIRE_FRAME_HDR_LEN) {
		msg->checked = false; /* nothing more from this message */
		return -EBADMSG;
	}
	msg->next_off += VRDMA_WIRE_FRAME_HDR_LEN + f->len;
	msg->next_index++;
	return 1;
}
