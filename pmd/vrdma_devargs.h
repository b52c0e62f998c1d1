/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vrdma devargs: the keys a fabric port takes after its name
 * ("net_vrdma0,listen=IP:PORT,peer=IP:PORT,..."), parsed with DPDK's
 * rte_kvargs into struct vrdma_devargs. Probe (vrdma_ethdev.c) calls
 * vrdma_devargs_parse() and takes no resources when it fails, logging the
 * one-line reason it returns; vrdma_fabric.c uses the parsed addresses to
 * listen, to connect, and to accept only listed peers. One X-macro table
 * holds the keys, their value forms and help, and yields the
 * RTE_PMD_REGISTER_PARAM_STRING text and the usage, so they cannot drift.
 */

#ifndef VRDMA_DEVARGS_H
#define VRDMA_DEVARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Peers one port may list: a full mesh of up to 17 hosts. */
#define VRDMA_MAX_PEERS 16

/*
 * Longest transports list, in UCX's form with its terminating NUL; far above
 * any real UCX_TLS value ("rc_x,ud_x,dc_x,sm,self" is 22).
 */
#define VRDMA_TRANSPORTS_MAX 128

/*
 * DPDK devargs split key=value pairs at ',', so a UCX transports or devices
 * list is written with '+' between names (transports=rc+ud+sm,
 * dev=mlx5_0:1+eth0) and stored with ',' (rc,ud,sm) as UCX_TLS and
 * UCX_NET_DEVICES expect.
 */
#define VRDMA_TRANSPORTS_SEP '+'

/*
 * Longest devices list, in UCX's form with its terminating NUL: room for a
 * few "mlx5_10:1" or 15-character interface names.
 */
#define VRDMA_DEVICES_MAX 128

#define VRDMA_MAC_LEN 6

/* Longest keyfile path, with its terminating NUL. */
#define VRDMA_KEYFILE_MAX 256

/* rndv_thresh=auto (the default): chosen per peer by the transport
 * that carries its frames (vrdma_rxtx.c). */
#define VRDMA_RNDV_THRESH_AUTO UINT32_MAX

/* Attributes of a key in VRDMA_DEVARGS_KEYS. */
#define VRDMA_DEVARG_OPTIONAL 0
#define VRDMA_DEVARG_REQUIRED (1u << 0) /* probe fails without it */
#define VRDMA_DEVARG_REPEAT   (1u << 1) /* may be given several times */

/* Keys: name, attributes, value form (as in "expected name=form"), help. */
#define VRDMA_DEVARGS_KEYS(X)                                                \
	X(listen, VRDMA_DEVARG_REQUIRED, "IP:PORT or [IPv6]:PORT",           \
	  "this port's own fabric address; peers connect to it")             \
	X(peer, VRDMA_DEVARG_REPEAT, "IP:PORT or [IPv6]:PORT",               \
	  "a peer's listen address; connected to, and the only accepted")    \
	X(transports, VRDMA_DEVARG_OPTIONAL, "NAME+NAME+...",                \
	  "UCX transports (UCX_TLS) with '+' for ',', e.g. rc+ud+sm or tcp") \
	X(dev, VRDMA_DEVARG_OPTIONAL, "DEVICE+DEVICE+...",                   \
	  "UCX network devices (UCX_NET_DEVICES) with '+' for ',', e.g. "    \
	  "rxe0:1 or eth0 or mlx5_0:1+eth0")                                 \
	X(mac, VRDMA_DEVARG_OPTIONAL, "xx:xx:xx:xx:xx:xx",                   \
	  "unicast MAC of the port; default derived from listen")            \
	X(keyfile, VRDMA_DEVARG_OPTIONAL, "/ABSOLUTE/PATH",                  \
	  "secret shared by the peers, who prove it on every connection; "   \
	  "default: peers trusted by address alone")                         \
	X(rndv_thresh, VRDMA_DEVARG_OPTIONAL, "BYTES or auto",               \
	  "frames larger than this go by rendezvous (the receiver reads "    \
	  "them into its mbufs, by RDMA on verbs), 0-65535; default auto: "  \
	  "16384 to a peer whose frames ride verbs, else every frame eager")

/* One key of VRDMA_DEVARGS_PARAM_STRING. */
#define VRDMA_DEVARG_PARAM_(name, attr, form, help) #name "=<" form "> "

