#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""vrdma bench roce without the soft-RoCE hosts: its parsers of
ucx_perftest, ib_write_bw, ib_send_lat and fabric_peer (on outputs
captured from runs between the two rxe hosts), its frame rate rule, its
table and its verdicts on issue 15's targets."""

import unittest

from bench import record, roce_bench as rb

# ucx_perftest 198.19.2.1 -t am_bw -x rc_verbs -d rxe0:1 -D zcopy -s 65226
UCT_AM_BW = """\
+--------------+--------------+------------------------------+---------------------+-----------------------+
|              |              |       overhead (usec)        |   bandwidth (MB/s)  |  message rate (msg/s) |
+--------------+--------------+----------+---------+---------+----------+----------+-----------+-----------+
|    Stage     | # iterations | 50.0%ile | average | overall |  average |  overall |  average  |  overall  |
+--------------+--------------+----------+---------+---------+----------+----------+-----------+-----------+
[thread 0]                84   9454.000 11914.094 11914.094        5.22       5.22          84          84
[thread 0]               154  11055.000 14436.787 13060.773        4.31       4.76          69          77
Final:                   200  11055.000 15410.154 13601.130        4.04       4.57          66          74
"""
# ucx_perftest 198.19.2.1 -t am_lat -x rc_verbs -d rxe0:1 -s 64 -n 500
UCT_AM_LAT = """\
+--------------+--------------+------------------------------+---------------------+-----------------------+
|              |              |        latency (usec)        |   bandwidth (MB/s)  |  message rate (msg/s) |
+--------------+--------------+----------+---------+---------+----------+----------+-----------+-----------+
|    Stage     | # iterations | 50.0%ile | average | overall |  average |  overall |  average  |  overall  |
+--------------+--------------+----------+---------+---------+----------+----------+-----------+-----------+
Final:                   500  22523.000 24287.230 23592.130        0.00       0.00          41          42
"""
# ucx_perftest -e -t ucp_am_bw, UCX_TLS=rc,ud: UCP's UD wireup under TCG
UCP_CRASH = """\
+--------------+--------------+------------------------------+---------------------+-----------------------+
|              |              |       overhead (usec)        |   bandwidth (MB/s)  |  message rate (msg/s) |
+--------------+--------------+----------+---------+---------+----------+----------+-----------+-----------+
|    Stage     | # iterations | 50.0%ile | average | overall |  average |  overall |  average  |  overall  |
+--------------+--------------+----------+---------+---------+----------+----------+-----------+-----------+
[1796552511.965113] [roce2:172  :0]          parser.c:1908 UCX  WARN  unused env variables: UCX_MM_ERROR_HANDLING,UCX_MM_SEG_SIZE,UCX_MM_RX_BUFS_GROW,UCX_TCP_RX_SEG_SIZE (set UCX_WARN_UNUSED_ENV_VARS=n to suppress this warning)
[roce2:172  :0:172] ucp_request.c:684  Assertion `(req->send.wireup.type == UCP_WIREUP_MSG_EP_REMOVED) || (req->send.wireup.type == UCP_WIREUP_MSG_EP_CHECK) || (req->send.wireup.type == UCP_WIREUP_MSG_ACK)' failed: req 0x56470ef8f290 ep 0x7f104f19e000: got REQ message
"""
# ib_write_bw -R -d rxe0 -s 65226 -n 200 198.19.2.1
IB_WRITE_BW = """\
---------------------------------------------------------------------------------------
                    RDMA_Write BW Test
 Dual-port       : OFF\t\tDevice         : rxe0
 Number of qps   : 1\t\tTransport type : IB
 Connection type : RC\t\tUsing SRQ      : OFF
 PCIe relax order: ON
 ibv_wr* API     : OFF
 TX depth        : 128
 CQ Moderation   : 1
 Mtu             : 4096[B]
 Link type       : Ethernet
 GID index       : 1
 Max inline data : 0[B]
 rdma_cm QPs\t : ON
 Data ex. method : rdma_cm
---------------------------------------------------------------------------------------
 local address: LID 0000 QPN 0x0023 PSN 0xb02803
 GID: 00:00:00:00:00:00:00:00:00:00:255:255:198:19:02:02
 remote address: LID 0000 QPN 0x0023 PSN 0x256f11
 GID: 00:00:00:00:00:00:00:00:00:00:255:255:198:19:02:01
---------------------------------------------------------------------------------------
 #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]
 65226      200              7.75               7.32   \t\t   0.000118
---------------------------------------------------------------------------------------
"""
# ib_send_lat -R -d rxe0 -s 64 -n 200 198.19.2.1
IB_SEND_LAT = """\
---------------------------------------------------------------------------------------
                    Send Latency Test
 Dual-port       : OFF\t\tDevice         : rxe0
 Number of qps   : 1\t\tTransport type : IB
 Connection type : RC\t\tUsing SRQ      : OFF
 PCIe relax order: ON
 ibv_wr* API     : OFF
 TX depth        : 1
 Mtu             : 4096[B]
 Link type       : Ethernet
 GID index       : 1
 Max inline data : 0[B]
 rdma_cm QPs\t : ON
 Data ex. method : rdma_cm
 #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] 
 64      200          1706.01        119172.52      25229.35  \t       28789.98     \t1832.60\t\t87876.73 \t\t119172.52
---------------------------------------------------------------------------------------
"""
# fabric_peer --send --sizes 64 --pingpong 100 over net_vrdma rc
PINGPONG = """\
link up
rtt median_us=45744.53 p99_us=91135.58 n=100 lost=0
net_vrdma: net_vrdma0: peer 198.19.2.1:7400 connected to us
net_vrdma: net_vrdma0: peer 198.19.2.1:7400 connected via rc_verbs/rxe0:1 (+ ud_verbs/rxe0:1)
"""
# fabric_peer --send/--recv --sizes 64,1500,65226 --count 5000 --rate
RATE_TX = """\
link up
tx size=64 frames=5000
tx size=64 span_us=40971.7
tx size=1500 frames=5000
tx size=1500 span_us=601638.2
tx size=65226 frames=542
tx size=65226 span_us=1411476.2
net_vrdma: net_vrdma0: peer 198.19.2.1:7400 connected to us
net_vrdma: net_vrdma0: peer 198.19.2.1:7400 connected via rc_verbs/rxe0:1 (+ ud_verbs/rxe0:1)
"""
RATE_RX = """\
link up
rx size=64 frames=5000/5000
rx size=64 span_us=64464.6
rx size=1500 frames=5000/5000
rx size=1500 span_us=814919.2
rx size=65226 frames=380/5000
rx size=65226 span_us=3350634.9
rx bad=0
rx queue 0 frames=10380
net_vrdma: net_vrdma0: peer 198.19.2.2:7400 connected to us
net_vrdma: net_vrdma0: peer 198.19.2.2:7400 connected via rc_verbs/rxe0:1 (+ ud_verbs/rxe0:1)
net_vrdma: net_vrdma0: peer 198.19.2.2:7400 lost (Connection reset by remote peer)
"""


