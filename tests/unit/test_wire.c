/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the net_vrdma wire format (pmd/vrdma_wire.c): the layout
 * pinned by golden bytes, encode/decode round trips of plain and batch
 * messages, batch builder boundaries, every rejection reason with its errno
 * (one table of mutated valid messages), the offload request helper, and the
 * fuzz seed corpus (tests/fuzz/corpus/wire_decode, given in
 * VRDMA_WIRE_SEEDS by meson), which must decode. Every decode reads from an
 * exactly sized heap copy so the sanitizer build catches any overread.
 */

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vrdma_wire.h"

/* Offsets of the message header fields, as documented in vrdma_wire.h. */
#define OFF_MAGIC	0
#define OFF_VERSION	2
#define OFF_HDR_LEN	3
#define OFF_FLAGS	4
#define OFF_COUNT	6
#define OFF_PAYLOAD_LEN 8
#define OFF_SEGSZ	12
#define OFF_L3		14
#define OFF_L2		16
#define OFF_L4		17
#define OFF_PAD		18

/* Offsets inside a per-frame header. */
#define FOFF_LEN   0
#define FOFF_FLAGS 4
#define FOFF_SEGSZ 6
#define FOFF_L3	   8
#define FOFF_L2	   10
#define FOFF_L4	   11

#define F_TSO	     VRDMA_WIRE_F_TSO
#define F_TCP	     VRDMA_WIRE_F_TCP_CKSUM
#define F_UDP	     VRDMA_WIRE_F_UDP_CKSUM
#define F_IP	     VRDMA_WIRE_F_IP_CKSUM
#define F_IPV4	     VRDMA_WIRE_F_IPV4
#define F_IPV6	     VRDMA_WIRE_F_IPV6
#define F_BATCH	     VRDMA_WIRE_F_BATCH
#define TSO_V4_FLAGS (F_TSO | F_TCP | F_IP | F_IPV4)

/* Room for the largest plain message any case builds. */
#define BUF_LEN (VRDMA_WIRE_HDR_LEN + VRDMA_MAX_FRAME_LEN + 64)

static uint8_t *
dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n > 0 ? n : 1);

	assert_non_null(q);
	if (n > 0)
		memcpy(q, p, n);
	return q;
}

/* Decodes a contiguous message from an exactly sized copy. */
static int
decode_copy(const uint8_t *buf, size_t len, struct vrdma_wire_msg *msg,
	    enum vrdma_wire_reason *reason, uint8_t **copy)
{
	*copy = dup_exact(buf, len);
	return vrdma_wire_decode(msg, *copy, len, reason);
}

static void
fill_frame(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i);
	p[0] = 0x02; /* unicast destination */
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static struct vrdma_wire_frame
make_frame(uint32_t len, uint16_t flags, uint16_t segsz, uint8_t l2,
	   uint16_t l3, uint8_t l4)
{
	struct vrdma_wire_frame f = {
		.len = len,
		.flags = flags,
		.tso_segsz = segsz,
		.l2_len = l2,
		.l3_len = l3,
		.l4_len = l4,
	};

	return f;
}

/* Writes a plain message (header + frame bytes) into buf; returns length. */
static size_t
build_plain(uint8_t *buf, const struct vrdma_wire_frame *f)
{
	assert_int_equal(vrdma_wire_encode(buf, VRDMA_WIRE_HDR_LEN, f),
			 VRDMA_WIRE_HDR_LEN);
	fill_frame(buf + VRDMA_WIRE_HDR_LEN, f->len, 7);
	return VRDMA_WIRE_HDR_LEN + f->len;
}

/*
 * The batch of the rejection table: frame 0 is 60 bytes without offloads,
 * frame 1 is 100 bytes of IPv6/UDP with checksum offload. Record 0 starts at
 * 20, frame 0 at 32, record 1 at 92, frame 1 at 104; 204 bytes in all.
 */
#define BATCH_REC0 20
#define BATCH_REC1 92
#define BATCH_LEN  204

static size_t
build_batch(uint8_t *buf, size_t cap)
{
	struct vrdma_wire_batch b;
	struct vrdma_wire_frame f0 = make_frame(60, 0, 0, 0, 0, 0);
	struct vrdma_wire_frame f1 =
		make_frame(100, F_UDP | F_IPV6, 0, 14, 40, 8);
	uint8_t data[100];
	int len;

	fill_frame(data, sizeof(data), 1);
	assert_int_equal(vrdma_wire_batch_init(&b, buf, cap), 0);
	f0.data = data;
	assert_int_equal(vrdma_wire_batch_add(&b, &f0, NULL), 0);
	f1.data = data;
	assert_int_equal(vrdma_wire_batch_add(&b, &f1, NULL), 0);
	len = vrdma_wire_batch_finish(&b);
	assert_int_equal(len, BATCH_LEN);
	return (size_t)len;
}

static void
test_golden_bytes(void **state)
{
	/* TSO IPv4 frame of 2000 bytes, MSS 1448, headers 14/20/32. */
	static const uint8_t expect[VRDMA_WIRE_HDR_LEN] = {
		0x56, 0x52,		/* magic "VR" */
		0x02,			/* version */
		0x14,			/* hdr_len 20 */
		0x1b, 0x00,		/* flags TSO|TCP|IP|IPV4 */
		0x01, 0x00,		/* batch_count 1 */
		0xd0, 0x07, 0x00, 0x00, /* payload_len 2000 */
		0xa8, 0x05,		/* tso_segsz 1448 */
		0x14, 0x00,		/* l3_len 20 */
		0x0e,			/* l2_len 14 */
		0x20,			/* l4_len 32 */
		0x00, 0x00,		/* pad */
	};
	struct vrdma_wire_frame f =
		make_frame(2000, TSO_V4_FLAGS, 1448, 14, 20, 32);
	struct vrdma_wire_msg msg;
	enum vrdma_wire_reason reason = VRDMA_WIRE_REASON_MAX;
	uint8_t hdr[VRDMA_WIRE_HDR_LEN];

	(void)state;
	assert_int_equal(vrdma_wire_encode(hdr, sizeof(hdr), &f),
			 VRDMA_WIRE_HDR_LEN);
	assert_memory_equal(hdr, expect, sizeof(expect));

	assert_int_equal(vrdma_wire_decode_hdr(&msg, expect, sizeof(expect),
					       2000, &reason),
			 0);
	assert_int_equal(reason, VRDMA_WIRE_OK);
	assert_int_equal(msg.count, 1);
	assert_int_equal(msg.payload_len, 2000);
	assert_int_equal(msg.frame.len, 2000);
	assert_int_equal(msg.frame.flags, TSO_V4_FLAGS);
	assert_int_equal(msg.frame.tso_segsz, 1448);
	assert_int_equal(msg.frame.l2_len, 14);
	assert_int_equal(msg.frame.l3_len, 20);
	assert_int_equal(msg.frame.l4_len, 32);
	assert_null(msg.frame.data);
}

