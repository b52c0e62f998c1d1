/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vrdma's knowledge of UCX transport names: the families of
 * transports a port can name in its transports list and report per peer
 * (the xstats peer<i>_via_<family>), which of them a UCX_TLS list can use,
 * and which an endpoint's lanes use, read from the text UCX 1.13 prints
 * for an endpoint (ucp_ep_print_info: UCX 1.13's ucp_ep_query has no
 * transports field). Pure C, so the unit tests run it on UCX's text;
 * vrdma_fabric.c prints the endpoint into memory and calls the parser once
 * a connection is wired up, and picks its environment settings with
 * vrdma_tl_list_names().
 */

#ifndef VRDMA_TL_H
#define VRDMA_TL_H

#include <stdbool.h>
#include <stddef.h>

/* Families: name (as in the xstats), UCX transports it covers. */
#define VRDMA_TL_FAMILIES(X)                 \
	X(rc, "RC verbs: rc_verbs, rc_mlx5") \
	X(ud, "UD verbs: ud_verbs, ud_mlx5") \
	X(dc, "DC verbs: dc_mlx5")           \
	X(tcp, "tcp sockets: tcp")           \
	X(sm, "shared memory: posix, sysv, xpmem, cma, knem")

enum vrdma_tl_family {
#define X(name, help) VRDMA_TL_##name,
	VRDMA_TL_FAMILIES(X)
#undef X
	/* clang-format off: it would indent this as a continuation. */
	VRDMA_TL_MAX
	/* clang-format on */
};

/* Name of a family ("rc"), or "?" out of range. */
const char *vrdma_tl_family_name(unsigned int family);

/*
 * The family of UCX transport tl_name (len bytes, "rc_verbs"), or -1 for
 * one outside the families (self, cuda_copy, ...).
 */
int vrdma_tl_family_of(const char *tl_name, size_t len);

/*
 * Whether a transports list in UCX's form (names joined by ',', as in
 * struct vrdma_devargs) names one of names (NULL-terminated) or "all".
 * "" (UCX's default) and a "^" list ("all but") count as naming every
 * transport: which survive is UCX's to work out from its aliases.
 */
bool vrdma_tl_list_names(const char *list, const char *const *names);

/* Room for the lanes' "tl/dev" names in struct vrdma_tl_lanes. */
#define VRDMA_TL_SUMMARY_MAX 128

/* What a family does for an endpoint: bits of vrdma_tl_lanes.roles[]. */
#define VRDMA_TL_ROLE_AM    1u /* the active-message lane: every frame */
#define VRDMA_TL_ROLE_OTHER 2u /* another lane: rendezvous, wireup, ... */

/* What an endpoint's lanes use. */
struct vrdma_tl_lanes {
	unsigned int roles[VRDMA_TL_MAX]; /* VRDMA_TL_ROLE_* per family */
	unsigned int n_lanes; /* transport lanes (not the cm lane) */
	/* Each distinct "tl/dev" once, the active-message lane's first,
	 * the others in parentheses: "rc_verbs/rxe0:1", "sysv/memory (+
	 * tcp/lo, tcp/eth0)"; "..." where it was cut short. */
	char summary[VRDMA_TL_SUMMARY_MAX];
};

/*
 * Reads the lane lines of ucp_ep_print_info()'s text (NUL-terminated),
 * such as "#   lane[0]:  2:rc_verbs/rxe0:1.0 md[2] -> md[2]/ib/sysdev[255]
 * rma_bw#0 am am_bw#0 keepalive" (UCX 1.13, ucp_ep.c
 * ucp_ep_config_lane_info_str); "lane[1]: cm rdmacm" lines (connection
 * management) are skipped, as are lines it cannot read. Returns 0, or
 * -ENOENT when no transport lane was found (*out then says so: no
 * families, summary "none").
 */
int vrdma_tl_lanes_parse(const char *text, struct vrdma_tl_lanes *out);

#endif /* VRDMA_TL_H */
