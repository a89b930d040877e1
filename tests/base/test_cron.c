/*
 * Unit tests for the main thread's timers (cron.c), on a test clock:
 * periods, timers armed by hand, removal from inside a run, and the
 * deadline the main loop sleeps until.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/cron.h"

static uint64_t now;

static uint64_t test_clock(void *arg)
{
	(void)arg;
	return now;
}

/* What a timer did: its runs, and what it does on the next one. */
struct probe {
	int runs;
	uint64_t last; /* the clock at the last run */
	bool keep;     /* what fn returns */
	struct cron_timer *self;
	uint64_t rearm;          /* if not 0: cron_at(self, rearm) when run */
	struct cron_timer *kill; /* if not NULL: cron_del(kill) when run */
	struct cron *add_to;     /* if not NULL: adds a timer when run */
	struct probe *added;
};

static bool probe_fn(void *arg)
{
	struct probe *p = arg;

	p->runs++;
	p->last = now;
	if (p->rearm != 0)
		cron_at(p->self, p->rearm);
	if (p->kill != NULL) {
		cron_del(p->kill);
		p->kill = NULL;
	}
	if (p->add_to != NULL) {
		cron_add(p->add_to, 0, probe_fn, p->added);
		p->add_to = NULL;
	}
	return p->keep;
}

static void test_periodic(void **state)
{
	struct cron *c;
	struct probe a = {.keep = true};

	(void)state;
	now = 1000;
	c = cron_new(test_clock, NULL);
	assert_int_equal(cron_next(c), CRON_NEVER);
	assert_int_equal(cron_wait_ms(c, 250), 250);
	a.self = cron_add(c, 100, probe_fn, &a);
	assert_int_equal(cron_next(c), 1100);
	assert_int_equal(cron_wait_ms(c, 250), 100);
	assert_int_equal(cron_wait_ms(c, 30), 30);
	now = 1099;
	cron_run(c);
	assert_int_equal(a.runs, 0);
	now = 1100;
	cron_run(c);
	assert_int_equal(a.runs, 1);
	/* The next run is a period after this one, however late it was. */
	assert_int_equal(cron_next(c), 1200);
	now = 1350;
	assert_int_equal(cron_wait_ms(c, 250), 0);
	cron_run(c);
	assert_int_equal(a.runs, 2); /* once, not once per missed period */
	assert_int_equal(cron_due(a.self), 1450);
	/* fn returning false removes the timer. */
	a.keep = false;
	now = 1450;
	cron_run(c);
	assert_int_equal(a.runs, 3);
	assert_int_equal(cron_next(c), CRON_NEVER);
	now = 5000;
	cron_run(c);
	assert_int_equal(a.runs, 3);
	cron_free(c);
}

static void test_armed_by_hand(void **state)
{
	struct cron *c;
	struct probe a = {.keep = true}, b = {.keep = true};

	(void)state;
	now = 0;
	c = cron_new(test_clock, NULL);
	a.self = cron_add(c, 0, probe_fn, &a);
	b.self = cron_add(c, 0, probe_fn, &b);
	assert_int_equal(cron_next(c), CRON_NEVER);
	cron_at(a.self, 500);
	cron_soon(b.self, 300);
	assert_int_equal(cron_next(c), 300);
	/* cron_soon never postpones; cron_at does. */
	cron_soon(b.self, 400);
	assert_int_equal(cron_due(b.self), 300);
	cron_at(b.self, 400);
	assert_int_equal(cron_due(b.self), 400);
	now = 400;
	cron_run(c);
	assert_int_equal(b.runs, 1);
	assert_int_equal(a.runs, 0);
	/* Run once, then disarmed until armed again. */
	assert_int_equal(cron_due(b.self), CRON_NEVER);
	assert_int_equal(cron_next(c), 500);
	/* A timer that arms itself in its run keeps that deadline. */
	a.rearm = 900;
	now = 600;
	cron_run(c);
	assert_int_equal(a.runs, 1);
	assert_int_equal(cron_next(c), 900);
	a.rearm = 0;
	cron_at(a.self, CRON_NEVER);
	assert_int_equal(cron_next(c), CRON_NEVER);
	/* The system clock, when none is given, moves forward. */
	cron_free(c);
	c = cron_new(NULL, NULL);
	assert_true(cron_now(c) > 0);
	cron_free(c);
}

static void test_removal_in_a_run(void **state)
{
	struct cron *c;
	struct probe a = {.keep = true}, b = {.keep = true}, d = {.keep = true},
	             e = {.keep = true};

	(void)state;
	now = 0;
	c = cron_new(test_clock, NULL);
	a.self = cron_add(c, 10, probe_fn, &a);
	b.self = cron_add(c, 10, probe_fn, &b);
	d.self = cron_add(c, 10, probe_fn, &d);
	/* a removes b before its turn, and itself; d adds e. */
	a.kill = b.self;
	d.add_to = c;
	d.added = &e;
	now = 10;
	cron_run(c);
	assert_int_equal(a.runs, 1);
	assert_int_equal(b.runs, 0);
	assert_int_equal(d.runs, 1);
	a.kill = a.self;
	now = 20;
	cron_run(c);
	assert_int_equal(a.runs, 2);
	assert_int_equal(d.runs, 2);
	now = 30;
	cron_run(c);
	assert_int_equal(a.runs, 2);
	assert_int_equal(d.runs, 3);
	/* e was never armed. */
	assert_int_equal(e.runs, 0);
	cron_del(d.self);
	assert_int_equal(cron_next(c), CRON_NEVER);
	cron_free(c); /* frees e (ASan checks) */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_periodic),
	    cmocka_unit_test(test_armed_by_hand),
	    cmocka_unit_test(test_removal_in_a_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