static void
test_golden_batch_bytes(void **state)
{
	/* One 14-byte frame in a batch: message header + record header. */
	static const uint8_t expect[] = {
		0x56, 0x52, 0x02, 0x14, /* magic, version, hdr_len */
		0x00, 0x80,		/* flags BATCH */
		0x01, 0x00,		/* batch_count 1 */
		0x1a, 0x00, 0x00, 0x00, /* payload_len 26 */
		0x00, 0x00, 0x00, 0x00, /* tso_segsz, l3_len */
		0x00, 0x00, 0x00, 0x00, /* l2_len, l4_len, pad */
		0x0e, 0x00, 0x00, 0x00, /* frame_len 14 */
		0x00, 0x00, 0x00, 0x00, /* flags, tso_segsz */
		0x00, 0x00, 0x00, 0x00, /* l3_len, l2_len, l4_len */
	};
	uint8_t frame[14] = {0x02};
	uint8_t buf[64];
	struct vrdma_wire_batch b;
	struct vrdma_wire_frame f = make_frame(14, 0, 0, 0, 0, 0);

	(void)state;
	f.data = frame;
	assert_int_equal(vrdma_wire_batch_init(&b, buf, sizeof(buf)), 0);
	assert_int_equal(vrdma_wire_batch_add(&b, &f, NULL), 0);
	assert_int_equal(vrdma_wire_batch_finish(&b), sizeof(expect) + 14);
	assert_memory_equal(buf, expect, sizeof(expect));
	assert_memory_equal(buf + sizeof(expect), frame, sizeof(frame));
}

static void
test_plain_round_trip(void **state)
{
	static const struct {
		uint32_t len;
		uint16_t flags;
		uint16_t segsz;
		uint8_t l2;
		uint16_t l3;
		uint8_t l4;
	} cases[] = {
		{14, 0, 0, 0, 0, 0},
		{60, 0, 0, 0, 0, 0},
		{VRDMA_MAX_FRAME_LEN, TSO_V4_FLAGS, 1448, 14, 20, 20},
		{9000, F_TSO | F_IPV6, 8940, 18, 40, 20},
		{100, F_TCP | F_IPV4, 0, 14, 20, 0},
		{100, F_IP | F_IPV4, 0, 14, 60, 0},
		{600, F_UDP | F_IPV6, 0, 22, 511, 0},
		{700, F_UDP | F_IP | F_IPV4, 0, 127, 20, 8},
	};
	static uint8_t buf[BUF_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vrdma_wire_frame f =
			make_frame(cases[i].len, cases[i].flags, cases[i].segsz,
				   cases[i].l2, cases[i].l3, cases[i].l4);
		struct vrdma_wire_frame out;
		struct vrdma_wire_msg msg;
		enum vrdma_wire_reason reason;
		size_t len = build_plain(buf, &f);
		uint8_t *copy;

		assert_int_equal(decode_copy(buf, len, &msg, &reason, &copy),
				 0);
		assert_int_equal(reason, VRDMA_WIRE_OK);
		assert_int_equal(msg.count, 1);
		assert_int_equal(vrdma_wire_next_frame(&msg, &out), 1);
		assert_ptr_equal(out.data, copy + VRDMA_WIRE_HDR_LEN);
		assert_int_equal(out.len, f.len);
		assert_int_equal(out.flags, f.flags);
		assert_int_equal(out.tso_segsz, f.tso_segsz);
		assert_int_equal(out.l2_len, f.l2_len);
		assert_int_equal(out.l3_len, f.l3_len);
		assert_int_equal(out.l4_len, f.l4_len);
		assert_memory_equal(out.data, buf + VRDMA_WIRE_HDR_LEN, f.len);
		assert_int_equal(vrdma_wire_next_frame(&msg, &out), 0);
		assert_int_equal(vrdma_wire_next_frame(&msg, &out), 0);
		free(copy);
	}
}

/* Padding before a plain frame: counted in payload_len, skipped by data. */
static void
test_padded_round_trip(void **state)
{
	static const uint16_t pads[] = {1, 128, VRDMA_WIRE_MAX_PAD};
	static uint8_t buf[BUF_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
		struct vrdma_wire_frame f =
			make_frame(9000, TSO_V4_FLAGS, 1448, 14, 20, 20);
		struct vrdma_wire_frame out;
		struct vrdma_wire_msg msg;
		enum vrdma_wire_reason reason;
		size_t len = VRDMA_WIRE_HDR_LEN + pads[i] + f.len;
		uint8_t *copy;

		f.pad = pads[i];
		assert_int_equal(vrdma_wire_encode(buf, VRDMA_WIRE_HDR_LEN, &f),
				 VRDMA_WIRE_HDR_LEN);
		memset(buf + VRDMA_WIRE_HDR_LEN, 0xee, pads[i]);
		fill_frame(buf + VRDMA_WIRE_HDR_LEN + pads[i], f.len, 5);
		assert_int_equal(decode_copy(buf, len, &msg, &reason, &copy),
				 0);
		assert_int_equal(msg.payload_len, pads[i] + f.len);
		assert_int_equal(vrdma_wire_next_frame(&msg, &out), 1);
		assert_int_equal(out.pad, pads[i]);
		assert_int_equal(out.len, f.len);
		assert_ptr_equal(out.data, copy + VRDMA_WIRE_HDR_LEN + pads[i]);
		assert_memory_equal(out.data,
				    buf + VRDMA_WIRE_HDR_LEN + pads[i], f.len);
		assert_int_equal(vrdma_wire_next_frame(&msg, &out), 0);
		free(copy);
		/* Header alone, as for a rendezvous: the frame's length. */
		assert_int_equal(vrdma_wire_decode_hdr(
					 &msg, buf, VRDMA_WIRE_HDR_LEN,
					 len - VRDMA_WIRE_HDR_LEN, &reason),
				 0);
		assert_int_equal(msg.frame.len, f.len);
		assert_int_equal(msg.frame.pad, pads[i]);
	}
}

