/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of net_vrdma devargs parsing (pmd/vrdma_devargs.c) through the
 * real rte_kvargs: good strings and what they parse to, the derived MAC
 * against golden values computed independently (Python, FNV-1a as
 * documented in vrdma_devargs.h), every refusal with its errno and an error
 * line that names the key and the expected form, peer matching by address,
 * address formatting, and the usage text from the key table.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <cmocka.h>
#include <rte_kvargs.h>

#include "vrdma_devargs.h"

#define ERR_LEN 256

static struct vrdma_devargs da;
static char err[ERR_LEN];

static void
assert_v4(const struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	struct in_addr want;

	assert_int_equal(ss->ss_family, AF_INET);
	assert_int_equal(inet_pton(AF_INET, addr, &want), 1);
	assert_int_equal(sin->sin_addr.s_addr, want.s_addr);
	assert_int_equal(ntohs(sin->sin_port), port);
}

static void
assert_v6(const struct sockaddr_storage *ss, const char *addr, uint16_t port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct in6_addr want;

	assert_int_equal(ss->ss_family, AF_INET6);
	assert_int_equal(inet_pton(AF_INET6, addr, &want), 1);
	assert_memory_equal(&sin6->sin6_addr, &want, sizeof(want));
	assert_int_equal(ntohs(sin6->sin6_port), port);
}

static void
assert_mac(const uint8_t *mac, const char *want)
{
	char s[18];

	snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	assert_string_equal(s, want);
}

static void
parse_ok(const char *args)
{
	int ret = vrdma_devargs_parse(args, &da, err, sizeof(err));

	if (ret != 0)
		fail_msg("\"%s\" refused: %s", args, err);
	assert_string_equal(err, "");
}

static void
test_minimal(void **state)
{
	(void)state;
	parse_ok("listen=198.18.0.1:7000");
	assert_v4(&da.listen, "198.18.0.1", 7000);
	assert_int_equal(da.n_peers, 0);
	assert_string_equal(da.transports, "");
	assert_string_equal(da.devices, "");
	assert_false(da.mac_given);
	/* Golden value of the documented derivation. */
	assert_mac(da.mac, "96:71:ff:95:d6:25");
}

static void
test_full_ipv4(void **state)
{
	(void)state;
	parse_ok("listen=198.18.0.1:7000,peer=198.18.0.2:7000,"
		 "peer=198.18.0.3:7001,transports=rc+ud+sm,"
		 "mac=02:AB:cd:00:00:01");
	assert_v4(&da.listen, "198.18.0.1", 7000);
	assert_int_equal(da.n_peers, 2);
	assert_v4(&da.peers[0], "198.18.0.2", 7000);
	assert_v4(&da.peers[1], "198.18.0.3", 7001);
	/* '+' in devargs, ',' for UCX. */
	assert_string_equal(da.transports, "rc,ud,sm");
	assert_true(da.mac_given);
	assert_mac(da.mac, "02:ab:cd:00:00:01");
}

static void
test_ipv6(void **state)
{
	(void)state;
	parse_ok("peer=[2001:db8::2]:1,listen=[2001:db8::1]:7000,"
		 "peer=[::ffff:198.18.0.9]:65535,peer=198.18.0.1:7000");
	assert_v6(&da.listen, "2001:db8::1", 7000);
	assert_int_equal(da.n_peers, 3);
	assert_v6(&da.peers[0], "2001:db8::2", 1);
	/* An IPv4-mapped address is kept as the IPv4 address. */
	assert_v4(&da.peers[1], "198.18.0.9", 65535);
	assert_v4(&da.peers[2], "198.18.0.1", 7000);
	assert_mac(da.mac, "ca:cf:e7:25:3d:fe");
}

static void
test_transports_forms(void **state)
{
	(void)state;
	parse_ok("listen=198.18.0.1:7000,transports=tcp");
	assert_string_equal(da.transports, "tcp");
	parse_ok("listen=198.18.0.1:7000,transports=^ud+rc_x");
	assert_string_equal(da.transports, "^ud,rc_x");
	parse_ok("listen=198.18.0.1:7000,transports=sm+self+cma+Rc_Mlx5");
	assert_string_equal(da.transports, "sm,self,cma,Rc_Mlx5");
}

