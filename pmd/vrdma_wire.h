/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vrdma wire format: how Ethernet frames travel between two fabric ports
 * as UCX active messages. Every message starts with one fixed-size, versioned
 * message header (struct vrdma_wire_hdr), sent as the UCX AM header; the AM
 * data is the payload. A plain message carries one frame: the header holds its
 * length and offload metadata and the payload is the frame itself, so a large
 * frame can go by rendezvous and its header can be checked before the data is
 * fetched. A batch message (VRDMA_WIRE_F_BATCH) coalesces small frames sent
 * eagerly in one burst: its payload is N records, each a per-frame header
 * (struct vrdma_wire_frame_hdr) directly followed by the frame bytes, with no
 * padding between records. All fields are little-endian and read through
 * memcpy, so neither the header nor the records need any alignment. This file
 * is pure C (no DPDK, no UCX): vrdma_rxtx.c maps mbuf offload flags to and
 * from struct vrdma_wire_frame, vrdma_fabric.c hands received bytes to the
 * decoder, and tests/fuzz/fuzz_wire_decode.c feeds it arbitrary bytes.
 *
 * A plain message may put up to VRDMA_WIRE_MAX_PAD bytes of padding before
 * its frame (hdr.pad): a receiver that keeps the transport's buffer as the
 * frame's mbuf (no copy) uses them as the mbuf's headroom, which a switch
 * writes into when it pushes a header.
 * Plain message:  [vrdma_wire_hdr][pad][frame .................]
 * Batch message:  [vrdma_wire_hdr][frame_hdr][frame][frame_hdr][frame]...
 *                  ^ UCX AM header ^ UCX AM data (payload) ..............
 */

#ifndef VRDMA_WIRE_H
#define VRDMA_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "VR" on the wire: bytes 0x56 0x52, read as a little-endian 16-bit value. */
#define VRDMA_WIRE_MAGIC 0x5256
/* Version 2 gave version 1's reserved field its meaning: pad. */
#define VRDMA_WIRE_VERSION 2

/* Size of struct vrdma_wire_hdr and of struct vrdma_wire_frame_hdr. */
#define VRDMA_WIRE_HDR_LEN	 20
#define VRDMA_WIRE_FRAME_HDR_LEN 12

/*
 * A frame shorter than an Ethernet header cannot be switched: the receiver
 * reads both MAC addresses for learning.
 */
#define VRDMA_MIN_FRAME_LEN 14

/*
 * The largest frame we carry is a whole TSO frame as a guest hands it over
 * virtio-net: up to a 64 KiB IP packet, plus the 14-byte Ethernet header, plus
 * two 4-byte 802.1Q tags (QinQ), so a tagged 64 KiB frame is never refused.
 */
#define VRDMA_MAX_FRAME_LEN (65536 + 14 + 2 * 4)

/*
 * Most frames one batch message may carry. Bounds the receive loop and lets
 * the receiver take all the mbufs a batch needs in one bulk allocation.
 */
#define VRDMA_WIRE_MAX_BATCH 64

/* Most padding before the frame of a plain message (twice DPDK's headroom). */
#define VRDMA_WIRE_MAX_PAD 256

/*
 * The receiver writes l2_len, l3_len and l4_len into rte_mbuf bit-fields of
 * 7, 9 and 8 bits; larger values could not be handed to the switch intact.
 */
#define VRDMA_WIRE_MAX_L2_LEN 127
#define VRDMA_WIRE_MAX_L3_LEN 511
#define VRDMA_WIRE_MAX_L4_LEN 255

/* Smallest header lengths an offload request may name. */
#define VRDMA_WIRE_MIN_L2_LEN	14
#define VRDMA_WIRE_MIN_IPV4_LEN 20
#define VRDMA_WIRE_MIN_IPV6_LEN 40
#define VRDMA_WIRE_MIN_TCP_LEN	20

/*
 * Flag bits: name, bit, meaning. Bits 0-5 mirror DPDK's RTE_MBUF_F_TX_* offload
 * requests (as OVS hands them over from a guest's virtio-net header) and
 * appear in a plain message header or in a per-frame header; BATCH appears
 * only in a message header. Any other bit is refused by the decoder.
 */