/* The rendezvous order: header checked first, payload attached later. */
static void
test_split_decode(void **state)
{
	struct vrdma_wire_frame f =
		make_frame(3000, TSO_V4_FLAGS, 1000, 14, 20, 20);
	struct vrdma_wire_frame out;
	struct vrdma_wire_msg msg;
	enum vrdma_wire_reason reason;
	uint8_t hdr[VRDMA_WIRE_HDR_LEN];
	uint8_t *payload = malloc(3000);
	uint8_t *hcopy;

	(void)state;
	assert_non_null(payload);
	fill_frame(payload, 3000, 3);
	assert_int_equal(vrdma_wire_encode(hdr, sizeof(hdr), &f),
			 VRDMA_WIRE_HDR_LEN);
	hcopy = dup_exact(hdr, sizeof(hdr));
	assert_int_equal(
		vrdma_wire_decode_hdr(&msg, hcopy, sizeof(hdr), 3000, &reason),
		0);
	assert_int_equal(msg.frame.len, 3000);
	assert_null(msg.frame.data);
	/* Not attached yet: nothing to yield. */
	assert_int_equal(vrdma_wire_next_frame(&msg, &out), -EINVAL);
	assert_int_equal(vrdma_wire_decode_payload(&msg, NULL, &reason),
			 -EINVAL);
	assert_int_equal(vrdma_wire_decode_payload(&msg, payload, &reason), 0);
	assert_int_equal(vrdma_wire_next_frame(&msg, &out), 1);
	assert_ptr_equal(out.data, payload);
	assert_int_equal(vrdma_wire_next_frame(&msg, &out), 0);

	/* The UCX AM header must be exactly one header. */
	assert_int_equal(vrdma_wire_decode_hdr(&msg, hcopy, sizeof(hdr) - 1,
					       3000, &reason),
			 -EBADMSG);
	assert_int_equal(reason, VRDMA_WIRE_BAD_SHORT);
	assert_int_equal(vrdma_wire_decode_hdr(&msg, NULL, 0, 3000, &reason),
			 -EBADMSG);
	assert_int_equal(reason, VRDMA_WIRE_BAD_SHORT);
	free(hcopy);
	hcopy = calloc(1, sizeof(hdr) + 4);
	assert_non_null(hcopy);
	memcpy(hcopy, hdr, sizeof(hdr));
	assert_int_equal(vrdma_wire_decode_hdr(&msg, hcopy, sizeof(hdr) + 4,
					       3000, &reason),
			 -EBADMSG);
	assert_int_equal(reason, VRDMA_WIRE_BAD_HDR_LEN);
	/* A refused message cannot be attached to. */
	assert_int_equal(vrdma_wire_decode_payload(&msg, payload, &reason),
			 -EINVAL);
	free(hcopy);
	free(payload);
}

static void
test_batch_round_trip(void **state)
{
	static const struct vrdma_wire_frame frames[] = {
		{NULL, 14, 0, 0, 0, 0, 0, 0},
		{NULL, 1514, TSO_V4_FLAGS, 700, 20, 14, 20, 0},
		{NULL, 60, 0, 0, 0, 0, 0, 0},
		{NULL, 200, F_UDP | F_IPV6, 0, 40, 18, 8, 0},
		{NULL, 99, F_IP | F_IPV4, 0, 24, 14, 0, 0},
	};
	const size_t n = sizeof(frames) / sizeof(frames[0]);
	static uint8_t buf[8192];
	static uint8_t data[2000];
	struct vrdma_wire_batch b;
	struct vrdma_wire_msg msg;
	struct vrdma_wire_frame out;
	enum vrdma_wire_reason reason;
	uint8_t *copy;
	size_t off = VRDMA_WIRE_HDR_LEN;
	size_t i;
	int len;

	(void)state;
	fill_frame(data, sizeof(data), 9);
	assert_int_equal(vrdma_wire_batch_init(&b, buf, sizeof(buf)), 0);
	for (i = 0; i < n; i++) {
		struct vrdma_wire_frame f = frames[i];
		void *dst = NULL;

		/* Odd frames are copied by the builder, even ones by us. */
		f.data = (i & 1) ? data + i : NULL;
		assert_int_equal(vrdma_wire_batch_add(&b, &f, &dst), 0);
		assert_ptr_equal(dst, buf + off + VRDMA_WIRE_FRAME_HDR_LEN);
		if (!(i & 1))
			memcpy(dst, data + i, f.len);
		off += VRDMA_WIRE_FRAME_HDR_LEN + f.len;
	}
	len = vrdma_wire_batch_finish(&b);
	assert_int_equal(len, off);

	assert_int_equal(decode_copy(buf, (size_t)len, &msg, &reason, &copy),
			 0);
	assert_int_equal(msg.flags, F_BATCH);
	assert_int_equal(msg.count, n);
	assert_int_equal(msg.payload_len, (size_t)len - VRDMA_WIRE_HDR_LEN);
	off = VRDMA_WIRE_HDR_LEN;
	for (i = 0; i < n; i++) {
		assert_int_equal(vrdma_wire_next_frame(&msg, &out), 1);
		/* Records are packed: each frame right after its header. */
		assert_ptr_equal(out.data,
				 copy + off + VRDMA_WIRE_FRAME_HDR_LEN);
		assert_int_equal(out.len, frames[i].len);
		assert_int_equal(out.flags, frames[i].flags);
		assert_int_equal(out.tso_segsz, frames[i].tso_segsz);
		assert_int_equal(out.l2_len, frames[i].l2_len);
		assert_int_equal(out.l3_len, frames[i].l3_len);
		assert_int_equal(out.l4_len, frames[i].l4_len);
		assert_memory_equal(out.data, data + i, out.len);
		off += VRDMA_WIRE_FRAME_HDR_LEN + out.len;
	}
	assert_int_equal(vrdma_wire_next_frame(&msg, &out), 0);
	free(copy);
}

/*
 * The payload may be memory the sending peer still writes (UCX shared
 * memory): a record changed after vrdma_wire_decode_payload() checked it
 * is not yielded as it now reads, neither with offloads the checks refuse
 * nor with a length that runs past the message.
 */
