#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the seed corpora of the fuzz targets: valid messages of each format.

wire_decode/: net_vrdma wire messages, from an independent encoder of the
format in pmd/vrdma_wire.h (little-endian, 20-byte message header, 12-byte
per-frame header in batches), so the seeds also cross-check the C encoder's
layout. Each file is the fuzz input layout: one byte with the AM header
length (20), the header, then the payload.

vu_reply/: vhost-user replies a backend sends to vrdma-vhost-ns, encoded
from QEMU's docs/interop/vhost-user.rst (12-byte header: request, flags,
size; then the payload), the bytes exactly as they come off the socket.

vu_data/: scripts of a hostile switch for the frontend's data path (the
opcodes are described in fuzz_vu_data.c).

am_recv/: wire messages as the fabric port's AM handler receives them, each
after three bytes that set up the call (see fuzz_am_recv.c): the queue and
UCX's receive flags, the replying endpoint and how full the queue's pool
and ring are, the AM header length.

Run it from anywhere; it rewrites tests/fuzz/corpus/<target>/.
"""

import argparse
import os
import struct
import sys

MAGIC = 0x5256
VERSION = 2
HDR_LEN = 20

TSO, TCP_CKSUM, UDP_CKSUM, IP_CKSUM, IPV4, IPV6 = (1 << b for b in range(6))
BATCH = 1 << 15


def frame_bytes(length, seed):
    """A frame of length bytes: unicast dst, unicast src, then filler."""
    dst = bytes([0x02, 0, 0, 0, 0, seed & 0xFF])
    src = bytes([0x02, 0, 0, 0, 1, seed & 0xFF])
    body = bytes((seed + i) & 0xFF for i in range(length - 12))
    return (dst + src + body)[:length]


def msg_hdr(flags, count, payload_len, segsz=0, l3=0, l2=0, l4=0, pad=0):
    return struct.pack('<HBBHHIHHBBH', MAGIC, VERSION, HDR_LEN, flags, count,
                       payload_len, segsz, l3, l2, l4, pad)


def plain(length, flags=0, segsz=0, l2=0, l3=0, l4=0, seed=0, pad=0):
    return (msg_hdr(flags, 1, pad + length, segsz, l3, l2, l4, pad),
            bytes(pad) + frame_bytes(length, seed))


def batch(frames):
    """frames: list of (length, flags, segsz, l2, l3, l4)."""
    payload = b''
    for i, (length, flags, segsz, l2, l3, l4) in enumerate(frames):
        payload += struct.pack('<IHHHBB', length, flags, segsz, l3, l2, l4)
        payload += frame_bytes(length, i)
    return msg_hdr(BATCH, len(frames), len(payload)), payload


WIRE_SEEDS = {
    'plain_min': plain(14),
    'plain_arp': plain(60, seed=1),
    'plain_tso_ipv4': plain(2000, TSO | TCP_CKSUM | IP_CKSUM | IPV4,
                            segsz=1448, l2=14, l3=20, l4=32, seed=2),
    'plain_udp_ipv6': plain(200, UDP_CKSUM | IPV6, l2=18, l3=40, l4=8,
                            seed=3),
    'plain_tcp_cksum_ipv4': plain(100, TCP_CKSUM | IPV4, l2=14, l3=20,
                                  seed=4),
    'plain_padded_tso': plain(9000, TSO | TCP_CKSUM | IPV4, segsz=8948,
                              l2=14, l3=20, l4=32, seed=5, pad=128),
    'batch_mixed': batch([
        (60, 0, 0, 0, 0, 0),
        (120, TCP_CKSUM | IP_CKSUM | IPV4, 0, 14, 20, 20),
        (90, UDP_CKSUM | IPV6, 0, 14, 40, 8),
    ]),
    'batch_one': batch([(14, 0, 0, 0, 0, 0)]),
    'batch_full': batch([(14 + i % 7, 0, 0, 0, 0, 0) for i in range(64)]),
    'batch_tso': batch([
        (300, TSO | IPV6, 100, 14, 40, 20),
        (64, 0, 0, 0, 0, 0),
    ]),
}

VU_VERSION = 0x1
VU_FLAG_REPLY = 1 << 2
VU_GET_FEATURES = 1
VU_GET_VRING_BASE = 11
VU_GET_PROTOCOL_FEATURES = 15
VU_GET_QUEUE_NUM = 17

# Virtio feature bits: CSUM, MRG_RXBUF, EVENT_IDX, PROTOCOL_FEATURES,
# VERSION_1.
VU_FEATURES = sum(1 << b for b in (0, 15, 29, 30, 32))


def vu_reply(request, payload):
    """A reply to request: header with version 1 and the reply flag."""
    return struct.pack('<III', request, VU_VERSION | VU_FLAG_REPLY,
                       len(payload)) + payload


VU_REPLY_SEEDS = {
    'get_features': vu_reply(VU_GET_FEATURES,
                             struct.pack('<Q', VU_FEATURES)),
    'get_protocol_features': vu_reply(VU_GET_PROTOCOL_FEATURES,
                                      struct.pack('<Q', 1)),
    'get_queue_num': vu_reply(VU_GET_QUEUE_NUM, struct.pack('<Q', 8)),
    # vring 1 stopped at avail index 0x1234.
    'get_vring_base': vu_reply(VU_GET_VRING_BASE,
                               struct.pack('<II', 1, 0x1234)),
}


# vu_data/: scripts for the hostile switch of fuzz_vu_data.c, one opcode
# byte and its little-endian arguments each (see that file).
def vu_op(op, *args):
    return bytes([op]) + b''.join(struct.pack(f'<{fmt}', v)
                                   for fmt, v in args)


VU_DATA_SEEDS = {
    # The switch fills rx buffer 0 (num_buffers 1) and returns it.
    'rx_one_frame': vu_op(2, ('B', 0), ('H', 1)) +
    vu_op(0, ('H', 0), ('H', 1000)),
    # A frame merged from buffers 0 and 1.
    'rx_merged': vu_op(2, ('B', 0), ('H', 2)) +
    vu_op(0, ('H', 0), ('H', 4096)) + vu_op(0, ('H', 1), ('H', 200)),
    # The namespace sends a frame; the switch returns its descriptor.
    'tx_one_frame': vu_op(4, ('H', 1500)) + vu_op(1, ('H', 0)),
    # One rx buffer returned twice.
    'rx_twice': vu_op(2, ('B', 0), ('H', 1)) +
    vu_op(0, ('H', 0), ('H', 100)) + vu_op(0, ('H', 0), ('H', 100)),
}


# am_recv/: byte 0 of the input.
AM_DATA, AM_REPLY_EP, AM_RNDV, AM_POOL_DRY, AM_RING_FULL = (
    1 << b for b in range(3, 8))
# Byte 1: the endpoint (0-5: in or out of peers 0-2), failing rendezvous,
# K (the free mbufs or ring slots left).
AM_RNDV_FAILS = 1 << 3


def am_call(msg, queue=0, flags=0, ep=0, k=0):
    hdr, payload = msg
    return bytes([queue | flags, ep | k << 4, len(hdr)]) + hdr + payload


def many_sources(count, length=14):
    """A batch of count frames, each from its own source MAC."""
    return batch([(length, 0, 0, 0, 0, 0)] * count)


AM_RECV_SEEDS = {
    'plain_copy': am_call(plain(60, seed=1), flags=AM_REPLY_EP),
    'plain_offloads': am_call(WIRE_SEEDS['plain_tso_ipv4'],
                              flags=AM_REPLY_EP, ep=3),
    'plain_lend': am_call(plain(4096, seed=2, pad=128),
                          flags=AM_DATA | AM_REPLY_EP, ep=1),
    # A hostile peer's odd padding: the frame would start at an odd
    # address, unfit for an mbuf's Ethernet header.
    'plain_lend_odd_pad': am_call(plain(4096, seed=2, pad=127),
                                  flags=AM_DATA | AM_REPLY_EP),
    'plain_lend_ring_full': am_call(plain(4096, seed=3, pad=128),
                                    flags=AM_DATA | AM_RING_FULL),
    # Queue 1's mbufs hold 512 bytes: a chain, and one too long for it.
    'plain_chain': am_call(plain(9000, seed=4), queue=1,
                           flags=AM_REPLY_EP, ep=2),
    'plain_too_many_segs': am_call(plain(33000, seed=5), queue=1),
    'plain_pool_dry': am_call(plain(3000, seed=6), flags=AM_POOL_DRY,
                              k=1),
    'rndv_plain': am_call(plain(3000, seed=7, pad=128),
                          flags=AM_RNDV | AM_REPLY_EP, ep=4),
    'rndv_fails': am_call(plain(3000, seed=8), flags=AM_RNDV, ep=AM_RNDV_FAILS),
    'rndv_batch': am_call(WIRE_SEEDS['batch_one'], flags=AM_RNDV),
    # Queue 2 is configured but not set up: frames go to queue 0.
    'batch_mixed_q2': am_call(WIRE_SEEDS['batch_mixed'], queue=2,
                              flags=AM_REPLY_EP, ep=5),
    'batch_full_unknown_ep': am_call(WIRE_SEEDS['batch_full'], queue=3,
                                     flags=AM_REPLY_EP, ep=6),
    'batch_pool_dry': am_call(many_sources(64, 100), flags=AM_POOL_DRY,
                              k=5),
    # 33 frames into a full ring: the first 32 are dropped, and the 33rd,
    # copied into the mbuf freed last, must still be learned.
    'batch_ring_full_learn': am_call(many_sources(33),
                                     flags=AM_REPLY_EP | AM_RING_FULL),
    'bad_header': am_call((WIRE_SEEDS['plain_min'][0][:12], b'x' * 14),
                          flags=AM_REPLY_EP),
}


def write_seeds(directory, seeds):
    os.makedirs(directory, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(directory, name + '.bin'), 'wb') as f:
            f.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--out',
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             'corpus'),
        help='directory to write one seed directory per fuzz target into '
        '(default: %(default)s)')
    args = parser.parse_args()
    write_seeds(os.path.join(args.out, 'wire_decode'), {
        name: bytes([len(hdr)]) + hdr + payload
        for name, (hdr, payload) in WIRE_SEEDS.items()
    })
    write_seeds(os.path.join(args.out, 'vu_reply'), VU_REPLY_SEEDS)
    write_seeds(os.path.join(args.out, 'vu_data'), VU_DATA_SEEDS)
    write_seeds(os.path.join(args.out, 'am_recv'), AM_RECV_SEEDS)
    return 0


if __name__ == '__main__':
    sys.exit(main())
