/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the vhost-user frontend protocol (vhost-user/vu_proto.c):
 * every message builder (header request, flags and size, payload, wire
 * length of 12 bytes plus the payload), request names and reply sizes for
 * the whole X-macro table, reply validation accepting each reply we wait
 * for and refusing every malformed one with a reason, feature negotiation,
 * feature names, and the fuzz seed corpus (tests/fuzz/corpus/vu_reply,
 * given in VRDMA_VU_SEEDS by meson), which must parse. Replies are built
 * byte by byte as they come off the socket and parsed from exactly sized
 * heap copies, so the sanitizer build catches any overread.
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

#include "vu_proto.h"

#define HDR_LEN		 12
#define FLAGS_REPLY	 (VRDMA_VU_VERSION | VRDMA_VU_FLAG_REPLY)
#define ARRAY_SIZE(a)	 (sizeof(a) / sizeof((a)[0]))
#define REQ_NOT_IN_TABLE 4 /* RESET_OWNER, which we never send */
#define REPLY_MAX_LEN	 (HDR_LEN + 64)
#define SEED_MAX_LEN	 4096

/* The table under test, with each request's reply payload size. */
#define REPLY_LEN_NONE	0
#define REPLY_LEN_U64	8
#define REPLY_LEN_STATE 8

static const struct {
	uint32_t num;
	const char *name;
	size_t reply_len;
} requests[] = {
#define ROW(name, num, reply) {num, #name, REPLY_LEN_##reply},
	VRDMA_VU_REQUESTS(ROW)
#undef ROW
};

static uint8_t *
dup_exact(const uint8_t *p, size_t n)
{
	/* malloc(0) may return NULL; one spare byte that is never read. */
	uint8_t *q = malloc(n > 0 ? n : 1);

	assert_non_null(q);
	if (n > 0)
		memcpy(q, p, n);
	return q;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* A reply as the backend writes it on the socket; returns its length. */
static size_t
wire_reply(uint8_t *buf, uint32_t request, uint32_t flags, uint32_t size,
	   const uint8_t *payload, size_t payload_len)
{
	assert_true(HDR_LEN + payload_len <= REPLY_MAX_LEN);
	put_le32(buf, request);
	put_le32(buf + 4, flags);
	put_le32(buf + 8, size);
	if (payload_len > 0)
		memcpy(buf + HDR_LEN, payload, payload_len);
	return HDR_LEN + payload_len;
}

/* A well-formed reply to request carrying a 64-bit value. */
static size_t
good_u64_reply(uint8_t *buf, uint32_t request, uint64_t value)
{
	uint8_t payload[8];

	put_le64(payload, value);
	return wire_reply(buf, request, FLAGS_REPLY, sizeof(payload), payload,
			  sizeof(payload));
}

/* Parse from an exactly sized heap copy of buf. */
static int
parse_copy(const uint8_t *buf, size_t len, uint32_t request,
	   union vrdma_vu_payload *out, const char **why)
{
	uint8_t *copy = dup_exact(buf, len);
	int ret;

	*why = "(not set by vrdma_vu_reply_parse)";
	ret = vrdma_vu_reply_parse(copy, len, request, out, why);
	free(copy);
	return ret;
}

static void
check_hdr(const struct vrdma_vu_msg *msg, uint32_t request, uint32_t size,
	  size_t wire_len)
{
	assert_int_equal(msg->hdr.request, request);
	/* Version 1, and neither the reply nor the need-reply flag. */
	assert_int_equal(msg->hdr.flags, VRDMA_VU_VERSION);
	assert_int_equal(msg->hdr.size, size);
	assert_int_equal(wire_len, HDR_LEN + size);
}

static void
test_msg_none(void **state)
{
	struct vrdma_vu_msg msg;
	size_t len;

	(void)state;
	memset(&msg, 0xa5, sizeof(msg));
	len = vrdma_vu_msg_none(&msg, VRDMA_VU_SET_OWNER);
	check_hdr(&msg, VRDMA_VU_SET_OWNER, 0, len);
	assert_int_equal(len, HDR_LEN);

	len = vrdma_vu_msg_none(&msg, VRDMA_VU_GET_FEATURES);
	check_hdr(&msg, VRDMA_VU_GET_FEATURES, 0, len);
}

static void
test_msg_u64(void **state)
{
	static const struct {
		enum vrdma_vu_request req;
		uint64_t value;
	} cases[] = {
		{VRDMA_VU_SET_FEATURES,
		 VRDMA_BIT(VRDMA_VIRTIO_F_VERSION_1) |
			 VRDMA_BIT(VRDMA_VIRTIO_NET_F_MRG_RXBUF)},
		{VRDMA_VU_SET_PROTOCOL_FEATURES,
		 VRDMA_BIT(VRDMA_VU_PROTOCOL_F_MQ)},
		{VRDMA_VU_SET_FEATURES, 0},
		{VRDMA_VU_SET_FEATURES, UINT64_MAX},
	};
	struct vrdma_vu_msg msg;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len;

		memset(&msg, 0xa5, sizeof(msg));
		len = vrdma_vu_msg_u64(&msg, cases[i].req, cases[i].value);
		check_hdr(&msg, cases[i].req, 8, len);
		assert_int_equal(len, 20);
		assert_true(msg.payload.u64 == cases[i].value);
	}
}