#define VRDMA_WIRE_FLAGS(X)                                           \
	X(TSO, 0, "TCP segmentation requested; tso_segsz is the MSS") \
	X(TCP_CKSUM, 1, "TCP checksum to be filled in")               \
	X(UDP_CKSUM, 2, "UDP checksum to be filled in")               \
	X(IP_CKSUM, 3, "IPv4 header checksum to be filled in")        \
	X(IPV4, 4, "L3 is IPv4 (needed by any other offload bit)")    \
	X(IPV6, 5, "L3 is IPv6 (needed by any other offload bit)")    \
	X(BATCH, 15, "message header only: the payload is a batch of records")

enum vrdma_wire_flag {
#define X(name, bit, desc) VRDMA_WIRE_F_##name = 1u << (bit),
	VRDMA_WIRE_FLAGS(X)
#undef X
};

/* Offload bits: what a per-frame header or a plain message header may hold. */
#define VRDMA_WIRE_F_OFFLOAD_MASK                                             \
	(VRDMA_WIRE_F_TSO | VRDMA_WIRE_F_TCP_CKSUM | VRDMA_WIRE_F_UDP_CKSUM | \
	 VRDMA_WIRE_F_IP_CKSUM | VRDMA_WIRE_F_IPV4 | VRDMA_WIRE_F_IPV6)

/* Offload bits that ask the receiving side for work (the rest name L3). */
#define VRDMA_WIRE_F_REQUEST_MASK                                             \
	(VRDMA_WIRE_F_TSO | VRDMA_WIRE_F_TCP_CKSUM | VRDMA_WIRE_F_UDP_CKSUM | \
	 VRDMA_WIRE_F_IP_CKSUM)

/*
 * Message header: the UCX AM header of every message. Little-endian; sizes
 * are pinned below, offsets in vrdma_wire.c, bytes in test_wire.c.
 */
struct vrdma_wire_hdr {
	uint16_t magic;	      /* VRDMA_WIRE_MAGIC */
	uint8_t version;      /* VRDMA_WIRE_VERSION; others are refused */
	uint8_t hdr_len;      /* VRDMA_WIRE_HDR_LEN, the bytes of this header */
	uint16_t flags;	      /* VRDMA_WIRE_F_*: offload bits, or BATCH alone */
	uint16_t batch_count; /* frames in the message: 1, or 1..64 if BATCH */
	uint32_t payload_len; /* bytes after this header: pad + frame length
			       * of a plain message, the records' total if
			       * BATCH */
	uint16_t tso_segsz;   /* MSS if TSO, else 0; 0 if BATCH */
	uint16_t l3_len;      /* IP header bytes if offloads, else 0 */
	uint8_t l2_len;	      /* Ethernet (+VLAN) header bytes, else 0 */
	uint8_t l4_len;	      /* TCP/UDP header bytes if L4 offload, else 0 */
	uint16_t pad;	      /* plain message: bytes before the frame in the
			       * payload, up to VRDMA_WIRE_MAX_PAD; 0 if BATCH */
};

/* Per-frame header: precedes each frame inside a batch payload. */
struct vrdma_wire_frame_hdr {
	uint32_t frame_len; /* bytes of the frame that directly follows */
	uint16_t flags;	    /* VRDMA_WIRE_F_* offload bits only */
	uint16_t tso_segsz; /* as in struct vrdma_wire_hdr */
	uint16_t l3_len;    /* as in struct vrdma_wire_hdr */
	uint8_t l2_len;	    /* as in struct vrdma_wire_hdr */
	uint8_t l4_len;	    /* as in struct vrdma_wire_hdr */
};

_Static_assert(sizeof(struct vrdma_wire_hdr) == VRDMA_WIRE_HDR_LEN,
	       "message header size is part of the wire format");
_Static_assert(sizeof(struct vrdma_wire_frame_hdr) == VRDMA_WIRE_FRAME_HDR_LEN,
	       "per-frame header size is part of the wire format");
_Static_assert(VRDMA_MAX_FRAME_LEN <= UINT32_MAX / (VRDMA_WIRE_MAX_BATCH + 1),
	       "a full batch's payload length must fit its 32-bit field");

/*
 * Why a message was refused: id, name, description. The driver counts each as
 * the xstat "bad_header_<name>"; the names are stable.
 */
