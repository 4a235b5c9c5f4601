/* pace.c: the broker's buckets and its rate after 429s (pace.h). */
#include "pace.h"
#include "window.h"

/* Lateness a grant may make up for (poll granularity). */
#define SLACK_MS 1.5
/* Bucket capacity in seconds of the rate. A bucket of capacity C refilled at r admits C + r in
 * any second, so C must stay within the margin for a 1 s window not to see more than the limit. */
#define BURST_S (1.0 - PACE_MARGIN)

double pace_req_rate(const struct pace *p)
{
	return p->rpm / 60000.0 * p->rate_factor * PACE_MARGIN;
}

double pace_tok_rate(const struct pace *p)
{
	return p->tpm / 60000.0 * p->rate_factor * PACE_MARGIN;
}

/* Sets the limits and the bucket sizes that follow from them. */
static void set_limits(struct pace *p, double rpm, double tpm)
{
	p->rpm = rpm;
	p->tpm = tpm;
	p->req_cap = rpm / 60.0 * BURST_S;
	if (p->req_cap < 1.0)
		p->req_cap = 1.0;
	p->tok_cap = tpm / 60.0 * BURST_S;
	if (p->tok_cap < 1.0)
		p->tok_cap = 1.0;
	if (p->req_level > p->req_cap)
		p->req_level = p->req_cap;
	if (p->tok_level > p->tok_cap)
		p->tok_level = p->tok_cap;
}

void pace_init(struct pace *p, double rpm, double tpm, double now)
{
	*p = (struct pace){ .cfg_rpm = rpm, .cfg_tpm = tpm, .rate_factor = PACE_START_FACTOR };
	set_limits(p, rpm, tpm);
	p->req_level = 1.0; /* one request's worth to start with, not a full bucket */
	p->tok_level = p->tok_cap;
	p->last_refill = now;
}

void pace_no_slow_start(struct pace *p)
{
	p->rate_factor = 1.0;
}

int64_t pace_paused(const struct pace *p, int64_t now)
{
	return p->not_before > now ? p->not_before - now : 0;
}

void pace_limits(struct pace *p, int64_t rpm, int64_t tpm)
{
	double r = p->cfg_rpm, t = p->cfg_tpm;
	p->announced = rpm > 0 || tpm > 0;
	if (rpm > 0 && rpm < r)
		r = (double)rpm;
	if (tpm > 0 && tpm < t)
		t = (double)tpm;
	if (r != p->rpm || t != p->tpm)
		set_limits(p, r, t);
}

/* The cap stops a burst after an idle spell or a pause. It sits SLACK_MS of rate above the
 * capacity: the poll wakes to the millisecond, so a grant comes up to a millisecond late, and
 * that much credit must survive or the average rate falls short. */
void pace_refill(struct pace *p, double now)
{
	double dt = now - p->last_refill;
	p->last_refill = now;
	if (dt <= 0)
		return;
	p->rate_factor += PACE_RECOVERY_PER_S * dt / 1000.0;
	if (p->rate_factor > 1.0)
		p->rate_factor = 1.0;
	p->req_level += dt * pace_req_rate(p);
	p->tok_level += dt * pace_tok_rate(p);
	double req_max = p->req_cap + SLACK_MS * pace_req_rate(p);
	double tok_max = p->tok_cap + SLACK_MS * pace_tok_rate(p);
	if (p->req_level > req_max)
		p->req_level = req_max;
	if (p->tok_level > tok_max)
		p->tok_level = tok_max;
}

/* Milliseconds (fractional) until the token bucket holds a request of est tokens. */
static double tok_fine(const struct pace *p, uint32_t est)
{
	/* never more than the bucket holds, so one request larger than a second's budget still
	 * goes (and leaves the bucket in debt) */
	double need = (double)est < p->tok_cap ? (double)est : p->tok_cap;
	return p->tok_level < need ? (need - p->tok_level) / pace_tok_rate(p) : 0;
}

/* whole milliseconds for zmq_poll, rounded up (the bucket keeps the remainder), at least the
 * pause's */
static int64_t whole_ms(double fine, int64_t paused)
{
	int64_t t = fine > 0 ? (int64_t)fine + 1 : 0;
	return t > paused ? t : paused;
}

int64_t pace_wait(const struct pace *p, uint32_t est, int64_t now)
{
	double fine = 0;
	if (p->req_level < 1.0)
		fine = (1.0 - p->req_level) / pace_req_rate(p);
	double tok = tok_fine(p, est);
	return whole_ms(tok > fine ? tok : fine, pace_paused(p, now));
}

int64_t pace_tok_wait(const struct pace *p, uint32_t est, int64_t now)
{
	return whole_ms(tok_fine(p, est), pace_paused(p, now));
}

void pace_take(struct pace *p, uint32_t est)
{
	p->req_level -= 1.0;
	p->tok_level -= (double)est;
}

void pace_hold_until(struct pace *p, int64_t t)
{
	if (t > p->not_before)
		p->not_before = t;
}

int64_t pace_429(struct pace *p, int64_t retry_after_ms, int64_t reset_requests_ms,
		 int64_t reset_tokens_ms, int64_t now)
{
	int64_t pause = retry_after_ms >= 0 ? retry_after_ms : -1;
	if (pause < 0 && reset_requests_ms >= 0)
		pause = reset_requests_ms;
	if (pause < 0 && reset_tokens_ms >= 0)
		pause = reset_tokens_ms;
	if (pause < 0)
		pause = PACE_DEFAULT_429_MS;
	pace_hold_until(p, now + pause);
	p->rate_factor *= p->announced ? 0.8 : 0.5;
	if (p->rate_factor < PACE_MIN_FACTOR)
		p->rate_factor = PACE_MIN_FACTOR;
	p->req_level = p->req_level > 0 ? 0 : p->req_level;
	p->throttled++;
	return pause;
}

void pace_refund(struct pace *p, double tokens)
{
	p->tok_level += tokens;
	if (p->tok_level > p->tok_cap)
		p->tok_level = p->tok_cap;
}

void pace_refund_request(struct pace *p)
{
	p->req_level += 1.0;
	if (p->req_level > p->req_cap)
		p->req_level = p->req_cap;
}

void pace_cap_tokens(struct pace *p, double remaining)
{
	if (remaining < p->tok_level)
		p->tok_level = remaining;
}
