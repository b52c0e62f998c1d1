/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vrdma devargs parsing (see vrdma_devargs.h). rte_kvargs splits the
 * string into key=value pairs; this file checks the pairs as a whole
 * (unknown, valueless, repeated and missing keys) from the key table, then
 * hands each key's values to its handler through rte_kvargs_process() in
 * table order, so listen is known when the peers are checked against it.
 * Every refusal writes exactly one line naming the key, the value, the
 * problem and the expected form, because probe can only log that line.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_kvargs.h>

#include "vrdma_devargs.h"

enum key_id {
#define X(name, attr, form, help) KEY_##name,
	VRDMA_DEVARGS_KEYS(X)
#undef X
	/* clang-format off: it would indent this as a continuation. */
	KEY_MAX
	/* clang-format on */
};

struct key_info {
	const char *name;
	unsigned int attr;
	const char *form;
	const char *help;
};

static const struct key_info keys[KEY_MAX] = {
#define X(name, attr, form, help) [KEY_##name] = {#name, attr, form, help},
	VRDMA_DEVARGS_KEYS(X)
#undef X
};

/* "listen, peer, transports, dev, mac", for the unknown-key message. */
#define KEY_NAME_(name, attr, form, help) ", " #name
static const char key_names[] = VRDMA_DEVARGS_KEYS(KEY_NAME_);
#undef KEY_NAME_

/*
 * rte_kvargs keeps at most RTE_KVARGS_MAX pairs; the peers and one of
 * each other key must fit in that.
 */
_Static_assert(VRDMA_MAX_PEERS + KEY_MAX - 1 <= RTE_KVARGS_MAX,
	       "a full devargs string must fit in rte_kvargs");

struct parse_ctx {
	struct vrdma_devargs *da;
	char *err;
	size_t err_len;
};

/* One address in comparable form: family, 4 or 16 address bytes, port. */
struct addr_key {
	int family;
	uint8_t bytes[16];
	uint16_t port; /* host order */
};

static void __attribute__((format(printf, 2, 3)))
error_line(struct parse_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->err == NULL || ctx->err_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx->err, ctx->err_len, fmt, ap);
	va_end(ap);
}

/* The most of a refused value an error line shows. */
#define VALUE_SHOWN 64

/* Refuses the value of a key with the one-line reason. */
static int __attribute__((format(printf, 4, 5)))
refuse(struct parse_ctx *ctx, enum key_id key, const char *value,
       const char *problem_fmt, ...)
{
	const struct key_info *k = &keys[key];
	char problem[128];
	va_list ap;

	va_start(ap, problem_fmt);
	vsnprintf(problem, sizeof(problem), problem_fmt, ap);
	va_end(ap);
	if (value == NULL)
		error_line(ctx, "%s: %s; expected %s=%s", k->name, problem,
			   k->name, k->form);
	else if (strlen(value) > VALUE_SHOWN)
		/* The problem must fit in the line: the value gives way. */
		error_line(ctx, "%s=%.*s...: %s; expected %s=%s", k->name,
			   VALUE_SHOWN, value, problem, k->name, k->form);
	else
		error_line(ctx, "%s=%s: %s; expected %s=%s", k->name, value,
			   problem, k->name, k->form);
	return -EINVAL;
}

/* A decimal 0-65535. Digits only: strtoul would take signs, spaces and
 * hex. */
