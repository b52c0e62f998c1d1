/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the vhost-user reply check (vhost-user/vu_proto.c),
 * the one parser in vrdma-vhost-ns of bytes from an untrusted backend: the
 * input, in an exactly sized heap buffer so that AddressSanitizer sees any
 * read past it, is offered as the reply to every request in the
 * VRDMA_VU_REQUESTS table and to numbers outside it. A refusal must give a
 * reason; an acceptance must be exactly a well-formed reply to that request
 * (header size equal to vrdma_vu_reply_size) whose payload is copied out
 * whole. The same input is offered as the ack (REPLY_ACK) to each. Seeds:
 * corpus/vu_reply/, from gen_corpus.py.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "vu_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * An invariant failed: a parser bug. Abort so that libFuzzer records it as
 * a crash with the input.
 */
#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

static const uint32_t requests[] = {
#define REQUEST_NUM(name, num, reply) num,
	VRDMA_VU_REQUESTS(REQUEST_NUM)
#undef REQUEST_NUM
	/* Not in the table: no reply is expected to these. */
	0,
	4,
	19,
	UINT32_MAX,
};

static void
parse_as(const uint8_t *buf, size_t len, uint32_t req)
{
	union vrdma_vu_payload out;
	struct vrdma_vu_hdr hdr;
	size_t want = vrdma_vu_reply_size(req);
	const char *why = "(not set)";
	int ret;

	memset(&out, 0xa5, sizeof(out));
	ret = vrdma_vu_reply_parse(buf, len, req, &out, &why);
	if (ret != 0) {
		CHECK(ret == -EPROTO);
		CHECK(why != NULL);
		return;
	}
	CHECK(why == NULL);
	CHECK(want != 0 && want <= sizeof(out));
	CHECK(len == sizeof(hdr) + want);
	memcpy(&hdr, buf, sizeof(hdr));
	CHECK(hdr.size == want);
	CHECK(hdr.request == req);
	CHECK((hdr.flags & VRDMA_VU_VERSION_MASK) == VRDMA_VU_VERSION);
	CHECK(hdr.flags & VRDMA_VU_FLAG_REPLY);
	/* The value is the payload, whole. */
	CHECK(memcmp(&out, buf + sizeof(hdr), want) == 0);
}

/* Likewise as the ack (REPLY_ACK) to req. */
static void
ack_as(const uint8_t *buf, size_t len, uint32_t req)
{
	struct vrdma_vu_hdr hdr;
	const char *why = "(not set)";
	uint64_t status;
	int ret;

	ret = vrdma_vu_ack_parse(buf, len, req, &status, &why);
	if (ret != 0) {
		CHECK(ret == -EPROTO);
		CHECK(why != NULL);
		return;
	}
	CHECK(why == NULL);
	CHECK(vrdma_vu_reply_size(req) == 0);
	CHECK(len == sizeof(hdr) + sizeof(status));
	memcpy(&hdr, buf, sizeof(hdr));
	CHECK(hdr.size == sizeof(status));
	CHECK(hdr.request == req);
	CHECK((hdr.flags & VRDMA_VU_VERSION_MASK) == VRDMA_VU_VERSION);
	CHECK(hdr.flags & VRDMA_VU_FLAG_REPLY);
	CHECK(memcmp(&status, buf + sizeof(hdr), sizeof(status)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = dup_exact(data, size);

	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		parse_as(buf, size, requests[i]);
		ack_as(buf, size, requests[i]);
	}
	free(buf);
	return 0;
}
