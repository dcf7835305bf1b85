/* The I/O engine against the real kernel: echo requests to loopback addresses,
 * replies back through every backend, feature fallback and ICMP mode.
 *
 * Each test runs in its own process (Criterion forks one per test) and, first thing,
 * in its own network namespace with only `lo` up, so no other process's ICMP can reach
 * our sockets and disturb exact counts, and net.ipv4.ping_group_range can be set
 * freely (it is per namespace). Only 127.0.0.0/8 is ever probed. Tests that open
 * sockets need root (CAP_NET_RAW, CAP_SYS_ADMIN for unshare) and are skipped, never
 * passed, without it. Work that must not leak into Criterion's own process state
 * (a seccomp filter, a uid change) runs in a further forked child that reports back
 * through a pipe. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/engine.h"
#include "io_test.h"
#include "ringprobe/conf.h"
#include "ringprobe/icmp.h"
#include "ringprobe/log.h"
#include "ringprobe/priv.h"

#define N_PROBES 20000u
#define DEADLINE_NS (5ull * 1000000000ull)
#define MS 1000000ull

static const struct rp_siphash_key key = {0x5250524f42454e47ull, 0x0123456789abcdefull};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (CAP_NET_RAW)");
}

/* A private network namespace with lo up: only our own ICMP in it. */
static void netns_enter(void)
{
	const char *what;
	int rc = io_test_netns(&what);

	cr_assert_eq(rc, 0, "%s: %s", what, strerror(-rc));
}

/* net.ipv4.ping_group_range of the namespace we are in. */
static void ping_range_set(const char *range)
{
	int fd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0, "open ping_group_range: %s", strerror(errno));
	cr_assert_eq(write(fd, range, strlen(range)), (ssize_t)strlen(range));
	close(fd);
}

static void root_netns(int icmp_mode)
{
	need_root();
	netns_enter();
	ping_range_set(icmp_mode == RP_ICMP_DGRAM ? "0 2147483647" : "1 0");
}

/* Probe i goes to 127.a.b.c with a, b, c in 1..250: distinct, never a .0 or .255. */
static uint32_t target(uint32_t i)
{
	return 0x7f000000u | (1 + i / 62500) << 16 | (1 + i / 250 % 250) << 8 | (1 + i % 250);
}

static struct rp_engine_conf conf_make(int backend, int icmp_mode, unsigned mask)
{
	return (struct rp_engine_conf){
	    .backend = backend,
	    .icmp_mode = icmp_mode,
	    .feature_mask = mask,
	    .send_slots = 2048,
	    .recv_bufs = 4096,
	    .rcvbuf_bytes = 32u << 20,
	    .ident = 0x5250,
	};
}

/* What the receive callback saw. Plain counters: the callback must not assert (it may
 * run on another thread), the test checks them afterwards. */
struct run {
	struct rp_engine *e;
	struct rp_engine_info info;
	uint32_t n;
	uint8_t *seen;
	uint32_t ok, dup, bad_kind, bad_src, bad_ts, bad_slot;
	int first_bad_kind;
};

static void on_rx(void *arg, const struct rp_rx *rx)
{
	struct run *r = arg;
	struct rp_probe_stamp st;
	enum rp_reply_kind k =
	    rp_icmp_parse(rx->buf, rx->len, r->info.ip_header, &rx->src, r->info.ident, &key, &st);

	if (k != RP_REPLY_OK) {
		if (!r->bad_kind++)
			r->first_bad_kind = (int)k;
		return;
	}
	if (st.slot >= r->n) {
		r->bad_slot++;
		return;
	}
	if (!rp_ip_is_v4(&rx->src) || rp_ip_to_v4(&rx->src) != target(st.slot))
		r->bad_src++;
	if (!rx->rx_ns || rx->rx_ns < st.sent_ns)
		r->bad_ts++;
	if (r->seen[st.slot]++)
		r->dup++;
	else
		r->ok++;
}

/* Sends n probes as fast as send buffers come free and polls until every reply is in
 * or the deadline passes, then polls a little longer to catch duplicates and the last
 * send completions. Returns the first poll error, or 0. */