static int
parse_u16(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (i == 0 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static int
parse_port(const char *s, uint16_t *port)
{
	return parse_u16(s, port) == 0 && *port != 0 ? 0 : -EINVAL;
}

/*
 * Parses "a.b.c.d:port" or "[v6addr]:port". An IPv4-mapped IPv6 address is
 * stored as IPv4 so it compares equal to the same address written as IPv4.
 * On failure *problem says what is wrong, for the error line.
 */
static int
parse_addr(const char *value, struct sockaddr_storage *ss, const char **problem)
{
	char host[INET6_ADDRSTRLEN];
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	const char *host_start = value;
	const char *host_end;
	const char *port_str;
	bool ipv6 = value[0] == '[';
	uint16_t port;
	size_t host_len;

	memset(ss, 0, sizeof(*ss));
	if (ipv6) {
		host_start = value + 1;
		host_end = strchr(host_start, ']');
		if (host_end == NULL) {
			*problem = "malformed address (no closing ']')";
			return -EINVAL;
		}
		if (host_end[1] != ':') {
			*problem = "missing port";
			return -EINVAL;
		}
		port_str = host_end + 2;
	} else {
		host_end = strrchr(value, ':');
		if (host_end == NULL) {
			*problem = "missing port";
			return -EINVAL;
		}
		port_str = host_end + 1;
	}
	host_len = (size_t)(host_end - host_start);
	if (host_len == 0 || host_len >= sizeof(host)) {
		*problem = "malformed address";
		return -EINVAL;
	}
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';

	if (ipv6) {
		sin6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			*problem = "malformed address";
			return -EINVAL;
		}
	} else {
		sin->sin_family = AF_INET;
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			*problem =
				strchr(host, ':') != NULL
					? "malformed address (IPv6 goes in [])"
					: "malformed address";
			return -EINVAL;
		}
	}
	if (parse_port(port_str, &port) < 0) {
		*problem = "malformed port (1-65535)";
		return -EINVAL;
	}

	if (ipv6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		struct in_addr v4;

		memcpy(&v4, &sin6->sin6_addr.s6_addr[12], sizeof(v4));
		memset(ss, 0, sizeof(*ss));
		sin->sin_family = AF_INET;
		sin->sin_addr = v4;
		ipv6 = false;
	}
	/*
	 * Peers connect to this address and the default MAC is derived from
	 * it, so it must name one host.
	 */
	if (ipv6) {
		sin6->sin6_port = htons(port);
		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) ||
		    IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr)) {
			*problem = "not a host address (unspecified or "
				   "multicast)";
			return -EINVAL;
		}
	} else {
		uint32_t a = ntohl(sin->sin_addr.s_addr);

		sin->sin_port = htons(port);
		if (a == INADDR_ANY || a == INADDR_BROADCAST ||
		    IN_MULTICAST(a)) {
			*problem = "not a host address (unspecified, "
				   "broadcast or multicast)";
			return -EINVAL;
		}
	}
	return 0;
}

/* Fills *k from addr; -EAFNOSUPPORT for families other than IPv4/6. */
static int
addr_key_of(const struct sockaddr *addr, struct addr_key *k)
{
	memset(k, 0, sizeof(*k));
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin =
			(const struct sockaddr_in *)addr;

		k->family = AF_INET;
		memcpy(k->bytes, &sin->sin_addr, 4);
		k->port = ntohs(sin->sin_port);
		return 0;
	}
	if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)addr;

		k->port = ntohs(sin6->sin6_port);
		/* A dual-stack socket shows IPv4 peers this way. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			k->family = AF_INET;
			memcpy(k->bytes, &sin6->sin6_addr.s6_addr[12], 4);
		} else {
			k->family = AF_INET6;
			memcpy(k->bytes, &sin6->sin6_addr, 16);
		}
		return 0;
	}
	return -EAFNOSUPPORT;
}

static bool
same_host(const struct addr_key *a, const struct addr_key *b)
{
	return a->family == b->family &&
	       memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

static void
addr_key_of_storage(const struct sockaddr_storage *ss, struct addr_key *k)
{
	/* Parsed addresses are always AF_INET or AF_INET6. */
	(void)addr_key_of((const struct sockaddr *)ss, k);
}

static int
key_listen(const char *key, const char *value, void *opaque)
{
	struct parse_ctx *ctx = opaque;
	const char *problem = NULL;

	(void)key;
	if (parse_addr(value, &ctx->da->listen, &problem) < 0)
		return refuse(ctx, KEY_listen, value, "%s", problem);
	return 0;
}

