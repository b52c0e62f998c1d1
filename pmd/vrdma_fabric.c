/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_vrdma fabric: the UCX side of a fabric port. One UCX context per
 * port and one worker per lane (per rx queue, see vrdma.h); each lane a
 * listener on the listen address's port + its number that accepts only
 * the listed peers, and per peer one outgoing endpoint to the peer's
 * listener of the same lane that carries our frames (its incoming
 * endpoint only carries the peer's). Endpoints are created
 * without blocking; a flush tells when one is wired up, an error handler
 * when it is gone, and the progress call (from the bursts) retries lost
 * peers with exponential backoff, so connection setup never stalls the data
 * path. With a key (keyfile=), every connection is authenticated both ways
 * by a challenge and response (vrdma_auth.h) before frames go on it or
 * count from it. Everything a lane has runs under its lane->lock.
 */

#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_memory.h>

#include "vrdma.h"

static int
ucs_to_errno(ucs_status_t status)
{
	switch (status) {
	case UCS_OK:
		return 0;
	case UCS_ERR_NO_MEMORY:
		return -ENOMEM;
	case UCS_ERR_INVALID_PARAM:
		return -EINVAL;
	case UCS_ERR_BUSY:
		return -EADDRINUSE;
	case UCS_ERR_UNREACHABLE:
	case UCS_ERR_CONNECTION_RESET:
	case UCS_ERR_ENDPOINT_TIMEOUT:
		return -ECONNRESET;
	case UCS_ERR_UNSUPPORTED:
		return -ENOTSUP;
	default:
		return -EIO;
	}
}

static uint64_t
ms_to_tsc(uint64_t ms)
{
	return rte_get_timer_hz() / 1000 * ms;
}

uint64_t
vrdma_fabric_connected_mask(const struct vrdma_lane *lane)
{
	uint64_t mask = 0;
	unsigned int i;

	for (i = 0; i < lane->port->n_peers; i++)
		if (vrdma_peer_tx_ep(&lane->peers[i]) != NULL)
			mask |= UINT64_C(1) << i;
	return mask;
}

static void
peer_retry_later(struct vrdma_peer *peer)
{
	uint64_t max = ms_to_tsc(VRDMA_BACKOFF_MAX_MS);

	peer->next_try = rte_get_timer_cycles() + peer->backoff;
	peer->backoff = RTE_MIN(peer->backoff * 2, max);
}

/* True if a line may be logged now; *held gets the lines held back since
 * the last one (to say so in it). */
static bool
ratelimit_ok(struct vrdma_ratelimit *rl, uint64_t *held)
{
	uint64_t now = rte_get_timer_cycles();

	if (now < rl->next) {
		rl->suppressed++;
		return false;
	}
	*held = rl->suppressed;
	rl->suppressed = 0;
	rl->next = now + rte_get_timer_hz() * VRDMA_REFUSAL_LOG_S;
	return true;
}

/* A refused connection, logged at most once per VRDMA_REFUSAL_LOG_S: a
 * host that keeps trying must not fill the switch's log. */
#define REFUSAL_LOG(lane, fmt, ...)                                           \
	do {                                                                  \
		uint64_t held_;                                               \
		if (ratelimit_ok(&(lane)->refusal_log, &held_))               \
			VRDMA_LOG(WARNING,                                    \
				  "%s: " fmt " (%" PRIu64 " more such lines " \
				  "held back)",                               \
				  (lane)->port->name, ##__VA_ARGS__, held_);  \
	} while (0)

/* Closing an endpoint from inside a UCX callback is not allowed; the error
 * handlers only mark it, and this closes it from the progress call. */
static void
ep_close(struct vrdma_lane *lane, ucp_ep_h ep)
{
	ucp_request_param_t param = {
		.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
		.flags = UCP_EP_CLOSE_FLAG_FORCE,
	};
	ucs_status_ptr_t req = ucp_ep_close_nbx(ep, &param);
	unsigned int spins = 0;

	if (req == NULL || UCS_PTR_IS_ERR(req))
		return;
	/* A forced close completes locally; bound the wait anyway. */
	while (ucp_request_check_status(req) == UCS_INPROGRESS &&
	       spins++ < 100000)
		ucp_worker_progress(lane->worker);
	ucp_request_free(req);
}

/* From inside a callback: start a forced close without progressing; the
 * request is released by UCX once it completes. */
static void
ep_close_later(ucp_ep_h ep)
{
	ucp_request_param_t param = {
		.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
		.flags = UCP_EP_CLOSE_FLAG_FORCE,
	};
	ucs_status_ptr_t req = ucp_ep_close_nbx(ep, &param);

	if (req != NULL && !UCS_PTR_IS_ERR(req))
		ucp_request_free(req);
}

static void
out_ep_error(void *arg, ucp_ep_h ep, ucs_status_t status)
{
	struct vrdma_peer *peer = arg;

	RTE_SET_USED(ep);
	if (peer->connected)
		VRDMA_LOG(NOTICE, "%s: peer %s lost (%s)", peer->port->name,
			  peer->name, ucs_status_string(status));
	peer->connected = false;
	peer->connecting = false;
	peer->out_failed = true;
}

static void
in_ep_error(void *arg, ucp_ep_h ep, ucs_status_t status)
{
	struct vrdma_peer *peer = arg;

	RTE_SET_USED(status);
	/* Only the current incoming endpoint: a restarted peer's new
	 * connection may have replaced (and closed) the failed one in the
	 * same progress call, and must not be closed in its stead. */
	if (ep == peer->in_ep)
		peer->in_failed = true;
	else if (ep == peer->new_in_ep)
		peer->new_in_failed = true;
}

/*
 * Which transports the wired-up out_ep's lanes use, into peer->via and, as
 * "rc_verbs/rxe0:1", into buf for the log. Read from UCX's description of
 * the endpoint: UCX 1.13's ucp_ep_query has no transports field. Once per
 * connection, never per frame: the memory stream allocates.
 */
static void
peer_describe(struct vrdma_peer *peer, char *buf, size_t len)
{
	struct vrdma_tl_lanes lanes;
	char *text = NULL;
	size_t size = 0;
	FILE *f;

	memset(peer->via, 0, sizeof(peer->via));
	snprintf(buf, len, "unknown transports");
	f = open_memstream(&text, &size);
	if (f == NULL)
		return;
	ucp_ep_print_info(peer->out_ep, f);
	if (fclose(f) != 0 || text == NULL) {
		free(text);
		return;
	}
	if (vrdma_tl_lanes_parse(text, &lanes) == 0) {
		RTE_BUILD_BUG_ON(sizeof(peer->via) != sizeof(lanes.roles));
		memcpy(peer->via, lanes.roles, sizeof(peer->via));
		snprintf(buf, len, "%s", lanes.summary);
	} else {
		VRDMA_LOG(DEBUG,
			  "%s: peer %s: no lanes in UCX's endpoint "
			  "description",
			  peer->port->name, peer->name);
	}
	free(text);
}

/* out_ep is wired up and, with a key, its server accepted our proof:
 * frames may go. */
static void
peer_up(struct vrdma_peer *peer)
{
	char via[128];

	peer->connecting = false;
	peer->connected = true;
	peer->failures = 0;
	peer->mismatch_told = false;
	peer->backoff = ms_to_tsc(VRDMA_BACKOFF_MIN_MS);
	peer->stats.reconnects++;
	peer_describe(peer, via, sizeof(via));
	VRDMA_LOG(NOTICE, "%s: peer %s connected via %s%s", peer->port->name,
		  peer->name, via,
		  peer->port->key.len != 0 ? ", authenticated" : "");
}

static void
wireup_result(struct vrdma_peer *peer, ucs_status_t status)
{
	if (peer->out_ep == NULL || !peer->connecting)
		return; /* closed meanwhile */
	if (status != UCS_OK) {
		peer->connecting = false;
		peer->out_failed = true;
		return;
	}
	if (peer->port->key.len != 0) {
		/* Still connecting: the progress call says hello. */
		peer->out_send = VRDMA_AUTH_HELLO;
		return;
	}
	peer_up(peer);
}

static void
wireup_done(void *request, ucs_status_t status, void *user_data)
{
	wireup_result(user_data, status);
	ucp_request_free(request);
}

static void
peer_connect(struct vrdma_lane *lane, struct vrdma_peer *peer)
{
	const struct sockaddr_storage *ss = &peer->addr;
	ucp_ep_params_t params = {
		.field_mask = UCP_EP_PARAM_FIELD_FLAGS |
			      UCP_EP_PARAM_FIELD_SOCK_ADDR |
			      UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
			      UCP_EP_PARAM_FIELD_ERR_HANDLER,
		.flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER,
		.sockaddr =
			{
				.addr = (const struct sockaddr *)ss,
				.addrlen = ss->ss_family == AF_INET6
						   ? sizeof(struct sockaddr_in6)
						   : sizeof(struct sockaddr_in),
			},
		.err_mode = UCP_ERR_HANDLING_MODE_PEER,
		.err_handler = {.cb = out_ep_error, .arg = peer},
	};
	ucp_request_param_t flush = {
		.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK |
				UCP_OP_ATTR_FIELD_USER_DATA,
		.cb.send = wireup_done,
		.user_data = peer,
	};
	ucs_status_ptr_t req;
	ucs_status_t status;

	status = ucp_ep_create(lane->worker, &params, &peer->out_ep);
	if (status != UCS_OK) {
		peer->out_ep = NULL;
		VRDMA_LOG(INFO, "%s: connect to %s: %s", lane->port->name,
			  peer->name, ucs_status_string(status));
		peer_retry_later(peer);
		return;
	}
	peer->connecting = true;
	peer->out_trusted = false;
	peer->out_send = VRDMA_AUTH_NONE;
	peer->out_wait = VRDMA_AUTH_NONE;
	peer->give_up =
		rte_get_timer_cycles() + ms_to_tsc(VRDMA_CONNECT_TIMEOUT_MS);
	/* The flush completes once the endpoint is wired up to the peer. */
	req = ucp_ep_flush_nbx(peer->out_ep, &flush);
	if (req == NULL)
		wireup_result(peer, UCS_OK);
	else if (UCS_PTR_IS_ERR(req))
		wireup_result(peer, UCS_PTR_STATUS(req));
}

/*
 * The connection in new_in_ep is the peer's (it proved the key, or there
 * is none): it becomes in_ep. From inside a UCX callback.
 */
static void
in_promote(struct vrdma_port *port, struct vrdma_peer *peer)
{
	if (peer->in_ep != NULL) {
		/* The peer restarted: both old connections lead to a process
		 * that is gone, though UCX may not have said so yet (a
		 * keepalive or a failed send tells it, seconds later). Say it
		 * now and reconnect at once. Closing an endpoint progresses
		 * the worker, which a UCX callback must not do: the progress
		 * call closes them. */
		VRDMA_LOG(NOTICE,
			  "%s: peer %s lost (it connected again: restarted)",
			  port->name, peer->name);
		if (peer->old_in_ep != NULL) /* restarted twice meanwhile */
			ep_close_later(peer->old_in_ep);
		peer->old_in_ep = peer->in_ep;
		peer->in_failed = false;
		if (peer->out_ep != NULL) {
			peer->out_failed = true;
			peer->connected = false;
			peer->connecting = false;
		}
	}
	peer->in_ep = peer->new_in_ep;
	peer->new_in_ep = NULL;
	VRDMA_LOG(NOTICE, "%s: peer %s connected to us%s", port->name,
		  peer->name, port->key.len != 0 ? ", authenticated" : "");
	/* A peer that connects to us is up again: try it now. */
	if (!peer->connected && !peer->connecting) {
		peer->next_try = 0;
		peer->backoff = ms_to_tsc(VRDMA_BACKOFF_MIN_MS);
	}
}

static void
conn_request(ucp_conn_request_h req, void *arg)
{
	struct vrdma_lane *lane = arg;
	struct vrdma_port *port = lane->port;
	ucp_conn_request_attr_t attr = {
		.field_mask = UCP_CONN_REQUEST_ATTR_FIELD_CLIENT_ADDR,
	};
	struct vrdma_peer *peer;
	ucp_ep_params_t params;
	char who[64] = "?";
	int idx;

	if (ucp_conn_request_query(req, &attr) != UCS_OK) {
		lane->rejected++;
		ucp_listener_reject(lane->listener, req);
		return;
	}
	vrdma_devargs_format_addr(&attr.client_address, who, sizeof(who));
	idx = vrdma_devargs_find_peer(&port->da,
				      (struct sockaddr *)&attr.client_address);
	if (idx < 0) {
		lane->rejected++;
		REFUSAL_LOG(lane,
			    "connection from %s rejected: not a listed "
			    "peer",
			    who);
		ucp_listener_reject(lane->listener, req);
		return;
	}
	peer = &lane->peers[idx];
	if (peer->new_in_ep != NULL) {
		/* An earlier one that has not proven the key yet: the newest
		 * wins (a restarted peer's retry). */
		ep_close_later(peer->new_in_ep);
		peer->new_in_ep = NULL;
	}
	memset(&params, 0, sizeof(params));
	params.field_mask = UCP_EP_PARAM_FIELD_CONN_REQUEST |
			    UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
			    UCP_EP_PARAM_FIELD_ERR_HANDLER;
	params.conn_request = req;
	params.err_mode = UCP_ERR_HANDLING_MODE_PEER;
	params.err_handler.cb = in_ep_error;
	params.err_handler.arg = peer;
	if (ucp_ep_create(lane->worker, &params, &peer->new_in_ep) != UCS_OK) {
		peer->new_in_ep = NULL;
		return;
	}
	peer->new_in_failed = false;
	if (port->key.len == 0) {
		in_promote(port, peer);
		return;
	}
	/* Nothing from it counts until it has proven the key: the address
	 * alone could be anyone's on the fabric. */
	peer->in_send = VRDMA_AUTH_NONE;
	peer->in_wait = VRDMA_AUTH_HELLO;
	peer->new_in_give_up =
		rte_get_timer_cycles() + ms_to_tsc(VRDMA_CONNECT_TIMEOUT_MS);
}

/* --- authentication (vrdma_auth.h) --------------------------------------- */

static void
auth_sent(void *request, ucs_status_t status, void *user_data)
{
	RTE_SET_USED(status); /* a failed send fails the endpoint too */
	RTE_SET_USED(user_data);
	ucp_request_free(request);
}

/* Sends an authentication message of type on ep; false if UCX refused. */
static bool
auth_send(struct vrdma_peer *peer, ucp_ep_h ep, enum vrdma_auth_type type,
	  const uint8_t *nc, const uint8_t *ns)
{
	ucp_request_param_t param = {
		.op_attr_mask =
			UCP_OP_ATTR_FIELD_FLAGS | UCP_OP_ATTR_FIELD_CALLBACK,
		.flags = UCP_AM_SEND_FLAG_REPLY | UCP_AM_SEND_FLAG_EAGER,
		.cb.send = auth_sent,
	};
	const struct vrdma_auth_key *key = &peer->port->key;
	struct vrdma_auth_msg m = {.type = type};
	uint8_t *buf = peer->auth_buf[type - 1];
	ucs_status_ptr_t req;

	memcpy(m.nc, nc, sizeof(m.nc));
	if (ns != NULL)
		memcpy(m.ns, ns, sizeof(m.ns));
	if (type == VRDMA_AUTH_CHALLENGE)
		vrdma_auth_mac(key, 's', m.nc, m.ns, m.mac);
	else if (type == VRDMA_AUTH_PROOF)
		vrdma_auth_mac(key, 'c', m.nc, m.ns, m.mac);
	vrdma_auth_encode(buf, &m);
	req = ucp_am_send_nbx(ep, VRDMA_AM_AUTH, buf, VRDMA_AUTH_MSG_LEN, NULL,
			      0, &param);
	return !UCS_PTR_IS_ERR(req);
}

/* A connection that did not prove the key: counted, logged (limited). */
static void
auth_refuse(struct vrdma_port *port, struct vrdma_peer *peer, const char *why)
{
	peer->lane->auth_failures++;
	REFUSAL_LOG(peer->lane,
		    "peer %s: authentication failed: %s; both ends need the "
		    "same keyfile (%s here)",
		    peer->name, why, port->da.keyfile);
}

/* Client side, from the progress call: what is due on out_ep. */
static void
auth_out_step(struct vrdma_port *port, struct vrdma_peer *peer)
{
	enum vrdma_auth_type type = peer->out_send;

	if (type == VRDMA_AUTH_NONE || peer->out_ep == NULL)
		return;
	peer->out_send = VRDMA_AUTH_NONE;
	if (type == VRDMA_AUTH_HELLO && vrdma_auth_nonce(peer->out_nc) != 0) {
		VRDMA_LOG(ERR, "%s: no random numbers for a nonce", port->name);
		peer->out_failed = true;
		return;
	}
	if (!auth_send(peer, peer->out_ep, type, peer->out_nc, peer->out_ns)) {
		peer->out_failed = true;
		return;
	}
	peer->out_wait = type == VRDMA_AUTH_HELLO ? VRDMA_AUTH_CHALLENGE
						  : VRDMA_AUTH_WELCOME;
}

/* Server side, from the progress call: what is due on the connection
 * being proven (CHALLENGE) or just proven (WELCOME, on in_ep). */
static void
auth_in_step(struct vrdma_port *port, struct vrdma_peer *peer)
{
	enum vrdma_auth_type type = peer->in_send;
	ucp_ep_h ep =
		type == VRDMA_AUTH_WELCOME ? peer->in_ep : peer->new_in_ep;

	if (type == VRDMA_AUTH_NONE || ep == NULL)
		return;
	peer->in_send = VRDMA_AUTH_NONE;
	if (type == VRDMA_AUTH_CHALLENGE &&
	    vrdma_auth_nonce(peer->in_ns) != 0) {
		VRDMA_LOG(ERR, "%s: no random numbers for a nonce", port->name);
		peer->new_in_failed = true;
		return;
	}
	if (!auth_send(peer, ep, type, peer->in_nc, peer->in_ns)) {
		if (type == VRDMA_AUTH_WELCOME)
			peer->in_failed = true;
		else
			peer->new_in_failed = true;
		return;
	}
	if (type == VRDMA_AUTH_CHALLENGE)
		peer->in_wait = VRDMA_AUTH_PROOF;
}

/* A message of the exchange, from the peer's side of out_ep (client). */
static void
auth_recv_out(struct vrdma_port *port, struct vrdma_peer *peer,
	      const struct vrdma_auth_msg *m)
{
	if (m->type != peer->out_wait ||
	    memcmp(m->nc, peer->out_nc, sizeof(m->nc)) != 0 ||
	    (m->type == VRDMA_AUTH_WELCOME &&
	     memcmp(m->ns, peer->out_ns, sizeof(m->ns)) != 0)) {
		auth_refuse(port, peer, "unexpected message");
		peer->out_failed = true;
		return;
	}
	peer->out_wait = VRDMA_AUTH_NONE;
	if (m->type == VRDMA_AUTH_CHALLENGE) {
		if (!vrdma_auth_verify(&port->key, 's', m->nc, m->ns, m->mac)) {
			auth_refuse(port, peer, "its key differs from ours");
			peer->out_failed = true;
			return;
		}
		peer->out_trusted = true;
		memcpy(peer->out_ns, m->ns, sizeof(peer->out_ns));
		peer->out_send = VRDMA_AUTH_PROOF;
		return;
	}
	peer_up(peer); /* WELCOME */
}

/* A message of the exchange, from a connection to our listener (server). */
static void
auth_recv_in(struct vrdma_port *port, struct vrdma_peer *peer,
	     const struct vrdma_auth_msg *m)
{
	if (m->type != peer->in_wait ||
	    (m->type == VRDMA_AUTH_PROOF &&
	     (memcmp(m->nc, peer->in_nc, sizeof(m->nc)) != 0 ||
	      memcmp(m->ns, peer->in_ns, sizeof(m->ns)) != 0))) {
		auth_refuse(port, peer, "unexpected message");
		peer->new_in_failed = true;
		return;
	}
	peer->in_wait = VRDMA_AUTH_NONE;
	if (m->type == VRDMA_AUTH_HELLO) {
		memcpy(peer->in_nc, m->nc, sizeof(peer->in_nc));
		peer->in_send = VRDMA_AUTH_CHALLENGE;
		return;
	}
	if (!vrdma_auth_verify(&port->key, 'c', m->nc, m->ns, m->mac)) {
		auth_refuse(port, peer, "its key differs from ours");
		peer->new_in_failed = true;
		return;
	}
	in_promote(port, peer);
	peer->in_send = VRDMA_AUTH_WELCOME;
}

/* The AM handler of VRDMA_AM_AUTH. Whatever a message holds, it only moves
 * an exchange that its connection is in along, or fails it. */
static ucs_status_t
auth_recv(void *arg, const void *header, size_t header_len, void *data,
	  size_t len, const ucp_am_recv_param_t *param)
{
	struct vrdma_lane *lane = arg;
	struct vrdma_port *port = lane->port;
	struct vrdma_auth_msg m;
	ucp_ep_h ep;
	unsigned int i;

	RTE_SET_USED(data);
	if (!(param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) ||
	    (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) || len != 0 ||
	    port->key.len == 0 ||
	    vrdma_auth_decode(&m, header, header_len) != 0) {
		lane->auth_failures++;
		return UCS_OK;
	}
	ep = param->reply_ep;
	for (i = 0; i < port->n_peers; i++) {
		struct vrdma_peer *peer = &lane->peers[i];

		if (ep == peer->out_ep && peer->connecting) {
			auth_recv_out(port, peer, &m);
			return UCS_OK;
		}
		if (ep == peer->new_in_ep && !peer->new_in_failed) {
			auth_recv_in(port, peer, &m);
			return UCS_OK;
		}
	}
	lane->auth_failures++; /* no exchange under way on it */
	return UCS_OK;
}

/*
 * Listen on the lane's address. A restarted port may find it still taken
 * by its old connections (TIME_WAIT, up to a minute): the port then starts
 * anyway, connects out, and the progress call retries listening each
 * second. Returns 0, -EADDRINUSE (retry pending) or another -errno.
 */
static int
listen_start(struct vrdma_lane *lane)
{
	ucp_listener_params_t lparams = {
		.field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR |
			      UCP_LISTENER_PARAM_FIELD_CONN_HANDLER,
		.sockaddr =
			{
				.addr = (const struct sockaddr *)&lane->listen,
				.addrlen = lane->listen.ss_family == AF_INET6
						   ? sizeof(struct sockaddr_in6)
						   : sizeof(struct sockaddr_in),
			},
		.conn_handler = {.cb = conn_request, .arg = lane},
	};
	const char *name = lane->port->name;
	ucs_status_t status;
	char where[64] = "?";

	status = ucp_listener_create(lane->worker, &lparams, &lane->listener);
	if (status == UCS_OK) {
		if (lane->listen_retry != 0)
			VRDMA_LOG(NOTICE, "%s: lane %u listening again", name,
				  lane->id);
		lane->listen_retry = 0;
		return 0;
	}
	lane->listener = NULL;
	vrdma_devargs_format_addr(&lane->listen, where, sizeof(where));
	if (status == UCS_ERR_BUSY) {
		if (lane->listen_retry == 0)
			VRDMA_LOG(WARNING,
				  "%s: %s busy (old connections in "
				  "TIME_WAIT?); retrying each second",
				  name, where);
		lane->listen_retry = rte_get_timer_cycles() + ms_to_tsc(1000);
		return -EADDRINUSE;
	}
	VRDMA_LOG(ERR, "%s: cannot listen on %s: %s", name, where,
		  ucs_status_string(status));
	return ucs_to_errno(status);
}

/*
 * A lane other than the first that keeps failing to reach a peer the
 * first lane reaches: most likely the peer has fewer rx queues (lanes),
 * and the frames this lane's thread sends to it are dropped. Said once
 * per peer and lane until it connects. The first lane's state is read
 * without its lock: only for this line.
 */
static void
lane_mismatch_check(struct vrdma_lane *lane, struct vrdma_peer *peer)
{
	const struct vrdma_peer *first =
		&lane->port->lanes[0].peers[peer->index];

	if (lane->id == 0 || peer->mismatch_told || ++peer->failures < 5 ||
	    !__atomic_load_n(&first->connected, __ATOMIC_RELAXED))
		return;
	peer->mismatch_told = true;
	VRDMA_LOG(WARNING,
		  "%s: lane %u cannot reach peer %s though lane 0 reaches it "
		  "on port %u below: does the peer have %u rx queues "
		  "([fabric] queues)? Frames this lane's thread sends there "
		  "are dropped until it does",
		  lane->port->name, lane->id, peer->name, lane->id,
		  lane->port->n_lanes);
}

unsigned int
vrdma_fabric_progress(struct vrdma_lane *lane)
{
	struct vrdma_port *port = lane->port;
	uint64_t now = rte_get_timer_cycles();
	uint64_t idle = now - lane->last_progress;
	unsigned int i, events;

	/* A wire-up takes messages both ways, each needing progress here
	 * and at the peer: its timeout counts only time this port is polled.
	 * testpmd before "start" polls only the link, twice a second; a
	 * timeout in wall time retried such a wire-up before it could end. */
	if (lane->last_progress != 0 && idle > port->progress_gap)
		for (i = 0; i < port->n_peers; i++)
			if (lane->peers[i].connecting)
				lane->peers[i].give_up += idle;
	lane->last_progress = now;
	vrdma_lends_reclaim(lane);
	/* Once per burst: every call polls each transport UCX keeps, tcp
	 * with an epoll_wait system call even when shared memory carries
	 * the frames, and a call takes many messages from shared memory. */
	events = ucp_worker_progress(lane->worker);
	if (lane->listener == NULL && lane->listen_retry != 0 &&
	    now >= lane->listen_retry)
		listen_start(lane);
	/* Lookups ignore expired MACs already; this frees their slots, so
	 * that a table filled by MACs long gone takes new ones. Lane 0's
	 * job: one sweep per period. */
	if (lane->id == 0 && now >= port->next_age) {
		rte_spinlock_lock(&port->learn_lock);
		vrdma_peers_age(&port->learn, now);
		rte_spinlock_unlock(&port->learn_lock);
		port->next_age = now + rte_get_timer_hz() * VRDMA_AGE_EVERY_S;
	}
	for (i = 0; i < port->n_peers; i++) {
		struct vrdma_peer *peer = &lane->peers[i];

		if (peer->old_in_ep != NULL) {
			ep_close(lane, peer->old_in_ep);
			peer->old_in_ep = NULL;
		}
		if (peer->in_failed) {
			peer->in_failed = false;
			if (peer->in_ep != NULL)
				ep_close(lane, peer->in_ep);
			peer->in_ep = NULL;
		}
		if (peer->new_in_ep != NULL && !peer->new_in_failed &&
		    now >= peer->new_in_give_up) {
			auth_refuse(port, peer, "no proof in time");
			peer->new_in_failed = true;
		}
		if (peer->new_in_failed) {
			peer->new_in_failed = false;
			if (peer->new_in_ep != NULL)
				ep_close(lane, peer->new_in_ep);
			peer->new_in_ep = NULL;
			peer->in_send = VRDMA_AUTH_NONE;
			peer->in_wait = VRDMA_AUTH_NONE;
		}
		auth_in_step(port, peer);
		auth_out_step(port, peer);
		if (peer->connecting && now >= peer->give_up) {
			VRDMA_LOG(INFO,
				  "%s: connection to %s not %s after %u ms; "
				  "retrying",
				  port->name, peer->name,
				  peer->out_wait != VRDMA_AUTH_NONE
					  ? "authenticated"
					  : "wired up",
				  VRDMA_CONNECT_TIMEOUT_MS);
			peer->out_failed = true;
		}
		if (peer->out_failed) {
			peer->out_failed = false;
			peer->connected = false;
			peer->connecting = false;
			peer->out_trusted = false;
			peer->out_send = VRDMA_AUTH_NONE;
			peer->out_wait = VRDMA_AUTH_NONE;
			if (peer->out_ep != NULL)
				ep_close(lane, peer->out_ep);
			peer->out_ep = NULL;
			vrdma_learn_forget(port, peer->index);
			peer_retry_later(peer);
			lane_mismatch_check(lane, peer);
		}
		if (peer->out_ep == NULL && now >= peer->next_try)
			peer_connect(lane, peer);
	}
	return events;
}

/*
 * For a port nobody polls (testpmd before "start", a link query): UCX
 * until it has nothing left to do, so that a connection's wire-up, which
 * takes several messages each way, is not one step per query.
 */
void
vrdma_fabric_progress_idle(struct vrdma_lane *lane)
{
	unsigned int n = 0;

	while (vrdma_fabric_progress(lane) != 0 && ++n < 16)
		;
}

/* UCX_TLS names (UCX 1.13's aliases included) that select a transport
 * family a UCX setting below is for. */
static const char *const mm_names[] = {
	"mm", "sm", "shm", "posix", "sysv", "xpmem", NULL,
};
static const char *const tcp_names[] = {"tcp", NULL};

/*
 * UCX settings the driver makes in the UCX configuration it creates its
 * context with, unless the environment already has them (a user's own
 * setting wins). Not through setenv: the switch's other threads read the
 * environment meanwhile, and setenv is not safe against that (glibc may
 * free the array a getenv walks). ucp_config_modify keeps the names UCP
 * does not know (the transports' and connection managers') and applies
 * them to every interface and connection manager the worker opens; UCX
 * warns of those that none took ("invalid configuration"), so only those
 * of transports the port's transports list can use are made (all for
 * UCX's default list): a port with transports=rc+ud makes none of the mm
 * or tcp ones. Each port's are its own. bench/cases.py UCX_DRIVER_ENV
 * mirrors this table (tests/tool/test_bench.py compares them).
 */
static const struct ucx_env {
	const char *name; /* as a user would export it */
	const char *value;
	const char *const *users; /* UCX_TLS names; NULL: every port */
	/* The name in the interface's table, where the environment's has a
	 * prefix that is not a table's (tcp's "TCP_"); NULL: name without
	 * "UCX_". */
	const char *key;
} ucx_env[] = {
	/* UCX 1.13 leaves shared memory out of endpoints that ask for error
	 * handling (ours must: peers restart) unless told it may use it
	 * (openucx/ucx#8477); without it two ports on one machine talk
	 * tcp. */
	{"UCX_MM_ERROR_HANDLING", "y", mm_names, NULL},
	/* Eager frames (vrdma_rxtx.c) in one piece where they fit: a shared
	 * memory FIFO element of the most UCX takes (its length is 16 bits),
	 * grown 64 at a time, not 512 (32 MiB); a tcp receive buffer that
	 * takes a 64 KiB frame whole, which lets UCX send it zero-copy. */
	{"UCX_MM_SEG_SIZE", "65535", mm_names, NULL},
	{"UCX_MM_RX_BUFS_GROW", "64", mm_names, NULL},
	{"UCX_TCP_RX_SEG_SIZE", "128k", tcp_names, "RX_SEG_SIZE"},
	/* No tcp zero-copy put: with it, tcp is a rendezvous lane (rma_bw)
	 * of every connection it reaches, shared memory's too (UCX leaves
	 * cma out of error-handling endpoints), and every worker progress
	 * then polls its sockets, an epoll_wait system call: a third of a
	 * busy receiver's time over shared memory. Without it rendezvous
	 * goes over the connection's active-message lane (verbs keep their
	 * own RDMA lanes), and tcp is polled only where it carries frames. */
	{"UCX_TCP_PUT_ENABLE", "n", tcp_names, "PUT_ENABLE"},
	/* A restarted port listens again at once: its old connections'
	 * sockets in TIME_WAIT (a minute) must not keep the address. Read
	 * by every connection manager (rdmacm's and tcp's). */
	{"UCX_CM_REUSEADDR", "y", NULL, NULL},
};

/* Sets UCX's name to a devargs key's value, if given ("" = UCX's own). */
static int
config_set(struct vrdma_port *port, ucp_config_t *config, const char *name,
	   const char *key, const char *value)
{
	ucs_status_t status;

	if (value[0] == '\0')
		return 0;
	status = ucp_config_modify(config, name, value);
	if (status != UCS_OK) {
		VRDMA_LOG(ERR, "%s: %s=%s: UCX refused it as UCX_%s (%s)",
			  port->name, key, value, name,
			  ucs_status_string(status));
		return -EINVAL;
	}
	return 0;
}

/* The name of the interface that holds addr (an address of this host),
 * or -1 if none does. */
static int
addr_iface(const struct sockaddr_storage *addr, char *name, size_t size)
{
	struct ifaddrs *all, *ifa;
	int ret = -1;

	if (getifaddrs(&all) != 0)
		return -1;
	for (ifa = all; ifa != NULL && ret != 0; ifa = ifa->ifa_next) {
		const void *have, *want;
		size_t len;

		if (ifa->ifa_addr == NULL ||
		    ifa->ifa_addr->sa_family != addr->ss_family)
			continue;
		if (addr->ss_family == AF_INET) {
			have = &((const struct sockaddr_in *)(const void *)
					 ifa->ifa_addr)
					->sin_addr;
			want = &((const struct sockaddr_in *)(const void *)addr)
					->sin_addr;
			len = sizeof(struct in_addr);
		} else {
			have = &((const struct sockaddr_in6 *)(const void *)
					 ifa->ifa_addr)
					->sin6_addr;
			want = &((const struct sockaddr_in6 *)(const void *)
					 addr)
					->sin6_addr;
			len = sizeof(struct in6_addr);
		}
		if (memcmp(have, want, len) == 0 &&
		    strlen(ifa->ifa_name) < size) {
			strcpy(name, ifa->ifa_name);
			ret = 0;
		}
	}
	freeifaddrs(all);
	return ret;
}

/*
 * With transports=tcp and no dev, UCX runs tcp lanes over every network
 * of the host, a management network too: frames leave the fabric, and
 * lanes over a network the peers do not share fail (endpoint timeouts,
 * seen on test_cluster's hosts). The fabric is the listen address's
 * network: only its interface, unless dev= or the environment names
 * devices.
 */
static int
tcp_on_listen_network(struct vrdma_port *port, ucp_config_t *config)
{
	char ifname[IF_NAMESIZE];

	if (strcmp(port->da.transports, "tcp") != 0 ||
	    port->da.devices[0] != '\0' || getenv("UCX_NET_DEVICES") != NULL ||
	    addr_iface(&port->da.listen, ifname, sizeof(ifname)) != 0)
		return 0;
	VRDMA_LOG(INFO,
		  "%s: tcp over %s only (the listen address's interface; "
		  "dev= names others)",
		  port->name, ifname);
	return config_set(port, config, "NET_DEVICES", "dev", ifname);
}

/* ucx_env's settings for this port (see above); a refused one fails. */
static int
ucx_settings(struct vrdma_port *port, ucp_config_t *config)
{
	unsigned int i;
	int ret;

	for (i = 0; i < RTE_DIM(ucx_env); i++) {
		const struct ucx_env *e = &ucx_env[i];

		if ((e->users != NULL &&
		     !vrdma_tl_list_names(port->da.transports, e->users)) ||
		    getenv(e->name) != NULL)
			continue;
		ret = config_set(port, config,
				 e->key != NULL ? e->key
						: e->name + strlen("UCX_"),
				 e->name, e->value);
		if (ret != 0)
			return ret;
	}
	return 0;
}

/* --- DPDK's memory, registered once ----------------------------------------
 */

static int
map_range(const struct rte_memseg_list *msl, const struct rte_memseg *ms,
	  size_t len, void *arg)
{
	struct vrdma_port *port = arg;
	ucp_mem_map_params_t params = {
		.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS |
			      UCP_MEM_MAP_PARAM_FIELD_LENGTH,
		.address = ms->addr,
		.length = len,
	};
	ucs_status_t status;

	RTE_SET_USED(msl);
	if (port->n_memh == VRDMA_MAX_MEMH) {
		port->unmapped += len;
		return 0;
	}
	status = ucp_mem_map(port->ctx, &params, &port->memh[port->n_memh]);
	if (status != UCS_OK) {
		VRDMA_LOG(WARNING,
			  "%s: cannot register %zu MiB of DPDK memory at %p "
			  "with UCX: %s (is the memlock limit, ulimit -l, "
			  "high enough?); frames there are registered when "
			  "first sent",
			  port->name, len >> 20, ms->addr,
			  ucs_status_string(status));
		port->unmapped += len;
		return 0;
	}
	port->n_memh++;
	port->mapped += len;
	return 0;
}

/*
 * Registers every contiguous range of DPDK's memory with UCX (with each
 * RDMA device in use: a memory region over it), so that frames in mbufs,
 * sent or received by RDMA without a copy, find their memory registered:
 * UCX's registration cache finds the region; nothing is registered on the
 * data path. Memory DPDK adds later (its heap growing past --socket-mem)
 * is registered by that cache when a frame there is first sent.
 */
static void
map_dpdk_memory(struct vrdma_port *port)
{
	port->n_memh = 0;
	port->mapped = 0;
	port->unmapped = 0;
	rte_memseg_contig_walk(map_range, port);
	VRDMA_LOG(INFO,
		  "%s: registered %zu MiB of DPDK memory with UCX "
		  "(%u ranges)%s",
		  port->name, port->mapped >> 20, port->n_memh,
		  port->unmapped != 0 ? "; some left to UCX's cache" : "");
}

static void
unmap_dpdk_memory(struct vrdma_port *port)
{
	while (port->n_memh > 0)
		ucp_mem_unmap(port->ctx, port->memh[--port->n_memh]);
}

/* The same address, its port number plus add. */
static void
addr_plus(const struct sockaddr_storage *in, uint16_t add,
	  struct sockaddr_storage *out)
{
	*out = *in;
	if (out->ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)(void *)out;

		a->sin6_port = htons((uint16_t)(ntohs(a->sin6_port) + add));
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)(void *)out;

		a->sin_port = htons((uint16_t)(ntohs(a->sin_port) + add));
	}
}

