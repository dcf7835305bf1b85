/* Probe profiles (issue 15, groups with their own settings) through a shard: two
 * profiles' requests differ on the wire (TTL / hop limit, TOS / traffic class, size,
 * source) on one socket, by per-packet control messages, on both backends and both
 * ICMP modes; each profile times out at its own timeout; each probes its own
 * ping_count per round. The requests are seen by a capture socket (AF_PACKET).
 *
 * Each test runs in its own process, in a network namespace of its own with lo up,
 * and sends only to 127.0.0.0/8, ::1 and 2001:2::/48 (addresses on lo here), and to
 * 198.18.0.0/15 routed into a dummy interface made here, where nothing answers. Root
 * is needed; without it the tests are skipped, never passed. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/shard.h"
#include "io_cr.h"
#include "io_test.h"
#include "ringprobe/conf.h"
#include "ringprobe/event.h"
#include "ringprobe/icmp.h"
#include "ringprobe/prober.h"
#include "ringprobe/spsc.h"

#define MS 1000000ull

static const struct rp_siphash_key key = {0x70726f66696c6573ull, 0x0123456789abcdefull};

static const struct combo {
	int backend, mode;
	const char *name;
} combos[] = {
    {RP_BACKEND_URING, RP_ICMP_RAW, "uring/raw"},
    {RP_BACKEND_URING, RP_ICMP_DGRAM, "uring/dgram"},
    {RP_BACKEND_MMSG, RP_ICMP_RAW, "mmsg/raw"},
    {RP_BACKEND_MMSG, RP_ICMP_DGRAM, "mmsg/dgram"},
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- The capture ---------------------------------------------------------------- */