static void
test_msg_state(void **state)
{
	static const struct {
		enum vrdma_vu_request req;
		uint32_t index;
		uint32_t num;
	} cases[] = {
		{VRDMA_VU_SET_VRING_NUM, 0, 256},
		{VRDMA_VU_SET_VRING_BASE, 1, 0xffff},
		{VRDMA_VU_GET_VRING_BASE, 1, 0},
		{VRDMA_VU_SET_VRING_ENABLE, 15, 1},
		{VRDMA_VU_SET_VRING_NUM, UINT32_MAX, UINT32_MAX},
	};
	struct vrdma_vu_msg msg;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len;

		memset(&msg, 0xa5, sizeof(msg));
		len = vrdma_vu_msg_state(&msg, cases[i].req, cases[i].index,
					 cases[i].num);
		check_hdr(&msg, cases[i].req,
			  sizeof(struct vrdma_vu_vring_state), len);
		assert_int_equal(len, 20);
		assert_int_equal(msg.payload.state.index, cases[i].index);
		assert_int_equal(msg.payload.state.num, cases[i].num);
	}
}

static void
test_msg_addr(void **state)
{
	const struct vrdma_vu_vring_addr addr = {
		.index = 1,
		.flags = 0,
		.desc_user_addr = 0x7f0000001000ull,
		.used_user_addr = 0x7f0000002040ull,
		.avail_user_addr = 0x7f0000002000ull,
		.log_guest_addr = 0x1122334455667788ull,
	};
	struct vrdma_vu_msg msg;
	size_t len;

	(void)state;
	memset(&msg, 0xa5, sizeof(msg));
	len = vrdma_vu_msg_addr(&msg, &addr);
	check_hdr(&msg, VRDMA_VU_SET_VRING_ADDR, 40, len);
	assert_int_equal(len, 52);
	assert_memory_equal(&msg.payload.addr, &addr, sizeof(addr));
}

/*
 * A SET_MEM_TABLE message for n regions: the table, nothing from before in
 * whatever else of the payload goes on the wire, and a size that covers the
 * regions. QEMU and rust-vmm frontends send exactly 8 + 32 n bytes (and
 * rust-vmm backends insist on it); DPDK takes any size up to the full table.
 */
static void
check_memory(const struct vrdma_vu_msg *msg, size_t len,
	     const struct vrdma_vu_region *regions, uint32_t n)
{
	static const struct vrdma_vu_region zero;
	uint32_t size = msg->hdr.size;

	assert_int_equal(msg->hdr.request, VRDMA_VU_SET_MEM_TABLE);
	assert_int_equal(msg->hdr.flags, VRDMA_VU_VERSION);
	assert_true(size >= 8 + 32 * n);
	assert_true(size <= sizeof(struct vrdma_vu_memory));
	assert_int_equal(len, HDR_LEN + size);
	assert_int_equal(msg->payload.memory.nregions, n);
	assert_int_equal(msg->payload.memory.padding, 0);
	if (n > 0)
		assert_memory_equal(msg->payload.memory.regions, regions,
				    n * sizeof(regions[0]));
	for (uint32_t i = n; 8 + 32 * (i + 1) <= size; i++)
		assert_memory_equal(&msg->payload.memory.regions[i], &zero,
				    sizeof(zero));
}