static int run_probes(struct run *r, uint32_t n)
{
	uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + DEADLINE_NS;
	uint32_t next = 0;
	int rc;

	r->n = n;
	r->seen = calloc(n, 1);
	while (r->ok < n && clock_ns(CLOCK_MONOTONIC) < deadline) {
		void *buf;

		while (next < n && (buf = rp_engine_send_buf(r->e))) {
			struct rp_probe_stamp st = {.addr = rp_ip_v4(target(next)),
						    .slot = next,
						    .gen = 1,
						    .seq = next,
						    .sent_ns = clock_ns(CLOCK_REALTIME)};

			rp_icmp_stamp(buf, &key, &st);
			rp_engine_send_queue(r->e, buf, RP_ICMP_PKT_LEN, &st.addr);
			next++;
		}
		rc = rp_engine_poll(r->e, next < n ? 0 : 10 * MS, on_rx, r);
		if (rc < 0)
			return rc;
	}
	for (int i = 0; i < 5; i++) {
		rc = rp_engine_poll(r->e, 10 * MS, on_rx, r);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void run_fini(struct run *r)
{
	free(r->seen);
	rp_engine_destroy(r->e);
}

static void expect_exact(const struct run *r, uint32_t n)
{
	struct rp_engine_stats s;

	rp_engine_stats(r->e, &s);
	cr_log_info("backend=%d icmp=%d features=%#x received=%u sent=%llu eagain=%llu "
		    "nobufs=%llu polls=%llu",
		    r->info.backend, r->info.icmp_mode, r->info.features, r->ok,
		    (unsigned long long)s.sent, (unsigned long long)s.send_eagain,
		    (unsigned long long)s.recv_nobufs, (unsigned long long)s.polls);
	cr_expect_eq(r->ok, n, "%u of %u replies", r->ok, n);
	cr_expect_eq(r->dup, 0, "%u duplicates", r->dup);
	cr_expect_eq(r->bad_kind, 0, "%u bad replies, first %s", r->bad_kind,
		     rp_reply_kind_name((enum rp_reply_kind)r->first_bad_kind));
	cr_expect_eq(r->bad_src, 0, "%u from the wrong source", r->bad_src);
	cr_expect_eq(r->bad_ts, 0, "%u without a kernel timestamp after the send", r->bad_ts);
	cr_expect_eq(r->bad_slot, 0);
	cr_expect_eq(s.sent, n);
	cr_expect_eq(s.received, n);
	cr_expect_eq(s.send_errors, 0);
	cr_expect_eq(s.recv_errors, 0);
}

/* One cell of the matrix: a backend with some features masked off, in one ICMP mode. */
static void roundtrip(int backend, unsigned mask, int icmp_mode, unsigned want_features)
{
	struct rp_engine_conf c = conf_make(backend, icmp_mode, mask);
	struct run r = {0};
	char why[256];
	int rc;

	root_netns(icmp_mode);
	unsetenv("RINGPROBE_DISABLE");
	rc = rp_engine_create(&r.e, &c, why, sizeof(why));
	cr_assert_eq(rc, 0, "create: %s (%s)", strerror(-rc), why);
	rp_engine_info(r.e, &r.info);
	cr_log_info("why: %s", r.info.why);
	cr_assert_eq(r.info.icmp_mode, icmp_mode, "%s", r.info.why);
	cr_assert_eq(r.info.ip_header, icmp_mode == RP_ICMP_RAW);
	cr_assert_eq(r.info.backend, backend, "%s", r.info.why);
	/* These engines do not ask for transmit stamps (conf tx_stamps; test_prober does). */
	want_features &= ~(unsigned)RP_FEAT_TX_STAMP;
	cr_assert_eq(r.info.features, want_features, "features %#x, want %#x: %s", r.info.features,
		     want_features, r.info.why);
	if (icmp_mode == RP_ICMP_RAW)
		cr_assert_eq(r.info.ident, c.ident);
	rc = run_probes(&r, N_PROBES);
	cr_assert_eq(rc, 0, "poll: %s", strerror(-rc));
	expect_exact(&r, N_PROBES);
	run_fini(&r);
}

TestSuite(engine, .timeout = 120);

#define ALL RP_FEAT_ALL
#define URING RP_BACKEND_URING
#define MMSG RP_BACKEND_MMSG
#define NO(f) (RP_FEAT_ALL & ~(unsigned)(f))

#define MATRIX(name, backend, mask, features)                                                      \
	Test(engine, name##_raw)                                                                   \
	{                                                                                          \
		roundtrip(backend, mask, RP_ICMP_RAW, features);                                   \
	}                                                                                          \
	Test(engine, name##_dgram)                                                                 \
	{                                                                                          \
		roundtrip(backend, mask, RP_ICMP_DGRAM, features);                                 \
	}

MATRIX(uring_all_features, URING, ALL, ALL)
MATRIX(uring_single_recvmsg, URING, NO(RP_FEAT_RECV_MULTISHOT), NO(RP_FEAT_RECV_MULTISHOT))
MATRIX(uring_sendmsg, URING, NO(RP_FEAT_SEND_ADDR), NO(RP_FEAT_SEND_ADDR))
MATRIX(uring_no_defer_taskrun, URING, NO(RP_FEAT_DEFER_TASKRUN), NO(RP_FEAT_DEFER_TASKRUN))
MATRIX(uring_no_features, URING, RP_FEAT_URING, RP_FEAT_URING)
MATRIX(mmsg, MMSG, ALL, 0)

Test(engine, buffer_ring_exhaustion_is_counted_and_loses_nothing)
{
	struct rp_engine_conf c = conf_make(URING, RP_ICMP_RAW, ALL);
	struct rp_engine_stats s;
	struct run r = {0};
	char why[256];

	root_netns(RP_ICMP_RAW);
	c.recv_bufs = 16;
	c.send_slots = 1024;
	cr_assert_eq(rp_engine_create(&r.e, &c, why, sizeof(why)), 0, "%s", why);
	rp_engine_info(r.e, &r.info);
	cr_assert(r.info.features & RP_FEAT_RECV_MULTISHOT, "%s", r.info.why);
	cr_assert_eq(run_probes(&r, 4000), 0);
	expect_exact(&r, 4000);
	rp_engine_stats(r.e, &s);
	cr_expect_gt(s.recv_nobufs, 0, "16 buffers for 1024 replies in flight must run out");
	run_fini(&r);
}

Test(engine, auto_mode_picks_dgram_where_ping_group_range_allows)
{
	struct rp_engine_conf c = conf_make(RP_BACKEND_AUTO, RP_ICMP_AUTO, ALL);
	struct rp_engine_info info;
	struct rp_engine *e;
	char why[256];

	root_netns(RP_ICMP_DGRAM);
	cr_assert_eq(rp_engine_create(&e, &c, why, sizeof(why)), 0, "%s", why);
	rp_engine_info(e, &info);
	cr_expect_eq(info.icmp_mode, RP_ICMP_DGRAM, "%s", info.why);
	cr_expect_eq(info.backend, RP_BACKEND_URING, "%s", info.why);
	cr_expect(strstr(info.why, "icmp dgram (ping_group_range 0 2147483647 admits gid 0)"), "%s",
		  info.why);
	cr_expect(info.ident >= 0 && info.ident <= 0xffff);
	rp_engine_destroy(e);

	ping_range_set("1 0");
	cr_assert_eq(rp_engine_create(&e, &c, why, sizeof(why)), 0, "%s", why);
	rp_engine_info(e, &info);
	cr_expect_eq(info.icmp_mode, RP_ICMP_RAW, "%s", info.why);
	cr_expect(strstr(info.why, "icmp raw (ping_group_range 1 0 excludes gid 0)"), "%s",
		  info.why);
	cr_expect_eq(info.ident, c.ident);
	rp_engine_destroy(e);
}

Test(engine, forced_dgram_fails_outside_ping_group_range)
{
	struct rp_engine_conf c = conf_make(RP_BACKEND_AUTO, RP_ICMP_DGRAM, ALL);
	struct rp_engine *e = NULL;
	char why[256];

	root_netns(RP_ICMP_RAW);
	cr_assert_eq(rp_engine_create(&e, &c, why, sizeof(why)), -EACCES, "%s", why);
	cr_expect_null(e);
	cr_expect(strstr(why, "ping_group_range 1 0"), "%s", why);
}

/* Docker's default seccomp profile answers io_uring_setup with EPERM; a profile
 * written for kernels without io_uring answers ENOSYS. */
static int seccomp_deny_io_uring_with(int err)
{
	struct sock_filter f[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
		return -errno;
	if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
}

static int seccomp_deny_io_uring(void)
{
	return seccomp_deny_io_uring_with(EPERM);
}

/* What a forked child reports. */
struct child_report {
	int step_rc; /* 0, or -errno of the first step that failed */
	char step[32];
	struct rp_engine_info info;
	struct rp_engine_stats stats;
	uint32_t ok, dup, bad;
	int raw_errno;	/* errno of a new raw socket after a privilege drop */
	int setuid0_rc; /* setuid(0) after the drop */
	uid_t euid;
	char why[256];
	char log[1024]; /* what the engine logged on stderr */
};

typedef void (*child_fn)(struct child_report *rep);

/* Runs fn in a forked child (a seccomp filter or a uid change must not outlive it). */
static void in_child(child_fn fn, struct child_report *rep)
{
	int fds[2], status;
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct child_report r = {0};

		close(fds[0]);
		fn(&r);
		if (write(fds[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	memset(rep, 0, sizeof(*rep));
	cr_assert_eq(read(fds[0], rep, sizeof(*rep)), (ssize_t)sizeof(*rep), "child died");
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void child_probe(struct child_report *rep, struct run *r, uint32_t n)
{
	struct rp_engine_stats s;
	int rc = run_probes(r, n);

	if (rc && !rep->step_rc) {
		rep->step_rc = rc;
		snprintf(rep->step, sizeof(rep->step), "poll");
	}
	rp_engine_stats(r->e, &s);
	rep->stats = s;
	rep->ok = r->ok;
	rep->dup = r->dup;
	rep->bad = r->bad_kind + r->bad_src + r->bad_ts + r->bad_slot;
}

/* What the seccomp filter of the next in_child answers io_uring_setup with. */
static int seccomp_errno = EPERM;

/* Runs create with stderr going to a file, and keeps what was logged. */
static int create_logged(struct run *r, const struct rp_engine_conf *c, struct child_report *rep)
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO), rc;
	ssize_t n;

	if (!f || saved < 0 || dup2(fileno(f), STDERR_FILENO) < 0)
		return -errno;
	rp_log_setup(RP_LOG_TEXT, RP_LOG_INFO);
	rc = rp_engine_create(&r->e, c, rep->why, sizeof(rep->why));
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fileno(f), rep->log, sizeof(rep->log) - 1, 0);
	rep->log[n > 0 ? n : 0] = '\0';
	fclose(f);
	return rc;
}

static void child_seccomp(struct child_report *rep)
{
	struct rp_engine_conf c = conf_make(RP_BACKEND_AUTO, RP_ICMP_AUTO, ALL);
	struct run r = {0};
	int rc = seccomp_deny_io_uring_with(seccomp_errno);

	if (rc) {
		rep->step_rc = rc;
		snprintf(rep->step, sizeof(rep->step), "seccomp");
		return;
	}
	rc = create_logged(&r, &c, rep);
	if (rc) {
		rep->step_rc = rc;
		snprintf(rep->step, sizeof(rep->step), "create");
		return;
	}
	rp_engine_info(r.e, &r.info);
	rep->info = r.info;
	child_probe(rep, &r, 500);
	run_fini(&r);
}

Test(engine, auto_falls_back_to_mmsg_when_seccomp_refuses_io_uring)
{
	struct child_report rep;

	root_netns(RP_ICMP_DGRAM);
	unsetenv("RINGPROBE_DISABLE");
	in_child(child_seccomp, &rep);
	cr_assert_eq(rep.step_rc, 0, "%s: %s (%s)", rep.step, strerror(-rep.step_rc), rep.why);
	cr_expect_eq(rep.info.backend, RP_BACKEND_MMSG, "%s", rep.info.why);
	cr_expect_eq(rep.info.icmp_mode, RP_ICMP_DGRAM);
	cr_expect(strstr(rep.info.why, "io_uring_setup failed: Operation not permitted (seccomp or "
				       "kernel.io_uring_disabled); using mmsg"),
		  "%s", rep.info.why);
	/* The one start-up line says so too. */
	cr_expect(strstr(rep.log, "msg=\"io engine ready\" backend=mmsg icmp=dgram "
				  "families=ipv4,ipv6 features=none "
				  "why=\"icmp dgram (ping_group_range 0 2147483647 admits gid 0), "
				  "ICMPv6 too; "
				  "io_uring_setup failed: Operation not permitted (seccomp or "
				  "kernel.io_uring_disabled); using mmsg\""),
		  "%s", rep.log);
	cr_expect_eq(rep.ok, 500);
	cr_expect_eq(rep.dup + rep.bad, 0);
	cr_expect_eq(rep.stats.sent, 500);
	cr_expect_eq(rep.stats.received, 500);
}

/* A kernel built without io_uring (or a seccomp profile pretending so). */
Test(engine, auto_falls_back_to_mmsg_when_io_uring_setup_is_enosys)
{
	struct child_report rep;

	root_netns(RP_ICMP_RAW);
	unsetenv("RINGPROBE_DISABLE");
	seccomp_errno = ENOSYS;
	in_child(child_seccomp, &rep);
	cr_assert_eq(rep.step_rc, 0, "%s: %s (%s)", rep.step, strerror(-rep.step_rc), rep.why);
	cr_expect_eq(rep.info.backend, RP_BACKEND_MMSG, "%s", rep.info.why);
	cr_expect_eq(rep.info.icmp_mode, RP_ICMP_RAW);
	cr_expect_eq(rep.info.features, 0);
	cr_expect(strstr(rep.info.why, "io_uring_setup failed: Function not implemented (kernel "
				       "without io_uring); using mmsg"),
		  "%s", rep.info.why);
	cr_expect(strstr(rep.log,
			 "msg=\"io engine ready\" backend=mmsg icmp=raw "
			 "families=ipv4,ipv6 features=none "
			 "why=\"icmp raw (ping_group_range 1 0 excludes gid 0), ICMPv6 too; "
			 "io_uring_setup failed: Function not implemented (kernel without "
			 "io_uring); using mmsg\""),
		  "%s", rep.log);
	cr_expect_eq(rep.ok, 500);
	cr_expect_eq(rep.dup + rep.bad, 0);
	cr_expect_eq(rep.stats.sent, 500);
	cr_expect_eq(rep.stats.received, 500);
}

static void child_seccomp_forced(struct child_report *rep)
{
	struct rp_engine_conf c = conf_make(RP_BACKEND_URING, RP_ICMP_AUTO, ALL);
	struct rp_engine *e = NULL;

	rep->step_rc = seccomp_deny_io_uring();
	if (rep->step_rc)
		return;
	rep->setuid0_rc = rp_engine_create(&e, &c, rep->why, sizeof(rep->why));
	rp_engine_destroy(e);
}

Test(engine, forced_uring_fails_when_seccomp_refuses_it)
{
	struct child_report rep;

	root_netns(RP_ICMP_DGRAM);
	unsetenv("RINGPROBE_DISABLE");
	in_child(child_seccomp_forced, &rep);
	cr_assert_eq(rep.step_rc, 0, "seccomp: %s", strerror(-rep.step_rc));
	cr_expect_eq(rep.setuid0_rc, -EPERM, "create gave %d: %s", rep.setuid0_rc, rep.why);
	cr_expect(strstr(rep.why, "io_uring_setup failed: Operation not permitted"), "%s", rep.why);
}

Test(engine, ringprobe_disable_forces_each_fallback)
{
	struct rp_engine_conf c = conf_make(RP_BACKEND_AUTO, RP_ICMP_RAW, ALL);
	struct rp_engine_info info;
	struct rp_engine *e = NULL;
	char why[256];

	root_netns(RP_ICMP_RAW);
	setenv("RINGPROBE_DISABLE", "uring", 1);
	cr_assert_eq(rp_engine_create(&e, &c, why, sizeof(why)), 0, "%s", why);
	rp_engine_info(e, &info);
	cr_expect_eq(info.backend, RP_BACKEND_MMSG, "%s", info.why);
	cr_expect_eq(info.features, 0);
	cr_expect(strstr(info.why, "io_uring disabled by RINGPROBE_DISABLE=uring; using mmsg"),
		  "%s", info.why);
	rp_engine_destroy(e);

	c.backend = RP_BACKEND_URING;
	e = NULL;
	cr_expect_eq(rp_engine_create(&e, &c, why, sizeof(why)), -EOPNOTSUPP, "%s", why);
	cr_expect_null(e);
	cr_expect(strstr(why, "backend uring configured but disabled by RINGPROBE_DISABLE"), "%s",
		  why);

	setenv("RINGPROBE_DISABLE", "send_addr, multishot,defer_taskrun", 1);
	cr_assert_eq(rp_engine_create(&e, &c, why, sizeof(why)), 0, "%s", why);
	rp_engine_info(e, &info);
	cr_expect_eq(info.backend, RP_BACKEND_URING);
	cr_expect_eq(info.features, RP_FEAT_URING, "%s", info.why);
	cr_expect(strstr(info.why, "without send_addr (masked)"), "%s", info.why);
	cr_expect(strstr(info.why, "without multishot (masked)"), "%s", info.why);
	cr_expect(strstr(info.why, "without defer_taskrun (masked)"), "%s", info.why);
	rp_engine_destroy(e);
	unsetenv("RINGPROBE_DISABLE");
}

/* A raw socket sees every ICMP packet on the host; ours must keep only echo replies
 * with our identifier. A second, unfiltered raw socket sends echo requests with
 * another identifier and sees their replies; the engine must not. */
static void expect_filter_drops_foreign(int backend)
{
	struct rp_engine_conf c = conf_make(backend, RP_ICMP_RAW, ALL);
	struct run r = {0};
	unsigned char pkt[RP_ICMP_PKT_LEN], in[256];
	uint64_t deadline;
	uint32_t foreign_replies = 0, foreign_sent = 0;
	char why[256];
	int fd, rcvbuf = 32 << 20;

	root_netns(RP_ICMP_RAW);
	cr_assert_eq(rp_engine_create(&r.e, &c, why, sizeof(why)), 0, "%s", why);
	rp_engine_info(r.e, &r.info);
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	cr_assert_geq(fd, 0);
	/* Room for all 4,000 packets it sees (requests and replies, ours and its own). */
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)), 0);
	rp_icmp_init(pkt, (uint16_t)(c.ident ^ 0xffff));
	for (uint32_t i = 0; i < 1000; i++) {
		struct rp_probe_stamp st = {.addr = rp_ip_v4(target(i)),
					    .slot = i,
					    .gen = 9,
					    .seq = i,
					    .sent_ns = clock_ns(CLOCK_REALTIME)};
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(target(i))};

		rp_icmp_stamp(pkt, &key, &st);
		if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&sa, sizeof(sa)) ==
		    (ssize_t)sizeof(pkt))
			foreign_sent++;
	}
	cr_assert_eq(run_probes(&r, 1000), 0);
	expect_exact(&r, 1000);
	/* The unfiltered socket got the foreign replies (so they existed) ... */
	deadline = clock_ns(CLOCK_MONOTONIC) + 2000 * MS;
	while (foreign_replies < foreign_sent && clock_ns(CLOCK_MONOTONIC) < deadline) {
		ssize_t n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
		unsigned hl;

		if (n < 0) {
			usleep(1000);
			continue;
		}
		hl = (in[0] & 0xfu) * 4;
		if ((size_t)n >= hl + 8 && in[hl] == 0 &&
		    (in[hl + 4] << 8 | in[hl + 5]) == (c.ident ^ 0xffff))
			foreign_replies++;
	}
	cr_expect_eq(foreign_sent, 1000);
	cr_expect_eq(foreign_replies, foreign_sent);
	/* ... and the engine saw none of them: every datagram it got was ours (bad_kind
	 * counts FOREIGN), exactly one per probe. */
	cr_expect_eq(r.bad_kind, 0);
	close(fd);
	run_fini(&r);
}

