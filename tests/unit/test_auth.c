/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of peer authentication (pmd/vrdma_auth.c): the key file's
 * checks and their messages, the message format against garbage, and the
 * MAC: a peer with the key passes, one with another key, a replayed or a
 * reflected message does not. The exchange over UCX is tested in
 * tests/system/test_fabric.py.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vrdma_auth.h"

static char dir[] = "/tmp/vrdma-test-auth-XXXXXX";
static char path[256];
static char err[512];

static void
write_key(const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/fabric.key", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void
test_key_good(void **state)
{
	struct vrdma_auth_key key;

	(void)state;
	write_key("0123456789abcdef0123456789abcdef\n", 0600);
	assert_int_equal(vrdma_auth_load_key(path, &key, err, sizeof(err)), 0);
	/* The trailing newline is not part of the key. */
	assert_int_equal(key.len, 32);
	assert_memory_equal(key.bytes, "0123456789abcdef", 16);
	write_key("0123456789abcdef", 0400);
	assert_int_equal(vrdma_auth_load_key(path, &key, err, sizeof(err)), 0);
	assert_int_equal(key.len, 16);
}

static void
test_key_refused(void **state)
{
	struct vrdma_auth_key key;

	(void)state;
	unlink(path);
	assert_int_equal(vrdma_auth_load_key(path, &key, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "no such file"));
	assert_non_null(strstr(err, "openssl rand -hex 32 >"));
	assert_int_equal(key.len, 0);

	assert_int_equal(
		vrdma_auth_load_key("fabric.key", &key, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "not an absolute path"));

	write_key("0123456789abcdef0123456789abcdef\n", 0644);
	assert_int_equal(vrdma_auth_load_key(path, &key, err, sizeof(err)),
			 -EPERM);
	assert_non_null(strstr(err, "mode 644"));
	assert_non_null(strstr(err, "chmod 600"));

	write_key("short key\n\n", 0600);
	assert_int_equal(vrdma_auth_load_key(path, &key, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "9 characters, at least 16"));

	assert_int_equal(vrdma_auth_load_key(dir, &key, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));

	{
		char big[VRDMA_AUTH_KEY_MAX + 10];

		memset(big, 'k', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		write_key(big, 0600);
		assert_int_equal(
			vrdma_auth_load_key(path, &key, err, sizeof(err)),
			-EINVAL);
		assert_non_null(strstr(err, "longer than"));
	}
}

static void
key_of(struct vrdma_auth_key *key, const char *text)
{
	memset(key, 0, sizeof(*key));
	key->len = strlen(text);
	memcpy(key->bytes, text, key->len);
}

static void
test_mac(void **state)
{
	struct vrdma_auth_key k1, k2;
	uint8_t nc[VRDMA_AUTH_NONCE_LEN], ns[VRDMA_AUTH_NONCE_LEN];
	uint8_t nc2[VRDMA_AUTH_NONCE_LEN];
	uint8_t mac_s[VRDMA_AUTH_MAC_LEN], mac_c[VRDMA_AUTH_MAC_LEN];

	(void)state;
	key_of(&k1, "the fabric's shared secret");
	key_of(&k2, "another fabric's secret key");
	assert_int_equal(vrdma_auth_nonce(nc), 0);
	assert_int_equal(vrdma_auth_nonce(ns), 0);
	assert_int_equal(vrdma_auth_nonce(nc2), 0);
	assert_memory_not_equal(nc, ns, sizeof(nc));

	vrdma_auth_mac(&k1, 's', nc, ns, mac_s);
	vrdma_auth_mac(&k1, 'c', nc, ns, mac_c);
	/* The holder of the key passes. */
	assert_true(vrdma_auth_verify(&k1, 's', nc, ns, mac_s));
	assert_true(vrdma_auth_verify(&k1, 'c', nc, ns, mac_c));
	/* Another key does not. */
	assert_false(vrdma_auth_verify(&k2, 's', nc, ns, mac_s));
	/* A server's MAC reflected back as the client's does not. */
	assert_memory_not_equal(mac_s, mac_c, sizeof(mac_s));
	assert_false(vrdma_auth_verify(&k1, 'c', nc, ns, mac_s));
	/* A MAC from an earlier exchange (other nonce) does not. */
	assert_false(vrdma_auth_verify(&k1, 's', nc2, ns, mac_s));
	assert_false(vrdma_auth_verify(&k1, 's', ns, nc, mac_s));
	/* One bit off does not. */
	mac_s[VRDMA_AUTH_MAC_LEN - 1] ^= 1;
	assert_false(vrdma_auth_verify(&k1, 's', nc, ns, mac_s));
}

static void
test_messages(void **state)
{
	struct vrdma_auth_msg m = {.type = VRDMA_AUTH_CHALLENGE}, back;
	uint8_t buf[VRDMA_AUTH_MSG_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(m.nc); i++) {
		m.nc[i] = (uint8_t)i;
		m.ns[i] = (uint8_t)(0x80 + i);
	}
	memset(m.mac, 0xab, sizeof(m.mac));
	vrdma_auth_encode(buf, &m);
	assert_int_equal(vrdma_auth_decode(&back, buf, VRDMA_AUTH_MSG_LEN), 0);
	assert_int_equal(back.type, VRDMA_AUTH_CHALLENGE);
	assert_memory_equal(back.nc, m.nc, sizeof(m.nc));
	assert_memory_equal(back.ns, m.ns, sizeof(m.ns));
	assert_memory_equal(back.mac, m.mac, sizeof(m.mac));

	/* Wrong length, magic, version, type, reserved bytes. */
	assert_int_equal(vrdma_auth_decode(&back, buf, VRDMA_AUTH_MSG_LEN - 1),
			 -EBADMSG);
	assert_int_equal(vrdma_auth_decode(&back, buf, VRDMA_AUTH_MSG_LEN + 1),
			 -EBADMSG);
	for (i = 0; i < 8; i++) {
		uint8_t saved = buf[i];

		buf[i] ^= 0x40;
		assert_int_equal(
			vrdma_auth_decode(&back, buf, VRDMA_AUTH_MSG_LEN),
			-EBADMSG);
		buf[i] = saved;
	}
	buf[5] = 0;
	assert_int_equal(vrdma_auth_decode(&back, buf, VRDMA_AUTH_MSG_LEN),
			 -EBADMSG);
	buf[5] = 5;
	assert_int_equal(vrdma_auth_decode(&back, buf, VRDMA_AUTH_MSG_LEN),
			 -EBADMSG);
	/* Random bytes are refused, never misread. */
	srand(1);
	for (i = 0; i < 10000; i++) {
		size_t j;

		for (j = 0; j < VRDMA_AUTH_MSG_LEN; j++)
			buf[j] = (uint8_t)rand();
		assert_int_equal(
			vrdma_auth_decode(&back, buf, VRDMA_AUTH_MSG_LEN),
			-EBADMSG);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_good),
		cmocka_unit_test(test_key_refused),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_messages),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
