#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# /init of the vrdma guest image (packed by tools/vrdmalib/guestimage.py),
# PID 1 of a VM that boots vmlinuz with initrd.img as its whole root file
# system. It mounts the kernel file systems, loads the virtio modules, names
# the guest and configures its first virtio NIC from the kernel command line
# (vrdma.name=NAME vrdma.ip=CIDR, optional vrdma.mtu=N and vrdma.gw=ADDR),
# starts the QEMU guest agent on its virtio-serial port (the host runs
# commands through it) and dropbear on port 22 (mpirun in one guest starts
# ranks in the others over it), prints "vrdma-guest ready NAME IP" on ttyS0
# and then keeps a shell there. As PID 1 it also answers busybox's poweroff,
# reboot and halt, which only signal PID 1.
set -u

export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=linux
# Everything here runs as root, which Open MPI refuses unless told; qemu-ga
# passes this environment on to what guest-exec runs.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

AGENT_PORT=org.qemu.guest_agent.0

log() {
	echo "vrdma-init: $*"
}

end() {
	sync
	"$1" -f
}

trap 'end poweroff' USR2
trap 'end reboot' TERM
trap 'end halt' USR1

mount_all() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	mkdir -p /dev/pts /dev/shm
	mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
	# Open MPI's shared-memory transport maps its segments here.
	mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
	mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
	ln -sf /proc/self/fd /dev/fd
}

# The kernel command line's vrdma.* words.
name=vrdma-guest
ip=
addr=none
mtu=
gw=
read_cmdline() {
	read -r cmdline </proc/cmdline
	for word in $cmdline; do
		case $word in
		vrdma.name=*) name=${word#vrdma.name=} ;;
		vrdma.ip=*) ip=${word#vrdma.ip=} ;;
		vrdma.mtu=*) mtu=${word#vrdma.mtu=} ;;
		vrdma.gw=*) gw=${word#vrdma.gw=} ;;
		esac
	done
}

# The first network interface driven by virtio_net, once it exists.
virtio_nic() {
	tries=50
	while [ "$tries" -gt 0 ]; do
		for dev in /sys/class/net/*; do
			driver=$(readlink "$dev/device/driver" 2>/dev/null) || continue
			if [ "${driver##*/}" = virtio_net ]; then
				echo "${dev##*/}"
				return 0
			fi
		done
		# Wait only while a virtio network device (id 1) has none yet.
		grep -qsx 0x0001 /sys/bus/virtio/devices/*/device || return 1
		tries=$((tries - 1))
		sleep 0.1
	done
	return 1
}

network() {
	hostname "$name"
	echo "$name" >/etc/hostname
	ip link set lo up
	if ! nic=$(virtio_nic); then
		log "no virtio network interface"
		return 1
	fi
	if [ -n "$mtu" ]; then
		ip link set "$nic" mtu "$mtu"
	fi
	ip link set "$nic" up
	if [ -z "$ip" ]; then
		log "no vrdma.ip= on the kernel command line; $nic left unaddressed"
		return 0
	fi
	ip addr add "$ip" dev "$nic"
	addr=${ip%/*}
	echo "$addr $name" >>/etc/hosts
	if [ -n "$gw" ]; then
		ip route add default via "$gw"
	fi
}

# /dev/virtio-ports/NAME links, as udev would make them; prints the guest
# agent's port if there is one.
virtio_ports() {
	mkdir -p /dev/virtio-ports
	for port in /sys/class/virtio-ports/*; do
		[ -r "$port/name" ] || continue
		read -r pname <"$port/name"
		ln -sf "../${port##*/}" "/dev/virtio-ports/$pname"
		if [ "$pname" = "$AGENT_PORT" ]; then
			echo "/dev/virtio-ports/$pname"
		fi
	done
}

# Succeeds once process $1 has file $2 open, within 5 s.
holds_open() {
	tries=50
	while [ "$tries" -gt 0 ]; do
		for fd in /proc/"$1"/fd/*; do
			if [ "$(readlink "$fd")" = "$2" ]; then
				return 0
			fi
		done
		tries=$((tries - 1))
		sleep 0.1
	done
	return 1
}

# Succeeds once something listens on TCP port $1 (hex), within 5 s.
listening() {
	tries=50
	while [ "$tries" -gt 0 ]; do
		if grep -qs ":$1 0\{8,32\}:0000 0A" /proc/net/tcp /proc/net/tcp6
		then
			return 0
		fi
		tries=$((tries - 1))
		sleep 0.1
	done
	return 1
}

# The ready line promises a working agent: wait until it has the port open.
agent() {
	tries=50
	while [ "$tries" -gt 0 ]; do
		port=$(virtio_ports)
		if [ -n "$port" ]; then
			qemu-ga --method=virtio-serial --path="$port" \
				--statedir=/run </dev/null >/run/qemu-ga.log 2>&1 &
			holds_open $! "$(readlink -f "$port")" ||
				log "qemu-ga did not open $port"
			return 0
		fi
		tries=$((tries - 1))
		sleep 0.1
	done
	log "no virtio-serial port $AGENT_PORT; no guest agent"
}

console_shell() {
	while :; do
		setsid -c sh -l </dev/ttyS0 >/dev/ttyS0 2>&1
		sleep 1
	done
}

mount_all
read_cmdline
modprobe -a virtio_pci virtio_net virtio_console virtio_blk virtio_rng
network || log "network setup failed"
agent
dropbear -s -p 22 -r /etc/dropbear/dropbear_ed25519_host_key \
	-P /run/dropbear.pid
listening 0016 || log "dropbear is not listening on port 22"
if (: <>/dev/ttyS0) 2>/dev/null; then
	echo "vrdma-guest ready $name $addr" >/dev/ttyS0
	console_shell &
else
	echo "vrdma-guest ready $name $addr"
fi
# Wait for children and for the signals above; wait returns on either.
while :; do
	wait
	sleep 1
done