Test(engine, raw_filter_drops_other_identifiers_uring)
{
	expect_filter_drops_foreign(URING);
}

Test(engine, raw_filter_drops_other_identifiers_mmsg)
{
	expect_filter_drops_foreign(MMSG);
}

static void child_priv_drop(struct child_report *rep)
{
	struct rp_engine_conf c = conf_make(RP_BACKEND_AUTO, RP_ICMP_RAW, ALL);
	struct run r = {0};
	char why[256];
	int rc, fd;

	rc = rp_engine_create(&r.e, &c, rep->why, sizeof(rep->why));
	if (rc) {
		rep->step_rc = rc;
		snprintf(rep->step, sizeof(rep->step), "create");
		return;
	}
	rp_engine_info(r.e, &r.info);
	rep->info = r.info;
	rc = rp_priv_drop("nobody", why, sizeof(why));
	snprintf(rep->why, sizeof(rep->why), "%s", why);
	if (rc) {
		rep->step_rc = rc;
		snprintf(rep->step, sizeof(rep->step), "priv_drop");
		return;
	}
	rep->euid = geteuid();
	child_probe(rep, &r, 1000);
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	rep->raw_errno = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	rep->setuid0_rc = setuid(0);
	run_fini(&r);
}

Test(engine, socket_keeps_working_after_privilege_drop)
{
	struct child_report rep;

	root_netns(RP_ICMP_RAW);
	in_child(child_priv_drop, &rep);
	cr_assert_eq(rep.step_rc, 0, "%s: %s (%s)", rep.step, strerror(-rep.step_rc), rep.why);
	cr_log_info("priv: %s; engine: %s", rep.why, rep.info.why);
	cr_expect_eq(rep.euid, 65534);
	cr_expect(strstr(rep.why, "running as nobody (uid 65534 gid 65534), no capabilities"), "%s",
		  rep.why);
	cr_expect_eq(rep.info.icmp_mode, RP_ICMP_RAW);
	cr_expect_eq(rep.ok, 1000, "%u replies after the drop", rep.ok);
	cr_expect_eq(rep.dup + rep.bad, 0);
	cr_expect_eq(rep.stats.sent, 1000);
	cr_expect_eq(rep.stats.send_errors + rep.stats.recv_errors, 0);
	cr_expect_eq(rep.raw_errno, EPERM, "new raw socket: %s", strerror(rep.raw_errno));
	cr_expect_eq(rep.setuid0_rc, -1, "setuid(0) must fail");
}