static void
test_msg_memory(void **state)
{
	struct vrdma_vu_region regions[VRDMA_VU_MAX_REGIONS + 1];
	struct vrdma_vu_msg msg;
	size_t len;

	(void)state;
	for (unsigned int i = 0; i < ARRAY_SIZE(regions); i++) {
		regions[i].guest_phys_addr = 0x100000ull * i;
		regions[i].memory_size = 0x200000ull + i;
		regions[i].userspace_addr = 0x7f0000000000ull + 0x1000 * i;
		regions[i].mmap_offset = 4096ull * i;
	}

	for (uint32_t n = 1; n <= VRDMA_VU_MAX_REGIONS; n++) {
		memset(&msg, 0xa5, sizeof(msg));
		len = vrdma_vu_msg_memory(&msg, regions, n);
		check_memory(&msg, len, regions, n);
	}

	/* More regions than a message holds are cut, never overflowing. */
	memset(&msg, 0xa5, sizeof(msg));
	len = vrdma_vu_msg_memory(&msg, regions, VRDMA_VU_MAX_REGIONS + 1);
	check_memory(&msg, len, regions, VRDMA_VU_MAX_REGIONS);
}

static void
test_request_names(void **state)
{
	/* Below, between and above the requests we send. */
	static const uint32_t unknown[] = {
		0, REQ_NOT_IN_TABLE, 6, 7, 14, 19, 1000, UINT32_MAX,
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(requests); i++)
		assert_string_equal(vrdma_vu_request_name(requests[i].num),
				    requests[i].name);
	assert_string_equal(vrdma_vu_request_name(VRDMA_VU_SET_MEM_TABLE),
			    "SET_MEM_TABLE");
	for (size_t i = 0; i < ARRAY_SIZE(unknown); i++)
		assert_string_equal(vrdma_vu_request_name(unknown[i]),
				    "UNKNOWN");
}

static void
test_reply_size(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(requests); i++)
		assert_int_equal(vrdma_vu_reply_size(requests[i].num),
				 requests[i].reply_len);
	/* Spelled out for the four requests that are answered. */
	assert_int_equal(vrdma_vu_reply_size(VRDMA_VU_GET_FEATURES), 8);
	assert_int_equal(vrdma_vu_reply_size(VRDMA_VU_GET_PROTOCOL_FEATURES),
			 8);
	assert_int_equal(vrdma_vu_reply_size(VRDMA_VU_GET_QUEUE_NUM), 8);
	assert_int_equal(vrdma_vu_reply_size(VRDMA_VU_GET_VRING_BASE),
			 sizeof(struct vrdma_vu_vring_state));
	assert_int_equal(vrdma_vu_reply_size(VRDMA_VU_SET_MEM_TABLE), 0);
	assert_int_equal(vrdma_vu_reply_size(REQ_NOT_IN_TABLE), 0);
	assert_int_equal(vrdma_vu_reply_size(UINT32_MAX), 0);
}

static void
test_reply_accepted(void **state)
{
	static const uint32_t u64_requests[] = {
		VRDMA_VU_GET_FEATURES,
		VRDMA_VU_GET_PROTOCOL_FEATURES,
		VRDMA_VU_GET_QUEUE_NUM,
	};
	static const uint64_t values[] = {0, 8, 0x1122334455667788ull,
					  UINT64_MAX};
	uint8_t buf[REPLY_MAX_LEN];
	uint8_t payload[8];
	union vrdma_vu_payload out;
	const char *why;
	size_t len;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(u64_requests); i++) {
		for (size_t v = 0; v < ARRAY_SIZE(values); v++) {
			len = good_u64_reply(buf, u64_requests[i], values[v]);
			assert_int_equal(len, 20);
			memset(&out, 0xa5, sizeof(out));
			assert_int_equal(parse_copy(buf, len, u64_requests[i],
						    &out, &why),
					 0);
			assert_null(why);
			assert_true(out.u64 == values[v]);
		}
	}

	/* GET_VRING_BASE: the ring index, then where the device stopped. */
	put_le32(payload, 1);
	put_le32(payload + 4, 0x1234);
	len = wire_reply(buf, VRDMA_VU_GET_VRING_BASE, FLAGS_REPLY, 8, payload,
			 8);
	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(
		parse_copy(buf, len, VRDMA_VU_GET_VRING_BASE, &out, &why), 0);
	assert_null(why);
	assert_int_equal(out.state.index, 1);
	assert_int_equal(out.state.num, 0x1234);
}

