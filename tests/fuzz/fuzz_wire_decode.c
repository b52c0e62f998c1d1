/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the receive side of the net_vrdma wire format
 * (pmd/vrdma_wire.c): arbitrary bytes from a peer must never make the
 * decoder read out of bounds, and whatever it accepts must be exactly what
 * the encoder produces. Input layout: byte 0 is the length of the UCX AM
 * header, the next that many bytes are the header and the rest is the AM
 * data; each goes into its own exactly sized heap buffer so AddressSanitizer
 * sees any read past either. The whole input after byte 0 is also decoded as
 * one contiguous message. Seeds: corpus/wire_decode/, from gen_corpus.py.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vrdma_wire.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * An invariant of an accepted message failed: a decoder bug. Trap so that
 * libFuzzer records it as a crash with the input.
 */
#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

/* Yields every frame, reads every byte of each, and re-encodes them. */
static void
walk(struct vrdma_wire_msg *msg, const uint8_t *hdr, const uint8_t *payload)
{
	static uint8_t copy[VRDMA_MAX_FRAME_LEN];
	struct vrdma_wire_frame f;
	struct vrdma_wire_frame g;
	struct vrdma_wire_batch b;
	uint8_t *out;
	unsigned int n = 0;
	size_t total = VRDMA_WIRE_HDR_LEN + (size_t)msg->payload_len;
	int ret;

	out = malloc(total);
	if (out == NULL)
		abort();
	ret = vrdma_wire_batch_init(&b, out, total);
	CHECK(ret == 0 || !(msg->flags & VRDMA_WIRE_F_BATCH));

	while ((ret = vrdma_wire_next_frame(msg, &f)) == 1) {
		const uint8_t *d = f.data;

		CHECK(d >= payload && d + f.len <= payload + msg->payload_len);
		/* A plain frame starts right after its padding. */
		CHECK((msg->flags & VRDMA_WIRE_F_BATCH) ? f.pad == 0
							: d == payload + f.pad);
		CHECK(f.len >= VRDMA_MIN_FRAME_LEN &&
		      f.len <= VRDMA_MAX_FRAME_LEN);
		memcpy(copy, d, f.len);

		/* Normalizing a valid frame's request must change nothing. */
		ret = vrdma_wire_frame_init(&g, f.len, f.flags, f.tso_segsz,
					    f.l2_len, f.l3_len, f.l4_len, NULL);
		CHECK(ret == 0);
		CHECK(g.flags == f.flags && g.tso_segsz == f.tso_segsz &&
		      g.l2_len == f.l2_len && g.l3_len == f.l3_len &&
		      g.l4_len == f.l4_len && g.len == f.len);

		if (msg->flags & VRDMA_WIRE_F_BATCH)
			CHECK(vrdma_wire_batch_add(&b, &f, NULL) == 0);
		n++;
	}
	CHECK(ret == 0);
	CHECK(n == msg->count);

	/* Decoding is strict, so re-encoding must give back the input. */
	if (msg->flags & VRDMA_WIRE_F_BATCH) {
		CHECK(vrdma_wire_batch_finish(&b) == (int)total);
		CHECK(memcmp(out, hdr, VRDMA_WIRE_HDR_LEN) == 0);
		CHECK(memcmp(out + VRDMA_WIRE_HDR_LEN, payload,
			     msg->payload_len) == 0);
	} else {
		uint8_t plain_hdr[VRDMA_WIRE_HDR_LEN];

		CHECK(vrdma_wire_encode(plain_hdr, sizeof(plain_hdr),
					&msg->frame) == VRDMA_WIRE_HDR_LEN);
		CHECK(memcmp(plain_hdr, hdr, VRDMA_WIRE_HDR_LEN) == 0);
	}
	free(out);
}

static void
decode_split(const uint8_t *data, size_t size)
{
	struct vrdma_wire_msg msg;
	enum vrdma_wire_reason reason;
	size_t hdr_len = data[0];
	uint8_t *hdr;
	uint8_t *payload;
	size_t payload_len;

	data++;
	size--;
	if (hdr_len > size)
		hdr_len = size;
	payload_len = size - hdr_len;
	hdr = dup_exact(data, hdr_len);
	payload = dup_exact(data + hdr_len, payload_len);

	if (vrdma_wire_decode_hdr(&msg, hdr, hdr_len, payload_len, &reason) ==
	    0) {
		CHECK(reason == VRDMA_WIRE_OK);
		CHECK(msg.payload_len == payload_len);
		if (vrdma_wire_decode_payload(&msg, payload, &reason) == 0)
			walk(&msg, hdr, payload);
		else
			CHECK(reason != VRDMA_WIRE_OK);
	} else {
		CHECK(reason > VRDMA_WIRE_OK && reason < VRDMA_WIRE_REASON_MAX);
		CHECK(vrdma_wire_decode_payload(&msg, payload, NULL) < 0);
	}
	free(payload);
	free(hdr);
}

static void
decode_contiguous(const uint8_t *data, size_t size)
{
	struct vrdma_wire_msg msg;
	struct vrdma_wire_frame f;
	uint8_t *buf = dup_exact(data + 1, size - 1);

	if (vrdma_wire_decode(&msg, buf, size - 1, NULL) == 0)
		walk(&msg, buf, buf + VRDMA_WIRE_HDR_LEN);
	else
		CHECK(vrdma_wire_next_frame(&msg, &f) < 0);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	decode_split(data, size);
	decode_contiguous(data, size);
	return 0;
}