static int cap_open(void)
{
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	int big = 16 << 20;

	cr_assert_geq(fd, 0, "AF_PACKET socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	return fd;
}

struct seen {
	struct rp_ip src, dst;
	uint8_t ttl, tos;
	size_t ip_len; /* IPv4 total length / IPv6 payload length */
};

/* The outgoing echo requests the capture holds, at most max. */
static unsigned cap_read(int fd, struct seen *out, unsigned max)
{
	static uint8_t b[4096];
	unsigned n = 0;

	for (;;) {
		struct sockaddr_ll ll;
		socklen_t sl = sizeof(ll);
		ssize_t len = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&ll, &sl);
		struct seen s = {0};

		if (len < 0)
			break;
		if (ll.sll_pkttype != PACKET_OUTGOING || n >= max)
			continue;
		if (ntohs(ll.sll_protocol) == ETH_P_IP && len >= 28 && (b[0] >> 4) == 4) {
			size_t ihl = (size_t)(b[0] & 15) * 4;

			if (b[9] != IPPROTO_ICMP || (size_t)len < ihl + 8 || b[ihl] != 8)
				continue;
			s.src = rp_ip_v4((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
					 (uint32_t)b[14] << 8 | b[15]);
			s.dst = rp_ip_v4((uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 |
					 (uint32_t)b[18] << 8 | b[19]);
			s.ttl = b[8];
			s.tos = b[1];
			s.ip_len = (size_t)(b[2] << 8 | b[3]);
		} else if (ntohs(ll.sll_protocol) == ETH_P_IPV6 && len >= 48 && (b[0] >> 4) == 6) {
			if (b[6] != 58 || b[40] != 128)
				continue;
			memcpy(s.src.b, b + 8, 16);
			memcpy(s.dst.b, b + 24, 16);
			s.ttl = b[7];
			s.tos = (uint8_t)((b[0] & 15) << 4 | b[1] >> 4);
			s.ip_len = (size_t)(b[4] << 8 | b[5]);
		} else {
			continue;
		}
		out[n++] = s;
	}
	return n;
}

/* --- A shard with profiles ---------------------------------------------------------- */

static struct rp_shard *shard(const struct combo *cb, const struct rp_engine_pkt *pk,
			      uint64_t timeout_ns, const struct rp_probe_profile *prof,
			      unsigned nprof, uint32_t count_max, bool rounds)
{
	struct rp_shard_conf sc = {.index = 0,
				   .capacity = 8,
				   .timeout_ns = timeout_ns,
				   .burst = 1,
				   .tick_ns = 5 * MS,
				   .result_ring = 256,
				   .cmd_ring = 64,
				   .key = key,
				   .backend = cb->backend,
				   .icmp_mode = cb->mode,
				   .feature_mask = RP_FEAT_ALL,
				   .send_slots = 16,
				   .recv_bufs = 64,
				   .rcvbuf_bytes = 4 << 20,
				   .ident = 0x7071,
				   .pkt = *pk,
				   .payload0 = RP_ICMP_PAYLOAD_LEN,
				   .profiles = prof,
				   .nprofiles = nprof,
				   .count_max = count_max,
				   .rounds = rounds,
				   .event_ring = 256};
	struct rp_shard *s;
	char why[512];
	struct rp_engine_info info;

	cr_assert_eq(rp_shard_create(&s, &sc, why, sizeof(why)), 0, "%s: %s", cb->name, why);
	rp_shard_engine_info(s, &info);
	cr_assert_eq(info.backend, cb->backend, "%s", cb->name);
	cr_assert_eq(info.icmp_mode, cb->mode, "%s", cb->name);
	return s;
}

/* Three probes each to dst0 (profile 0, id 1) and dst1 (profile 1, id 2), 20 ms apart,
 * on shard s, which this starts and destroys; ok[id - 1] counts the answered ones.
 * Returns the results that came (6 when every probe ended). */
static uint32_t run_pair(struct rp_shard *s, struct rp_ip dst0, struct rp_ip dst1, uint32_t ok[2])
{
	struct rp_shard_dev d0 = {
	    .addr = dst0, .id = 1, .interval_ms = 20, .count = 3, .immediate = true};
	struct rp_shard_dev d1 = d0;
	uint32_t results = 0;

	d1.addr = dst1;
	d1.id = 2;
	d1.profile = 1;
	ok[0] = ok[1] = 0;
	cr_assert_eq(rp_shard_add(s, &d0), 0);
	cr_assert_eq(rp_shard_add(s, &d1), 0);
	cr_assert_eq(rp_shard_start(s), 0);
	for (int i = 0; i < 400 && results < 6; i++) {
		struct rp_probe_result r[8];
		uint32_t k = rp_spsc_pop(rp_shard_results(s), r, 8);

		for (uint32_t j = 0; j < k; j++) {
			ok[r[j].id - 1] += r[j].success;
			results++;
		}
		if (!k)
			usleep(5000);
	}
	rp_shard_destroy(s);
	return results;
}

/* Profile 0: the socket's options (nothing set: the kernel's TTL 64, TOS 0, the default
 * 56-byte payload, the route's source). Profile 1: TTL 9, TOS 0xb8, a 120-byte payload
 * and its own source, all per packet. Three probes to each of two targets, one per
 * profile, all answered. */
static void wire_case(const char *t0, const char *t1, const char *src1)
{
	struct rp_ip dst0 = ip_of(t0), dst1 = ip_of(t1), src = ip_of(src1);
	bool v4 = rp_ip_is_v4(&dst0);
	struct rp_probe_profile prof[2] = {
	    {0},
	    {.timeout_ns = 300 * MS, .ping_count = 1, .payload_len = 120, .ttl = 9, .tos = 0xb8}};

	prof[1].source[v4 ? 0 : 1] = src;
	for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c++) {
		struct rp_engine_pkt pk = {.payload_len = 120};
		struct rp_shard *s = shard(&combos[c], &pk, 300 * MS, prof, 2, 1, false);
		uint32_t ok[2];
		struct seen w[16];
		unsigned n, n0 = 0, n1 = 0;
		int fd = cap_open();

		run_pair(s, dst0, dst1, ok);
		n = cap_read(fd, w, 16);
		close(fd);
		cr_expect_eq(ok[0], 3, "%s: profile 0: %u of 3 answered", combos[c].name, ok[0]);
		cr_expect_eq(ok[1], 3, "%s: profile 1: %u of 3 answered", combos[c].name, ok[1]);
		for (unsigned i = 0; i < n; i++) {
			if (rp_ip_eq(&w[i].dst, &dst0)) {
				n0++;
				cr_expect_eq(w[i].ttl, 64, "%s: profile 0 TTL %u", combos[c].name,
					     w[i].ttl);
				cr_expect_eq(w[i].tos, 0, "%s: profile 0 TOS %#x", combos[c].name,
					     w[i].tos);
				cr_expect_eq(w[i].ip_len, (v4 ? 20u : 0u) + RP_ICMP_PKT_LEN,
					     "%s: profile 0 length %zu", combos[c].name,
					     w[i].ip_len);
				cr_expect_not(rp_ip_eq(&w[i].src, &src), "%s: profile 0 from %s",
					      combos[c].name, src1);
			} else if (rp_ip_eq(&w[i].dst, &dst1)) {
				n1++;
				cr_expect_eq(w[i].ttl, 9, "%s: profile 1 TTL %u", combos[c].name,
					     w[i].ttl);
				cr_expect_eq(w[i].tos, 0xb8, "%s: profile 1 TOS %#x",
					     combos[c].name, w[i].tos);
				cr_expect_eq(w[i].ip_len, (v4 ? 20u : 0u) + 8 + 120,
					     "%s: profile 1 length %zu", combos[c].name,
					     w[i].ip_len);
				/* Datagram ICMPv6 sockets ignore IPV6_PKTINFO's source
				 * (ping_v6_sendmsg): documented, raw mode only. */
				if (v4 || combos[c].mode == RP_ICMP_RAW)
					cr_expect(rp_ip_eq(&w[i].src, &src),
						  "%s: profile 1 not from %s", combos[c].name,
						  src1);
			}
		}
		cr_log_info("%s: %u + %u requests seen, %u + %u answered", combos[c].name, n0, n1,
			    ok[0], ok[1]);
		cr_expect_eq(n0, 3, "%s: %u profile 0 requests on the wire", combos[c].name, n0);
		cr_expect_eq(n1, 3, "%s: %u profile 1 requests on the wire", combos[c].name, n1);
	}
}

Test(profiles, ipv4_two_profiles_differ_on_the_wire)
{
	io_netns_ping();
	/* 127.0.0.0/8 is all this host's: 127.0.0.2 is a source like any other. */
	wire_case("127.0.0.1", "127.0.0.3", "127.0.0.2");
}

Test(profiles, ipv6_two_profiles_differ_on_the_wire)
{
	io_netns_ping();
	sh("ip -6 addr add 2001:2::5/128 dev lo nodad && ip -6 addr add 2001:2::6/128 dev lo "
	   "nodad");
	wire_case("::1", "2001:2::6", "2001:2::5");
}

/* Two devices that never answer (198.18.0.0/24 is a veth pair's, made here),
 * one per profile: profile 0 waits 100 ms, profile 1 400 ms. Each result comes at its
 * own timeout (with the 5 ms tick and this loop's 2 ms polls of slack). */
Test(profiles, each_profile_times_out_at_its_own_timeout)
{
	io_netns_ping();
	/* A veth pair whose peer never answers: static neighbours stand in for it. */
	sh("ip link add rp0 type veth peer name rp1 && ip link set rp0 up && ip link set rp1 up "
	   "&& ip addr add 198.18.0.100/24 dev rp0 && "
	   "ip neigh add 198.18.0.1 lladdr 02:00:00:00:00:02 dev rp0 && "
	   "ip neigh add 198.18.0.2 lladdr 02:00:00:00:00:02 dev rp0");
	for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c++) {
		struct rp_probe_profile prof[2] = {{0}, {.timeout_ns = 400 * MS, .ping_count = 1}};
		struct rp_engine_pkt pk = {0};
		struct rp_shard *s = shard(&combos[c], &pk, 100 * MS, prof, 2, 1, false);
		struct rp_shard_dev d0 = {.addr = ip_of("198.18.0.1"),
					  .id = 1,
					  .interval_ms = 1000,
					  .count = 1,
					  .immediate = true};
		struct rp_shard_dev d1 = d0;
		uint64_t at[2] = {0, 0}, sent[2] = {0, 0}, off;
		struct rp_shard_stats st;
		uint32_t results = 0;
		struct timespec rt, mt;

		d1.addr = ip_of("198.18.0.2");
		d1.id = 2;
		d1.profile = 1;
		cr_assert_eq(rp_shard_add(s, &d0), 0);
		cr_assert_eq(rp_shard_add(s, &d1), 0);
		clock_gettime(CLOCK_REALTIME, &rt);
		clock_gettime(CLOCK_MONOTONIC, &mt);
		off = ((uint64_t)rt.tv_sec - (uint64_t)mt.tv_sec) * 1000000000ull +
		      (uint64_t)(rt.tv_nsec - mt.tv_nsec);
		cr_assert_eq(rp_shard_start(s), 0);
		for (int i = 0; i < 500 && results < 2; i++) {
			struct rp_probe_result r[4];
			uint32_t k = rp_spsc_pop(rp_shard_results(s), r, 4);

			for (uint32_t j = 0; j < k; j++) {
				cr_expect_not(r[j].success);
				at[r[j].id - 1] = mono_ns();
				sent[r[j].id - 1] = r[j].sent_ns - off;
				results++;
			}
			if (!k)
				usleep(2000);
		}
		rp_shard_stop(s);
		rp_shard_stats(s, &st);
		rp_shard_destroy(s);
		cr_assert_eq(results, 2, "%s: %u results", combos[c].name, results);
		cr_expect_eq(st.timeouts, 2, "%s", combos[c].name);
		cr_log_info("%s: timed out after %.1f ms and %.1f ms", combos[c].name,
			    (double)(at[0] - sent[0]) / 1e6, (double)(at[1] - sent[1]) / 1e6);
		cr_expect(at[0] - sent[0] >= 100 * MS && at[0] - sent[0] < 250 * MS,
			  "%s: profile 0 timed out after %.1f ms, not 100", combos[c].name,
			  (double)(at[0] - sent[0]) / 1e6);
		cr_expect(at[1] - sent[1] >= 400 * MS && at[1] - sent[1] < 550 * MS,
			  "%s: profile 1 timed out after %.1f ms, not 400", combos[c].name,
			  (double)(at[1] - sent[1]) / 1e6);
	}
}

