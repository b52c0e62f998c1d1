/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of UCX transport names (pmd/vrdma_tl.c): the families of
 * UCX's transports, which families a UCX_TLS list (in the devargs' stored
 * form) can use, and the reader of ucp_ep_print_info()'s lane lines, on
 * text UCX 1.13.1 printed for client/server endpoints on this machine kind
 * (shared memory, tcp) and on the line shapes its source writes for verbs
 * lanes (ucp_ep.c, ucp_ep_config_lane_info_str), and on text it cannot
 * read.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vrdma_tl.h"

static struct vrdma_tl_lanes lanes;

/* Printed by UCX 1.13.1 for an endpoint to a listener on 127.0.0.1 with
 * UCX's default transports (UCX_MM_ERROR_HANDLING=y). */
static const char shm_and_tcp[] =
	"#\n"
	"# UCP endpoint \n"
	"#\n"
	"#               peer: <no debug data>\n"
	"#                 lane[0]: cm rdmacm\n"
	"#                 lane[1]:  3:sysv/memory.0 md[2]           -> "
	"md[2]/sysv/sysdev[255] am am_bw#0 keepalive\n"
	"#                 lane[2]:  1:tcp/lo.0 md[1]                -> "
	"md[1]/tcp/sysdev[255] rma_bw#0 wireup\n"
	"#                 lane[3]:  2:tcp/eth0.0 md[1]              -> "
	"md[1]/tcp/sysdev[255] rma_bw#1\n"
	"#\n"
	"#                 am_send: 0..<egr/short>..93..<egr/bcopy>..8256.."
	"<rndv>..(inf)\n"
	"#\n"
	"#                  rma_bw: mds [0] rndv_rkey_size 10\n";

/* The same with UCX_TLS=tcp UCX_NET_DEVICES=lo. */
static const char tcp_lo[] =
	"#                 lane[0]: cm rdmacm\n"
	"#                 lane[1]:  0:tcp/lo.0 md[0]                -> "
	"md[0]/tcp/sysdev[255] rma_bw#0 am am_bw#0 wireup\n"
	"#                 am_send: 0..<egr/short>..8185..<egr/zcopy>..8192.."
	"<rndv>..(inf)\n";

/* RC verbs on soft-RoCE, as ucp_ep_config_lane_info_str() writes it. */
static const char rc_rxe[] =
	"#                 lane[0]: cm rdmacm\n"
	"#                 lane[1]:  5:rc_verbs/rxe0:1.0 md[3]       -> "
	"md[3]/ib/sysdev[255] rma_bw#0 am am_bw#0 keepalive wireup\n";

static void
test_families(void **state)
{
	(void)state;
	assert_int_equal(vrdma_tl_family_of("rc_verbs", 8), VRDMA_TL_rc);
	assert_int_equal(vrdma_tl_family_of("rc_mlx5", 7), VRDMA_TL_rc);
	assert_int_equal(vrdma_tl_family_of("ud_verbs", 8), VRDMA_TL_ud);
	assert_int_equal(vrdma_tl_family_of("dc_mlx5", 7), VRDMA_TL_dc);
	assert_int_equal(vrdma_tl_family_of("tcp", 3), VRDMA_TL_tcp);
	assert_int_equal(vrdma_tl_family_of("posix", 5), VRDMA_TL_sm);
	assert_int_equal(vrdma_tl_family_of("cma", 3), VRDMA_TL_sm);
	/* Only whole names, of the given length. */
	assert_int_equal(vrdma_tl_family_of("tcp/lo", 3), VRDMA_TL_tcp);
	assert_int_equal(vrdma_tl_family_of("rc", 2), -1);
	assert_int_equal(vrdma_tl_family_of("self", 4), -1);
	assert_string_equal(vrdma_tl_family_name(VRDMA_TL_rc), "rc");
	assert_string_equal(vrdma_tl_family_name(VRDMA_TL_sm), "sm");
	assert_string_equal(vrdma_tl_family_name(VRDMA_TL_MAX), "?");
}