static void
test_dev_forms(void **state)
{
	(void)state;
	/* A verbs device and port, as UCX names it. */
	parse_ok("listen=198.18.0.1:7000,transports=rc,dev=rxe0:1");
	assert_string_equal(da.devices, "rxe0:1");
	assert_string_equal(da.transports, "rc");
	/* tcp's devices are interfaces, with VLAN dots and dashes. */
	parse_ok("listen=198.18.0.1:7000,dev=eth0");
	assert_string_equal(da.devices, "eth0");
	parse_ok("listen=198.18.0.1:7000,dev=veth-a.100");
	assert_string_equal(da.devices, "veth-a.100");
	/* '+' in devargs, ',' for UCX_NET_DEVICES; any key order. */
	parse_ok("dev=mlx5_0:1+rxe0:1+eth0,listen=198.18.0.1:7000");
	assert_string_equal(da.devices, "mlx5_0:1,rxe0:1,eth0");
	assert_string_equal(da.transports, "");
}

static void
test_keyfile(void **state)
{
	(void)state;
	parse_ok("listen=198.18.0.1:7000");
	assert_string_equal(da.keyfile, "");
	parse_ok("listen=198.18.0.1:7000,keyfile=/etc/vrdma/fabric.key");
	assert_string_equal(da.keyfile, "/etc/vrdma/fabric.key");
}

static void
test_rndv_thresh(void **state)
{
	(void)state;
	parse_ok("listen=198.18.0.1:7000");
	assert_int_equal(da.rndv_thresh, VRDMA_RNDV_THRESH_AUTO);
	parse_ok("listen=198.18.0.1:7000,rndv_thresh=auto");
	assert_int_equal(da.rndv_thresh, VRDMA_RNDV_THRESH_AUTO);
	parse_ok("listen=198.18.0.1:7000,rndv_thresh=4096");
	assert_int_equal(da.rndv_thresh, 4096);
	parse_ok("rndv_thresh=0,listen=198.18.0.1:7000");
	assert_int_equal(da.rndv_thresh, 0);
	parse_ok("listen=198.18.0.1:7000,rndv_thresh=65535");
	assert_int_equal(da.rndv_thresh, 65535);
}

static void
test_derived_mac(void **state)
{
	uint8_t first[VRDMA_MAC_LEN];

	(void)state;
	parse_ok("listen=198.18.0.2:7000");
	assert_mac(da.mac, "26:98:e0:a4:d6:9a");
	memcpy(first, da.mac, sizeof(first));
	/* Stable: the same listen gives the same MAC. */
	parse_ok("peer=198.18.0.1:7000,listen=198.18.0.2:7000");
	assert_memory_equal(first, da.mac, sizeof(first));
	/* Locally administered unicast, and the port counts. */
	assert_int_equal(da.mac[0] & 0x03, 0x02);
	parse_ok("listen=198.18.0.2:7001");
	assert_memory_not_equal(first, da.mac, sizeof(first));
	assert_int_equal(da.mac[0] & 0x03, 0x02);
}

