/* Writer end to end into VictoriaMetrics (started as the tests start it, by
 * support/servers.h: a free 127.0.0.1 port, a temporary directory, stopped by PID): two
 * producer threads push ping results through two SPSC rings, the writer encodes, gzips
 * (or not) and posts them to /api/v2/write, and the clock stops when the sink has
 * acknowledged every point. The count is then checked in VictoriaMetrics itself (sum of
 * count_over_time).
 *
 * Reported per case: points/s delivered, the writer thread's CPU seconds per million
 * points (CLOCK_THREAD_CPUTIME_ID read inside the writer) and VictoriaMetrics' own CPU
 * seconds per million points (from /proc). On a 2-CPU machine the producers, the writer
 * and VictoriaMetrics share the two CPUs, and VictoriaMetrics needs the most (each point
 * is three samples), so the null_* cases repeat the run against a sink thread that only
 * parses the HTTP requests, inflates gzip bodies and counts their lines: that is the
 * writer's own ceiling.
 *
 * Unpaced producers push faster than VictoriaMetrics takes points: the pool fills and
 * most batches go through the disk spool, so those cases measure the spool as much as
 * the sink. The vm_gzip_paced case paces the producers instead and searches for the
 * highest rate VictoriaMetrics takes steadily: every point delivered, none spooled,
 * the producers never more than 250 ms behind their schedule, the last point
 * acknowledged within 1 s of its push. It reports that rate (steady_kpoints_per_s)
 * with the CPU figures of that trial. Its series are registered by a warm-up trial
 * first, as a running daemon's are: the unpaced cases pay for creating 30,000 series
 * (10,000 devices, three fields) inside their measurement.
 *
 * Prometheus remote write (prometheus_remote_write.url: the same batches re-read into a
 * snappy protobuf WriteRequest per request) runs the same way: null_rw and vm_rw
 * (VictoriaMetrics' /api/v1/write) unpaced, and fleet20k, which paces 20,000 devices
 * at one point per second each into VictoriaMetrics for BW_FLEET_SECS (30) seconds, first
 * through /api/v2/write with gzip (the InfluxDB path, as configured by default), then
 * through remote write, each after a warm-up that registers the series, and prints the
 * ratio of the writer's CPU per point (rw_over_influx_cpu).
 *
 * Usage: bench_writer [POINTS]   (default 5000000 per unpaced case; the configuration
 * defaults otherwise, with flush_interval 100ms). Environment, for experiments:
 *   BW_BATCH, BW_INFLIGHT   influxdb.batch_size, influxdb.max_inflight
 *   BW_VM_GOGC              GOGC in victoria-metrics' environment (Go's default: 100)
 *   BW_CASES                cases to run, comma-separated (default: all of vm_gzip,
 *                           vm_plain, vm_rw, null_gzip, null_plain, null_rw,
 *                           vm_gzip_paced, fleet20k)
 *   BW_FLEET_SECS           seconds of data per fleet20k run (30)
 *   BW_PACE_START           first rate the paced search tries, points/s (250000)
 *   BW_PACE_SECS            seconds of data per paced trial (8) */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <zlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ringprobe/conf.h"
#include "ringprobe/log.h"
#include "ringprobe/result.h"
#include "ringprobe/spsc.h"
#include "ringprobe/writer.h"
#include "support/support.h"

#define DEFAULT_POINTS 5000000ull
#define DEVICES 10000u /* series per metric; each gets one sample per second of data */
#define FLEET_DEVICES 20000u

/* How a case's writer sends. */
enum enc { ENC_PLAIN, ENC_GZIP, ENC_RW };

static uint32_t devices = DEVICES; /* fleet20k: FLEET_DEVICES */
#define RING_CAP (1u << 16)
#define PUSH_BATCH 256u
#define MAX_LAG_S 0.25 /* a paced producer further behind than this: not steady */
#define MAX_TAIL_S 1.0 /* the sink acknowledging the last point later: not steady */

