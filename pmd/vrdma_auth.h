/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vrdma peer authentication: an address on the fabric is not enough to
 * be a peer. Ports that share a secret key (devargs keyfile=PATH, the
 * node's [fabric] keyfile) prove it to each other on every new connection
 * before any frame is accepted, by a challenge and response over the
 * connection itself (UCX active messages, vrdma_fabric.c):
 *
 *   client (out_ep)                          server (in_ep)
 *   HELLO     nc                        ->
 *                                       <-   CHALLENGE nc ns MAC(k,'s',nc,ns)
 *   PROOF     nc ns MAC(k,'c',nc,ns)    ->
 *                                       <-   WELCOME   nc ns
 *
 * nc and ns are fresh random nonces, MAC is HMAC-SHA-256 over a fixed
 * label, the role byte and both nonces. Each side checks the other's MAC
 * against its own nonce, so neither a replayed nor a reflected message
 * passes, and each side learns that the other holds the key. The key never
 * travels. WELCOME tells the client that its proof was accepted: only then
 * does it send frames, which the server would drop before. This file holds
 * the pure parts (key file, messages, MAC), unit tested in
 * tests/unit/test_auth.c; OpenSSL's libcrypto does the cryptography.
 */

#ifndef VRDMA_AUTH_H
#define VRDMA_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VRDMA_AUTH_NONCE_LEN 16
#define VRDMA_AUTH_MAC_LEN   32 /* HMAC-SHA-256 */
#define VRDMA_AUTH_KEY_MIN   16 /* characters of a key file, at least */
#define VRDMA_AUTH_KEY_MAX   256
/* "VRAU", version, type, two reserved zero bytes, nonces, MAC. */
#define VRDMA_AUTH_MSG_LEN (8 + 2 * VRDMA_AUTH_NONCE_LEN + VRDMA_AUTH_MAC_LEN)

enum vrdma_auth_type {
	VRDMA_AUTH_NONE = 0,	  /* not a message: nothing to send, await */
	VRDMA_AUTH_HELLO = 1,	  /* client -> server: nc */
	VRDMA_AUTH_CHALLENGE = 2, /* server -> client: nc ns mac_s */
	VRDMA_AUTH_PROOF = 3,	  /* client -> server: nc ns mac_c */
	VRDMA_AUTH_WELCOME = 4,	  /* server -> client: nc ns */
};

struct vrdma_auth_msg {
	enum vrdma_auth_type type;
	uint8_t nc[VRDMA_AUTH_NONCE_LEN];
	uint8_t ns[VRDMA_AUTH_NONCE_LEN];
	uint8_t mac[VRDMA_AUTH_MAC_LEN]; /* zero in HELLO and WELCOME */
};

struct vrdma_auth_key {
	uint8_t bytes[VRDMA_AUTH_KEY_MAX];
	size_t len; /* 0: no key, peers are trusted by address alone */
};

/*
 * Reads the key from path: the file's bytes with trailing white space
 * removed, VRDMA_AUTH_KEY_MIN to VRDMA_AUTH_KEY_MAX of them (a line of
 * `openssl rand -hex 32` is 64). Refused: a path that is not absolute, a
 * missing or unreadable file, not a regular file, one that users other than
 * its owner may read (a shared secret that anyone on the host can read is
 * no secret), too short or too long. On error returns -errno and writes one
 * line into err naming the file, the problem and the fix.
 */
int vrdma_auth_load_key(const char *path, struct vrdma_auth_key *key, char *err,
			size_t err_len);

/* The MAC of role ('s' server, 'c' client) over the two nonces. */
void vrdma_auth_mac(const struct vrdma_auth_key *key, char role,
		    const uint8_t *nc, const uint8_t *ns, uint8_t *mac);

/* True if mac is role's MAC over nc and ns (constant time). */
bool vrdma_auth_verify(const struct vrdma_auth_key *key, char role,
		       const uint8_t *nc, const uint8_t *ns,
		       const uint8_t *mac);

/* A fresh random nonce; 0 or -EIO if the system has no randomness. */
int vrdma_auth_nonce(uint8_t *nonce);

/* Writes m into buf (VRDMA_AUTH_MSG_LEN bytes). */
void vrdma_auth_encode(uint8_t *buf, const struct vrdma_auth_msg *m);

/*
 * Reads a message of len bytes from buf into *m: 0, or -EBADMSG for a
 * wrong length, magic, version, type or non-zero reserved bytes.
 */
int vrdma_auth_decode(struct vrdma_auth_msg *m, const void *buf, size_t len);

#endif /* VRDMA_AUTH_H */