/* Rounds of monitored devices: profile 1 sends 2 echoes a round, profile 2 four, the
 * prober's own (profile 0) one; each round summary says so. */
Test(profiles, each_profile_rounds_its_own_ping_count)
{
	io_netns_ping();
	for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c += 3) {
		struct rp_probe_profile prof[3] = {
		    {0},
		    {.timeout_ns = 200 * MS, .ping_count = 2, .spacing_ns = 20 * MS},
		    {.timeout_ns = 200 * MS, .ping_count = 4, .spacing_ns = 20 * MS}};
		struct rp_engine_pkt pk = {0};
		struct rp_shard *s = shard(&combos[c], &pk, 200 * MS, prof, 3, 4, true);
		const char *addr[3] = {"127.0.0.1", "127.0.0.2", "127.0.0.3"};
		unsigned rounds[3] = {0, 0, 0};

		for (unsigned k = 0; k < 3; k++) {
			struct rp_shard_dev d = {.addr = ip_of(addr[k]),
						 .id = k,
						 .interval_ms = 300,
						 .profile = (uint8_t)k};

			cr_assert_eq(rp_shard_add(s, &d), 0);
		}
		cr_assert_eq(rp_shard_start(s), 0);
		for (int i = 0; i < 400 && (rounds[0] < 2 || rounds[1] < 2 || rounds[2] < 2); i++) {
			struct rp_event e[16];
			struct rp_probe_result r[32];
			uint32_t k = rp_spsc_pop(rp_shard_events(s), e, 16);

			rp_spsc_pop(rp_shard_results(s), r, 32);
			for (uint32_t j = 0; j < k; j++) {
				unsigned want = e[j].id == 0 ? 1 : e[j].id == 1 ? 2 : 4;

				if (e[j].kind != RP_EVENT_ROUND)
					continue;
				cr_expect_eq(e[j].u.round.sent, want, "%s: device %u sent %u",
					     combos[c].name, e[j].id, e[j].u.round.sent);
				cr_expect_eq(e[j].u.round.received, want,
					     "%s: device %u received %u", combos[c].name, e[j].id,
					     e[j].u.round.received);
				rounds[e[j].id]++;
			}
			if (!k)
				usleep(5000);
		}
		rp_shard_destroy(s);
		cr_expect(rounds[0] >= 2 && rounds[1] >= 2 && rounds[2] >= 2, "%s: rounds %u %u %u",
			  combos[c].name, rounds[0], rounds[1], rounds[2]);
	}
}

