#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Bad input to `vrdma`: each case must fail with one line that names the
problem and the fix, exit non-zero, and leave nothing half-started."""

import json
import os

import vrdmatest
from vrdmatest import Case, processes_mentioning, rand_name, snapshot


class BadInput(Case):
    def setUp(self):
        super().setUp()
        self.before = snapshot()

    def assert_clean_error(self, proc, *words):
        self.assertNotEqual(proc.returncode, 0, proc.stdout)
        errors = [ln for ln in proc.stderr.splitlines()
                  if ln.startswith("vrdma: error:")]
        self.assertEqual(len(errors), 1, proc.stderr)
        self.assertIn("fix:", errors[0])
        self.assertNotIn("Traceback", proc.stderr)
        for word in words:
            self.assertIn(word, errors[0])
        return errors[0]

    def assert_nothing_left(self):
        self.assertEqual(processes_mentioning(self.state + "/"), [])
        self.assertEqual(snapshot(), self.before)
        left = [d for d in os.listdir(self.state)
                if not d.endswith(".toml")] \
            if os.path.isdir(self.state) else []
        self.assertEqual(left, [])

    def test_unknown_node(self):
        name = rand_name("ghost")
        for argv in (("node", "status", "--node", name),
                     ("port", "add", "--node", name, "vm1"),
                     ("vsctl", "--node", name, "--", "show")):
            self.assert_clean_error(self.vrdma(*argv, ok=False),
                                    name, "not up")
        # As LSB status does: 3 is "not up", also for machine readers.
        self.assertEqual(self.vrdma("node", "status", "--node", name,
                                    ok=False).returncode, 3)
        proc = self.vrdma("node", "status", "--node", name, "--json",
                          ok=False)
        self.assertEqual(proc.returncode, 3, proc.stderr)
        st = json.loads(proc.stdout)
        self.assertEqual((st["node"], st["up"], st["state"]),
                         (name, False, "not up"))
        self.assert_nothing_left()

    def test_missing_hugepages(self):
        name = rand_name("h")
        conf = self.write_config(name, "[memory]\nhugepage_size = \"2M\"\n"
                                 "socket_mem_mb = 102400\n")
        line = self.assert_clean_error(
            self.vrdma("node", "up", "--node", name, "--config", conf,
                       ok=False), "hugepages")
        self.assertIn("could not reserve", line)
        self.assert_nothing_left()

    def test_pmd_mask_names_absent_cores(self):
        name = rand_name("p")
        conf = self.write_config(name, '[cpu]\npmd_cores = "0,63"\n')
        self.assert_clean_error(
            self.vrdma("node", "up", "--node", name, "--config", conf,
                       ok=False), "pmd_cores", "63")
        self.assert_nothing_left()

    def test_config_typo(self):
        name = rand_name("c")
        conf = self.write_config(name, "[memory]\nhugepage = 64\n")
        line = self.assert_clean_error(
            self.vrdma("node", "up", "--node", name, "--config", conf,
                       ok=False), "hugepage")
        self.assertIn("did you mean", line)
        conf = self.write_config(name, "[cpus]\npmd_cores = \"1\"\n")
        self.assert_clean_error(
            self.vrdma("node", "up", "--node", name, "--config", conf,
                       ok=False), "[cpus]")
        conf = self.write_config(name, "[ports]\nmtu = \"big\"\n")
        self.assert_clean_error(
            self.vrdma("node", "up", "--node", name, "--config", conf,
                       ok=False), "mtu")
        conf = self.write_config(name, "[ports\nmtu = 1500\n")
        self.assert_clean_error(
            self.vrdma("node", "up", "--node", name, "--config", conf,
                       ok=False), "TOML")
        self.assert_nothing_left()

    def test_fabric_keyfile_unusable(self):
        """The fabric port's key file missing or readable by others: node
        up fails with the driver's reason and how to make a good one."""
        name = rand_name("k")
        key = os.path.join(self.state, f"{name}.key")
        conf = self.write_config(
            name, f'[fabric]\nlisten = "127.0.0.1:17999"\n'
            f'peers = ["127.0.0.2:17999"]\nkeyfile = "{key}"\n')
        self.assert_clean_error(
            self.vrdma("node", "up", "--node", name, "--config", conf,
                       ok=False), key, "no such file", "openssl rand")
        self.assert_nothing_left()
        with open(key, "w", encoding="ascii") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        os.chmod(key, 0o644)
        self.assert_clean_error(
            self.vrdma("node", "up", "--node", name, "--config", conf,
                       ok=False), "mode 644", f"chmod 600 {key}")
        os.unlink(key)
        self.assert_nothing_left()

    def test_port_name_in_use(self):
        name = rand_name("u")
        self.node_up(name)
        self.vrdma("port", "add", "--node", name, "vm1")
        again = self.vrdma("port", "add", "--node", name, "vm1")
        self.assertIn("already present", again.stderr)
        self.assert_clean_error(
            self.vrdma("port", "add", "--node", name, "vm1", "--mode",
                       "server", ok=False), "vm1", "already in use")
        self.assert_clean_error(
            self.vrdma("port", "add", "--node", name, f"br-{name}",
                       ok=False), "bridge")
        self.assert_clean_error(
            self.vrdma("port", "add", "--node", name, "bad/name",
                       ok=False), "bad guest name")

    def test_second_node_in_same_namespace(self):
        first, second = rand_name("f"), rand_name("s")
        self.node_up(first)
        root = os.path.join(self.state, second)
        self.assert_clean_error(
            self.vrdma("node", "up", "--node", second, ok=False),
            "netns")
        self.assertEqual(processes_mentioning(root + "/"), [])
        self.assertFalse(os.path.exists(root))


if __name__ == "__main__":
    vrdmatest.main()