static void
test_batch_changed_after_check(void **state)
{
	static const struct vrdma_wire_frame frames[] = {
		{NULL, 60, 0, 0, 0, 0, 0, 0},
		{NULL, 1514, TSO_V4_FLAGS, 700, 20, 14, 20, 0},
		{NULL, 60, 0, 0, 0, 0, 0, 0},
	};
	const size_t n = sizeof(frames) / sizeof(frames[0]);
	static uint8_t buf[8192];
	struct vrdma_wire_batch b;
	struct vrdma_wire_msg msg;
	struct vrdma_wire_frame out;
	enum vrdma_wire_reason reason;
	uint8_t *copy, *rec1;
	size_t i;
	int len;

	(void)state;
	assert_int_equal(vrdma_wire_batch_init(&b, buf, sizeof(buf)), 0);
	for (i = 0; i < n; i++) {
		struct vrdma_wire_frame f = frames[i];
		void *dst = NULL;

		assert_int_equal(vrdma_wire_batch_add(&b, &f, &dst), 0);
		memset(dst, 0x5a, f.len);
	}
	len = vrdma_wire_batch_finish(&b);
	assert_true(len > 0);
	assert_int_equal(decode_copy(buf, (size_t)len, &msg, &reason, &copy),
			 0);
	rec1 = copy + VRDMA_WIRE_HDR_LEN + VRDMA_WIRE_FRAME_HDR_LEN + 60;
	assert_int_equal(vrdma_wire_next_frame(&msg, &out), 1);
	/* Record 1 now asks TSO without an MSS: refused, and nothing after
	 * it is yielded either. */
	rec1[offsetof(struct vrdma_wire_frame_hdr, tso_segsz)] = 0;
	rec1[offsetof(struct vrdma_wire_frame_hdr, tso_segsz) + 1] = 0;
	assert_int_equal(vrdma_wire_next_frame(&msg, &out), -EBADMSG);
	assert_true(vrdma_wire_next_frame(&msg, &out) < 0);

	/* Again, record 1's length grown past the end of the message. */
	free(copy);
	assert_int_equal(decode_copy(buf, (size_t)len, &msg, &reason, &copy),
			 0);
	rec1 = copy + VRDMA_WIRE_HDR_LEN + VRDMA_WIRE_FRAME_HDR_LEN + 60;
	assert_int_equal(vrdma_wire_next_frame(&msg, &out), 1);
	rec1[0] = (uint8_t)(1514 + 200); /* frame_len, little-endian */
	rec1[1] = (uint8_t)((1514 + 200) >> 8);
	assert_int_equal(vrdma_wire_next_frame(&msg, &out), -EBADMSG);
	free(copy);
}

static void
test_batch_builder_bounds(void **state)
{
	/* Exactly one header and one minimal record. */
	static const size_t exact = VRDMA_WIRE_HDR_LEN +
				    VRDMA_WIRE_FRAME_HDR_LEN +
				    VRDMA_MIN_FRAME_LEN;
	static uint8_t buf[VRDMA_WIRE_HDR_LEN +
			   (VRDMA_WIRE_MAX_BATCH + 1) *
				   (VRDMA_WIRE_FRAME_HDR_LEN + 14)];
	uint8_t frame[14] = {0x02};
	struct vrdma_wire_frame f = make_frame(14, 0, 0, 0, 0, 0);
	struct vrdma_wire_frame bad = make_frame(13, 0, 0, 0, 0, 0);
	struct vrdma_wire_batch b;
	struct vrdma_wire_msg msg;
	enum vrdma_wire_reason reason;
	uint8_t *copy;
	size_t len_before;
	int i;

	(void)state;
	f.data = frame;
	assert_int_equal(vrdma_wire_batch_init(&b, buf, exact - 1), -ENOSPC);
	assert_int_equal(vrdma_wire_batch_add(&b, &f, NULL), -ENOSPC);
	assert_int_equal(vrdma_wire_batch_finish(&b), -EINVAL);

	assert_int_equal(vrdma_wire_batch_init(&b, buf, exact), 0);
	assert_int_equal(vrdma_wire_batch_finish(&b), -EINVAL);
	assert_int_equal(vrdma_wire_batch_add(&b, &bad, NULL), -EINVAL);
	assert_int_equal(vrdma_wire_batch_add(&b, &f, NULL), 0);
	/* Full to the byte: the next record does not fit, nothing changes. */
	assert_int_equal(vrdma_wire_batch_add(&b, &f, NULL), -ENOSPC);
	assert_int_equal(b.count, 1);
	assert_int_equal(b.len, exact);
	assert_int_equal(vrdma_wire_batch_finish(&b), exact);

	/* VRDMA_WIRE_MAX_BATCH records fit, one more does not. */
	assert_int_equal(vrdma_wire_batch_init(&b, buf, sizeof(buf)), 0);
	for (i = 0; i < VRDMA_WIRE_MAX_BATCH; i++)
		assert_int_equal(vrdma_wire_batch_add(&b, &f, NULL), 0);
	len_before = b.len;
	assert_int_equal(vrdma_wire_batch_add(&b, &f, NULL), -ENOSPC);
	assert_int_equal(b.len, len_before);
	assert_int_equal(vrdma_wire_batch_finish(&b), len_before);
	assert_int_equal(decode_copy(buf, len_before, &msg, &reason, &copy), 0);
	assert_int_equal(msg.count, VRDMA_WIRE_MAX_BATCH);
	free(copy);
}

/*
 * A gathered batch (record headers built here, frames sent from elsewhere)
 * is, laid out as its iov sends it, the same bytes as the copied batch of
 * the same frames; its frames count towards the cap; the two kinds of
 * record do not mix in one batch.
 */
static void
test_batch_gather(void **state)
{
	static const uint32_t lens[] = {60, 1514, 14, 200};
	const size_t n = sizeof(lens) / sizeof(lens[0]);
	static uint8_t copied[4096], hdrs[4096], wire[4096], data[2000];
	struct vrdma_wire_batch b, g;
	struct vrdma_wire_frame f = make_frame(60, 0, 0, 0, 0, 0);
	void *hdr;
	size_t off = 0, i;
	int len;

	(void)state;
	fill_frame(data, sizeof(data), 3);
	assert_int_equal(vrdma_wire_batch_init(&b, copied, sizeof(copied)), 0);
	assert_int_equal(vrdma_wire_batch_init(&g, hdrs, sizeof(hdrs)), 0);
	for (i = 0; i < n; i++) {
		f = make_frame(lens[i], 0, 0, 0, 0, 0);
		f.data = data + i;
		assert_int_equal(vrdma_wire_batch_add(&b, &f, NULL), 0);
		assert_int_equal(vrdma_wire_batch_add_gather(&g, &f, &hdr), 0);
		/* Headers only at buf, one after the other. */
		assert_ptr_equal(hdr, hdrs + VRDMA_WIRE_HDR_LEN +
					      i * VRDMA_WIRE_FRAME_HDR_LEN);
	}
	assert_int_equal(g.used,
			 VRDMA_WIRE_HDR_LEN + n * VRDMA_WIRE_FRAME_HDR_LEN);
	assert_int_equal(g.len, b.len);
	len = vrdma_wire_batch_finish(&g);
	assert_int_equal(len, vrdma_wire_batch_finish(&b));

	/* What the iov sends: the message header, then each record's header
	 * followed by its frame. */
	memcpy(wire, hdrs, VRDMA_WIRE_HDR_LEN);
	off = VRDMA_WIRE_HDR_LEN;
	for (i = 0; i < n; i++) {
		memcpy(wire + off,
		       hdrs + VRDMA_WIRE_HDR_LEN + i * VRDMA_WIRE_FRAME_HDR_LEN,
		       VRDMA_WIRE_FRAME_HDR_LEN);
		off += VRDMA_WIRE_FRAME_HDR_LEN;
		memcpy(wire + off, data + i, lens[i]);
		off += lens[i];
	}
	assert_int_equal(off, (size_t)len);
	assert_memory_equal(wire, copied, off);

	/* Mixed: refused either way round, the batch unchanged. */
	assert_int_equal(vrdma_wire_batch_add(&g, &f, NULL), -EINVAL);
	assert_int_equal(vrdma_wire_batch_add_gather(&b, &f, &hdr), -EINVAL);
	assert_int_equal(g.count, n);
	assert_int_equal(b.count, n);

	/* The cap counts gathered frames: a cap of one header and one 60-byte
	 * record takes that record and refuses a second. */
	assert_int_equal(
		vrdma_wire_batch_init(&g, hdrs,
				      VRDMA_WIRE_HDR_LEN +
					      VRDMA_WIRE_FRAME_HDR_LEN + 60),
		0);
	f = make_frame(60, 0, 0, 0, 0, 0);
	assert_int_equal(vrdma_wire_batch_add_gather(&g, &f, &hdr), 0);
	assert_int_equal(vrdma_wire_batch_add_gather(&g, &f, &hdr), -ENOSPC);
}

