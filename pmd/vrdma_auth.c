/* SPDX-License-Identifier: BSD-3-Clause */
/* net_vrdma peer authentication: key file, messages, MAC (vrdma_auth.h). */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "vrdma_auth.h"

static const uint8_t magic[4] = {'V', 'R', 'A', 'U'};
#define VERSION 1
/* What the MAC covers before the role and the nonces. */
static const char label[] = "vrdma-auth-v1";

static int __attribute__((format(printf, 4, 5)))
refuse(int ret, char *err, size_t err_len, const char *fmt, ...)
{
	if (err != NULL && err_len > 0) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return ret;
}

#define MAKE_KEY "make one with: openssl rand -hex 32 > %s; chmod 600 %s"

int
vrdma_auth_load_key(const char *path, struct vrdma_auth_key *key, char *err,
		    size_t err_len)
{
	uint8_t buf[VRDMA_AUTH_KEY_MAX + 2];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, e;

	memset(key, 0, sizeof(*key));
	if (path[0] != '/')
		return refuse(-EINVAL, err, err_len,
			      "keyfile=%s: not an absolute path", path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		e = errno;
		if (e == ENOENT)
			return refuse(-e, err, err_len,
				      "keyfile=%s: no such file; " MAKE_KEY,
				      path, path, path);
		return refuse(-e, err, err_len, "keyfile=%s: %s", path,
			      strerror(e));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return refuse(-EINVAL, err, err_len,
			      "keyfile=%s: not a regular file", path);
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		return refuse(-EPERM, err, err_len,
			      "keyfile=%s: group or others may read it (mode "
			      "%03o); the key is a secret: chmod 600 %s",
			      path, (unsigned int)(st.st_mode & 0777), path);
	}
	n = read(fd, buf, sizeof(buf));
	e = errno;
	close(fd);
	if (n < 0)
		return refuse(-e, err, err_len, "keyfile=%s: %s", path,
			      strerror(e));
	len = (size_t)n;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
			   buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	if (len > VRDMA_AUTH_KEY_MAX)
		return refuse(-EINVAL, err, err_len,
			      "keyfile=%s: longer than %d bytes", path,
			      VRDMA_AUTH_KEY_MAX);
	if (len < VRDMA_AUTH_KEY_MIN)
		return refuse(-EINVAL, err, err_len,
			      "keyfile=%s: %zu characters, at least %d "
			      "needed; " MAKE_KEY,
			      path, len, VRDMA_AUTH_KEY_MIN, path, path);
	memcpy(key->bytes, buf, len);
	key->len = len;
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

void
vrdma_auth_mac(const struct vrdma_auth_key *key, char role, const uint8_t *nc,
	       const uint8_t *ns, uint8_t *mac)
{
	uint8_t msg[sizeof(label) + 1 + 2 * VRDMA_AUTH_NONCE_LEN];
	unsigned int mac_len = VRDMA_AUTH_MAC_LEN;

	memcpy(msg, label, sizeof(label));
	msg[sizeof(label)] = (uint8_t)role;
	memcpy(msg + sizeof(label) + 1, nc, VRDMA_AUTH_NONCE_LEN);
	memcpy(msg + sizeof(label) + 1 + VRDMA_AUTH_NONCE_LEN, ns,
	       VRDMA_AUTH_NONCE_LEN);
	if (HMAC(EVP_sha256(), key->bytes, (int)key->len, msg, sizeof(msg), mac,
		 &mac_len) == NULL)
		/* Never matches a MAC computed by a working peer. */
		memset(mac, 0, VRDMA_AUTH_MAC_LEN);
}

bool
vrdma_auth_verify(const struct vrdma_auth_key *key, char role,
		  const uint8_t *nc, const uint8_t *ns, const uint8_t *mac)
{
	uint8_t want[VRDMA_AUTH_MAC_LEN];
	static const uint8_t zero[VRDMA_AUTH_MAC_LEN];

	vrdma_auth_mac(key, role, nc, ns, want);
	return CRYPTO_memcmp(want, zero, sizeof(want)) != 0 &&
	       CRYPTO_memcmp(want, mac, sizeof(want)) == 0;
}

int
vrdma_auth_nonce(uint8_t *nonce)
{
	return RAND_bytes(nonce, VRDMA_AUTH_NONCE_LEN) == 1 ? 0 : -EIO;
}

void
vrdma_auth_encode(uint8_t *buf, const struct vrdma_auth_msg *m)
{
	memcpy(buf, magic, sizeof(magic));
	buf[4] = VERSION;
	buf[5] = (uint8_t)m->type;
	buf[6] = 0;
	buf[7] = 0;
	memcpy(buf + 8, m->nc, VRDMA_AUTH_NONCE_LEN);
	memcpy(buf + 8 + VRDMA_AUTH_NONCE_LEN, m->ns, VRDMA_AUTH_NONCE_LEN);
	memcpy(buf + 8 + 2 * VRDMA_AUTH_NONCE_LEN, m->mac, VRDMA_AUTH_MAC_LEN);
}

int
vrdma_auth_decode(struct vrdma_auth_msg *m, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (len != VRDMA_AUTH_MSG_LEN || memcmp(p, magic, sizeof(magic)) != 0 ||
	    p[4] != VERSION || p[6] != 0 || p[7] != 0)
		return -EBADMSG;
	if (p[5] < VRDMA_AUTH_HELLO || p[5] > VRDMA_AUTH_WELCOME)
		return -EBADMSG;
	m->type = (enum vrdma_auth_type)p[5];
	memcpy(m->nc, p + 8, VRDMA_AUTH_NONCE_LEN);
	memcpy(m->ns, p + 8 + VRDMA_AUTH_NONCE_LEN, VRDMA_AUTH_NONCE_LEN);
	memcpy(m->mac, p + 8 + 2 * VRDMA_AUTH_NONCE_LEN, VRDMA_AUTH_MAC_LEN);
	return 0;
}