struct producer {
	struct rp_spsc *ring;
	uint64_t first, count, stride; /* points first, first + stride, ... */
	uint64_t base_ns;
	uint8_t net;
	double rate;	/* points/s of this producer; 0 = as fast as the ring takes them */
	double t0;	/* start of its schedule */
	double max_lag; /* out: worst lateness of a push against the schedule, seconds */
	double t_end;	/* out: when its last point was in the ring */
};

/* What one case measured. */
struct result {
	long long delivered;
	double kpps;	   /* points / (time until the sink acknowledged the last one) */
	double writer_cpu; /* CPU-s per 1M points */
	double vm_cpu;	   /* CPU-s per 1M points; 0 for the null sink */
	double max_lag;	   /* paced: worst producer lateness, seconds */
	double tail;	   /* from the last point pushed to the last one acknowledged */
	uint64_t spooled;
	bool complete; /* every point written, none dropped */
};

static void sleep_us(long us)
{
	nanosleep(&(struct timespec){us / 1000000, (us % 1000000) * 1000}, NULL);
}

/* Samples of ping_success for network 10.net.x.x, as VictoriaMetrics counts them. */
static long long vm_count(struct srv *v, uint8_t net, uint64_t at_s)
{
	char metric[64];

	srv_vm_flush(v);
	snprintf(metric, sizeof(metric), "ping_success{ip=~\"10\\\\.%u\\\\..*\"}", net);
	return srv_vm_count_over_time(v, metric, "2h", (int64_t)at_s);
}

/* A sink that only speaks enough HTTP/1.1: counts the lines of every body (inflating
 * gzip ones) and answers 204. One thread, poll over a few keep-alive connections. */
#define NULL_CONNS 16
#define NULL_BUF (1 << 20)

struct null_sink {
	int fd;
	int port;
	char url[64];
	pthread_t thread;
	atomic_int stop;
	atomic_ullong lines;
};

struct null_conn {
	int fd;
	size_t n;    /* bytes in buf */
	size_t body; /* body bytes still to come, when in a body */
	bool in_body;
	bool gzip;
	bool snappy; /* remote write: the writer's own count is taken */
	z_stream z;
	unsigned char *buf;
	unsigned char *out;
};

static uint64_t count_nl(const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n;
	uint64_t c = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		c++;
		p++;
	}
	return c;
}

/* Consumes body bytes: counts lines (after inflating when gzip). */
static uint64_t body_bytes(struct null_conn *c, const unsigned char *p, size_t n)
{
	uint64_t lines = 0;

	if (c->snappy)
		return 0;
	if (!c->gzip)
		return count_nl(p, n);
	c->z.next_in = (unsigned char *)p;
	c->z.avail_in = (uInt)n;
	while (c->z.avail_in) {
		int ret;

		c->z.next_out = c->out;
		c->z.avail_out = NULL_BUF;
		ret = inflate(&c->z, Z_NO_FLUSH);
		lines += count_nl(c->out, NULL_BUF - c->z.avail_out);
		if (ret == Z_STREAM_END || ret < 0)
			break;
	}
	return lines;
}