#define VRDMA_WIRE_REASONS(X)                                                 \
	X(SHORT, "short", "fewer bytes than a message header")                \
	X(MAGIC, "magic", "magic is not VRDMA_WIRE_MAGIC")                    \
	X(VERSION, "version", "unsupported version")                          \
	X(HDR_LEN, "hdr_len", "header length field or size is wrong")         \
	X(FLAGS, "flags", "unknown flag bit, or BATCH in a per-frame header") \
	X(PAD, "pad", "pad in a batch, above 256, or beyond the payload")     \
	X(BATCH_COUNT, "batch_count", "frame count 0, above 64, or not 1")    \
	X(FRAME_LEN, "frame_len", "frame shorter than 14 or above the max")   \
	X(TRUNCATED, "truncated", "a length runs beyond the received bytes")  \
	X(TRAILING, "trailing", "received bytes left over after the frames")  \
	X(OFFLOAD, "offload", "inconsistent offload flag combination")        \
	X(TSO, "tso", "TSO without MSS or payload, or MSS without TSO")       \
	X(LENGTHS, "lengths", "l2/l3/l4 lengths inconsistent with the flags") \
	X(CHANGED, "changed", "a batch record changed after it was checked")

enum vrdma_wire_reason {
	VRDMA_WIRE_OK = 0,
#define X(id, name, desc) VRDMA_WIRE_BAD_##id,
	VRDMA_WIRE_REASONS(X)
#undef X
	/* clang-format off: it would indent this as a continuation. */
	VRDMA_WIRE_REASON_MAX
	/* clang-format on */
};

/*
 * One frame and its offload metadata, in host order: the input of the
 * encoders and the output of vrdma_wire_next_frame().
 */
struct vrdma_wire_frame {
	const void *data;   /* first byte of the frame; see each function */
	uint32_t len;	    /* frame bytes */
	uint16_t flags;	    /* VRDMA_WIRE_F_* offload bits */
	uint16_t tso_segsz; /* MSS if VRDMA_WIRE_F_TSO, else 0 */
	uint16_t l3_len;    /* 0 unless an offload is requested */
	uint8_t l2_len;	    /* 0 unless an offload is requested */
	uint8_t l4_len;	    /* 0 unless an L4 offload is requested */
	uint16_t pad;	    /* plain message: padding bytes before data */
};

/*
 * A decoded message. Filled by vrdma_wire_decode_hdr(); the payload is
 * attached (and, for a batch, every record checked) by
 * vrdma_wire_decode_payload(); then vrdma_wire_next_frame() yields the frames.
 * Fields after "private" belong to the decoder.
 */
struct vrdma_wire_msg {
	uint16_t flags;		       /* message header flags */
	uint16_t count;		       /* frames in the message */
	uint32_t payload_len;	       /* bytes that follow the header */
	struct vrdma_wire_frame frame; /* plain message: the frame (data NULL
					* until the payload is attached) */
	const uint8_t *payload;	       /* NULL until attached */
	/* private */
	bool checked;	     /* payload attached and valid */
	uint16_t next_index; /* next frame to yield */
	uint32_t next_off;   /* its record's offset in the payload */
};

/*
 * Builds a batch message in one caller buffer: the message header at the
 * start, records after it. Not thread-safe; one per tx queue.
 */
struct vrdma_wire_batch {
	uint8_t *buf;	/* start of the message */
	size_t cap;	/* bytes the message may have */
	size_t len;	/* bytes of the message, header included */
	size_t used;	/* bytes written at buf: len, or the headers only
			 * if gathered */
	uint16_t count; /* records added */
	bool gather;	/* records' frames are sent from elsewhere */
};

/*
 * Name of a reason, as used in "bad_header_<name>"; "ok" for VRDMA_WIRE_OK,
 * "unknown" outside the table.
 */
const char *vrdma_wire_reason_name(enum vrdma_wire_reason reason);

/*
 * Builds the wire metadata of one frame from a DPDK-style transmit offload
 * request given as plain integers (req_flags: VRDMA_WIRE_F_* offload bits
 * matching the mbuf's RTE_MBUF_F_TX_* bits; lengths as in the mbuf).
 * Normalizes what the mbuf may hold but the wire must not: with no offload
 * requested, the L3 bits and all lengths are dropped; tso_segsz is dropped
 * without TSO and l4_len without an L4 offload. f->data is set to NULL.
 * Returns 0, or -EINVAL (reason set if non-NULL) if the request cannot be
 * carried or the receiver would refuse it.
 */
int vrdma_wire_frame_init(struct vrdma_wire_frame *f, uint32_t frame_len,
			  uint32_t req_flags, uint32_t tso_segsz,
			  uint32_t l2_len, uint32_t l3_len, uint32_t l4_len,
			  enum vrdma_wire_reason *reason);