/* Every proper prefix of a valid message is refused, never overread. */
static void
test_every_prefix_refused(void **state)
{
	static uint8_t buf[512];
	struct vrdma_wire_frame f =
		make_frame(150, TSO_V4_FLAGS, 50, 14, 20, 20);
	struct vrdma_wire_msg msg;
	enum vrdma_wire_reason reason;
	uint8_t *copy;
	size_t len;
	int pass;

	(void)state;
	for (pass = 0; pass < 2; pass++) {
		size_t full = pass == 0 ? build_plain(buf, &f)
					: build_batch(buf, sizeof(buf));
		for (len = 0; len < full; len++) {
			int ret = decode_copy(buf, len, &msg, &reason, &copy);

			assert_int_equal(ret, -EBADMSG);
			if (len < VRDMA_WIRE_HDR_LEN)
				assert_int_equal(reason, VRDMA_WIRE_BAD_SHORT);
			else
				assert_int_equal(reason,
						 VRDMA_WIRE_BAD_TRUNCATED);
			free(copy);
		}
		assert_int_equal(decode_copy(buf, full, &msg, &reason, &copy),
				 0);
		free(copy);
	}
}

/* A field overwrite: width 1, 2 or 4 bytes, little-endian. */
struct patch {
	uint16_t off;
	uint8_t width;
	uint32_t value;
};

enum base {
	BASE_TSO,   /* plain TSO IPv4: 200 bytes, MSS 100, 14/20/20 */
	BASE_BARE,  /* plain 60 bytes, no offloads */
	BASE_BATCH, /* build_batch() */
};

struct bad_case {
	const char *name;
	enum base base;
	struct patch patch[3];
	long len_delta; /* bytes added (zeros) or cut at the end */
	int err;
	enum vrdma_wire_reason reason;
};

#define BAD(name_, base_, delta_, err_, reason_, ...)                         \
	{                                                                     \
		.name = (name_), .base = BASE_##base_, .len_delta = (delta_), \
		.err = (err_), .reason = VRDMA_WIRE_BAD_##reason_,            \
		.patch = {__VA_ARGS__},                                       \
	}