static void child_caps_only(struct child_report *rep)
{
	int fd;

	rep->step_rc = rp_priv_drop(NULL, rep->why, sizeof(rep->why));
	rep->euid = geteuid();
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	rep->raw_errno = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
}

/* The documented choice for no user: capabilities go, the uid stays. */
Test(engine, priv_drop_without_user_clears_capabilities_only)
{
	struct child_report rep;

	need_root();
	in_child(child_caps_only, &rep);
	cr_assert_eq(rep.step_rc, 0, "%s", rep.why);
	cr_expect_eq(rep.euid, 0);
	cr_expect_eq(rep.raw_errno, EPERM, "raw socket without CAP_NET_RAW: %s",
		     strerror(rep.raw_errno));
	cr_expect(strstr(rep.why, "capabilities cleared, uid 0 kept"), "%s", rep.why);
}

Test(engine, priv_drop_rejects_unknown_user)
{
	char why[128];

	cr_expect_eq(rp_priv_drop("no-such-user-rp", why, sizeof(why)), -ENOENT);
	cr_expect(strstr(why, "no-such-user-rp"), "%s", why);
}

/* The daemon creates engines on the main thread and polls each on its shard thread;
 * with SINGLE_ISSUER the ring must accept the poller as its submitter. */
static void *poll_thread(void *arg)
{
	struct run *r = arg;

	return (void *)(intptr_t)run_probes(r, N_PROBES);
}

