/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vhost-user connection of vrdma-vhost-ns (vu_ctl.c): shared memory,
 * handshake and socket life cycle. vhost_ns.c calls these from its event
 * loop; a data path error also ends here, in vrdma_vu_ctl_disconnect.
 */
#ifndef VRDMA_VU_CTL_H
#define VRDMA_VU_CTL_H

#include "vhost_ns.h"

/* The default deadline for one whole reply of the switch (reply_ms). */
#define VRDMA_VU_CTL_REPLY_MS 5000

/* Create and map the shared memory for every queue pair and place their
 * rings in it. Returns 0 or -1 (logged). */
int vrdma_vu_ctl_mem_create(struct vrdma_vns *v);

/* Listen on --socket (server mode), removing a stale socket of a crashed
 * process but not a live one. Returns 0 or -1 (logged). */
int vrdma_vu_ctl_listen(struct vrdma_vns *v);

/* Accept the switch's connection (server mode) and shake hands; a second
 * connection is refused. */
void vrdma_vu_ctl_accept(struct vrdma_vns *v);

/* Connect to --socket (client mode) and shake hands; retried from the
 * timer while the switch is not there. */
void vrdma_vu_ctl_connect(struct vrdma_vns *v);

/* Shake hands with the switch on the connected socket sock, which is the
 * connection's from now on; on success the carrier goes up and the rings
 * run, on failure the connection ends (vrdma_vu_ctl_disconnect). */
void vrdma_vu_ctl_attach(struct vrdma_vns *v, int sock);

/* End the connection, saying why; a client retries with back-off. */
void vrdma_vu_ctl_disconnect(struct vrdma_vns *v, const char *why);

/* Log every queue pair's counters. */
void vrdma_vu_ctl_print_stats(const struct vrdma_vns *v);

#endif /* VRDMA_VU_CTL_H */