/* Handles what is buffered; returns false when the connection must close. */
static bool null_serve(struct null_sink *s, struct null_conn *c)
{
	static const char ok[] = "HTTP/1.1 204 No Content\r\n\r\n";
	size_t off = 0;

	for (;;) {
		if (c->in_body) {
			size_t take = c->n - off < c->body ? c->n - off : c->body;

			atomic_fetch_add(&s->lines, body_bytes(c, c->buf + off, take));
			off += take;
			c->body -= take;
			if (c->body)
				break;
			c->in_body = false;
			if (write(c->fd, ok, sizeof(ok) - 1) < 0)
				return false;
			continue;
		}
		{
			unsigned char *end = memmem(c->buf + off, c->n - off, "\r\n\r\n", 4);
			const char *h;

			if (!end)
				break;
			c->body = 0;
			c->gzip = false;
			c->snappy = false;
			for (h = (const char *)c->buf + off; h && h < (const char *)end;
			     h = memchr(h, '\n', (size_t)((const char *)end - h))) {
				if (*h == '\n')
					h++;
				if (!strncasecmp(h, "Content-Length:", 15))
					c->body = strtoull(h + 15, NULL, 10);
				if (!strncasecmp(h, "Content-Encoding: gzip", 22))
					c->gzip = true;
				if (!strncasecmp(h, "Content-Encoding: snappy", 24))
					c->snappy = true;
			}
			if (c->gzip)
				inflateReset(&c->z);
			c->in_body = true;
			off = (size_t)(end + 4 - c->buf);
		}
	}
	memmove(c->buf, c->buf + off, c->n - off);
	c->n -= off;
	return true;
}

static void *null_main(void *arg)
{
	struct null_sink *s = arg;
	struct null_conn c[NULL_CONNS];
	struct pollfd pfd[NULL_CONNS + 1];

	for (int i = 0; i < NULL_CONNS; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].fd = -1;
		c[i].buf = malloc(NULL_BUF);
		c[i].out = malloc(NULL_BUF);
		inflateInit2(&c[i].z, 15 + 32);
	}
	while (!atomic_load(&s->stop)) {
		pfd[0] = (struct pollfd){.fd = s->fd, .events = POLLIN};
		for (int i = 0; i < NULL_CONNS; i++)
			pfd[i + 1] = (struct pollfd){.fd = c[i].fd, .events = POLLIN};
		if (poll(pfd, NULL_CONNS + 1, 20) <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			int fd = accept(s->fd, NULL, NULL);

			for (int i = 0; fd >= 0 && i < NULL_CONNS; i++)
				if (c[i].fd < 0) {
					c[i].fd = fd;
					c[i].n = 0;
					c[i].in_body = false;
					fd = -1;
				}
			if (fd >= 0)
				close(fd);
		}
		for (int i = 0; i < NULL_CONNS; i++) {
			ssize_t r;

			if (c[i].fd < 0 || !(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(c[i].fd, c[i].buf + c[i].n, NULL_BUF - c[i].n);
			if (r > 0) {
				c[i].n += (size_t)r;
				if (null_serve(s, &c[i]))
					continue;
			}
			close(c[i].fd);
			c[i].fd = -1;
		}
	}
	for (int i = 0; i < NULL_CONNS; i++) {
		if (c[i].fd >= 0)
			close(c[i].fd);
		inflateEnd(&c[i].z);
		free(c[i].buf);
		free(c[i].out);
	}
	return NULL;
}

static int null_start(struct null_sink *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);

	memset(s, 0, sizeof(*s));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->fd, 64) < 0 || getsockname(s->fd, (struct sockaddr *)&a, &alen) < 0)
		return -errno;
	s->port = ntohs(a.sin_port);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	return -pthread_create(&s->thread, NULL, null_main, s);
}

static void null_stop(struct null_sink *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	close(s->fd);
}

