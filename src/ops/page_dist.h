/* The fleet page's RTT distribution and loss-by-network sections, and the JSON of
 * /api/v1/rtt and /api/v1/loss (include/ringprobe/dist.h), rendered from the health
 * server's copy of the published view. Pure (no allocation, no clock, no I/O).
 * Private to src/ops. */
#ifndef RP_OPS_PAGE_DIST_H
#define RP_OPS_PAGE_DIST_H

#include <stdint.h>

#include "ops/out.h"
#include "ringprobe/dist.h"

/** What the page's two sections show: the view's figures, and one page of its
 *  networks sorted worst first. */
struct rp_page_dist {
	const struct rp_dist_view *v;	/* window, counts, RTT buckets */
	const struct rp_dist_net *rows; /* rows offset .. offset + n of the worst-first list */
	uint32_t n, offset, limit;
	uint32_t lossy; /* networks with any loss */
};

/** Rows of the loss table on the page (a page of them; /api/v1/loss has all). */
#define RP_PAGE_LOSS_ROWS 50

/** The loss class of a network (0: no loss, 1: < 1%, 2: < 5%, 3: < 20%, 4: < 100%,
 *  5: every probe lost): the page's colours, as page_dist.js computes them. */
unsigned rp_page_loss_class(uint64_t sent, uint64_t received);
/** Both sections as HTML into o: an SVG bar chart and its table of buckets, a grid the
 *  script fills (/api/v1/loss) and the table of the worst networks, paged with links
 *  (?loss_offset=N), so the page reads with scripts off. */
void rp_page_dist_sections(struct rp_out *o, const struct rp_page_dist *pd);

#endif