/* A lane's worker, its handlers, slots and listener; its peers to be
 * connected by the first progress call. */
static int
lane_start(struct vrdma_port *port, struct vrdma_lane *lane)
{
	ucp_worker_params_t wparams = {
		.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
		/* Called from several threads, one at a time (lane->lock). */
		.thread_mode = UCS_THREAD_MODE_SERIALIZED,
	};
	ucp_am_handler_param_t am = {
		.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID |
			      UCP_AM_HANDLER_PARAM_FIELD_CB |
			      UCP_AM_HANDLER_PARAM_FIELD_ARG,
		.cb = vrdma_am_recv,
	};
	ucs_status_t status;
	unsigned int i;
	int ret;

	addr_plus(&port->da.listen, lane->id, &lane->listen);
	lane->listen_retry = 0;
	lane->last_progress = 0;
	for (i = 0; i < port->n_peers; i++) {
		struct vrdma_peer *peer = &lane->peers[i];

		peer->port = port;
		peer->lane = lane;
		peer->index = (int)i;
		addr_plus(&port->da.peers[i], lane->id, &peer->addr);
		vrdma_devargs_format_addr(&peer->addr, peer->name,
					  sizeof(peer->name));
		peer->next_try = 0;
		peer->backoff = ms_to_tsc(VRDMA_BACKOFF_MIN_MS);
		peer->failures = 0;
		peer->mismatch_told = false;
	}
	ret = vrdma_lane_slots_init(lane);
	if (ret != 0)
		return ret;
	status = ucp_worker_create(port->ctx, &wparams, &lane->worker);
	if (status != UCS_OK) {
		lane->worker = NULL;
		ret = ucs_to_errno(status);
		goto err_slots;
	}
	ret = vrdma_lends_init(lane);
	if (ret != 0)
		goto err_destroy_worker;
	/* One AM id per rx queue: the sender's flow hash picks the id, so a
	 * flow stays on one queue of the receiver. */
	for (i = 0; i < VRDMA_MAX_RXQ; i++) {
		lane->am_ctx[i].lane = lane;
		lane->am_ctx[i].q = (uint16_t)i;
		am.id = VRDMA_AM_ID + i;
		am.arg = &lane->am_ctx[i];
		status = ucp_worker_set_am_recv_handler(lane->worker, &am);
		if (status != UCS_OK) {
			ret = ucs_to_errno(status);
			goto err_lends;
		}
	}
	am.id = VRDMA_AM_AUTH;
	am.cb = auth_recv;
	am.arg = lane;
	status = ucp_worker_set_am_recv_handler(lane->worker, &am);
	if (status != UCS_OK) {
		ret = ucs_to_errno(status);
		goto err_lends;
	}
	ret = listen_start(lane);
	if (ret != 0 && ret != -EADDRINUSE)
		goto err_lends;
	return 0;

err_lends:
	vrdma_lends_fini(lane);
err_destroy_worker:
	ucp_worker_destroy(lane->worker);
	lane->worker = NULL;
err_slots:
	vrdma_lane_slots_fini(lane);
	return ret;
}