static int
key_peer(const char *key, const char *value, void *opaque)
{
	struct parse_ctx *ctx = opaque;
	struct vrdma_devargs *da = ctx->da;
	struct sockaddr_storage ss;
	struct addr_key new_key;
	struct addr_key old_key;
	const char *problem = NULL;
	unsigned int i;

	(void)key;
	if (da->n_peers >= VRDMA_MAX_PEERS)
		return refuse(ctx, KEY_peer, value,
			      "too many peers (at most %d)", VRDMA_MAX_PEERS);
	if (parse_addr(value, &ss, &problem) < 0)
		return refuse(ctx, KEY_peer, value, "%s", problem);

	addr_key_of_storage(&ss, &new_key);
	addr_key_of_storage(&da->listen, &old_key);
	if (same_host(&new_key, &old_key) && new_key.port == old_key.port)
		return refuse(ctx, KEY_peer, value, "equals listen");
	for (i = 0; i < da->n_peers; i++) {
		addr_key_of_storage(&da->peers[i], &old_key);
		/*
		 * Incoming connections are matched to peers by address
		 * alone, so two peers on one address could not be told
		 * apart.
		 */
		if (same_host(&new_key, &old_key))
			return refuse(ctx, KEY_peer, value,
				      "duplicate peer address");
	}
	da->peers[da->n_peers++] = ss;
	return 0;
}

static bool
is_transport_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/* UCX device names: "rxe0:1", "mlx5_0:1", interface names ("eth0.100"). */
static bool
is_device_char(char c)
{
	return is_transport_char(c) || c == '.' || c == ':' || c == '-';
}

/* How key_list() checks one of the '+'-joined lists. */
struct list_form {
	enum key_id key;
	size_t max;	/* size of the stored form, NUL included */
	bool negatable; /* a leading '^' is allowed */
	bool (*valid)(char c);
	const char *chars; /* the allowed characters, for the message */
	const char *what;  /* "transport", for "empty transport name" */
};

/*
 * Copies value into out (form->max bytes) with VRDMA_TRANSPORTS_SEP
 * turned into ',', refusing an empty name, a character outside the form,
 * and a value too long.
 */
static int
key_list(struct parse_ctx *ctx, const struct list_form *form, const char *value,
	 char *out)
{
	size_t len = strlen(value);
	size_t i = 0;
	bool name_started = false;

	if (len >= form->max)
		return refuse(ctx, form->key, value,
			      "too long (at most %zu characters)",
			      form->max - 1);
	/* UCX reads a leading '^' as "every transport but these". */
	if (form->negatable && value[0] == '^')
		out[i++] = '^';
	for (; i < len; i++) {
		char c = value[i];

		if (c == VRDMA_TRANSPORTS_SEP) {
			if (!name_started)
				return refuse(ctx, form->key, value,
					      "empty %s name", form->what);
			out[i] = ',';
			name_started = false;
		} else if (form->valid(c)) {
			out[i] = c;
			name_started = true;
		} else {
			return refuse(ctx, form->key, value,
				      "invalid character (names are %s "
				      "joined by '+')",
				      form->chars);
		}
	}
	if (!name_started)
		return refuse(ctx, form->key, value, "empty %s name",
			      form->what);
	out[i] = '\0';
	return 0;
}

static int
key_transports(const char *key, const char *value, void *opaque)
{
	static const struct list_form form = {
		.key = KEY_transports,
		.max = VRDMA_TRANSPORTS_MAX,
		.negatable = true,
		.valid = is_transport_char,
		.chars = "[A-Za-z0-9_]",
		.what = "transport",
	};
	struct parse_ctx *ctx = opaque;

	(void)key;
	return key_list(ctx, &form, value, ctx->da->transports);
}