static void
test_list_names(void **state)
{
	static const char *const mm[] = {"mm", "sm", "shm", "posix", NULL};
	static const char *const tcp[] = {"tcp", NULL};

	(void)state;
	/* UCX's default and "all but" lists may use anything. */
	assert_true(vrdma_tl_list_names("", tcp));
	assert_true(vrdma_tl_list_names("^ud,rc", tcp));
	assert_true(vrdma_tl_list_names("all", mm));
	assert_true(vrdma_tl_list_names("rc,ud,sm", mm));
	assert_true(vrdma_tl_list_names("shm", mm));
	assert_true(vrdma_tl_list_names("rc,tcp", tcp));
	/* A port with transports=rc+ud uses neither. */
	assert_false(vrdma_tl_list_names("rc,ud", mm));
	assert_false(vrdma_tl_list_names("rc,ud", tcp));
	assert_false(vrdma_tl_list_names("tcp", mm));
	assert_false(vrdma_tl_list_names("sm", tcp));
	/* Whole names only. */
	assert_false(vrdma_tl_list_names("tcpx,smm,al", tcp));
	assert_false(vrdma_tl_list_names("tcpx,smm,al", mm));
}

static void
assert_roles(unsigned int rc, unsigned int ud, unsigned int dc,
	     unsigned int tcp, unsigned int sm)
{
	assert_int_equal(lanes.roles[VRDMA_TL_rc], rc);
	assert_int_equal(lanes.roles[VRDMA_TL_ud], ud);
	assert_int_equal(lanes.roles[VRDMA_TL_dc], dc);
	assert_int_equal(lanes.roles[VRDMA_TL_tcp], tcp);
	assert_int_equal(lanes.roles[VRDMA_TL_sm], sm);
}

static void
test_lanes_real(void **state)
{
	(void)state;
	/* Frames over shared memory, rendezvous and wireup over tcp. */
	assert_int_equal(vrdma_tl_lanes_parse(shm_and_tcp, &lanes), 0);
	assert_int_equal(lanes.n_lanes, 3);
	assert_roles(0, 0, 0, VRDMA_TL_ROLE_OTHER, VRDMA_TL_ROLE_AM);
	assert_string_equal(lanes.summary, "sysv/memory (+ tcp/lo, tcp/eth0)");

	assert_int_equal(vrdma_tl_lanes_parse(tcp_lo, &lanes), 0);
	assert_int_equal(lanes.n_lanes, 1);
	assert_roles(0, 0, 0, VRDMA_TL_ROLE_AM, 0);
	assert_string_equal(lanes.summary, "tcp/lo");

	assert_int_equal(vrdma_tl_lanes_parse(rc_rxe, &lanes), 0);
	assert_roles(VRDMA_TL_ROLE_AM, 0, 0, 0, 0);
	assert_string_equal(lanes.summary, "rc_verbs/rxe0:1");
}

static void
test_lanes_shapes(void **state)
{
	(void)state;
	/* Two lanes on one transport and device: named once; the am lane
	 * last in lane order still comes first; a device with dots. */
	assert_int_equal(
		vrdma_tl_lanes_parse(
			"# lane[0]: 1:tcp/eth0.100.0 md[0] -> x rma_bw#0\n"
			"# lane[1]: 1:tcp/eth0.100.1 md[0] -> x rma_bw#1\n"
			"# lane[2]: 0:rc_mlx5/mlx5_0:1.0 md[1] -> x am_bw#0 "
			"am\n",
			&lanes),
		0);
	assert_int_equal(lanes.n_lanes, 3);
	assert_roles(VRDMA_TL_ROLE_AM, 0, 0, VRDMA_TL_ROLE_OTHER, 0);
	assert_string_equal(lanes.summary, "rc_mlx5/mlx5_0:1 (+ tcp/eth0.100)");
	/* An unknown transport counts as a lane, in no family. */
	assert_int_equal(vrdma_tl_lanes_parse("lane[0]:  0:self/memory0.0 "
					      "md[0] -> md[0]/self amo#0",
					      &lanes),
			 0);
	assert_int_equal(lanes.n_lanes, 1);
	assert_roles(0, 0, 0, 0, 0);
	assert_string_equal(lanes.summary, "(+ self/memory0)");
	/* One family in both roles. */
	assert_int_equal(vrdma_tl_lanes_parse(
				 "lane[0]: 0:ud_verbs/rxe0:1.0 -> am\n"
				 "lane[1]: 1:ud_verbs/rxe1:1.0 -> am_bw#1\n",
				 &lanes),
			 0);
	assert_roles(0, VRDMA_TL_ROLE_AM | VRDMA_TL_ROLE_OTHER, 0, 0, 0);
	assert_string_equal(lanes.summary,
			    "ud_verbs/rxe0:1 (+ ud_verbs/rxe1:1)");
}

