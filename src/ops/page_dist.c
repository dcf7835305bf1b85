/* /api/v1/rtt, /api/v1/loss and the fleet page's RTT and loss sections, from one
 * published view (include/ringprobe/dist.h). Every string here is a number or an
 * address this program formatted: nothing from outside reaches these answers. */
#include "ops/page_dist.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const double pcts[] = {50, 90, 95, 99};
static const char *const pct_keys[] = {"p50", "p90", "p95", "p99"};

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static double loss_pct(uint64_t sent, uint64_t received)
{
	return sent ? 100.0 * (double)(sent - (received < sent ? received : sent)) / (double)sent
		    : 0.0;
}

size_t rp_dist_rtt_json(const struct rp_dist_view *v, char *buf, size_t cap)
{
	struct rp_out o = rp_out_init(buf, cap);

	rp_out_put(&o,
		   "{\"window_s\":%.1f,\"sent\":%" PRIu64 ",\"received\":%" PRIu64
		   ",\"loss_pct\":%.2f,\"rtt_ms\":",
		   (double)v->window_ns / 1e9, v->sent, v->received,
		   loss_pct(v->sent, v->received));
	if (!v->received) {
		rp_out_put(&o, "null");
	} else {
		rp_out_put(&o, "{\"min\":%.3f,\"mean\":%.3f", ms(v->rtt_min_ns),
			   ms(v->rtt_sum_ns) / (double)v->received);
		for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
			rp_out_put(&o, ",\"%s\":%.3f", pct_keys[i],
				   ms(rp_dist_percentile(v, pcts[i])));
		rp_out_put(&o, ",\"max\":%.3f}", ms(v->rtt_max_ns));
	}
	rp_out_put(&o, ",\"buckets\":[");
	for (unsigned b = 0; b < RP_DIST_BUCKETS; b++) {
		if (b < RP_DIST_BOUNDS)
			rp_out_put(&o, "%s{\"le_ms\":%.6g,\"count\":%" PRIu64 "}", b ? "," : "",
				   ms(rp_dist_bound_ns(b)), v->rtt[b]);
		else
			rp_out_put(&o, ",{\"le_ms\":null,\"count\":%" PRIu64 "}", v->rtt[b]);
	}
	rp_out_put(&o, "]}\n");
	return o.len;
}

/* "a.b.c.0/24" or "x:x:x:x::/64". */
static void net_text(const struct rp_ip *net, char out[RP_IP_STRLEN + 4])
{
	char ip[RP_IP_STRLEN];

	rp_ip_format(net, ip);
	snprintf(out, RP_IP_STRLEN + 4, "%s/%d", ip,
		 rp_ip_is_v4(net) ? RP_DIST_V4_PREFIX : RP_DIST_V6_PREFIX);
}

static uint32_t count_lossy(const struct rp_dist_view *v)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < v->nnets; i++)
		k += v->nets[i].received < v->nets[i].sent;
	return k;
}

size_t rp_dist_loss_json(const struct rp_dist_view *v, const char *sort, uint32_t offset,
			 uint32_t limit, char *buf, size_t cap)
{
	struct rp_out o = rp_out_init(buf, cap);
	uint32_t start = offset < v->nnets ? offset : v->nnets, end;

	if (limit > RP_DIST_PAGE_MAX)
		limit = RP_DIST_PAGE_MAX;
	end = v->nnets - start < limit ? v->nnets : start + limit;
	rp_out_put(&o,
		   "{\"window_s\":%.1f,\"prefix_v4\":%d,\"prefix_v6\":%d,\"networks\":%" PRIu32
		   ",\"lossy\":%" PRIu32 ",\"max_networks\":%" PRIu32
		   ",\"other\":{\"sent\":%" PRIu64 ",\"received\":%" PRIu64
		   "},\"sort\":\"%s\",\"offset\":%" PRIu32 ",\"limit\":%" PRIu32 ",\"rows\":[",
		   (double)v->window_ns / 1e9, RP_DIST_V4_PREFIX, RP_DIST_V6_PREFIX, v->nnets,
		   count_lossy(v), v->cap, v->other_sent, v->other_received,
		   strcmp(sort, "net") == 0 ? "net" : "loss", offset, limit);
	for (uint32_t i = start; i < end; i++) {
		const struct rp_dist_net *r = &v->nets[i];
		char net[RP_IP_STRLEN + 4];

		net_text(&r->net, net);
		rp_out_put(&o,
			   "%s{\"net\":\"%s\",\"sent\":%" PRIu64 ",\"received\":%" PRIu64
			   ",\"loss_pct\":%.2f}",
			   i > start ? "," : "", net, r->sent, r->received,
			   loss_pct(r->sent, r->received));
	}
	rp_out_put(&o, "]");
	if (end < v->nnets && limit)
		rp_out_put(
		    &o, ",\"next\":\"/api/v1/loss?sort=%s&offset=%" PRIu32 "&limit=%" PRIu32 "\"",
		    strcmp(sort, "net") == 0 ? "net" : "loss", end, limit);
	rp_out_put(&o, "}\n");
	return o.len;
}