/* name, base, len_delta, errno, reason, patches {offset, width, value} */
static const struct bad_case bad_cases[] = {
	BAD("short", TSO, -201, -EBADMSG, SHORT, {0}),
	BAD("short empty", TSO, -220, -EBADMSG, SHORT, {0}),
	BAD("magic", TSO, 0, -EBADMSG, MAGIC, {OFF_MAGIC, 2, 0x5257}),
	BAD("magic swapped", BATCH, 0, -EBADMSG, MAGIC, {OFF_MAGIC, 2, 0x5652}),
	BAD("version 1", TSO, 0, -EPROTONOSUPPORT, VERSION,
	    {OFF_VERSION, 1, 1}),
	BAD("version 3", TSO, 0, -EPROTONOSUPPORT, VERSION,
	    {OFF_VERSION, 1, 3}),
	BAD("version 0", BATCH, 0, -EPROTONOSUPPORT, VERSION,
	    {OFF_VERSION, 1, 0}),
	BAD("hdr_len 24", TSO, 0, -EBADMSG, HDR_LEN, {OFF_HDR_LEN, 1, 24}),
	BAD("hdr_len 19", BARE, 0, -EBADMSG, HDR_LEN, {OFF_HDR_LEN, 1, 19}),
	BAD("flags bit 6", TSO, 0, -EBADMSG, FLAGS,
	    {OFF_FLAGS, 2, TSO_V4_FLAGS | 0x40}),
	BAD("flags bit 14", BARE, 0, -EBADMSG, FLAGS, {OFF_FLAGS, 2, 0x4000}),
	BAD("record BATCH flag", BATCH, 0, -EBADMSG, FLAGS,
	    {BATCH_REC0 + FOFF_FLAGS, 2, F_BATCH}),
	BAD("record unknown flag", BATCH, 0, -EBADMSG, FLAGS,
	    {BATCH_REC1 + FOFF_FLAGS, 2, F_UDP | F_IPV6 | 0x100}),
	BAD("pad in batch", BATCH, 0, -EBADMSG, PAD, {OFF_PAD, 2, 1}),
	BAD("pad high in batch", BATCH, 0, -EBADMSG, PAD,
	    {OFF_PAD + 1, 1, 0x80}),
	BAD("pad above max", BARE, 257, -EBADMSG, PAD,
	    {OFF_PAD, 2, VRDMA_WIRE_MAX_PAD + 1},
	    {OFF_PAYLOAD_LEN, 4, 60 + VRDMA_WIRE_MAX_PAD + 1}),
	BAD("pad beyond payload", BARE, 0, -EBADMSG, PAD, {OFF_PAD, 2, 61}),
	BAD("pad leaves 13 bytes", BARE, 0, -EBADMSG, FRAME_LEN,
	    {OFF_PAD, 2, 47}),
	BAD("plain count 2", TSO, 0, -EBADMSG, BATCH_COUNT, {OFF_COUNT, 2, 2}),
	BAD("plain count 0", BARE, 0, -EBADMSG, BATCH_COUNT, {OFF_COUNT, 2, 0}),
	BAD("batch count 0", BATCH, 0, -EBADMSG, BATCH_COUNT,
	    {OFF_COUNT, 2, 0}),
	BAD("batch count 65", BATCH, 0, -EBADMSG, BATCH_COUNT,
	    {OFF_COUNT, 2, VRDMA_WIRE_MAX_BATCH + 1}),
	BAD("frame_len 0", BARE, -60, -EBADMSG, FRAME_LEN,
	    {OFF_PAYLOAD_LEN, 4, 0}),
	BAD("frame_len 13", BARE, -47, -EBADMSG, FRAME_LEN,
	    {OFF_PAYLOAD_LEN, 4, 13}),
	BAD("frame_len max+1", BARE, VRDMA_MAX_FRAME_LEN + 1 - 60, -EBADMSG,
	    FRAME_LEN, {OFF_PAYLOAD_LEN, 4, VRDMA_MAX_FRAME_LEN + 1}),
	BAD("frame_len huge", BARE, 0, -EBADMSG, FRAME_LEN,
	    {OFF_PAYLOAD_LEN, 4, 0xffffffff}),
	BAD("record frame_len 0", BATCH, 0, -EBADMSG, FRAME_LEN,
	    {BATCH_REC0 + FOFF_LEN, 4, 0}),
	BAD("record frame_len 13", BATCH, 0, -EBADMSG, FRAME_LEN,
	    {BATCH_REC1 + FOFF_LEN, 4, 13}),
	BAD("record frame_len huge", BATCH, 0, -EBADMSG, FRAME_LEN,
	    {BATCH_REC1 + FOFF_LEN, 4, 0x80000000}),
	BAD("frame beyond bytes", TSO, 0, -EBADMSG, TRUNCATED,
	    {OFF_PAYLOAD_LEN, 4, 201}),
	BAD("frame cut", BARE, -1, -EBADMSG, TRUNCATED, {0}),
	BAD("batch beyond bytes", BATCH, 0, -EBADMSG, TRUNCATED,
	    {OFF_PAYLOAD_LEN, 4, 185}),
	BAD("record beyond payload", BATCH, 0, -EBADMSG, TRUNCATED,
	    {BATCH_REC1 + FOFF_LEN, 4, 101}),
	BAD("record max beyond payload", BATCH, 0, -EBADMSG, TRUNCATED,
	    {BATCH_REC0 + FOFF_LEN, 4, VRDMA_MAX_FRAME_LEN}),
	BAD("count beyond records", BATCH, 0, -EBADMSG, TRUNCATED,
	    {OFF_COUNT, 2, 3}),
	BAD("partial record header", BATCH, 5, -EBADMSG, TRUNCATED,
	    {OFF_COUNT, 2, 3}, {OFF_PAYLOAD_LEN, 4, 184 + 5}),
	BAD("plain extra byte", BARE, 1, -EBADMSG, TRAILING, {0}),
	BAD("batch extra byte", BATCH, 1, -EBADMSG, TRAILING, {0}),
	BAD("batch short payload_len", BATCH, 0, -EBADMSG, TRAILING,
	    {OFF_PAYLOAD_LEN, 4, 183}),
	BAD("bytes after records", BATCH, 1, -EBADMSG, TRAILING,
	    {OFF_PAYLOAD_LEN, 4, 185}),
	BAD("count below records", BATCH, 0, -EBADMSG, TRAILING,
	    {OFF_COUNT, 2, 1}),
	BAD("ipv4 and ipv6", TSO, 0, -EBADMSG, OFFLOAD,
	    {OFF_FLAGS, 2, TSO_V4_FLAGS | F_IPV6}),
	BAD("request without l3", TSO, 0, -EBADMSG, OFFLOAD,
	    {OFF_FLAGS, 2, F_TSO | F_TCP}),
	BAD("ip cksum on ipv6", TSO, 0, -EBADMSG, OFFLOAD,
	    {OFF_FLAGS, 2, F_TSO | F_IP | F_IPV6}, {OFF_L3, 2, 40}),
	BAD("tcp and udp", TSO, 0, -EBADMSG, OFFLOAD,
	    {OFF_FLAGS, 2, F_TCP | F_UDP | F_IPV4}, {OFF_SEGSZ, 2, 0}),
	BAD("tso and udp", TSO, 0, -EBADMSG, OFFLOAD,
	    {OFF_FLAGS, 2, F_TSO | F_UDP | F_IPV4}),
	BAD("l3 bit alone", BARE, 0, -EBADMSG, OFFLOAD, {OFF_FLAGS, 2, F_IPV4}),
	BAD("batch header offload", BATCH, 0, -EBADMSG, OFFLOAD,
	    {OFF_FLAGS, 2, F_BATCH | F_TCP | F_IPV4}),
	BAD("record without l3", BATCH, 0, -EBADMSG, OFFLOAD,
	    {BATCH_REC1 + FOFF_FLAGS, 2, F_UDP}),
	BAD("tso without mss", TSO, 0, -EBADMSG, TSO, {OFF_SEGSZ, 2, 0}),
	BAD("mss without tso", TSO, 0, -EBADMSG, TSO,
	    {OFF_FLAGS, 2, F_TCP | F_IP | F_IPV4}),
	BAD("mss on bare frame", BARE, 0, -EBADMSG, TSO, {OFF_SEGSZ, 2, 5}),
	BAD("tso l4 below tcp", TSO, 0, -EBADMSG, TSO, {OFF_L4, 1, 19}),
	BAD("tso no payload", TSO, 0, -EBADMSG, TSO,
	    {OFF_L4, 1, 200 - 14 - 20}),
	BAD("batch header mss", BATCH, 0, -EBADMSG, TSO, {OFF_SEGSZ, 2, 1}),
	BAD("record mss without tso", BATCH, 0, -EBADMSG, TSO,
	    {BATCH_REC1 + FOFF_SEGSZ, 2, 1400}),
	BAD("l2 13", TSO, 0, -EBADMSG, LENGTHS, {OFF_L2, 1, 13}),
	BAD("l2 128", TSO, 0, -EBADMSG, LENGTHS, {OFF_L2, 1, 128}),
	BAD("l3 ipv4 19", TSO, 0, -EBADMSG, LENGTHS, {OFF_L3, 2, 19}),
	BAD("l3 512", TSO, 0, -EBADMSG, LENGTHS, {OFF_L3, 2, 512}),
	BAD("record l3 ipv6 39", BATCH, 0, -EBADMSG, LENGTHS,
	    {BATCH_REC1 + FOFF_L3, 2, 39}),
	BAD("l4 without l4 offload", TSO, 0, -EBADMSG, LENGTHS,
	    {OFF_FLAGS, 2, F_IP | F_IPV4}, {OFF_SEGSZ, 2, 0}),
	BAD("headers beyond frame", TSO, 0, -EBADMSG, LENGTHS,
	    {OFF_L3, 2, 300}),
	BAD("l2 on bare frame", BARE, 0, -EBADMSG, LENGTHS, {OFF_L2, 1, 14}),
	BAD("l4 on bare frame", BARE, 0, -EBADMSG, LENGTHS, {OFF_L4, 1, 20}),
	BAD("batch header l2", BATCH, 0, -EBADMSG, LENGTHS, {OFF_L2, 1, 1}),
	BAD("batch header l3", BATCH, 0, -EBADMSG, LENGTHS, {OFF_L3, 2, 1}),
	BAD("record headers beyond frame", BATCH, 0, -EBADMSG, LENGTHS,
	    {BATCH_REC1 + FOFF_L4, 1, 47}),
};

