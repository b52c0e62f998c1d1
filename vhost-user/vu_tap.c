/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The namespace side of vrdma-vhost-ns: entering the network namespace,
 * creating the tap (one fd per queue pair, virtio-net headers on, MAC,
 * MTU, link up), its carrier, which follows the vhost-user connection,
 * and its offloads, which follow the features the switch accepted. The
 * copy loops that read and write the tap are in vu_data.c; vu_ctl.c calls
 * the carrier and offload functions as the connection comes and goes.
 */
#include "vu_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vu_data.h"
#include "vu_proto.h"

int
vrdma_vu_enter_netns(struct vrdma_vns *v)
{
	char path[4096];
	int fd;

	if (v->o.netns == NULL)
		return 0;
	if (strchr(v->o.netns, '/') != NULL)
		snprintf(path, sizeof(path), "%s", v->o.netns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", v->o.netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		vrdma_vns_log(
			v,
			"error: network namespace %s not found (%s): %s; fix: "
			"ip netns add %s",
			v->o.netns, path, strerror(errno), v->o.netns);
		return -1;
	}
	if (setns(fd, CLONE_NEWNET) != 0) {
		vrdma_vns_log(v, "error: cannot enter network namespace %s: %s",
			      v->o.netns, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

unsigned int
vrdma_vu_tap_offloads(uint64_t f)
{
	unsigned int o = 0;

	if (f & VRDMA_BIT(VRDMA_VIRTIO_NET_F_CSUM))
		o |= TUN_F_CSUM;
	if (f & VRDMA_BIT(VRDMA_VIRTIO_NET_F_HOST_TSO4))
		o |= TUN_F_TSO4;
	if (f & VRDMA_BIT(VRDMA_VIRTIO_NET_F_HOST_TSO6))
		o |= TUN_F_TSO6;
	return o;
}

void
vrdma_vu_tap_carrier(struct vrdma_vns *v, bool on)
{
	int c = on;

	/* TUNSETCARRIER tells the namespace's stack the link state; older
	 * kernels lack it, and then the link just stays up. */
	if (ioctl(v->qp[0].tap, TUNSETCARRIER, &c) != 0 && errno != EINVAL)
		vrdma_vns_log(v, "warning: cannot set carrier %s: %s",
			      on ? "on" : "off", strerror(errno));
}

static int
ifreq_ioctl(struct vrdma_vns *v, unsigned long req, struct ifreq *ifr,
	    const char *what)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = s < 0 ? -1 : ioctl(s, req, ifr);

	if (ret != 0)
		vrdma_vns_log(v, "error: cannot set %s of %s: %s", what,
			      v->o.ifname, strerror(errno));
	if (s >= 0)
		close(s);
	return ret;
}

int
vrdma_vu_tap_create(struct vrdma_vns *v)
{
	struct ifreq ifr;
	int hdr = VRDMA_VU_VNET_HDR_LEN;

	for (unsigned int q = 0; q < v->o.queues; q++) {
		struct vrdma_vu_qpair *p = &v->qp[q];

		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", v->o.ifname);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		if (v->o.queues > 1)
			ifr.ifr_flags |= IFF_MULTI_QUEUE;
		p->tap = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (p->tap < 0) {
			vrdma_vns_log(
				v,
				"error: cannot open /dev/net/tun: %s; fix: "
				"modprobe tun, run as root",
				strerror(errno));
			return -1;
		}
		if (ioctl(p->tap, TUNSETIFF, &ifr) != 0) {
			vrdma_vns_log(
				v,
				"error: cannot create tap %s%s%s: %s; fix: pick "
				"another --ifname or remove the interface",
				v->o.ifname, v->o.netns ? " in namespace " : "",
				v->o.netns ? v->o.netns : "", strerror(errno));
			return -1;
		}
		if (ioctl(p->tap, TUNSETVNETHDRSZ, &hdr) != 0 ||
		    ioctl(p->tap, TUNSETOFFLOAD, 0) != 0) {
			vrdma_vns_log(
				v,
				"error: tap %s refuses virtio-net headers: %s",
				v->o.ifname, strerror(errno));
			return -1;
		}
	}
	vrdma_vu_tap_carrier(v, false);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", v->o.ifname);
	if (v->o.have_mac) {
		ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
		memcpy(ifr.ifr_hwaddr.sa_data, v->o.mac, 6);
		if (ifreq_ioctl(v, SIOCSIFHWADDR, &ifr, "the MAC address"))
			return -1;
	}
	ifr.ifr_mtu = (int)v->o.mtu;
	if (ifreq_ioctl(v, SIOCSIFMTU, &ifr, "the MTU"))
		return -1;
	if (ifreq_ioctl(v, SIOCGIFFLAGS, &ifr, "the flags"))
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return ifreq_ioctl(v, SIOCSIFFLAGS, &ifr, "the link up");
}

int
vrdma_vu_tap_offload(struct vrdma_vns *v, unsigned int off)
{
	for (unsigned int q = 0; q < v->o.queues; q++)
		if (ioctl(v->qp[q].tap, TUNSETOFFLOAD, off) != 0) {
			vrdma_vns_log(v, "error: tap refuses offloads 0x%x: %s",
				      off, strerror(errno));
			return -1;
		}
	return 0;
}