static void created_here_polled_there(int backend, unsigned mask)
{
	struct rp_engine_conf c = conf_make(backend, RP_ICMP_RAW, mask);
	struct run r = {0};
	pthread_t t;
	void *ret;
	char why[256];

	root_netns(RP_ICMP_RAW);
	cr_assert_eq(rp_engine_create(&r.e, &c, why, sizeof(why)), 0, "%s", why);
	rp_engine_info(r.e, &r.info);
	cr_assert_eq(pthread_create(&t, NULL, poll_thread, &r), 0);
	cr_assert_eq(pthread_join(t, &ret), 0);
	cr_assert_eq((intptr_t)ret, 0, "poll: %s", strerror(-(int)(intptr_t)ret));
	expect_exact(&r, N_PROBES);
	run_fini(&r);
}

Test(engine, created_on_one_thread_polled_on_another_defer_taskrun)
{
	created_here_polled_there(URING, ALL);
}

Test(engine, created_on_one_thread_polled_on_another_mmsg)
{
	created_here_polled_there(MMSG, ALL);
}

Test(engine, rejects_sizes_that_are_not_powers_of_two)
{
	struct rp_engine_conf c = conf_make(RP_BACKEND_AUTO, RP_ICMP_AUTO, ALL);
	struct rp_engine *e = NULL;
	char why[256];

	c.send_slots = 1000;
	cr_expect_eq(rp_engine_create(&e, &c, why, sizeof(why)), -EINVAL);
	cr_expect(strstr(why, "send_slots 1000"), "%s", why);
	c.send_slots = 1024;
	c.recv_bufs = 65536;
	cr_expect_eq(rp_engine_create(&e, &c, why, sizeof(why)), -EINVAL);
	cr_expect(strstr(why, "recv_bufs 65536"), "%s", why);
	cr_expect_null(e);
}