/*
 * Writes the message header of a plain (one-frame) message describing f into
 * buf; f->data is not read. f->pad padding bytes, then the frame bytes, are
 * sent after it (as the UCX AM data, or copied by the caller right after the
 * header). Returns VRDMA_WIRE_HDR_LEN, -ENOSPC if len is too small, or
 * -EINVAL if f would be refused by the receiver (pad above
 * VRDMA_WIRE_MAX_PAD included).
 */
int vrdma_wire_encode(void *buf, size_t len, const struct vrdma_wire_frame *f);

/*
 * Starts a batch in buf. Returns 0, or -ENOSPC if cap cannot hold even the
 * message header and one minimal record.
 */
int vrdma_wire_batch_init(struct vrdma_wire_batch *b, void *buf, size_t cap);

/*
 * Appends the record of frame f: writes its per-frame header, copies f->len
 * bytes from f->data when f->data is not NULL, and returns in *frame_dst (if
 * not NULL) where the frame bytes go, for a caller that copies them itself
 * (e.g. from a multi-segment mbuf). Returns 0; -ENOSPC if the record does not
 * fit or the batch is full (the batch is unchanged: send it and start
 * another); -EINVAL if f would be refused by the receiver or asks for
 * padding (records have none).
 */
int vrdma_wire_batch_add(struct vrdma_wire_batch *b,
			 const struct vrdma_wire_frame *f, void **frame_dst);

/*
 * Appends the record of frame f whose bytes the caller sends from elsewhere
 * (a gathered batch: an iov of each record header followed by its frame's
 * bytes): writes the per-frame header at buf and returns where in *hdr_dst;
 * the frame's bytes count towards the message's length and cap but take no
 * room at buf. A batch is either copied (vrdma_wire_batch_add) or gathered.
 * Returns as vrdma_wire_batch_add, and -EINVAL in a copied batch.
 */
int vrdma_wire_batch_add_gather(struct vrdma_wire_batch *b,
				const struct vrdma_wire_frame *f,
				void **hdr_dst);

/*
 * Writes the message header of the batch. Returns the message length (header
 * included; the UCX AM header is its first VRDMA_WIRE_HDR_LEN bytes, the AM
 * data the rest), or -EINVAL if no frame was added.
 */
int vrdma_wire_batch_finish(struct vrdma_wire_batch *b);

/*
 * Checks a received message header (hdr_len bytes at hdr, the UCX AM header)
 * against the payload_len bytes that came with it, and fills msg. For a plain
 * message, msg->frame holds the frame's metadata: enough to start a
 * rendezvous receive of the frame before any payload byte is read. Never
 * reads beyond hdr + hdr_len. Returns 0 (reason VRDMA_WIRE_OK), or
 * -EPROTONOSUPPORT for another version, -EBADMSG for anything else; *reason
 * (if not NULL) says which check failed.
 */
int vrdma_wire_decode_hdr(struct vrdma_wire_msg *msg, const void *hdr,
			  size_t hdr_len, size_t payload_len,
			  enum vrdma_wire_reason *reason);

/*
 * Attaches the msg->payload_len payload bytes at payload to a message that
 * vrdma_wire_decode_hdr() accepted and, for a batch, checks every record
 * (all or nothing: a bad record refuses the whole message). Never reads
 * beyond payload + msg->payload_len. Returns 0 or -EBADMSG with *reason set
 * as above; -EINVAL if msg was not accepted by vrdma_wire_decode_hdr().
 */
int vrdma_wire_decode_payload(struct vrdma_wire_msg *msg, const void *payload,
			      enum vrdma_wire_reason *reason);

/*
 * Both steps for a message received in one buffer: the header at buf, the
 * payload after it. Same returns.
 */
int vrdma_wire_decode(struct vrdma_wire_msg *msg, const void *buf, size_t len,
		      enum vrdma_wire_reason *reason);

/*
 * Yields the next frame of a fully decoded message into *f, data pointing
 * into the payload (after the f->pad padding bytes of a plain message).
 * Returns 1 for a frame, 0 after the last one, -EINVAL if the payload was
 * not attached and checked. A batch record is read once, into *f, and
 * checked again there: the payload may be memory the sender still writes
 * (shared memory), and a record that no longer passes the checks (or no
 * longer fits) returns -EBADMSG (VRDMA_WIRE_BAD_CHANGED) and ends the
 * message.
 */
int vrdma_wire_next_frame(struct vrdma_wire_msg *msg,
			  struct vrdma_wire_frame *f);

#endif /* VRDMA_WIRE_H */