/* For RTE_PMD_REGISTER_PARAM_STRING(net_vrdma, VRDMA_DEVARGS_PARAM_STRING). */
#define VRDMA_DEVARGS_PARAM_STRING VRDMA_DEVARGS_KEYS(VRDMA_DEVARG_PARAM_)

/* A fabric port's configuration, as parsed from its devargs. */
struct vrdma_devargs {
	struct sockaddr_storage listen; /* AF_INET or AF_INET6, port set */
	struct sockaddr_storage peers[VRDMA_MAX_PEERS]; /* in devargs order */
	unsigned int n_peers;				/* 0..VRDMA_MAX_PEERS */
	char transports[VRDMA_TRANSPORTS_MAX]; /* UCX form; "" = UCX default */
	char devices[VRDMA_DEVICES_MAX];       /* UCX form; "" = UCX default */
	uint8_t mac[VRDMA_MAC_LEN];	       /* given, or derived */
	bool mac_given;			       /* mac came from mac= */
	char keyfile[VRDMA_KEYFILE_MAX];       /* "" = no authentication */
	uint32_t rndv_thresh; /* frames larger go by rendezvous, or AUTO */
};

/*
 * Parses args (the devargs after the device name; NULL or "" is allowed and
 * fails for want of listen) into *da. On error returns -EINVAL and writes one
 * line into err (if err_len > 0) naming the key, the value, the problem and
 * the expected form, e.g. "peer=10.0.0.300:7000: malformed address; expected
 * peer=IP:PORT or [IPv6]:PORT". *da is only meaningful after success.
 *
 * Checked: unknown keys, keys without a value, a required key missing, a
 * non-repeatable key repeated, malformed addresses (IPv4 a.b.c.d:port, IPv6
 * [addr]:port, port 1-65535; no host names, no IPv6 scope ids), the
 * unspecified or a multicast address, peer equal to listen, two peers with
 * one address, more than VRDMA_MAX_PEERS peers, a malformed, multicast or
 * all-zero mac, a transports list with characters other than [A-Za-z0-9_],
 * '+' and a leading '^' (UCX's "all but"), an empty name, or too long; a
 * dev list with characters other than [A-Za-z0-9_.:-] and '+' (UCX 1.13
 * takes no '^' there), an empty name, or too long; a keyfile that is not
 * an absolute path or is too long (the file itself is read at probe, see
 * vrdma_auth.h).
 *
 * Two peers may not share an address because an incoming connection is
 * matched to its peer by address alone (see vrdma_devargs_find_peer()).
 *
 * Without mac=, the MAC is derived from listen so it is stable across
 * restarts and distinct between hosts: the 64-bit FNV-1a hash (offset basis
 * 0xcbf29ce484222325, prime 0x100000001b3) of the bytes: 4 or 6 (address
 * family), the address (4 or 16 bytes, network order), the port (2 bytes,
 * network order); MAC byte i is hash byte i counted from the least
 * significant, then byte 0 gets the locally administered bit (0x02) set
 * and the multicast bit (0x01) cleared.
 */
int vrdma_devargs_parse(const char *args, struct vrdma_devargs *da, char *err,
			size_t err_len);

/*
 * Index of the listed peer whose address equals addr's (AF_INET or
 * AF_INET6, an IPv4-mapped IPv6 address counting as its IPv4 address), or
 * -ENOENT. Ports are not compared: a connecting peer's source port is
 * ephemeral, not the port it listens on. addr must point to storage of its
 * family's size (a struct sockaddr_storage always is).
 */
int vrdma_devargs_find_peer(const struct vrdma_devargs *da,
			    const struct sockaddr *addr);

/*
 * Writes "a.b.c.d:port" or "[v6addr]:port" for logs and messages. Returns 0,
 * -EAFNOSUPPORT for another family, -ENOSPC if len is too small (buf then
 * holds a truncated string if len > 0).
 */
int vrdma_devargs_format_addr(const struct sockaddr_storage *ss, char *buf,
			      size_t len);

/*
 * Writes the usage, one "key=FORM  help" line per key, from the key table.
 * Returns what snprintf would: the length of the full text.
 */
int vrdma_devargs_usage(char *buf, size_t len);

#endif /* VRDMA_DEVARGS_H */