/* utime + stime of a process, in seconds. */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* After ") S ": fields 4.. ; utime and stime are fields 14 and 15. */
	if (p &&
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
		return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	struct rp_probe_result batch[PUSH_BATCH];
	uint64_t done = 0;

	memset(batch, 0, sizeof(batch));
	p->max_lag = 0;
	while (done < p->count) {
		uint32_t n =
		    p->count - done < PUSH_BATCH ? (uint32_t)(p->count - done) : PUSH_BATCH;

		if (p->rate > 0) {
			double due = p->t0 + (double)done / p->rate, late = sup_now() - due;

			if (late < 0)
				sleep_us((long)(-late * 1e6));
			else if (late > p->max_lag)
				p->max_lag = late;
		}
		for (uint32_t k = 0; k < n; k++) {
			uint64_t i = p->first + (done + k) * p->stride;
			uint32_t dev = (uint32_t)(i % devices);
			struct rp_probe_result *r = &batch[k];

			/* One sample per device per second of data: no two in one millisecond. */
			r->sent_ns = p->base_ns + i / devices * 1000000000ull + dev * 1000ull;
			r->addr = rp_ip_v4(10u << 24 | (uint32_t)p->net << 16 | dev);
			r->rtt_ns = 200000 + (i % 7919) * 37;
			r->success = (i % 20) != 0;
			r->suspended = (i % 1000) == 0;
			r->id = dev;
		}
		while (!rp_spsc_try_push(p->ring, batch, n))
			sleep_us(50);
		done += n;
	}
	p->t_end = sup_now();
	return NULL;
}

/* One case: a fresh writer posting to `url`; vm (or ns) verifies the count. pace is
 * the producers' total points/s (0 = unpaced). Prints one line; res (optional) gets
 * the figures. 0 when every point was delivered. */
static int run_case(struct srv *vm, struct null_sink *ns, const char *name, int enc,
		    uint64_t points, uint8_t net, unsigned hours_back, double pace,
		    struct result *res)
{
	struct result r = {0};
	struct rp_spsc *rings[2];
	struct rp_writer_tuning tune;
	struct rp_writer_stats st;
	struct rp_writer *w;
	struct rp_conf c;
	struct producer pr[2];
	pthread_t th[2];
	char why[256], spool[64];
	double t0, t1, vm_cpu0 = 0, vm_cpu1 = 0;
	uint64_t base_ns, cpu0, lines0 = 0;
	long long delivered = -1;
	int ret;

	/* Hours back; a network or a 2-hour window per case keeps the counts apart. */
	base_ns = ((uint64_t)time(NULL) - hours_back * 3600ull) * 1000000000ull;
	rp_conf_init(&c);
	free(c.influxdb.url);
	c.influxdb.url = strdup(vm ? vm->url : ns->url);
	c.influxdb.bucket = strdup("bench");
	c.influxdb.org = strdup("bench");
	c.influxdb.gzip = enc == ENC_GZIP;
	if (enc == ENC_RW) {
		char url[128];

		snprintf(url, sizeof(url), "%s/api/v1/write", vm ? vm->url : ns->url);
		c.prometheus_remote_write.url = strdup(url);
		free(c.influxdb.url);
		c.influxdb.url = NULL;
	}
	c.influxdb.flush_interval = 100 * RP_NSEC_PER_MSEC;
	if (getenv("BW_BATCH"))
		c.influxdb.batch_size = atoll(getenv("BW_BATCH"));
	if (getenv("BW_INFLIGHT"))
		c.influxdb.max_inflight = atoll(getenv("BW_INFLIGHT"));
	if (c.influxdb.buffer_size < c.influxdb.batch_size * 4)
		c.influxdb.buffer_size = c.influxdb.batch_size * 4;
	strcpy(spool, "/tmp/rp-bench-spool-XXXXXX");
	if (!mkdtemp(spool))
		return -errno;
	free(c.spool.dir);
	c.spool.dir = strdup(spool);
	for (int i = 0; i < 2; i++)
		if (rp_spsc_create(&rings[i], RING_CAP, sizeof(struct rp_probe_result)) < 0)
			return -ENOMEM;
	rp_writer_tuning_init(&tune);
	ret = rp_writer_create(&w, &c, rings, 2, &tune, why, sizeof(why));
	if (ret < 0) {
		fprintf(stderr, "bench_writer: %s\n", why);
		return ret;
	}
	rp_writer_start(w);
	rp_writer_stats(w, &st);
	cpu0 = st.cpu_ns;
	if (vm)
		vm_cpu0 = proc_cpu_s(vm->pid);
	else
		lines0 = atomic_load(&ns->lines);