/*
 * Every way a reply can be wrong, each a valid reply with one thing
 * changed. The reasons must differ, which shows that each case reaches
 * the check it is meant for.
 */
static void
test_reply_rejected(void **state)
{
	uint8_t good[REPLY_MAX_LEN];
	uint8_t payload[16];
	uint8_t buf[REPLY_MAX_LEN];
	union vrdma_vu_payload out;
	const char *reasons[8];
	const char *why;
	size_t good_len;
	size_t n = 0;
	size_t len;

	(void)state;
	memset(payload, 0x5a, sizeof(payload));
	good_len = good_u64_reply(good, VRDMA_VU_GET_FEATURES, 0x42);

	/* Request that gets no reply: a "reply" to it is refused however
	 * well formed, as is one to a request we do not know. */
	len = wire_reply(buf, VRDMA_VU_SET_OWNER, FLAGS_REPLY, 0, NULL, 0);
	assert_int_equal(parse_copy(buf, len, VRDMA_VU_SET_OWNER, &out, &why),
			 -EPROTO);
	assert_non_null(why);
	reasons[n++] = why;
	len = wire_reply(buf, VRDMA_VU_SET_FEATURES, FLAGS_REPLY, 8, payload,
			 8);
	assert_int_equal(
		parse_copy(buf, len, VRDMA_VU_SET_FEATURES, &out, &why),
		-EPROTO);
	assert_string_equal(why, reasons[0]);
	len = wire_reply(buf, REQ_NOT_IN_TABLE, FLAGS_REPLY, 8, payload, 8);
	assert_int_equal(parse_copy(buf, len, REQ_NOT_IN_TABLE, &out, &why),
			 -EPROTO);
	assert_string_equal(why, reasons[0]);

	/* Short buffer: shorter than the header, down to nothing. */
	assert_int_equal(parse_copy(good, HDR_LEN - 1, VRDMA_VU_GET_FEATURES,
				    &out, &why),
			 -EPROTO);
	assert_non_null(why);
	reasons[n++] = why;
	assert_int_equal(parse_copy(good, 0, VRDMA_VU_GET_FEATURES, &out, &why),
			 -EPROTO);
	assert_string_equal(why, reasons[1]);

	/* Wrong version: 0, 2 and 3 in the version bits. */
	for (uint32_t v = 0; v <= VRDMA_VU_VERSION_MASK; v++) {
		if (v == VRDMA_VU_VERSION)
			continue;
		memcpy(buf, good, good_len);
		put_le32(buf + 4, v | VRDMA_VU_FLAG_REPLY);
		assert_int_equal(parse_copy(buf, good_len,
					    VRDMA_VU_GET_FEATURES, &out, &why),
				 -EPROTO);
		assert_non_null(why);
		if (v == 0)
			reasons[n++] = why;
		else
			assert_string_equal(why, reasons[n - 1]);
	}

	/* No reply flag: our own request echoed back. */
	memcpy(buf, good, good_len);
	put_le32(buf + 4, VRDMA_VU_VERSION);
	assert_int_equal(
		parse_copy(buf, good_len, VRDMA_VU_GET_FEATURES, &out, &why),
		-EPROTO);
	assert_non_null(why);
	reasons[n++] = why;

	/* Wrong request: a well-formed reply, but to another question. */
	len = good_u64_reply(buf, VRDMA_VU_GET_PROTOCOL_FEATURES, 0x42);
	assert_int_equal(
		parse_copy(buf, len, VRDMA_VU_GET_FEATURES, &out, &why),
		-EPROTO);
	assert_non_null(why);
	reasons[n++] = why;

	/* Wrong size, with the length agreeing with it: 0, 4 and 16. */
	len = wire_reply(buf, VRDMA_VU_GET_FEATURES, FLAGS_REPLY, 0, NULL, 0);
	assert_int_equal(
		parse_copy(buf, len, VRDMA_VU_GET_FEATURES, &out, &why),
		-EPROTO);
	assert_non_null(why);
	reasons[n++] = why;
	len = wire_reply(buf, VRDMA_VU_GET_FEATURES, FLAGS_REPLY, 4, payload,
			 4);
	assert_int_equal(
		parse_copy(buf, len, VRDMA_VU_GET_FEATURES, &out, &why),
		-EPROTO);
	assert_string_equal(why, reasons[n - 1]);
	len = wire_reply(buf, VRDMA_VU_GET_VRING_BASE, FLAGS_REPLY, 16, payload,
			 16);
	assert_int_equal(
		parse_copy(buf, len, VRDMA_VU_GET_VRING_BASE, &out, &why),
		-EPROTO);
	assert_string_equal(why, reasons[n - 1]);

	/* Length mismatch: the header says 8, one byte more or less came. */
	memcpy(buf, good, good_len);
	buf[good_len] = 0;
	assert_int_equal(parse_copy(buf, good_len - 1, VRDMA_VU_GET_FEATURES,
				    &out, &why),
			 -EPROTO);
	assert_non_null(why);
	reasons[n++] = why;
	assert_int_equal(parse_copy(buf, good_len + 1, VRDMA_VU_GET_FEATURES,
				    &out, &why),
			 -EPROTO);
	assert_string_equal(why, reasons[n - 1]);
	assert_int_equal(
		parse_copy(buf, HDR_LEN, VRDMA_VU_GET_FEATURES, &out, &why),
		-EPROTO);
	assert_string_equal(why, reasons[n - 1]);

	assert_int_equal(n, 7);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(reasons[i], reasons[j]) == 0)
				fail_msg("cases %zu and %zu share reason "
					 "\"%s\"",
					 i, j, reasons[i]);

	/* And the good reply itself still passes. */
	assert_int_equal(
		parse_copy(good, good_len, VRDMA_VU_GET_FEATURES, &out, &why),
		0);
	assert_null(why);
}

