/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tap in the namespace: set-up, carrier and offloads (vu_tap.c). The
 * data path reads and writes the tap fds (vu_data.c); vhost_ns.c creates
 * the tap at start-up, vu_ctl.c switches its carrier and offloads with
 * the connection.
 */
#ifndef VRDMA_VU_TAP_H
#define VRDMA_VU_TAP_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost_ns.h"

/* Enter the namespace of --netns (a name under /run/netns, or a path);
 * without one, stay. Returns 0 or -1 (logged). */
int vrdma_vu_enter_netns(struct vrdma_vns *v);

/* Create the tap, one fd per queue pair, with virtio-net headers and no
 * offloads yet, carrier off; set its MAC and MTU and bring it up.
 * Returns 0 or -1 (logged). */
int vrdma_vu_tap_create(struct vrdma_vns *v);

/* Tell the namespace's stack the link state (a failure is only logged). */
void vrdma_vu_tap_carrier(struct vrdma_vns *v, bool on);

/* The tap offloads (TUN_F_*) that match the virtio features negotiated. */
unsigned int vrdma_vu_tap_offloads(uint64_t features);

/* Set offloads off on every queue pair's fd. Returns 0 or -1 (logged). */
int vrdma_vu_tap_offload(struct vrdma_vns *v, unsigned int off);

#endif /* VRDMA_VU_TAP_H */