	t0 = sup_now();
	for (int i = 0; i < 2; i++) {
		pr[i] = (struct producer){.ring = rings[i],
					  .first = (uint64_t)i,
					  .count = points / 2 + (i ? points % 2 : 0),
					  .stride = 2,
					  .base_ns = base_ns,
					  .net = net,
					  .rate = pace / 2,
					  .t0 = t0};
		pthread_create(&th[i], NULL, producer_main, &pr[i]);
	}
	do {
		sleep_us(1000);
		rp_writer_stats(w, &st);
	} while (st.points_written + st.points_rejected + st.dropped_pool + st.dropped_no_spool +
		     st.dropped_spool_overflow <
		 points);
	t1 = sup_now();
	if (vm)
		vm_cpu1 = proc_cpu_s(vm->pid);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	rp_writer_stop(w, 10 * RP_NSEC_PER_SEC);
	rp_writer_stats(w, &st);
	rp_writer_destroy(w);

	if (vm) {
		/* New samples become searchable within seconds. */
		for (double until = sup_now() + 60; sup_now() < until; sleep_us(500000)) {
			delivered = vm_count(vm, net, base_ns / 1000000000ull + 3600);
			if (delivered >= (long long)points)
				break;
		}
	} else if (enc == ENC_RW) {
		delivered = (long long)st.points_written; /* each request answered 204 */
	} else {
		delivered = (long long)(atomic_load(&ns->lines) - lines0);
	}
	r.delivered = delivered;
	r.kpps = (double)points / (t1 - t0) / 1e3;
	r.writer_cpu = (double)(st.cpu_ns - cpu0) / 1e9 / ((double)points / 1e6);
	r.vm_cpu = vm ? (vm_cpu1 - vm_cpu0) / ((double)points / 1e6) : 0;
	r.max_lag = pr[0].max_lag > pr[1].max_lag ? pr[0].max_lag : pr[1].max_lag;
	r.tail = t1 - (pr[0].t_end > pr[1].t_end ? pr[0].t_end : pr[1].t_end);
	r.spooled = st.points_spooled;
	r.complete = st.points_written == points;
	printf("bench=writer case=%s points=%llu delivered=%lld kpoints_per_s=%.0f "
	       "writer_cpu_s_per_m=%.2f",
	       name, (unsigned long long)points, delivered, r.kpps, r.writer_cpu);
	if (vm)
		printf(" vm_cpu_s_per_m=%.2f", r.vm_cpu);
	if (pace > 0)
		printf(" pace_kpoints_per_s=%.0f max_lag_ms=%.0f tail_ms=%.0f", pace / 1e3,
		       r.max_lag * 1e3, r.tail * 1e3);
	printf(" wire_bytes_per_point=%.1f spooled_points=%llu\n",
	       (double)st.wire_bytes / (double)points, (unsigned long long)st.points_spooled);
	if (st.points_written != points)
		fprintf(stderr,
			"bench_writer: %s: written %llu rejected %llu dropped pool %llu "
			"overflow %llu\n",
			name, (unsigned long long)st.points_written,
			(unsigned long long)st.points_rejected, (unsigned long long)st.dropped_pool,
			(unsigned long long)st.dropped_spool_overflow);
	fflush(stdout);
	for (int i = 0; i < 2; i++)
		rp_spsc_destroy(rings[i]);
	rp_conf_fini(&c);
	sup_rm_rf(spool);
	if (res)
		*res = r;
	return delivered == (long long)points ? 0 : -EIO;
}

/* Steady: all delivered, nothing spooled, producers on schedule, and the sink kept up
 * (acknowledged the last point within MAX_TAIL_S of its push: flush_interval, a round
 * trip and one batch's ingestion, no backlog). */
static bool steady(const struct result *r, uint64_t points)
{
	return r->complete && r->delivered == (long long)points && r->spooled == 0 &&
	       r->max_lag <= MAX_LAG_S && r->tail <= MAX_TAIL_S;
}