/* Every truncation of a good reply is refused with a reason. */
static void
test_reply_prefixes(void **state)
{
	uint8_t buf[REPLY_MAX_LEN];
	union vrdma_vu_payload out;
	const char *why;
	size_t len;

	(void)state;
	len = good_u64_reply(buf, VRDMA_VU_GET_QUEUE_NUM, 4);
	for (size_t i = 0; i < len; i++) {
		assert_int_equal(
			parse_copy(buf, i, VRDMA_VU_GET_QUEUE_NUM, &out, &why),
			-EPROTO);
		assert_non_null(why);
	}
}

static void
test_negotiate(void **state)
{
	const uint64_t offered = VRDMA_BIT(VRDMA_VIRTIO_F_VERSION_1) |
				 VRDMA_BIT(VRDMA_VIRTIO_NET_F_MRG_RXBUF) |
				 VRDMA_BIT(VRDMA_VIRTIO_RING_F_EVENT_IDX) |
				 VRDMA_BIT(VRDMA_VIRTIO_NET_F_CSUM) |
				 VRDMA_BIT(40) | VRDMA_BIT(63);
	const uint64_t wanted = VRDMA_BIT(VRDMA_VIRTIO_F_VERSION_1) |
				VRDMA_BIT(VRDMA_VIRTIO_NET_F_MRG_RXBUF) |
				VRDMA_BIT(VRDMA_VIRTIO_RING_F_EVENT_IDX) |
				VRDMA_BIT(VRDMA_VIRTIO_NET_F_MQ) |
				VRDMA_BIT(VRDMA_VHOST_USER_F_PROTOCOL_FEATURES);
	uint64_t out;
	unsigned int missing;

	(void)state;
	/* What both sides have, nothing the backend offered unasked and
	 * nothing we asked for in vain. */
	out = 0xdead;
	missing = 99;
	assert_int_equal(vrdma_vu_negotiate(offered, wanted,
					    VRDMA_BIT(VRDMA_VIRTIO_F_VERSION_1),
					    &out, &missing),
			 0);
	assert_true(out == (VRDMA_BIT(VRDMA_VIRTIO_F_VERSION_1) |
			    VRDMA_BIT(VRDMA_VIRTIO_NET_F_MRG_RXBUF) |
			    VRDMA_BIT(VRDMA_VIRTIO_RING_F_EVENT_IDX)));
	assert_int_equal(vrdma_vu_negotiate(offered, wanted, 0, &out, &missing),
			 0);
	assert_true(out == (offered & wanted));
	assert_int_equal(vrdma_vu_negotiate(0, 0, 0, &out, &missing), 0);
	assert_true(out == 0);
	assert_int_equal(vrdma_vu_negotiate(UINT64_MAX, UINT64_MAX, UINT64_MAX,
					    &out, &missing),
			 0);
	assert_true(out == UINT64_MAX);

	/* MQ (22) and PROTOCOL_FEATURES (30) both missing: 22 is named. */
	assert_int_equal(
		vrdma_vu_negotiate(offered, wanted, wanted, &out, &missing),
		-ENOTSUP);
	assert_int_equal(missing, VRDMA_VIRTIO_NET_F_MQ);
	assert_int_equal(
		vrdma_vu_negotiate(
			offered, wanted,
			VRDMA_BIT(VRDMA_VHOST_USER_F_PROTOCOL_FEATURES) |
				VRDMA_BIT(VRDMA_VIRTIO_F_VERSION_1),
			&out, &missing),
		-ENOTSUP);
	assert_int_equal(missing, VRDMA_VHOST_USER_F_PROTOCOL_FEATURES);
	/* The edges of the 64-bit word. */
	assert_int_equal(vrdma_vu_negotiate(VRDMA_BIT(1), UINT64_MAX,
					    VRDMA_BIT(0) | VRDMA_BIT(1), &out,
					    &missing),
			 -ENOTSUP);
	assert_int_equal(missing, 0);
	assert_int_equal(vrdma_vu_negotiate(~VRDMA_BIT(63), UINT64_MAX,
					    VRDMA_BIT(63), &out, &missing),
			 -ENOTSUP);
	assert_int_equal(missing, 63);
	/* Nothing offered at all, VERSION_1 required. */
	assert_int_equal(vrdma_vu_negotiate(0, wanted,
					    VRDMA_BIT(VRDMA_VIRTIO_F_VERSION_1),
					    &out, &missing),
			 -ENOTSUP);
	assert_int_equal(missing, VRDMA_VIRTIO_F_VERSION_1);
}