static int
key_dev(const char *key, const char *value, void *opaque)
{
	/* UCX 1.13's UCX_NET_DEVICES is a plain list: no '^'. */
	static const struct list_form form = {
		.key = KEY_dev,
		.max = VRDMA_DEVICES_MAX,
		.negatable = false,
		.valid = is_device_char,
		.chars = "[A-Za-z0-9_.:-]",
		.what = "device",
	};
	struct parse_ctx *ctx = opaque;

	(void)key;
	return key_list(ctx, &form, value, ctx->da->devices);
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
key_mac(const char *key, const char *value, void *opaque)
{
	struct parse_ctx *ctx = opaque;
	uint8_t mac[VRDMA_MAC_LEN];
	unsigned int i;

	(void)key;
	/* Exactly xx:xx:xx:xx:xx:xx, 17 characters. */
	if (strlen(value) != 3 * VRDMA_MAC_LEN - 1)
		return refuse(ctx, KEY_mac, value, "malformed MAC");
	for (i = 0; i < VRDMA_MAC_LEN; i++) {
		const char *p = value + 3 * i;
		int hi = hex_digit(p[0]);
		int lo = hex_digit(p[1]);

		if (hi < 0 || lo < 0 || (i + 1 < VRDMA_MAC_LEN && p[2] != ':'))
			return refuse(ctx, KEY_mac, value, "malformed MAC");
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 0x01)
		return refuse(ctx, KEY_mac, value,
			      "multicast MAC, a port needs a unicast one");
	if ((mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0)
		return refuse(ctx, KEY_mac, value, "all-zero MAC");
	memcpy(ctx->da->mac, mac, sizeof(mac));
	ctx->da->mac_given = true;
	return 0;
}

static int
key_keyfile(const char *key, const char *value, void *opaque)
{
	struct parse_ctx *ctx = opaque;

	(void)key;
	if (value[0] != '/')
		return refuse(ctx, KEY_keyfile, value, "not an absolute path");
	if (strlen(value) >= sizeof(ctx->da->keyfile))
		return refuse(ctx, KEY_keyfile, value,
			      "longer than %d characters",
			      VRDMA_KEYFILE_MAX - 1);
	strcpy(ctx->da->keyfile, value);
	return 0;
}

static int
key_rndv_thresh(const char *key, const char *value, void *opaque)
{
	struct parse_ctx *ctx = opaque;
	uint16_t v;

	(void)key;
	if (strcmp(value, "auto") == 0)
		ctx->da->rndv_thresh = VRDMA_RNDV_THRESH_AUTO;
	else if (parse_u16(value, &v) == 0)
		ctx->da->rndv_thresh = v;
	else
		return refuse(ctx, KEY_rndv_thresh, value,
			      "not 0-65535 or auto");
	return 0;
}

static const arg_handler_t handlers[KEY_MAX] = {
#define X(name, attr, form, help) [KEY_##name] = key_##name,
	VRDMA_DEVARGS_KEYS(X)
#undef X
};

static uint64_t
fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* The documented derivation in vrdma_devargs.h; keep the two in step. */
static void
derive_mac(const struct sockaddr_storage *listen, uint8_t *mac)
{
	struct addr_key k;
	uint8_t tag;
	uint8_t port[2];
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	unsigned int i;

	addr_key_of_storage(listen, &k);
	tag = k.family == AF_INET ? 4 : 6;
	port[0] = (uint8_t)(k.port >> 8);
	port[1] = (uint8_t)k.port;
	h = fnv1a(h, &tag, 1);
	h = fnv1a(h, k.bytes, k.family == AF_INET ? 4 : 16);
	h = fnv1a(h, port, sizeof(port));
	for (i = 0; i < VRDMA_MAC_LEN; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
	mac[0] = (uint8_t)((mac[0] & ~0x01) | 0x02);
}

static int
find_key(const char *name)
{
	int i;

	for (i = 0; i < KEY_MAX; i++)
		if (strcmp(name, keys[i].name) == 0)
			return i;
	return -1;
}

/* Checks the pairs as a whole: unknown, valueless, repeated, missing. */
static int
check_pairs(struct parse_ctx *ctx, const struct rte_kvargs *kv)
{
	unsigned int seen[KEY_MAX] = {0};
	unsigned int i;
	int id;

	for (i = 0; i < kv->count; i++) {
		const struct rte_kvargs_pair *pair = &kv->pairs[i];

		id = find_key(pair->key);
		if (id < 0) {
			error_line(ctx,
				   "%s%s%s: unknown key; expected one of %s",
				   pair->key, pair->value != NULL ? "=" : "",
				   pair->value != NULL ? pair->value : "",
				   key_names + 2);
			return -EINVAL;
		}
		if (pair->value == NULL || pair->value[0] == '\0')
			return refuse(ctx, id, NULL, "missing value");
		if (++seen[id] > 1 && !(keys[id].attr & VRDMA_DEVARG_REPEAT))
			return refuse(ctx, id, pair->value,
				      "given more than once");
	}
	for (id = 0; id < KEY_MAX; id++)
		if ((keys[id].attr & VRDMA_DEVARG_REQUIRED) && seen[id] == 0)
			return refuse(ctx, id, NULL, "missing (required)");
	return 0;
}

int
vrdma_devargs_parse(const char *args, struct vrdma_devargs *da, char *err,
		    size_t err_len)
{
	struct parse_ctx ctx = {.da = da, .err = err, .err_len = err_len};
	struct rte_kvargs *kv;
	int ret;
	int id;

	memset(da, 0, sizeof(*da));
	if (err != NULL && err_len > 0)
		err[0] = '\0';
	if (args == NULL)
		args = "";
	/*
	 * No valid-keys list: rte_kvargs would refuse an unknown key without
	 * saying which, and the error line must name it.
	 */
	kv = rte_kvargs_parse(args, NULL);
	if (kv == NULL) {
		error_line(&ctx,
			   "devargs: cannot split into key=value pairs; "
			   "expected at most %d key=value joined by ','",
			   RTE_KVARGS_MAX);
		return -EINVAL;
	}
	ret = check_pairs(&ctx, kv);
	if (ret < 0)
		goto err_free_kvargs;
	da->rndv_thresh = VRDMA_RNDV_THRESH_AUTO;
	for (id = 0; id < KEY_MAX; id++) {
		/* The handler writes the error line; only the code is lost. */
		if (rte_kvargs_process(kv, keys[id].name, handlers[id], &ctx) <
		    0) {
			ret = -EINVAL;
			goto err_free_kvargs;
		}
	}
	if (!da->mac_given)
		derive_mac(&da->listen, da->mac);
	rte_kvargs_free(kv);
	return 0;

err_free_kvargs:
	rte_kvargs_free(kv);
	memset(da, 0, sizeof(*da));
	return ret;
}

int
vrdma_devargs_find_peer(const struct vrdma_devargs *da,
			const struct sockaddr *addr)
{
	struct addr_key want;
	struct addr_key have;
	unsigned int i;

	if (addr_key_of(addr, &want) < 0)
		return -ENOENT;
	for (i = 0; i < da->n_peers; i++) {
		addr_key_of_storage(&da->peers[i], &have);
		if (same_host(&want, &have))
			return (int)i;
	}
	return -ENOENT;
}

int
vrdma_devargs_format_addr(const struct sockaddr_storage *ss, char *buf,
			  size_t len)
{
	char host[INET6_ADDRSTRLEN];
	struct addr_key k;
	int n;

	if (len > 0)
		buf[0] = '\0';
	if (addr_key_of((const struct sockaddr *)ss, &k) < 0)
		return -EAFNOSUPPORT;
	/* Written from the raw sockaddr: a mapped address stays mapped. */
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		n = snprintf(buf, len, "[%s]:%u", host, k.port);
	} else {
		inet_ntop(AF_INET, k.bytes, host, sizeof(host));
		n = snprintf(buf, len, "%s:%u", host, k.port);
	}
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return 0;
}

int
vrdma_devargs_usage(char *buf, size_t len)
{
	size_t total = 0;
	int id;

	if (len > 0)
		buf[0] = '\0';
	for (id = 0; id < KEY_MAX; id++) {
		const struct key_info *k = &keys[id];
		const char *attr = "";
		int n;

		if (k->attr & VRDMA_DEVARG_REQUIRED)
			attr = " (required)";
		else if (k->attr & VRDMA_DEVARG_REPEAT)
			attr = " (repeatable)";
		n = snprintf(total < len ? buf + total : NULL,
			     total < len ? len - total : 0, "%s=%s%s: %s\n",
			     k->name, k->form, attr, k->help);
		if (n < 0)
			return n;
		total += (size_t)n;
	}
	return (int)total;
}