/* The outgoing echo requests to dst[j] the capture holds, by the interface they left
 * on: out[j][0] on ifa, out[j][1] on ifb. */
static void cap_count_by_if(int fd, const struct rp_ip dst[2], int ifa, int ifb, unsigned out[2][2])
{
	static uint8_t b[4096];

	memset(out, 0, 2 * sizeof(out[0]));
	for (;;) {
		struct sockaddr_ll ll;
		socklen_t sl = sizeof(ll);
		ssize_t len = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&ll, &sl);
		struct rp_ip to;

		if (len < 0)
			break;
		if (ll.sll_pkttype != PACKET_OUTGOING)
			continue;
		if (ntohs(ll.sll_protocol) == ETH_P_IP && len >= 28 && (b[0] >> 4) == 4) {
			size_t ihl = (size_t)(b[0] & 15) * 4;

			if (b[9] != IPPROTO_ICMP || (size_t)len < ihl + 8 || b[ihl] != 8)
				continue;
			to = rp_ip_v4((uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 |
				      (uint32_t)b[18] << 8 | b[19]);
		} else if (ntohs(ll.sll_protocol) == ETH_P_IPV6 && len >= 48 && (b[0] >> 4) == 6) {
			if (b[6] != 58 || b[40] != 128)
				continue;
			memcpy(to.b, b + 24, 16);
		} else {
			continue;
		}
		for (int j = 0; j < 2; j++)
			if (rp_ip_eq(&to, &dst[j]) && ll.sll_ifindex == ifa)
				out[j][0]++;
			else if (rp_ip_eq(&to, &dst[j]) && ll.sll_ifindex == ifb)
				out[j][1]++;
	}
}