static void
test_feature_names(void **state)
{
	static const struct {
		unsigned int bit;
		const char *name;
	} known[] = {
		{VRDMA_VIRTIO_NET_F_CSUM, "CSUM"},
		{VRDMA_VIRTIO_NET_F_GUEST_CSUM, "GUEST_CSUM"},
		{VRDMA_VIRTIO_NET_F_GUEST_TSO4, "GUEST_TSO4"},
		{VRDMA_VIRTIO_NET_F_GUEST_TSO6, "GUEST_TSO6"},
		{VRDMA_VIRTIO_NET_F_HOST_TSO4, "HOST_TSO4"},
		{VRDMA_VIRTIO_NET_F_HOST_TSO6, "HOST_TSO6"},
		{VRDMA_VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF"},
		{VRDMA_VIRTIO_NET_F_MQ, "MQ"},
		{VRDMA_VIRTIO_RING_F_EVENT_IDX, "EVENT_IDX"},
		{VRDMA_VHOST_USER_F_PROTOCOL_FEATURES, "PROTOCOL_FEATURES"},
		{VRDMA_VIRTIO_F_VERSION_1, "VERSION_1"},
	};
	unsigned int named = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		assert_string_equal(vrdma_vu_feature_name(known[i].bit),
				    known[i].name);
	/* Exactly those bits have names. */
	for (unsigned int bit = 0; bit < 64; bit++)
		if (vrdma_vu_feature_name(bit) != NULL)
			named++;
	assert_int_equal(named, ARRAY_SIZE(known));
	assert_null(vrdma_vu_feature_name(64));
	assert_null(vrdma_vu_feature_name(UINT32_MAX));
}

/* Each seed is a good reply to the request in its header. */
static void
test_seed_corpus(void **state)
{
	const char *dir_name = getenv("VRDMA_VU_SEEDS");
	struct dirent *de;
	unsigned int n = 0;
	DIR *dir;

	(void)state;
	if (dir_name == NULL)
		fail_msg("VRDMA_VU_SEEDS is not set (meson sets it)");
	dir = opendir(dir_name);
	if (dir == NULL)
		fail_msg("cannot open %s", dir_name);
	while ((de = readdir(dir)) != NULL) {
		static uint8_t data[SEED_MAX_LEN];
		union vrdma_vu_payload out;
		const char *why;
		char path[4096];
		uint32_t request;
		size_t len;
		FILE *fp;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir_name, de->d_name);
		fp = fopen(path, "rb");
		assert_non_null(fp);
		len = fread(data, 1, sizeof(data), fp);
		fclose(fp);
		assert_true(len >= HDR_LEN);
		memcpy(&request, data, sizeof(request));
		if (parse_copy(data, len, request, &out, &why) != 0)
			fail_msg("%s: refused (%s)", de->d_name, why);
		n++;
	}
	closedir(dir);
	assert_true(n >= 4);
}