unsigned rp_page_loss_class(uint64_t sent, uint64_t received)
{
	double p = loss_pct(sent, received);

	if (received >= sent)
		return 0;
	if (!received)
		return 5;
	return p < 1 ? 1 : p < 5 ? 2 : p < 20 ? 3 : 4;
}

/* A bound in ms as the page shows it: "0.0125", "2.5", "100000". */
static void put_bound(struct rp_out *o, unsigned b)
{
	if (b < RP_DIST_BOUNDS)
		rp_out_put(o, "%.6g", ms(rp_dist_bound_ns(b)));
	else
		rp_out_put(o, "&gt; %.6g", ms(rp_dist_bound_ns(RP_DIST_BOUNDS - 1)));
}

/* The chart's geometry (SVG user units; page.css scales it to the section's width). */
#define BAR_W 12
#define CHART_H 120
#define LABEL_H 16

static void put_rtt(struct rp_out *o, const struct rp_dist_view *v)
{
	unsigned first = RP_DIST_BUCKETS, last = 0;
	uint64_t top = 0;

	rp_out_put(o, "<section id=\"s-rtt\">\n<h2>Round-trip times</h2>\n<p id=\"rtt-summary\">");
	for (unsigned b = 0; b < RP_DIST_BUCKETS; b++) {
		if (!v->rtt[b])
			continue;
		if (first == RP_DIST_BUCKETS)
			first = b;
		last = b;
		if (v->rtt[b] > top)
			top = v->rtt[b];
	}
	if (!v->received) {
		rp_out_put(o, "No reply in the last %.0f s (", (double)v->window_ns / 1e9);
		rp_out_grouped(o, v->sent);
		rp_out_put(o, " probes).</p>\n</section>\n");
		return;
	}
	rp_out_put(o, "Last %.0f s: ", (double)v->window_ns / 1e9);
	rp_out_grouped(o, v->received);
	rp_out_put(o, " replies of ");
	rp_out_grouped(o, v->sent);
	rp_out_put(o, " probes; min %.3f, median %.3f, p90 %.3f, p99 %.3f, max %.3f ms.</p>\n",
		   ms(v->rtt_min_ns), ms(rp_dist_percentile(v, 50)), ms(rp_dist_percentile(v, 90)),
		   ms(rp_dist_percentile(v, 99)), ms(v->rtt_max_ns));
	rp_out_put(o,
		   "<svg id=\"rtt-chart\" viewBox=\"0 0 %u %u\" role=\"img\" aria-label=\"replies "
		   "per round-trip time bucket\">\n",
		   (last - first + 1) * BAR_W, CHART_H + LABEL_H);
	for (unsigned b = first; b <= last; b++) {
		unsigned h = (unsigned)((v->rtt[b] * CHART_H + top - 1) / top);
		unsigned x = (b - first) * BAR_W;

		rp_out_put(o, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\"><title>&le; ",
			   x + 1, CHART_H - h, BAR_W - 2, h);
		put_bound(o, b);
		rp_out_put(o, " ms: ");
		rp_out_grouped(o, v->rtt[b]);
		rp_out_put(o, "</title></rect>\n");
		/* A label at each decade, and at both ends. */
		if (b == first || b == last || (b < RP_DIST_BOUNDS && b % 10 == 0))
			rp_out_put(
			    o, "<text x=\"%u\" y=\"%u\" text-anchor=\"%s\">%.6g</text>\n",
			    b == last && b != first ? x + BAR_W : x, CHART_H + LABEL_H - 3,
			    b == last && b != first ? "end" : "start",
			    ms(rp_dist_bound_ns(b < RP_DIST_BOUNDS ? b : RP_DIST_BOUNDS - 1)));
	}
	rp_out_put(o, "</svg>\n<details><summary>Buckets (ms)</summary>\n<table id=\"rtt\">\n"
		      "<thead><tr><th scope=\"col\">RTT up to, ms</th><th scope=\"col\">Replies"
		      "</th></tr></thead>\n<tbody>\n");
	for (unsigned b = first; b <= last; b++) {
		rp_out_put(o, "<tr><td>");
		put_bound(o, b);
		rp_out_put(o, "</td><td>");
		rp_out_grouped(o, v->rtt[b]);
		rp_out_put(o, "</td></tr>\n");
	}
	rp_out_put(o, "</tbody>\n</table>\n</details>\n<p class=\"pager\">JSON: <a "
		      "href=\"/api/v1/rtt\">/api/v1/rtt</a></p>\n</section>\n");
}