/* Everything of a lane's UCX closed; false if the application still holds
 * frames lent from its worker, which then stays (see vrdma_lends_fini). */
static bool
lane_stop(struct vrdma_port *port, struct vrdma_lane *lane)
{
	unsigned int i;

	if (lane->worker == NULL)
		return true;
	for (i = 0; i < port->n_peers; i++) {
		struct vrdma_peer *peer = &lane->peers[i];

		if (peer->out_ep != NULL)
			ep_close(lane, peer->out_ep);
		if (peer->in_ep != NULL)
			ep_close(lane, peer->in_ep);
		if (peer->old_in_ep != NULL)
			ep_close(lane, peer->old_in_ep);
		if (peer->new_in_ep != NULL)
			ep_close(lane, peer->new_in_ep);
		peer->out_ep = NULL;
		peer->in_ep = NULL;
		peer->old_in_ep = NULL;
		peer->new_in_ep = NULL;
		peer->new_in_failed = false;
		peer->out_trusted = false;
		peer->out_send = peer->out_wait = VRDMA_AUTH_NONE;
		peer->in_send = peer->in_wait = VRDMA_AUTH_NONE;
		peer->connected = false;
		peer->connecting = false;
		peer->out_failed = false;
		peer->in_failed = false;
	}
	/* Sends still in flight complete (with an error) while we progress;
	 * their mbufs go back to their pools. */
	vrdma_tx_slots_drain(lane);
	if (lane->listener != NULL)
		ucp_listener_destroy(lane->listener);
	lane->listener = NULL;
	lane->listen_retry = 0;
	vrdma_lane_slots_fini(lane);
	if (!vrdma_lends_fini(lane)) {
		lane->worker = NULL; /* its memory holds the lent frames */
		return false;
	}
	ucp_worker_destroy(lane->worker);
	lane->worker = NULL;
	return true;
}