/* Ack from an exactly sized heap copy of buf. */
static int
ack_copy(const uint8_t *buf, size_t len, uint32_t request, uint64_t *status,
	 const char **why)
{
	uint8_t *copy = dup_exact(buf, len);
	int ret;

	*why = "(not set by vrdma_vu_ack_parse)";
	ret = vrdma_vu_ack_parse(copy, len, request, status, why);
	free(copy);
	return ret;
}

/* REPLY_ACK: an ack to a request without a reply of its own carries the
 * status as a 64-bit value; it is checked as strictly as a reply, and
 * an ack to a request that has a reply is refused. */
static void
test_ack(void **state)
{
	static const uint32_t acked[] = {
		VRDMA_VU_SET_OWNER,	   VRDMA_VU_SET_FEATURES,
		VRDMA_VU_SET_MEM_TABLE,	   VRDMA_VU_SET_VRING_NUM,
		VRDMA_VU_SET_VRING_ADDR,   VRDMA_VU_SET_VRING_BASE,
		VRDMA_VU_SET_VRING_KICK,   VRDMA_VU_SET_VRING_CALL,
		VRDMA_VU_SET_VRING_ENABLE,
	};
	uint8_t buf[REPLY_MAX_LEN];
	uint8_t payload[8];
	uint64_t status;
	const char *why;
	size_t len;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(acked); i++) {
		len = good_u64_reply(buf, acked[i], 0);
		status = 0xa5;
		assert_int_equal(ack_copy(buf, len, acked[i], &status, &why),
				 0);
		assert_null(why);
		assert_true(status == 0);
		len = good_u64_reply(buf, acked[i], 1);
		assert_int_equal(ack_copy(buf, len, acked[i], &status, &why),
				 0);
		assert_true(status == 1);
	}
	/* A request with a reply, or one we do not know, gets no ack. */
	len = good_u64_reply(buf, VRDMA_VU_GET_FEATURES, 0);
	assert_int_equal(
		ack_copy(buf, len, VRDMA_VU_GET_FEATURES, &status, &why),
		-EPROTO);
	assert_non_null(why);
	len = good_u64_reply(buf, REQ_NOT_IN_TABLE, 0);
	assert_int_equal(ack_copy(buf, len, REQ_NOT_IN_TABLE, &status, &why),
			 -EPROTO);
	assert_non_null(why);
	/* An ack to another request, one without the reply flag, one of
	 * the wrong size, and a truncated one. */
	len = good_u64_reply(buf, VRDMA_VU_SET_VRING_NUM, 0);
	assert_int_equal(
		ack_copy(buf, len, VRDMA_VU_SET_VRING_ADDR, &status, &why),
		-EPROTO);
	assert_non_null(why);
	put_le64(payload, 0);
	len = wire_reply(buf, VRDMA_VU_SET_VRING_NUM, VRDMA_VU_VERSION, 8,
			 payload, 8);
	assert_int_equal(
		ack_copy(buf, len, VRDMA_VU_SET_VRING_NUM, &status, &why),
		-EPROTO);
	assert_non_null(why);
	len = wire_reply(buf, VRDMA_VU_SET_VRING_NUM, FLAGS_REPLY, 4, payload,
			 4);
	assert_int_equal(
		ack_copy(buf, len, VRDMA_VU_SET_VRING_NUM, &status, &why),
		-EPROTO);
	assert_non_null(why);
	len = good_u64_reply(buf, VRDMA_VU_SET_VRING_NUM, 0);
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_equal(ack_copy(buf, cut, VRDMA_VU_SET_VRING_NUM,
					  &status, &why),
				 -EPROTO);
		assert_non_null(why);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_none),
		cmocka_unit_test(test_msg_u64),
		cmocka_unit_test(test_msg_state),
		cmocka_unit_test(test_msg_addr),
		cmocka_unit_test(test_msg_memory),
		cmocka_unit_test(test_request_names),
		cmocka_unit_test(test_reply_size),
		cmocka_unit_test(test_reply_accepted),
		cmocka_unit_test(test_reply_rejected),
		cmocka_unit_test(test_reply_prefixes),
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_feature_names),
		cmocka_unit_test(test_seed_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