static void
test_lanes_unreadable(void **state)
{
	static const char *const bad[] = {
		"",
		"#\n# UCP endpoint\n#\n",
		"lane[0]: cm rdmacm\n",
		"lane[0]: cm tcp\n",
		"lane[0]:  x:tcp/lo.0 md[0] -> am\n", /* no index */
		"lane[0]:  0 tcp/lo.0 md[0] -> am\n", /* no ':' */
		"lane[0]:  0:tcplo.0 md[0] -> am\n",  /* no '/' */
		"lane[0]:  0:tcp/lo md[0] -> am\n",   /* no path index */
		"lane[0]:  0:tcp/lo.x md[0] -> am\n", /* path not a number */
		"lane[0]:  0:tcp/lo. md[0] -> am\n",  /* empty path */
		"lane[0]:  0:/lo.0 md[0] -> am\n",    /* empty transport */
		"lane[0]:  0:tcp/.0 md[0] -> am\n",   /* empty device */
		"lane[0] 0:tcp/lo.0 md[0] -> am\n",   /* no "]: " */
		"lane[0]:  0:",			      /* cut short */
		"lane[",
	};
	char long_line[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&lanes, 0xa5, sizeof(lanes));
		if (vrdma_tl_lanes_parse(bad[i], &lanes) != -ENOENT)
			fail_msg("\"%s\" was read as a lane", bad[i]);
		assert_int_equal(lanes.n_lanes, 0);
		assert_roles(0, 0, 0, 0, 0);
		assert_string_equal(lanes.summary, "none");
	}
	/* A name longer than a lane keeps is skipped, not cut. */
	snprintf(long_line, sizeof(long_line), "lane[0]: 0:tcp/%0100d.0 -> am",
		 0);
	assert_int_equal(vrdma_tl_lanes_parse(long_line, &lanes), -ENOENT);
}

static void
test_lanes_summary_bounded(void **state)
{
	char text[2048];
	size_t off = 0;
	int i;

	(void)state;
	/* More lanes than UCX has (8), each a long distinct name: the
	 * summary is cut with "..." and stays terminated and closed. */
	for (i = 0; i < 12; i++)
		off += (size_t)snprintf(
			text + off, sizeof(text) - off,
			"lane[%d]: %d:tcp/interface-number-%02d.0 md[0] -> %s\n",
			i, i, i, i == 0 ? "am" : "rma_bw#1");
	assert_int_equal(vrdma_tl_lanes_parse(text, &lanes), 0);
	assert_int_equal(lanes.n_lanes, 8);
	assert_true(strlen(lanes.summary) < sizeof(lanes.summary));
	assert_int_equal(strncmp(lanes.summary,
				 "tcp/interface-number-00 (+ "
				 "tcp/interface-number-01, ",
				 51),
			 0);
	assert_non_null(strstr(lanes.summary, "...)"));
	assert_int_equal(lanes.summary[strlen(lanes.summary) - 1], ')');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_list_names),
		cmocka_unit_test(test_lanes_real),
		cmocka_unit_test(test_lanes_shapes),
		cmocka_unit_test(test_lanes_unreadable),
		cmocka_unit_test(test_lanes_summary_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