static void
apply_patch(uint8_t *buf, const struct patch *p)
{
	switch (p->width) {
	case 1:
		buf[p->off] = (uint8_t)p->value;
		break;
	case 2:
		put16(buf + p->off, (uint16_t)p->value);
		break;
	case 4:
		put32(buf + p->off, p->value);
		break;
	default:
		break;
	}
}

static void
test_rejections(void **state)
{
	static uint8_t buf[BUF_LEN];
	bool covered[VRDMA_WIRE_REASON_MAX] = {false};
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct vrdma_wire_frame tso =
			make_frame(200, TSO_V4_FLAGS, 100, 14, 20, 20);
		struct vrdma_wire_frame bare = make_frame(60, 0, 0, 0, 0, 0);
		struct vrdma_wire_frame out;
		struct vrdma_wire_msg msg;
		enum vrdma_wire_reason reason = VRDMA_WIRE_OK;
		uint8_t *copy;
		size_t len;
		size_t j;
		int ret;

		memset(buf, 0, sizeof(buf));
		if (c->base == BASE_TSO)
			len = build_plain(buf, &tso);
		else if (c->base == BASE_BARE)
			len = build_plain(buf, &bare);
		else
			len = build_batch(buf, sizeof(buf));
		/* The unpatched message is valid: the patch alone refuses. */
		ret = decode_copy(buf, len, &msg, &reason, &copy);
		free(copy);
		if (ret != 0)
			fail_msg("%s: base message refused (%s)", c->name,
				 vrdma_wire_reason_name(reason));
		for (j = 0; j < 3 && c->patch[j].width != 0; j++)
			apply_patch(buf, &c->patch[j]);
		len = (size_t)((long)len + c->len_delta);
		assert_true(len <= sizeof(buf));

		reason = VRDMA_WIRE_OK;
		ret = decode_copy(buf, len, &msg, &reason, &copy);
		if (ret != c->err || reason != c->reason)
			fail_msg("%s: got %d/%s, want %d/%s", c->name, ret,
				 vrdma_wire_reason_name(reason), c->err,
				 vrdma_wire_reason_name(c->reason));
		/* A refused message yields nothing and cannot be attached. */
		assert_int_equal(msg.count, 0);
		assert_int_equal(vrdma_wire_next_frame(&msg, &out), -EINVAL);
		assert_int_equal(vrdma_wire_decode_payload(&msg, copy, NULL),
				 -EINVAL);
		covered[c->reason] = true;
		free(copy);
	}
	/* Never a decoder's verdict: the caller's, when a record changed
	 * under vrdma_wire_next_frame() (test_batch_changed_after_check). */
	covered[VRDMA_WIRE_BAD_CHANGED] = true;
	for (r = VRDMA_WIRE_OK + 1; r < VRDMA_WIRE_REASON_MAX; r++)
		if (!covered[r])
			fail_msg("reason %s has no rejection case",
				 vrdma_wire_reason_name(r));
}

static void
test_encode_refuses(void **state)
{
	struct vrdma_wire_frame f =
		make_frame(200, TSO_V4_FLAGS, 0, 14, 20, 20);
	uint8_t hdr[VRDMA_WIRE_HDR_LEN];

	(void)state;
	/* What the receiver would refuse is never sent. */
	assert_int_equal(vrdma_wire_encode(hdr, sizeof(hdr), &f), -EINVAL);
	f.tso_segsz = 100;
	assert_int_equal(vrdma_wire_encode(hdr, sizeof(hdr) - 1, &f), -ENOSPC);
	assert_int_equal(vrdma_wire_encode(hdr, sizeof(hdr), &f),
			 VRDMA_WIRE_HDR_LEN);
	f.flags |= F_BATCH;
	assert_int_equal(vrdma_wire_encode(hdr, sizeof(hdr), &f), -EINVAL);
	f = make_frame(13, 0, 0, 0, 0, 0);
	assert_int_equal(vrdma_wire_encode(hdr, sizeof(hdr), &f), -EINVAL);
	f = make_frame(60, 0, 0, 0, 0, 0);
	f.pad = VRDMA_WIRE_MAX_PAD + 1;
	assert_int_equal(vrdma_wire_encode(hdr, sizeof(hdr), &f), -EINVAL);
	f.pad = VRDMA_WIRE_MAX_PAD;
	assert_int_equal(vrdma_wire_encode(hdr, sizeof(hdr), &f),
			 VRDMA_WIRE_HDR_LEN);
}

