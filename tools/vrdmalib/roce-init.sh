#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# PID 1 of a soft-RoCE host (roce.py): a QEMU VM running Debian's standard
# kernel on this machine's own root file system, shared read-only over
# virtio-9p. The initramfs mounted that share and switch_rooted here; this
# script makes the few writable places a node needs (tmpfs), loads the
# kernel's modules from the testbed's module tree (a 9p path too), brings
# up the fabric NIC with an rxe device on it, starts the QEMU guest agent
# (the host's way in: vrdma roce exec) and then only reaps orphans. The
# kernel command line carries vrdma.name, vrdma.ip (CIDR), vrdma.mtu and
# vrdma.modroot.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/run/home LANG=C.UTF-8

say() { echo "vrdma-roce: $*" >/dev/console; }

arg() {
	local kv
	for kv in $(cat /proc/cmdline); do
		case $kv in "vrdma.$1="*) echo "${kv#*=}"; return ;; esac
	done
}

name=$(arg name)
ip=$(arg ip)
mtu=$(arg mtu)
modroot=$(arg modroot)

# Writable places on a read-only root: everything a node, DPDK, OVS, MPI
# and the agent write goes to memory and is gone when the VM stops.
# The host's /tmp (a checkout or a test's files may live there) stays
# visible, read-only, at /run/host/tmp.
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/host/tmp /dev/shm /dev/pts /run/home /run/lock
mount --bind /tmp /run/host/tmp
# dpkg's database stays readable (vrdma asks it what is installed).
mkdir -p /run/host/dpkg
mount --bind /var/lib/dpkg /run/host/dpkg
for dir in /tmp /var/tmp /var/log /var/lib /var/cache/private; do
	[ -d "$dir" ] && mount -t tmpfs -o mode=1777 tmpfs "$dir"
done
mkdir -p /var/lib/dpkg
mount --bind /run/host/dpkg /var/lib/dpkg
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t devpts devpts /dev/pts
mount -t configfs configfs /sys/kernel/config 2>/dev/null
ln -sf /proc/self/fd /dev/fd

# Modules come from the testbed's tree of the VM's kernel, not the host's:
# the kernel's own requests (a tap, a bridge) go through the same wrapper.
kver=$(uname -r)
if [ -n "$modroot" ] && [ -d "$modroot/lib/modules/$kver" ]; then
	cat >/run/modprobe <<EOF
#!/bin/sh
exec /usr/sbin/modprobe -d $modroot "\$@"
EOF
	chmod 755 /run/modprobe
	echo /run/modprobe >/proc/sys/kernel/modprobe
	for mod in crc32_generic rdma_rxe ib_uverbs rdma_ucm tun; do
		/run/modprobe "$mod" || say "modprobe $mod failed"
	done
else
	say "no module tree for kernel $kver under '$modroot'"
fi

hostname "$name"
ip link set lo up
ip link set eth0 mtu "${mtu:-9000}"
ip addr add "$ip" dev eth0
ip link set eth0 up
# rxe needs crc32 (crc32_generic) and a netdev; RoCE v2 GIDs follow the
# netdev's addresses.
rdma link add rxe0 type rxe netdev eth0 || say "rdma link add failed"

# Memory registration pins pages: the verbs user needs no lock limit.
ulimit -l unlimited
ulimit -n 65536

agent=""
for port in /sys/class/virtio-ports/*; do
	[ "$(cat "$port/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] &&
		agent=/dev/$(basename "$port")
done
start_agent() {
	/usr/sbin/qemu-ga -m virtio-serial -p "$agent" -t /run &
	agent_pid=$!
}
if [ -z "$agent" ]; then
	say "no guest agent port"
else
	start_agent
fi
say "ready $name $ip rxe0 $(cat /sys/class/infiniband/rxe0/ports/1/state 2>/dev/null)"

# PID 1: adopt and reap orphans; an agent that died is started again.
trap '' TERM INT
while :; do
	sleep 1
	if [ -n "$agent" ] && ! kill -0 "$agent_pid" 2>/dev/null; then
		say "guest agent exited; starting it again"
		start_agent
	fi
done