/* One paced trial of the search: BW_PACE_SECS seconds of data at `rate`, on network
 * `net` in a 2-hour window of its own; VictoriaMetrics gets 2 s to settle after it. */
static bool trial(struct srv *vm, const char *name, int gzip, uint8_t net, unsigned *hours,
		  double rate, double secs, struct result *r)
{
	uint64_t points = (uint64_t)(rate * secs) & ~1ull;

	run_case(vm, NULL, name, gzip, points, net, *hours, rate, r);
	*hours += 2;
	sleep_us(2000000);
	return steady(r, points);
}

/* The highest steady rate into VictoriaMetrics. A warm-up trial first registers the
 * 10,000 devices' series, as a running daemon has them: the trials then measure
 * ingestion, not series creation. From BW_PACE_START the rate goes up (or down) by 25%
 * until the verdict changes, then three bisections. */
static int pace_search(struct srv *vm, const char *name, int gzip, uint8_t net)
{
	const char *e1 = getenv("BW_PACE_START"), *e2 = getenv("BW_PACE_SECS");
	double rate = e1 ? atof(e1) : 250000, secs = e2 ? atof(e2) : 8, lo = 0, hi = 0;
	struct result r, best = {0};
	unsigned hours = 6;
	char tname[64];
	bool ok;

	snprintf(tname, sizeof(tname), "%s_warmup", name);
	trial(vm, tname, gzip, net, &hours, 100000, 2, &r);
	snprintf(tname, sizeof(tname), "%s_trial", name);
	ok = trial(vm, tname, gzip, net, &hours, rate, secs, &r);
	if (ok) {
		for (lo = rate, best = r; ok && rate < 4e6;) {
			rate *= 1.25;
			ok = trial(vm, tname, gzip, net, &hours, rate, secs, &r);
			if (ok) {
				lo = rate;
				best = r;
			}
		}
		hi = ok ? 0 : rate;
	} else {
		for (hi = rate; !ok && rate > 20000;) {
			rate /= 1.25;
			ok = trial(vm, tname, gzip, net, &hours, rate, secs, &r);
			if (ok) {
				lo = rate;
				best = r;
			} else {
				hi = rate;
			}
		}
	}
	for (int k = 0; k < 3 && hi > 0 && lo > 0; k++) {
		double mid = (lo + hi) / 2;

		if (trial(vm, tname, gzip, net, &hours, mid, secs, &r)) {
			lo = mid;
			best = r;
		} else {
			hi = mid;
		}
	}
	printf("bench=writer case=%s steady_kpoints_per_s=%.0f delivered_kpoints_per_s=%.0f "
	       "writer_cpu_s_per_m=%.2f vm_cpu_s_per_m=%.2f first_unsteady_kpoints_per_s=%.0f "
	       "spooled_points=%llu\n",
	       name, lo / 1e3, best.kpps, best.writer_cpu, best.vm_cpu, hi / 1e3,
	       (unsigned long long)best.spooled);
	fflush(stdout);
	return lo > 0 ? 0 : -EIO;
}

/* 20,000 devices at 1 s into VictoriaMetrics, by InfluxDB v2 + gzip and by remote write:
 * the writer's CPU per point of each, and their ratio. */