static void
test_frame_init(void **state)
{
	struct vrdma_wire_frame f;
	enum vrdma_wire_reason reason;

	(void)state;
	/* No request: stale L3 bit, lengths and MSS are dropped. */
	assert_int_equal(vrdma_wire_frame_init(&f, 1500, F_IPV4, 1448, 14, 20,
					       20, &reason),
			 0);
	assert_int_equal(reason, VRDMA_WIRE_OK);
	assert_int_equal(f.len, 1500);
	assert_int_equal(f.flags, 0);
	assert_int_equal(f.tso_segsz, 0);
	assert_int_equal(f.l2_len, 0);
	assert_int_equal(f.l3_len, 0);
	assert_int_equal(f.l4_len, 0);
	assert_null(f.data);

	/* Checksum only: MSS dropped; IP checksum only: l4_len dropped. */
	assert_int_equal(vrdma_wire_frame_init(&f, 1500, F_TCP | F_IPV4, 1448,
					       14, 20, 20, &reason),
			 0);
	assert_int_equal(f.flags, F_TCP | F_IPV4);
	assert_int_equal(f.tso_segsz, 0);
	assert_int_equal(f.l4_len, 20);
	assert_int_equal(vrdma_wire_frame_init(&f, 1500, F_IP | F_IPV4, 1448,
					       14, 20, 20, &reason),
			 0);
	assert_int_equal(f.l4_len, 0);
	assert_int_equal(f.tso_segsz, 0);

	/* TSO carried as is. */
	assert_int_equal(vrdma_wire_frame_init(&f, 65000, TSO_V4_FLAGS, 1448,
					       14, 20, 32, NULL),
			 0);
	assert_int_equal(f.flags, TSO_V4_FLAGS);
	assert_int_equal(f.tso_segsz, 1448);
	assert_int_equal(f.l2_len, 14);
	assert_int_equal(f.l3_len, 20);
	assert_int_equal(f.l4_len, 32);

	/* Refusals, each with its reason; f is left zeroed. */
	assert_int_equal(
		vrdma_wire_frame_init(&f, 1500, F_BATCH, 0, 0, 0, 0, &reason),
		-EINVAL);
	assert_int_equal(reason, VRDMA_WIRE_BAD_FLAGS);
	assert_int_equal(f.len, 0);
	assert_int_equal(
		vrdma_wire_frame_init(&f, 1500, 1u << 20, 0, 0, 0, 0, &reason),
		-EINVAL);
	assert_int_equal(reason, VRDMA_WIRE_BAD_FLAGS);
	assert_int_equal(vrdma_wire_frame_init(&f, 0, 0, 0, 0, 0, 0, &reason),
			 -EINVAL);
	assert_int_equal(reason, VRDMA_WIRE_BAD_FRAME_LEN);
	assert_int_equal(vrdma_wire_frame_init(&f, VRDMA_MAX_FRAME_LEN + 1, 0,
					       0, 0, 0, 0, &reason),
			 -EINVAL);
	assert_int_equal(reason, VRDMA_WIRE_BAD_FRAME_LEN);
	assert_int_equal(vrdma_wire_frame_init(&f, 1500, TSO_V4_FLAGS, 0, 14,
					       20, 20, &reason),
			 -EINVAL);
	assert_int_equal(reason, VRDMA_WIRE_BAD_TSO);
	assert_int_equal(vrdma_wire_frame_init(&f, 1500, TSO_V4_FLAGS, 70000,
					       14, 20, 20, &reason),
			 -EINVAL);
	assert_int_equal(reason, VRDMA_WIRE_BAD_TSO);
	assert_int_equal(vrdma_wire_frame_init(&f, 1500, TSO_V4_FLAGS, 1448,
					       128, 20, 20, &reason),
			 -EINVAL);
	assert_int_equal(reason, VRDMA_WIRE_BAD_LENGTHS);
	assert_int_equal(vrdma_wire_frame_init(&f, 1500, TSO_V4_FLAGS, 1448, 14,
					       512, 20, &reason),
			 -EINVAL);
	assert_int_equal(reason, VRDMA_WIRE_BAD_LENGTHS);
	assert_int_equal(vrdma_wire_frame_init(&f, 1500, TSO_V4_FLAGS, 1448, 14,
					       20, 256, &reason),
			 -EINVAL);
	assert_int_equal(reason, VRDMA_WIRE_BAD_LENGTHS);
	assert_int_equal(
		vrdma_wire_frame_init(&f, 1500, F_TCP, 0, 14, 20, 20, &reason),
		-EINVAL);
	assert_int_equal(reason, VRDMA_WIRE_BAD_OFFLOAD);
	assert_int_equal(f.len, 0);
	assert_int_equal(f.flags, 0);
}

static void
test_reason_names(void **state)
{
	int r;
	int s;

	(void)state;
	assert_string_equal(vrdma_wire_reason_name(VRDMA_WIRE_OK), "ok");
	assert_string_equal(vrdma_wire_reason_name(VRDMA_WIRE_REASON_MAX),
			    "unknown");
	assert_string_equal(vrdma_wire_reason_name(VRDMA_WIRE_BAD_TRUNCATED),
			    "truncated");
	/* Distinct, non-empty, usable in an xstat name. */
	for (r = 1; r < VRDMA_WIRE_REASON_MAX; r++) {
		const char *name = vrdma_wire_reason_name(r);

		assert_non_null(name);
		assert_true(name[0] != '\0');
		assert_true(strspn(name, "abcdefghijklmnopqrstuvwxyz_") ==
			    strlen(name));
		for (s = 1; s < r; s++)
			assert_string_not_equal(name,
						vrdma_wire_reason_name(s));
	}
}

/* The fuzzer's seeds must stay valid messages as the format evolves. */
static void
test_seed_corpus(void **state)
{
	const char *dir_name = getenv("VRDMA_WIRE_SEEDS");
	struct dirent *de;
	unsigned int n = 0;
	DIR *dir;

	(void)state;
	if (dir_name == NULL)
		fail_msg("VRDMA_WIRE_SEEDS is not set (meson sets it)");
	dir = opendir(dir_name);
	if (dir == NULL)
		fail_msg("cannot open %s", dir_name);
	while ((de = readdir(dir)) != NULL) {
		static uint8_t data[BUF_LEN];
		struct vrdma_wire_msg msg;
		struct vrdma_wire_frame f;
		enum vrdma_wire_reason reason;
		char path[4096];
		uint8_t *copy;
		size_t len;
		FILE *fp;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir_name, de->d_name);
		fp = fopen(path, "rb");
		assert_non_null(fp);
		len = fread(data, 1, sizeof(data), fp);
		fclose(fp);
		/* Byte 0 is the fuzz input's header length. */
		assert_true(len > 1);
		assert_int_equal(data[0], VRDMA_WIRE_HDR_LEN);
		if (decode_copy(data + 1, len - 1, &msg, &reason, &copy) != 0)
			fail_msg("%s: refused (%s)", de->d_name,
				 vrdma_wire_reason_name(reason));
		while (vrdma_wire_next_frame(&msg, &f) == 1)
			;
		free(copy);
		n++;
	}
	closedir(dir);
	assert_true(n >= 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_bytes),
		cmocka_unit_test(test_golden_batch_bytes),
		cmocka_unit_test(test_plain_round_trip),
		cmocka_unit_test(test_padded_round_trip),
		cmocka_unit_test(test_split_decode),
		cmocka_unit_test(test_batch_round_trip),
		cmocka_unit_test(test_batch_changed_after_check),
		cmocka_unit_test(test_batch_builder_bounds),
		cmocka_unit_test(test_batch_gather),
		cmocka_unit_test(test_every_prefix_refused),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_frame_init),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_seed_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
