# SPDX-License-Identifier: BSD-3-Clause
"""The benchmarks of vrdma, run by `vrdma bench` (tools/vrdma).

  cases.py         what is measured and aimed for (a leaf: no project
                   imports)
  table1.py        the 2015 report's benchmark: Table 1's cases on emulated
                   hosts or, through remote.py, on two real ones
  remote.py        real hosts for `vrdma bench --hosts FILE` (ssh)
  report.py        a Table 1 run's summary, CSV, JSON and report.md
  figures.py       Figures 4-6 of the report (matplotlib)
  fabric_bench.py  the fabric port against bare UCX and other DPDK ports
                   (`vrdma bench fabric`)
  ns_bench.py      namespace guests against a veth (`vrdma bench ns`)
  record.py        writes a run's table into a markdown document (--record)

Imports go one way: table1 -> report -> figures -> cases, and every module
may use vrdmalib (the operator library); vrdmalib imports bench only from
its command line, when a bench command runs. Both packages import with
PYTHONPATH=tools:. from the repository's top (tools/vrdma sets it)."""
