/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * UCX transport names (see vrdma_tl.h): the family table, UCX_TLS lists,
 * and the reader of ucp_ep_print_info()'s lane lines. The text is UCX's,
 * not a peer's, but it is read defensively all the same: every name is
 * bounded, and a line that does not have the expected shape is skipped.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vrdma_tl.h"

static const char *const family_names[VRDMA_TL_MAX] = {
#define X(name, help) [VRDMA_TL_##name] = #name,
	VRDMA_TL_FAMILIES(X)
#undef X
};

/* UCX 1.13's transports (uct components' tl names) of each family. */
static const struct {
	const char *tl;
	enum vrdma_tl_family family;
} transports[] = {
	{"rc_verbs", VRDMA_TL_rc}, {"rc_mlx5", VRDMA_TL_rc},
	{"ud_verbs", VRDMA_TL_ud}, {"ud_mlx5", VRDMA_TL_ud},
	{"dc_mlx5", VRDMA_TL_dc},  {"tcp", VRDMA_TL_tcp},
	{"posix", VRDMA_TL_sm},	   {"sysv", VRDMA_TL_sm},
	{"xpmem", VRDMA_TL_sm},	   {"cma", VRDMA_TL_sm},
	{"knem", VRDMA_TL_sm},
};

/* Longest "tl/dev" kept per lane: a tl name and an IB device:port. */
#define LANE_NAME_MAX 64
/* UCX 1.13's UCP_MAX_LANES. */
#define MAX_LANES 8

const char *
vrdma_tl_family_name(unsigned int family)
{
	return family < VRDMA_TL_MAX ? family_names[family] : "?";
}

static bool
same_word(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncmp(s, word, len) == 0;
}

int
vrdma_tl_family_of(const char *tl_name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(transports) / sizeof(transports[0]); i++)
		if (same_word(tl_name, len, transports[i].tl))
			return (int)transports[i].family;
	return -1;
}

bool
vrdma_tl_list_names(const char *list, const char *const *names)
{
	const char *p = list;

	if (list[0] == '\0' || list[0] == '^')
		return true;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		size_t i;

		if (same_word(p, len, "all"))
			return true;
		for (i = 0; names[i] != NULL; i++)
			if (same_word(p, len, names[i]))
				return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* One lane as read: "tl/dev" (path index dropped), its family, am flag. */
struct lane {
	char name[LANE_NAME_MAX];
	size_t tl_len; /* bytes of name before the '/' */
	bool am;
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Whether the bytes from p to end start with word. */
static bool
starts_with(const char *p, const char *end, const char *word)
{
	size_t len = strlen(word);

	return (size_t)(end - p) >= len && memcmp(p, word, len) == 0;
}

/* Where "lane[" starts in the len bytes at s, or NULL. */
static const char *
find_lane(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i + 5 <= len; i++)
		if (memcmp(s + i, "lane[", 5) == 0)
			return s + i;
	return NULL;
}

/*
 * Reads one line (len bytes at s) into *l. Returns false for a line that
 * is not a transport lane: no "lane[N]: ", a cm lane, another shape.
 */
static bool
read_lane(const char *s, size_t len, struct lane *l)
{
	const char *end = s + len;
	const char *p;
	const char *name;
	const char *slash;
	const char *dot;
	const char *d;
	size_t name_len;

	p = find_lane(s, len);
	if (p == NULL)
		return false;
	p += 5;
	while (p < end && is_digit(*p))
		p++;
	if (!starts_with(p, end, "]: "))
		return false;
	p += 3;
	/* "cm rdmacm": connection management, no transport. */
	if (starts_with(p, end, "cm "))
		return false;
	/* The resource index, right-aligned in two columns: " 2:". */
	while (p < end && *p == ' ')
		p++;
	if (p == end || !is_digit(*p))
		return false;
	while (p < end && is_digit(*p))
		p++;
	if (p == end || *p != ':')
		return false;
	name = ++p;
	while (p < end && *p != ' ')
		p++;
	name_len = (size_t)(p - name);
	/* "tl/dev.path": the path index after the last '.'. */
	slash = memchr(name, '/', name_len);
	for (dot = name + name_len; dot > name && dot[-1] != '.'; dot--)
		;
	if (slash == NULL || slash == name || dot <= slash + 2 ||
	    dot == name + name_len)
		return false;
	for (d = dot; d < name + name_len; d++)
		if (!is_digit(*d))
			return false;
	name_len = (size_t)(dot - 1 - name);
	if (name_len >= sizeof(l->name))
		return false;
	memcpy(l->name, name, name_len);
	l->name[name_len] = '\0';
	l->tl_len = (size_t)(slash - name);
	/* Flags after the "->": " am" alone marks the active-message lane
	 * ("am_bw#0" is a bandwidth lane). */
	l->am = false;
	while (p < end) {
		const char *w;

		while (p < end && *p == ' ')
			p++;
		w = p;
		while (p < end && *p != ' ')
			p++;
		if (same_word(w, (size_t)(p - w), "am"))
			l->am = true;
	}
	return true;
}

/* Appends s to the summary; "..." instead once it no longer fits. */
static void
summary_add(struct vrdma_tl_lanes *out, size_t *used, bool *cut, const char *s)
{
	size_t room = sizeof(out->summary) - *used;
	int n;

	if (*cut)
		return;
	/* Keep room for "...)" after whatever fits. */
	if (strlen(s) + 4 >= room) {
		snprintf(out->summary + *used, room, "...");
		*used += strlen(out->summary + *used);
		*cut = true;
		return;
	}
	n = snprintf(out->summary + *used, room, "%s", s);
	*used += (size_t)n;
}

int
vrdma_tl_lanes_parse(const char *text, struct vrdma_tl_lanes *out)
{
	struct lane lanes[MAX_LANES];
	const char *added[MAX_LANES];
	unsigned int n = 0, n_added = 0, n_other = 0, i, j;
	const char *p = text;
	size_t used = 0;
	bool cut = false;
	int pass;

	memset(out, 0, sizeof(*out));
	while (*p != '\0' && n < MAX_LANES) {
		size_t len = strcspn(p, "\n");

		if (read_lane(p, len, &lanes[n]))
			n++;
		p += len;
		if (*p == '\n')
			p++;
	}
	out->n_lanes = n;
	if (n == 0) {
		snprintf(out->summary, sizeof(out->summary), "none");
		return -ENOENT;
	}
	for (i = 0; i < n; i++) {
		int f = vrdma_tl_family_of(lanes[i].name, lanes[i].tl_len);

		if (f >= 0)
			out->roles[f] |= lanes[i].am ? VRDMA_TL_ROLE_AM
						     : VRDMA_TL_ROLE_OTHER;
	}
	/* "am/dev (+ other/dev, other/dev)": the active-message lane, which
	 * carries the frames, first; each name once. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			if (lanes[i].am != (pass == 0))
				continue;
			for (j = 0; j < n_added; j++)
				if (strcmp(added[j], lanes[i].name) == 0)
					break;
			if (j < n_added)
				continue;
			added[n_added++] = lanes[i].name;
			if (pass == 1)
				summary_add(out, &used, &cut,
					    n_other++ == 0 ? (used > 0 ? " (+ "
								       : "(+ ")
							   : ", ");
			else if (used > 0)
				summary_add(out, &used, &cut, ", ");
			summary_add(out, &used, &cut, lanes[i].name);
		}
	}
	if (n_other > 0) {
		/* Room for it was kept. */
		snprintf(out->summary + used, sizeof(out->summary) - used, ")");
	}
	return 0;
}