static void put_loss(struct rp_out *o, const struct rp_page_dist *pd)
{
	const struct rp_dist_view *v = pd->v;

	rp_out_put(o, "<section id=\"s-loss\">\n<h2>Loss by network</h2>\n<p id=\"loss-summary\">");
	rp_out_grouped(o, v->nnets);
	rp_out_put(o, " networks (IPv4 /%d, IPv6 /%d), <span id=\"loss-lossy\">", RP_DIST_V4_PREFIX,
		   RP_DIST_V6_PREFIX);
	rp_out_grouped(o, pd->lossy);
	rp_out_put(o, "</span> with loss, over the last %.0f s", (double)v->window_ns / 1e9);
	if (v->other_sent) {
		rp_out_put(o, "; ");
		rp_out_grouped(o, v->other_sent);
		rp_out_put(o, " probes in networks past the ");
		rp_out_grouped(o, v->cap);
		rp_out_put(o, " held");
	}
	rp_out_put(o, "%s",
		   ".</p>\n<div id=\"loss-map\" hidden></div>\n<p class=\"legend\">Loss: "
		   "<i class=\"l0\"></i>none <i class=\"l1\"></i>&lt; 1% <i class=\"l2\"></i>"
		   "&lt; 5% <i class=\"l3\"></i>&lt; 20% <i class=\"l4\"></i>&lt; 100% "
		   "<i class=\"l5\"></i>all</p>\n");
	if (!pd->n) {
		rp_out_put(o, "<p id=\"loss-none\">%s</p>\n",
			   pd->offset && pd->offset >= v->nnets ? "No more networks on this page."
								: "No probe in the last minute.");
	} else {
		rp_out_put(o, "<table id=\"loss\">\n<thead><tr><th scope=\"col\">Network</th>"
			      "<th scope=\"col\">Probes</th><th scope=\"col\">Replies</th>"
			      "<th scope=\"col\">Loss</th></tr></thead>\n<tbody>\n");
		for (uint32_t i = 0; i < pd->n; i++) {
			const struct rp_dist_net *r = &pd->rows[i];
			char net[RP_IP_STRLEN + 4];

			net_text(&r->net, net);
			rp_out_put(o, "<tr class=\"l%u\"><td>%s</td><td>",
				   rp_page_loss_class(r->sent, r->received), net);
			rp_out_grouped(o, r->sent);
			rp_out_put(o, "</td><td>");
			rp_out_grouped(o, r->received);
			rp_out_put(o, "</td><td>%.2f%%</td></tr>\n",
				   loss_pct(r->sent, r->received));
		}
		rp_out_put(o, "</tbody>\n</table>\n");
	}
	rp_out_put(o, "<p class=\"pager\">");
	if (pd->offset)
		rp_out_put(o, "<a href=\"/?loss_offset=%u#s-loss\">&larr; previous</a>",
			   (unsigned)(pd->offset > pd->limit ? pd->offset - pd->limit : 0));
	if (pd->n)
		rp_out_put(o, " %u&ndash;%u of %u, worst first ", (unsigned)pd->offset + 1,
			   (unsigned)(pd->offset + pd->n), (unsigned)v->nnets);
	if (pd->offset + pd->n < v->nnets)
		rp_out_put(o, "<a href=\"/?loss_offset=%u#s-loss\">next &rarr;</a>",
			   (unsigned)(pd->offset + pd->n));
	rp_out_put(o, " &middot; JSON: <a href=\"/api/v1/loss\">/api/v1/loss</a></p>\n"
		      "</section>\n");
}

void rp_page_dist_sections(struct rp_out *o, const struct rp_page_dist *pd)
{
	put_rtt(o, pd->v);
	put_loss(o, pd);
}