class Parsers(unittest.TestCase):
    def test_ucx_perftest_final_line(self):
        got = rb.parse_ucx_perftest(UCT_AM_BW)
        self.assertEqual(got["iterations"], 200)
        self.assertEqual(got["mbs"], 4.57)
        self.assertEqual(got["rate"], 74)
        self.assertEqual(rb.parse_ucx_perftest(UCT_AM_LAT)["p"], 22523.0)

    def test_ucx_perftest_crash_is_a_reason(self):
        with self.assertRaises(rb.Unavailable) as cm:
            rb.parse_ucx_perftest(UCP_CRASH)
        self.assertEqual(str(cm.exception), "ucx_perftest aborted: "
                         "assertion at ucp_request.c:684: got REQ message")

    def test_ib_write_bw(self):
        got = rb.parse_ib_write_bw(IB_WRITE_BW)
        self.assertEqual((got["bytes"], got["iterations"]), (65226, 200))
        self.assertEqual((got["peak"], got["mbs"]), (7.75, 7.32))
        self.assertEqual(got["mpps"], 0.000118)
        with self.assertRaises(rb.Unavailable):
            rb.parse_ib_write_bw(IB_SEND_LAT)

    def test_ib_send_lat(self):
        got = rb.parse_ib_send_lat(IB_SEND_LAT)
        self.assertEqual((got["bytes"], got["iterations"]), (64, 200))
        self.assertEqual(got["typical"], 25229.35)
        self.assertEqual(got["p99"], 87876.73)
        with self.assertRaises(rb.Unavailable):
            rb.parse_ib_send_lat(IB_WRITE_BW)

    def test_pingpong(self):
        self.assertEqual(rb.parse_rtt(PINGPONG), (45744.53, 91135.58, 100, 0))
        with self.assertRaises(rb.Unavailable) as cm:
            rb.parse_rtt("fabric_peer: link did not come up in 70s\n")
        self.assertIn("did not come up", str(cm.exception))

    def test_rate_takes_the_longer_span(self):
        rates = rb.parse_rate(RATE_TX, RATE_RX)
        # 64 B: the receiver's span is the longer; 65226 B: 380 frames of
        # the 542 the sender's pool let out arrived, over 3.35 s.
        self.assertAlmostEqual(rates[64], 4999 / 0.0644646, places=3)
        self.assertAlmostEqual(rates[1500], 4999 / 0.8149192, places=3)
        self.assertAlmostEqual(rates[65226], 379 / 3.3506349, places=3)
        self.assertAlmostEqual(
            rb.parse_rate("tx size=64 span_us=2000000.0\n", RATE_RX)[64],
            4999 / 2.0)

    def test_rate_without_frames_is_empty(self):
        self.assertEqual(rb.parse_rate("", "rx size=64 frames=1/10\n"
                                        "rx size=64 span_us=0.0\n"), {})

    def test_tools_mb_are_mebibytes(self):
        cells = rb.bw_cells(65226, 4.57)
        self.assertAlmostEqual(cells[(65226, "MB/s")], 4.57 * 1.048576)
        self.assertAlmostEqual(cells[(65226, "kfps")],
                               4.57 * 1048576 / 65226 / 1e3)