static void
test_max_peers(void **state)
{
	char args[1024];
	size_t off;
	int i;

	(void)state;
	off = (size_t)snprintf(args, sizeof(args), "listen=198.18.0.1:7000");
	for (i = 0; i < VRDMA_MAX_PEERS; i++)
		off += (size_t)snprintf(args + off, sizeof(args) - off,
					",peer=198.18.1.%d:7000", i + 1);
	parse_ok(args);
	assert_int_equal(da.n_peers, VRDMA_MAX_PEERS);
	assert_v4(&da.peers[VRDMA_MAX_PEERS - 1], "198.18.1.16", 7000);

	snprintf(args + off, sizeof(args) - off, ",peer=198.18.1.99:7000");
	assert_int_equal(vrdma_devargs_parse(args, &da, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "peer=198.18.1.99:7000: too many peers (at "
				 "most 16); expected peer=IP:PORT or "
				 "[IPv6]:PORT");
	/* Nothing half-parsed is left behind. */
	assert_int_equal(da.n_peers, 0);
}

struct bad_case {
	const char *args;
	const char *prefix; /* the line starts with this: key, value */
	const char *problem;
};

#define L	    "listen=198.18.0.1:7000,"
#define EXPECT_ADDR "IP:PORT or [IPv6]:PORT"
#define K10	    "kkkkkkkkkk"
#define K100	    K10 K10 K10 K10 K10 K10 K10 K10 K10 K10
#define K300	    K100 K100 K100

static const struct bad_case bad_cases[] = {
	{"", "listen: ", "missing (required)"},
	{"peer=198.18.0.2:7000", "listen: ", "missing (required)"},
	{L "foo=bar", "foo=bar: ", "unknown key"},
	{L "Listen=198.18.0.1:7001", "Listen=198.18.0.1:7001: ", "unknown key"},
	{L "peer", "peer: ", "missing value"},
	{"listen=", "listen: ", "missing value"},
	{L "keyfile=fabric.key",
	 "keyfile=fabric.key: ", "not an absolute path"},
	{L "keyfile=/a" K300, "keyfile=/a", "longer than 255 characters"},
	{L "keyfile=/a,keyfile=/b", "keyfile=/b: ", "given more than once"},
	{L "mac=", "mac: ", "missing value"},
	{L "listen=198.18.0.1:7001",
	 "listen=198.18.0.1:7001: ", "given more than once"},
	{L "mac=02:00:00:00:00:01,mac=02:00:00:00:00:02",
	 "mac=02:00:00:00:00:02: ", "given more than once"},
	{L "transports=tcp,transports=sm",
	 "transports=sm: ", "given more than once"},
	{L "dev=", "dev: ", "missing value"},
	{L "dev", "dev: ", "missing value"},
	{L "dev=eth0,dev=eth1", "dev=eth1: ", "given more than once"},
	{L "Dev=eth0", "Dev=eth0: ", "unknown key"},
	{"listen=10.0.0.300:7000",
	 "listen=10.0.0.300:7000: ", "malformed address"},
	{L "peer=10.0.0.300:7000",
	 "peer=10.0.0.300:7000: ", "malformed address"},
	{L "peer=198.18.0.2", "peer=198.18.0.2: ", "missing port"},
	{L "peer=198.18.0.2:", "peer=198.18.0.2:: ", "malformed port"},
	{L "peer=198.18.0.2:0", "peer=198.18.0.2:0: ", "malformed port"},
	{L "peer=198.18.0.2:65536",
	 "peer=198.18.0.2:65536: ", "malformed port"},
	{L "peer=198.18.0.2:123456",
	 "peer=198.18.0.2:123456: ", "malformed port"},
	{L "peer=198.18.0.2:+80", "peer=198.18.0.2:+80: ", "malformed port"},
	{L "peer=198.18.0.2:0x50", "peer=198.18.0.2:0x50: ", "malformed port"},
	{L "peer=198.18.0.2:80 ", "peer=198.18.0.2:80 : ", "malformed port"},
	{L "peer=host.example:7000",
	 "peer=host.example:7000: ", "malformed address"},
	{L "peer=:7000", "peer=:7000: ", "malformed address"},
	{L "peer=198.18.0:7000", "peer=198.18.0:7000: ", "malformed address"},
	{L "peer=2001:db8::2:7000",
	 "peer=2001:db8::2:7000: ", "malformed address (IPv6 goes in [])"},
	{L "peer=[2001:db8::2:7000",
	 "peer=[2001:db8::2:7000: ", "malformed address (no closing ']')"},
	{L "peer=[2001:db8::2]7000",
	 "peer=[2001:db8::2]7000: ", "missing port"},
	{L "peer=[2001:db8::2]", "peer=[2001:db8::2]: ", "missing port"},
	{L "peer=[]:7000", "peer=[]:7000: ", "malformed address"},
	{L "peer=[2001:zz8::2]:7000",
	 "peer=[2001:zz8::2]:7000: ", "malformed address"},
	{L "peer=[198.18.0.2]:7000",
	 "peer=[198.18.0.2]:7000: ", "malformed address"},
	{L "peer=[fe80::1%eth0]:7000",
	 "peer=[fe80::1%eth0]:7000: ", "malformed address"},
	{L "peer=0.0.0.0:7000", "peer=0.0.0.0:7000: ", "not a host address"},
	{"listen=0.0.0.0:7000", "listen=0.0.0.0:7000: ", "not a host address"},
	{L "peer=224.0.0.1:7000",
	 "peer=224.0.0.1:7000: ", "not a host address"},
	{L "peer=255.255.255.255:7000",
	 "peer=255.255.255.255:7000: ", "not a host address"},
	{L "peer=[::]:7000", "peer=[::]:7000: ", "not a host address"},
	{L "peer=[ff02::1]:7000",
	 "peer=[ff02::1]:7000: ", "not a host address"},
	{L "peer=198.18.0.1:7000", "peer=198.18.0.1:7000: ", "equals listen"},
	{L "peer=[::ffff:198.18.0.1]:7000",
	 "peer=[::ffff:198.18.0.1]:7000: ", "equals listen"},
	{L "peer=198.18.0.2:7000,peer=198.18.0.2:7000",
	 "peer=198.18.0.2:7000: ", "duplicate peer address"},
	{L "peer=198.18.0.2:7000,peer=198.18.0.2:7001",
	 "peer=198.18.0.2:7001: ", "duplicate peer address"},
	{L "peer=198.18.0.2:7000,peer=[::ffff:198.18.0.2]:7000",
	 "peer=[::ffff:198.18.0.2]:7000: ", "duplicate peer address"},
	{L "peer=[2001:db8::2]:7000,peer=[2001:db8:0::2]:7001",
	 "peer=[2001:db8:0::2]:7001: ", "duplicate peer address"},
	{L "mac=02:00:00:00:00", "mac=02:00:00:00:00: ", "malformed MAC"},
	{L "mac=02:00:00:00:00:001",
	 "mac=02:00:00:00:00:001: ", "malformed MAC"},
	{L "mac=02:00:00:00:00:0g", "mac=02:00:00:00:00:0g: ", "malformed MAC"},
	{L "mac=02-00-00-00-00-01", "mac=02-00-00-00-00-01: ", "malformed MAC"},
	{L "mac=2:0:0:0:0:1:00000", "mac=2:0:0:0:0:1:00000: ", "malformed MAC"},
	{L "mac=01:00:5e:00:00:01", "mac=01:00:5e:00:00:01: ", "multicast MAC"},
	{L "mac=ff:ff:ff:ff:ff:ff", "mac=ff:ff:ff:ff:ff:ff: ", "multicast MAC"},
	{L "mac=00:00:00:00:00:00", "mac=00:00:00:00:00:00: ", "all-zero MAC"},
	{L "transports=rc+", "transports=rc+: ", "empty transport name"},
	{L "transports=+rc", "transports=+rc: ", "empty transport name"},
	{L "transports=rc++ud", "transports=rc++ud: ", "empty transport name"},
	{L "transports=^", "transports=^: ", "empty transport name"},
	{L "transports=rc:ud", "transports=rc:ud: ", "invalid character"},
	{L "transports=rc ud", "transports=rc ud: ", "invalid character"},
	{L "transports=rc^ud", "transports=rc^ud: ", "invalid character"},
	{L "transports=[rc,ud]", "transports=[rc,ud]: ", "invalid character"},
	{L "dev=rxe0:1+", "dev=rxe0:1+: ", "empty device name"},
	{L "dev=+eth0", "dev=+eth0: ", "empty device name"},
	{L "dev=eth0++eth1", "dev=eth0++eth1: ", "empty device name"},
	{L "dev=+", "dev=+: ", "empty device name"},
	/* UCX 1.13 takes no "all but" list of devices. */
	{L "dev=^eth0", "dev=^eth0: ", "invalid character"},
	{L "dev=eth0 ", "dev=eth0 : ", "invalid character"},
	{L "dev=eth/0", "dev=eth/0: ", "invalid character"},
	{L "dev=rxe0;1", "dev=rxe0;1: ", "invalid character"},
	{L "dev=\"eth0\"", "dev=\"eth0\": ", "invalid character"},
	{L "rndv_thresh=65536", "rndv_thresh=65536: ", "not 0-65535 or auto"},
	{L "rndv_thresh=-1", "rndv_thresh=-1: ", "not 0-65535 or auto"},
	{L "rndv_thresh=0x100", "rndv_thresh=0x100: ", "not 0-65535 or auto"},
	{L "rndv_thresh=4k", "rndv_thresh=4k: ", "not 0-65535 or auto"},
	{L "rndv_thresh=AUTO", "rndv_thresh=AUTO: ", "not 0-65535 or auto"},
	{L "rndv_thresh=1,rndv_thresh=2",
	 "rndv_thresh=2: ", "given more than once"},
};

static const char *
expected_form(const char *key)
{
	if (strcmp(key, "listen") == 0 || strcmp(key, "peer") == 0)
		return EXPECT_ADDR;
	if (strcmp(key, "mac") == 0)
		return "xx:xx:xx:xx:xx:xx";
	if (strcmp(key, "transports") == 0)
		return "NAME+NAME+...";
	if (strcmp(key, "dev") == 0)
		return "DEVICE+DEVICE+...";
	if (strcmp(key, "keyfile") == 0)
		return "/ABSOLUTE/PATH";
	if (strcmp(key, "rndv_thresh") == 0)
		return "BYTES or auto";
	return NULL;
}

static void
test_refusals(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		char key[32];
		char want[128];
		const char *form;
		size_t key_len = strcspn(c->prefix, "=:");
		int ret;

		memset(&da, 0xa5, sizeof(da));
		memset(err, 0, sizeof(err));
		ret = vrdma_devargs_parse(c->args, &da, err, sizeof(err));
		if (ret != -EINVAL)
			fail_msg("\"%s\": got %d, want -EINVAL", c->args, ret);
		/* One line, starting with the key (and value). */
		if (strncmp(err, c->prefix, strlen(c->prefix)) != 0)
			fail_msg("\"%s\": line \"%s\" does not start \"%s\"",
				 c->args, err, c->prefix);
		if (strstr(err, c->problem) == NULL)
			fail_msg("\"%s\": line \"%s\" lacks \"%s\"", c->args,
				 err, c->problem);
		assert_null(strchr(err, '\n'));
		/* Names the expected form of that key. */
		snprintf(key, sizeof(key), "%.*s", (int)key_len, c->prefix);
		form = expected_form(key);
		if (form != NULL) {
			snprintf(want, sizeof(want), "; expected %s=%s", key,
				 form);
		} else {
			snprintf(want, sizeof(want),
				 "; expected one of listen, peer, transports, "
				 "dev, mac, keyfile, rndv_thresh");
		}
		if (strstr(err, want) == NULL)
			fail_msg("\"%s\": line \"%s\" lacks \"%s\"", c->args,
				 err, want);
		/* A refused parse leaves nothing usable behind. */
		assert_int_equal(da.n_peers, 0);
		assert_int_equal(da.listen.ss_family, 0);
	}
}