int
vrdma_fabric_start(struct vrdma_port *port)
{
	ucp_params_t params = {
		.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_NAME |
			      UCP_PARAM_FIELD_MT_WORKERS_SHARED,
		.features = UCP_FEATURE_AM,
		.name = port->name,
		/* The lanes' workers, each on its own thread, share it. */
		.mt_workers_shared = 1,
	};
	ucp_config_t *config;
	ucs_status_t status;
	unsigned int l;
	int ret;

	status = ucp_config_read(NULL, NULL, &config);
	if (status != UCS_OK) {
		ret = ucs_to_errno(status);
		goto err;
	}
	/* The devargs, not the switch's environment, choose transports and
	 * devices: a UCX_TLS or UCX_NET_DEVICES exported in an operator's
	 * shell is lost when the switch restarts from a service. */
	ret = ucx_settings(port, config);
	if (ret == 0)
		ret = config_set(port, config, "TLS", "transports",
				 port->da.transports);
	if (ret == 0)
		ret = config_set(port, config, "NET_DEVICES", "dev",
				 port->da.devices);
	if (ret == 0)
		ret = tcp_on_listen_network(port, config);
	if (ret != 0) {
		ucp_config_release(config);
		goto err;
	}
	status = ucp_init(&params, config, &port->ctx);
	ucp_config_release(config);
	if (status != UCS_OK) {
		VRDMA_LOG(ERR, "%s: UCX init failed: %s", port->name,
			  ucs_status_string(status));
		ret = ucs_to_errno(status);
		goto err;
	}
	map_dpdk_memory(port);
	port->n_lanes = port->n_rxq_conf;
	for (l = 0; l < port->n_lanes; l++) {
		ret = lane_start(port, &port->lanes[l]);
		if (ret != 0)
			goto err_stop_lanes;
	}
	port->next_age =
		rte_get_timer_cycles() + rte_get_timer_hz() * VRDMA_AGE_EVERY_S;
	port->progress_gap =
		rte_get_timer_hz() / 1000000 * VRDMA_TX_PROGRESS_US;
	return 0;

err_stop_lanes:
	while (l > 0)
		lane_stop(port, &port->lanes[--l]);
	unmap_dpdk_memory(port);
	ucp_cleanup(port->ctx);
	port->ctx = NULL;
err:
	return ret;
}