static int fleet20k(struct srv *vm)
{
	const char *e = getenv("BW_FLEET_SECS");
	double secs = e ? atof(e) : 30;
	uint64_t points = (uint64_t)(FLEET_DEVICES * secs) & ~1ull;
	struct result r[2], warm;
	int ret = 0;

	devices = FLEET_DEVICES;
	ret |= run_case(vm, NULL, "fleet20k_influx_gzip_warmup", ENC_GZIP, 2 * FLEET_DEVICES, 21,
			30, FLEET_DEVICES, &warm);
	ret |= run_case(vm, NULL, "fleet20k_influx_gzip", ENC_GZIP, points, 21, 28, FLEET_DEVICES,
			&r[0]);
	ret |= run_case(vm, NULL, "fleet20k_rw_warmup", ENC_RW, 2 * FLEET_DEVICES, 23, 26,
			FLEET_DEVICES, &warm);
	ret |= run_case(vm, NULL, "fleet20k_rw", ENC_RW, points, 23, 24, FLEET_DEVICES, &r[1]);
	devices = DEVICES;
	printf("bench=writer case=fleet20k devices=%u interval_s=1 secs=%.0f "
	       "influx_gzip_writer_cpu_s_per_m=%.3f rw_writer_cpu_s_per_m=%.3f "
	       "rw_over_influx_cpu=%.2f influx_max_lag_ms=%.0f rw_max_lag_ms=%.0f "
	       "influx_spooled=%llu rw_spooled=%llu\n",
	       FLEET_DEVICES, secs, r[0].writer_cpu, r[1].writer_cpu,
	       r[0].writer_cpu > 0 ? r[1].writer_cpu / r[0].writer_cpu : 0, r[0].max_lag * 1e3,
	       r[1].max_lag * 1e3, (unsigned long long)r[0].spooled,
	       (unsigned long long)r[1].spooled);
	fflush(stdout);
	return ret;
}

/* Whether BW_CASES (a comma-separated list; unset = every case) names `name`. */
static bool want(const char *name)
{
	const char *list = getenv("BW_CASES"), *p;
	size_t n = strlen(name);

	if (!list || !*list)
		return true;
	for (p = list; (p = strstr(p, name)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	uint64_t points = argc > 1 ? strtoull(argv[1], NULL, 10) : DEFAULT_POINTS;
	/* VictoriaMetrics as deployed: its query cache on, its output on our stderr. */
	struct srv_vm_opts vo = {
	    .search_cache = true, .gogc = getenv("BW_VM_GOGC"), .inherit_stdio = true};
	struct null_sink ns;
	struct srv v;
	int ret = 0;

	rp_log_setup(RP_LOG_TEXT, RP_LOG_WARN);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	if (want("vm_gzip") || want("vm_plain") || want("vm_rw") || want("vm_gzip_paced") ||
	    want("fleet20k")) {
		if (srv_vm_start(&v, &vo) < 0) {
			fprintf(stderr, "bench_writer: %s\n", v.why);
			srv_cleanup(&v);
			return 1;
		}
		if (want("vm_gzip"))
			ret |= run_case(&v, NULL, "vm_gzip", ENC_GZIP, points, 1, 4, 0, NULL);
		if (want("vm_plain"))
			ret |= run_case(&v, NULL, "vm_plain", ENC_PLAIN, points, 2, 4, 0, NULL);
		if (want("vm_rw"))
			ret |= run_case(&v, NULL, "vm_rw", ENC_RW, points, 5, 4, 0, NULL);
		if (want("fleet20k"))
			ret |= fleet20k(&v);
		if (want("vm_gzip_paced"))
			ret |= pace_search(&v, "vm_gzip_paced", ENC_GZIP, 10);
		srv_cleanup(&v);
	}
	if (want("null_gzip") || want("null_plain") || want("null_rw")) {
		if (null_start(&ns) < 0) {
			fprintf(stderr, "bench_writer: cannot start the null sink\n");
			return 1;
		}
		if (want("null_gzip"))
			ret |= run_case(NULL, &ns, "null_gzip", ENC_GZIP, points, 3, 4, 0, NULL);
		if (want("null_plain"))
			ret |= run_case(NULL, &ns, "null_plain", ENC_PLAIN, points, 4, 4, 0, NULL);
		if (want("null_rw"))
			ret |= run_case(NULL, &ns, "null_rw", ENC_RW, points, 6, 4, 0, NULL);
		null_stop(&ns);
	}
	curl_global_cleanup();
	return ret ? 1 : 0;
}