static void
test_refusal_examples(void **state)
{
	(void)state;
	/* The exact lines probe will log, for the documented examples. */
	assert_int_equal(vrdma_devargs_parse(L "peer=10.0.0.300:7000", &da, err,
					     sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "peer=10.0.0.300:7000: malformed address; "
				 "expected peer=IP:PORT or [IPv6]:PORT");
	assert_int_equal(
		vrdma_devargs_parse(L "bogus=1", &da, err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "bogus=1: unknown key; expected one of "
				 "listen, peer, transports, dev, mac, keyfile, "
				 "rndv_thresh");
	/* The exact lines for dev's refusals. */
	assert_int_equal(vrdma_devargs_parse(L "dev=rxe0:1++eth0", &da, err,
					     sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "dev=rxe0:1++eth0: empty device name; "
				 "expected dev=DEVICE+DEVICE+...");
	assert_int_equal(
		vrdma_devargs_parse(L "dev=eth 0", &da, err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, "dev=eth 0: invalid character (names are "
				 "[A-Za-z0-9_.:-] joined by '+'); expected "
				 "dev=DEVICE+DEVICE+...");
	assert_int_equal(vrdma_devargs_parse(NULL, &da, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "listen: missing (required); expected "
				 "listen=IP:PORT or [IPv6]:PORT");
}

static void
test_refusal_edges(void **state)
{
	char args[2048];
	char small[16];
	size_t off;
	int i;

	(void)state;
	/* More pairs than rte_kvargs holds: refused by the splitter. */
	off = (size_t)snprintf(args, sizeof(args), "listen=198.18.0.1:7000");
	for (i = 0; i < RTE_KVARGS_MAX; i++)
		off += (size_t)snprintf(args + off, sizeof(args) - off,
					",peer=198.18.2.%d:7000", i + 1);
	assert_int_equal(vrdma_devargs_parse(args, &da, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "cannot split into key=value pairs"));

	/* transports longer than VRDMA_TRANSPORTS_MAX - 1. */
	off = (size_t)snprintf(args, sizeof(args), L "transports=");
	memset(args + off, 'x', VRDMA_TRANSPORTS_MAX);
	args[off + VRDMA_TRANSPORTS_MAX] = '\0';
	assert_int_equal(vrdma_devargs_parse(args, &da, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "too long (at most 127 characters); "
				    "expected transports=NAME+NAME+..."));
	args[off + VRDMA_TRANSPORTS_MAX - 1] = '\0';
	parse_ok(args);
	assert_int_equal(strlen(da.transports), VRDMA_TRANSPORTS_MAX - 1);

	/* dev longer than VRDMA_DEVICES_MAX - 1, then just fitting. */
	off = (size_t)snprintf(args, sizeof(args), L "dev=");
	memset(args + off, 'e', VRDMA_DEVICES_MAX);
	args[off + VRDMA_DEVICES_MAX] = '\0';
	assert_int_equal(vrdma_devargs_parse(args, &da, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "too long (at most 127 characters); "
				    "expected dev=DEVICE+DEVICE+..."));
	assert_int_equal(strncmp(err, "dev=eeee", 8), 0);
	args[off + VRDMA_DEVICES_MAX - 1] = '\0';
	parse_ok(args);
	assert_int_equal(strlen(da.devices), VRDMA_DEVICES_MAX - 1);

	/* A small buffer gets a truncated, terminated line; none is fine. */
	assert_int_equal(
		vrdma_devargs_parse("foo=bar", &da, small, sizeof(small)),
		-EINVAL);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(vrdma_devargs_parse("foo=bar", &da, NULL, 0), -EINVAL);
}

static void
test_find_peer(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_un sun;

	(void)state;
	parse_ok("listen=198.18.0.1:7000,peer=198.18.0.2:7000,"
		 "peer=[2001:db8::3]:7000,peer=198.18.0.4:7000");

	/* The connecting side's port is ephemeral: only the address counts. */
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(41234);
	inet_pton(AF_INET, "198.18.0.4", &sin->sin_addr);
	assert_int_equal(vrdma_devargs_find_peer(&da, (struct sockaddr *)&ss),
			 2);
	inet_pton(AF_INET, "198.18.0.2", &sin->sin_addr);
	assert_int_equal(vrdma_devargs_find_peer(&da, (struct sockaddr *)&ss),
			 0);
	/* Unlisted, and our own address: rejected. */
	inet_pton(AF_INET, "198.18.0.5", &sin->sin_addr);
	assert_int_equal(vrdma_devargs_find_peer(&da, (struct sockaddr *)&ss),
			 -ENOENT);
	inet_pton(AF_INET, "198.18.0.1", &sin->sin_addr);
	assert_int_equal(vrdma_devargs_find_peer(&da, (struct sockaddr *)&ss),
			 -ENOENT);

	memset(&ss, 0, sizeof(ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(50000);
	inet_pton(AF_INET6, "2001:db8::3", &sin6->sin6_addr);
	assert_int_equal(vrdma_devargs_find_peer(&da, (struct sockaddr *)&ss),
			 1);
	/* A dual-stack listener sees IPv4 peers as mapped addresses. */
	inet_pton(AF_INET6, "::ffff:198.18.0.2", &sin6->sin6_addr);
	assert_int_equal(vrdma_devargs_find_peer(&da, (struct sockaddr *)&ss),
			 0);
	inet_pton(AF_INET6, "2001:db8::4", &sin6->sin6_addr);
	assert_int_equal(vrdma_devargs_find_peer(&da, (struct sockaddr *)&ss),
			 -ENOENT);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(vrdma_devargs_find_peer(&da, (struct sockaddr *)&sun),
			 -ENOENT);
}

static void
test_format_addr(void **state)
{
	char buf[64];
	struct sockaddr_storage ss;

	(void)state;
	parse_ok("listen=198.18.0.1:7000,peer=[2001:db8::3]:65535");
	assert_int_equal(
		vrdma_devargs_format_addr(&da.listen, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "198.18.0.1:7000");
	assert_int_equal(
		vrdma_devargs_format_addr(&da.peers[0], buf, sizeof(buf)), 0);
	assert_string_equal(buf, "[2001:db8::3]:65535");
	/* Too small: -ENOSPC and a terminated, truncated string. */
	assert_int_equal(vrdma_devargs_format_addr(&da.listen, buf, 8),
			 -ENOSPC);
	assert_int_equal(strlen(buf), 7);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_int_equal(vrdma_devargs_format_addr(&ss, buf, sizeof(buf)),
			 -EAFNOSUPPORT);
	assert_string_equal(buf, "");
}

static void
test_format_round_trip(void **state)
{
	struct vrdma_devargs again;
	char args[128];
	char addr[64];

	(void)state;
	/* What it writes parses back to the same address. */
	parse_ok("listen=[2001:db8::10]:7000,peer=198.18.0.7:7007");
	assert_int_equal(
		vrdma_devargs_format_addr(&da.listen, addr, sizeof(addr)), 0);
	snprintf(args, sizeof(args), "listen=%s", addr);
	assert_int_equal(vrdma_devargs_parse(args, &again, err, sizeof(err)),
			 0);
	assert_memory_equal(&again.listen, &da.listen, sizeof(da.listen));
}

static void
test_usage(void **state)
{
	char buf[1024];
	int len;

	(void)state;
	len = vrdma_devargs_usage(NULL, 0);
	assert_true(len > 0 && (size_t)len < sizeof(buf));
	assert_int_equal(vrdma_devargs_usage(buf, sizeof(buf)), len);
	assert_int_equal(strlen(buf), len);
	assert_non_null(
		strstr(buf, "listen=IP:PORT or [IPv6]:PORT (required): "));
	assert_non_null(
		strstr(buf, "peer=IP:PORT or [IPv6]:PORT (repeatable): "));
	assert_non_null(strstr(buf, "transports=NAME+NAME+...: "));
	assert_non_null(strstr(buf, "dev=DEVICE+DEVICE+...: UCX network "
				    "devices (UCX_NET_DEVICES)"));
	assert_non_null(strstr(buf, "mac=xx:xx:xx:xx:xx:xx: "));
	assert_non_null(strstr(buf, "keyfile=/ABSOLUTE/PATH: secret shared"));
	assert_non_null(
		strstr(buf, "rndv_thresh=BYTES or auto: frames larger"));
	/* Truncated output stays terminated and reports the full length. */
	assert_int_equal(vrdma_devargs_usage(buf, 10), len);
	assert_int_equal(strlen(buf), 9);

	assert_string_equal(VRDMA_DEVARGS_PARAM_STRING,
			    "listen=<IP:PORT or [IPv6]:PORT> "
			    "peer=<IP:PORT or [IPv6]:PORT> "
			    "transports=<NAME+NAME+...> "
			    "dev=<DEVICE+DEVICE+...> "
			    "mac=<xx:xx:xx:xx:xx:xx> "
			    "keyfile=</ABSOLUTE/PATH> "
			    "rndv_thresh=<BYTES or auto> ");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_full_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_transports_forms),
		cmocka_unit_test(test_dev_forms),
		cmocka_unit_test(test_keyfile),
		cmocka_unit_test(test_rndv_thresh),
		cmocka_unit_test(test_derived_mac),
		cmocka_unit_test(test_max_peers),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_refusal_examples),
		cmocka_unit_test(test_refusal_edges),
		cmocka_unit_test(test_find_peer),
		cmocka_unit_test(test_format_addr),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_usage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