void
vrdma_fabric_stop(struct vrdma_port *port)
{
	bool all_closed = true;
	unsigned int i, l;

	if (port->ctx == NULL)
		return;
	for (l = 0; l < port->n_lanes; l++) {
		struct vrdma_lane *lane = &port->lanes[l];

		/* Frames still queued for the application may be lent:
		 * dropped, as a NIC's rings are at stop, so their buffers go
		 * back to UCX. Once, before the first lane's lends are
		 * waited for. */
		for (i = 0; l == 0 && i < VRDMA_MAX_RXQ; i++) {
			struct vrdma_rxq *rxq = port->rxqs[i];
			struct rte_mbuf *m;

			while (rxq != NULL &&
			       rte_ring_sc_dequeue(rxq->ring, (void **)&m) == 0)
				rte_pktmbuf_free(m);
		}
		if (!lane_stop(port, lane))
			all_closed = false;
	}
	if (!all_closed) {
		/* Lent frames' memory is a worker's: it stays, unused; so
		 * do the context and the registration of DPDK's memory (the
		 * lends may be of frames sent from it). */
		port->ctx = NULL;
		port->n_memh = 0;
		return;
	}
	unmap_dpdk_memory(port);
	ucp_cleanup(port->ctx);
	port->ctx = NULL;
}