/* A group's interface (groups[].interface): profile 1 names rpb0, and its requests
 * leave there although the routing table prefers rpa0 for the destination, which is
 * where profile 0's go. Nobody answers (static neighbours on veth pairs made here).
 * IPv4 on both backends and socket kinds; IPv6 on raw sockets (datagram ICMPv6 ignores
 * IPV6_PKTINFO: documented, and warned of at start). */
Test(profiles, a_profiles_interface_is_where_its_requests_leave)
{
	io_netns_ping();
	sh("ip link add rpa0 type veth peer name rpa1 && ip link add rpb0 type veth peer name "
	   "rpb1 && ip link set rpa0 up && ip link set rpa1 up && ip link set rpb0 up && "
	   "ip link set rpb1 up && ip addr add 198.18.1.100/24 dev rpa0 && "
	   "ip addr add 198.18.2.100/24 dev rpb0 && "
	   "ip route add 198.18.9.0/24 dev rpa0 && ip route add 198.18.9.0/24 dev rpb0 metric 50 "
	   "&& "
	   "ip neigh add 198.18.9.1 lladdr 02:00:00:00:00:02 dev rpa0 && "
	   "ip neigh add 198.18.9.2 lladdr 02:00:00:00:00:02 dev rpb0 && "
	   "ip -6 addr add 2001:2:1::100/64 dev rpa0 nodad && "
	   "ip -6 addr add 2001:2:2::100/64 dev rpb0 nodad && "
	   "ip -6 route add 2001:2:9::/64 dev rpa0 && "
	   "ip -6 route add 2001:2:9::/64 dev rpb0 metric 2048 && "
	   "ip -6 neigh add 2001:2:9::1 lladdr 02:00:00:00:00:02 dev rpa0 && "
	   "ip -6 neigh add 2001:2:9::2 lladdr 02:00:00:00:00:02 dev rpb0");
	int ifa = (int)if_nametoindex("rpa0"), ifb = (int)if_nametoindex("rpb0");

	cr_assert(ifa > 0 && ifb > 0);
	for (int fam = 0; fam < 2; fam++) {
		struct rp_ip dst0 = ip_of(fam ? "2001:2:9::1" : "198.18.9.1");
		struct rp_ip dst1 = ip_of(fam ? "2001:2:9::2" : "198.18.9.2");

		for (size_t c = 0; c < RP_ARRAY_SIZE(combos); c++) {
			struct rp_probe_profile prof[2] = {
			    {0}, {.timeout_ns = 100 * MS, .ping_count = 1, .ifindex = ifb}};
			struct rp_engine_pkt pk = {0};
			uint32_t results, ok[2];
			unsigned n[2][2];
			int fd;

			if (fam && combos[c].mode == RP_ICMP_DGRAM)
				continue;
			fd = cap_open();
			results = run_pair(shard(&combos[c], &pk, 100 * MS, prof, 2, 1, false),
					   dst0, dst1, ok);
			cr_expect_eq(results, 6, "%s: %u results", combos[c].name, results);
			cap_count_by_if(fd, (struct rp_ip[2]){dst0, dst1}, ifa, ifb, n);
			close(fd);
			cr_log_info("%s %s: profile 0 %u on rpa0, %u on rpb0; profile 1 %u, %u",
				    fam ? "IPv6" : "IPv4", combos[c].name, n[0][0], n[0][1],
				    n[1][0], n[1][1]);
			cr_expect(n[0][0] == 3 && n[0][1] == 0,
				  "%s %s: profile 0 by the route (rpa0): %u there, %u on rpb0",
				  fam ? "IPv6" : "IPv4", combos[c].name, n[0][0], n[0][1]);
			cr_expect(n[1][1] == 3 && n[1][0] == 0,
				  "%s %s: profile 1 on its interface (rpb0): %u there, %u on rpa0",
				  fam ? "IPv6" : "IPv4", combos[c].name, n[1][1], n[1][0]);
		}
	}
}