class Verdicts(unittest.TestCase):
    def cells(self, bw64k, rate64):
        return {("ucx rc", 65226, "MB/s"): 10.0,
                ("ucx rc", 64, "kfps"): 3.0,
                ("net_vrdma rc", 65226, "MB/s"): bw64k,
                ("net_vrdma rc", 64, "kfps"): rate64}

    def test_met_and_missed(self):
        got = rb.verdicts(self.cells(8.0, 12.0))
        self.assertEqual([m for _, m in got], [True, True])
        self.assertIn("met (0.80x)", got[0][0])
        got = rb.verdicts(self.cells(7.9, 11.9))
        self.assertEqual([m for _, m in got], [False, False])
        self.assertIn("MISSED (3.97x)", got[1][0])

    def test_a_missing_cell_is_not_measured(self):
        cells = self.cells(None, 12.0)
        del cells[("ucx rc", 64, "kfps")]
        got = rb.verdicts(cells)
        self.assertEqual([m for _, m in got], [None, None])
        self.assertTrue(all("NOT MEASURED" in t for t, _ in got))


class Table(unittest.TestCase):
    def test_medians_ratios_and_reasons(self):
        values = {("ucx rc", 64, "rtt us"): [50000.0, 40000.0, 52000.0],
                  ("net_vrdma rc", 64, "rtt us"): [44000.0],
                  ("perftest", 64, "rtt us"): [55000.0]}
        why = {("perftest", 1500, "kfps"): "ib_write_bw 1500: timed out "
               "after 90s",
               ("net_vrdma rc", 64, "rtt us"): "pingpong 64: lost; more"}
        lines, notes, cells = rb.table(values, why)
        self.assertEqual(cells[("ucx rc", 64, "rtt us")], 50000.0)
        row = next(ln for ln in lines if ln.startswith("net_vrdma rc") and
                   "rtt us" in ln)
        self.assertRegex(row, r"44000\s+0\.88\s+0\.80\s+1  a round failed")
        row = next(ln for ln in lines if ln.startswith("perftest") and
                   " 1500 " in ln and "kfps" in ln)
        self.assertRegex(row, r"\s-\s+-\s+-\s+0  ib_write_bw 1500: "
                         "timed out after 90s$")
        self.assertEqual(notes, list(why.values()))
        # A header; 7 rows a case, 6 for the stream-only variants.
        self.assertEqual(len(lines), 1 + len(rb.CASES) * 7 - len(rb.BIG))
        self.assertFalse(any(ln.startswith(rb.RNDV) and "rtt" in ln
                             for ln in lines))

    def test_rndv_vs_eager(self):
        size = max(rb.SIZES)
        cells = {(rb.EAGER, size, "MB/s"): 10.0,
                 (rb.RNDV, size, "MB/s"): 25.0}
        line = rb.rndv_vs_eager(cells)
        self.assertIn("rendezvous is faster (2.50x)", line)
        cells[(rb.RNDV, size, "MB/s")] = 5.0
        self.assertIn("eager is faster (0.50x)", rb.rndv_vs_eager(cells))
        del cells[(rb.EAGER, size, "MB/s")]
        self.assertIsNone(rb.rndv_vs_eager(cells))

    def test_record_knows_the_markers(self):
        self.assertIn("roce", record.NAMES)
        self.assertEqual(record.markers("roce")[0],
                         "<!-- vrdma-bench:roce begin -->")


if __name__ == "__main__":
    unittest.main()