Test(engine, send_buffers_run_out_and_come_back)
{
	struct rp_engine_conf c = conf_make(URING, RP_ICMP_RAW, ALL);
	struct run r = {0};
	void *bufs[64];
	char why[256];
	int got = 0;

	root_netns(RP_ICMP_RAW);
	c.send_slots = 64;
	cr_assert_eq(rp_engine_create(&r.e, &c, why, sizeof(why)), 0, "%s", why);
	rp_engine_info(r.e, &r.info);
	r.n = 64;
	r.seen = calloc(64, 1);
	for (int i = 0; i < 64; i++) {
		bufs[i] = rp_engine_send_buf(r.e);
		cr_assert_not_null(bufs[i]);
		for (int j = 0; j < i; j++)
			cr_assert_neq(bufs[i], bufs[j]);
	}
	cr_assert_null(rp_engine_send_buf(r.e), "65th buffer out of 64");
	for (uint32_t i = 0; i < 64; i++) {
		struct rp_probe_stamp st = {.addr = rp_ip_v4(target(i)),
					    .slot = i,
					    .gen = 1,
					    .seq = i,
					    .sent_ns = clock_ns(CLOCK_REALTIME)};

		rp_icmp_stamp(bufs[i], &key, &st);
		rp_engine_send_queue(r.e, bufs[i], RP_ICMP_PKT_LEN, &st.addr);
	}
	for (int i = 0; i < 50 && r.ok < 64; i++)
		got += rp_engine_poll(r.e, 10 * MS, on_rx, &r);
	cr_expect_eq(r.ok, 64);
	cr_expect_eq(got, 64);
	for (int i = 0; i < 64; i++)
		cr_expect_not_null(rp_engine_send_buf(r.e), "buffer %d back after its CQE", i);
	run_fini(&r);
}
