/* Unit tests of the bounded fair send queue (sendq.c): round robin across
 * requesters, new lanes served promptly, no lane starved, the per-lane and
 * total bounds, and what is dropped to keep them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fisbot/alloc.h"
#include "xmpp/sendq.h"

/* An item is a heap string "lane:n"; the queue frees dropped ones here. */
static size_t freed;

static void item_free(void *item)
{
	freed++;
	free(item);
}

static const struct sendq_limits small = {
    .lane_items = 8,
    .lane_bytes = 1000,
    .total_items = 20,
    .total_bytes = 10000,
};

static const struct sendq_limits roomy = {
    .lane_items = 1000,
    .lane_bytes = 1 << 20,
    .total_items = 100000,
    .total_bytes = 1 << 30,
};

/* Queues item "lane:n" of bytes bytes; returns the result. */
static enum sendq_result push(struct sendq *q, const char *lane, int n,
                              size_t bytes)
{
	return sendq_push(q, lane, xasprintf("%s:%d", lane ? lane : "own", n),
	                  bytes);
}

/* Pops one item and checks it is want ("lane:n"). */
static void pop_is(struct sendq *q, const char *want)
{
	char *item = sendq_pop(q);

	assert_non_null(item);
	assert_string_equal(item, want);
	free(item);
}

/* Pops one item; returns its lane's name (a static copy). */
static const char *pop_lane(struct sendq *q)
{
	static char lane[64];
	char *item = sendq_pop(q);

	assert_non_null(item);
	snprintf(lane, sizeof(lane), "%.*s", (int)strcspn(item, ":"), item);
	free(item);
	return lane;
}

static void test_round_robin(void **state)
{
	struct sendq *q = sendq_new(&roomy, item_free);

	assert_null(sendq_pop(q));
	for (int i = 1; i <= 5; i++)
		assert_int_equal(push(q, "a", i, 10), SENDQ_QUEUED);
	for (int i = 1; i <= 5; i++)
		assert_int_equal(push(q, "b", i, 10), SENDQ_QUEUED);
	assert_int_equal(push(q, NULL, 1, 10), SENDQ_QUEUED);
	assert_int_equal(push(q, NULL, 2, 10), SENDQ_QUEUED);
	assert_int_equal(sendq_items(q), 12);
	assert_int_equal(sendq_bytes(q), 120);
	assert_int_equal(sendq_lanes(q), 3);
	/* New lanes first (a, b, own, in order of arrival), then the old
	 * ones (served once and not empty) in turn; each lane keeps its
	 * order. */
	pop_is(q, "a:1");
	pop_is(q, "b:1");
	pop_is(q, "own:1");
	pop_is(q, "a:2");
	pop_is(q, "b:2");
	pop_is(q, "own:2");
	pop_is(q, "a:3");
	pop_is(q, "b:3");
	pop_is(q, "a:4");
	pop_is(q, "b:4");
	pop_is(q, "a:5");
	pop_is(q, "b:5");
	assert_null(sendq_pop(q));
	assert_int_equal(sendq_items(q), 0);
	assert_int_equal(sendq_bytes(q), 0);
	assert_int_equal(sendq_lanes(q), 0);
	assert_int_equal(sendq_drops(q, NULL), 0);
	sendq_free(q);
}

static void test_quiet_requester_first(void **state)
{
	struct sendq *q = sendq_new(&roomy, item_free);
	char lane[32];
	int waited;

	/* Twenty floods of 100 items each, all served once already. */
	for (int f = 0; f < 20; f++) {
		snprintf(lane, sizeof(lane), "flood%d", f);
		for (int i = 0; i < 100; i++)
			push(q, lane, i, 100);
	}
	for (int i = 0; i < 60; i++)
		pop_lane(q);
	/* One reply to a quiet requester: out at the next pop. */
	push(q, "quiet", 1, 100);
	for (waited = 1; strcmp(pop_lane(q), "quiet") != 0; waited++)
		;
	assert_int_equal(waited, 1);
	/* Again, and for the bot's own lane too. */
	push(q, NULL, 1, 100);
	for (waited = 1; strcmp(pop_lane(q), "own") != 0; waited++)
		;
	assert_int_equal(waited, 1);
	/* Twenty quiet requesters at once: the last waits 20 pops and a
	 * few for the floods, no more. */
	for (int i = 0; i < 20; i++) {
		snprintf(lane, sizeof(lane), "quiet%d", i);
		push(q, lane, 1, 100);
	}
	for (waited = 1; strcmp(pop_lane(q), "quiet19") != 0; waited++)
		;
	assert_true(waited <= 20 + 20 / 4);
	/* Freeing the queue frees what it holds. */
	waited = (int)sendq_items(q);
	freed = 0;
	sendq_free(q);
	assert_int_equal(freed, waited);
}

static void test_no_starvation(void **state)
{
	struct sendq *q = sendq_new(&roomy, item_free);
	char lane[32];
	int a = 0, own = 0;

	/* A backlogged requester and the bot's own lane, while a new
	 * requester turns up before every pop: they still get one pop in
	 * five. */
	for (int i = 0; i < 50; i++) {
		push(q, "a", i, 10);
		push(q, NULL, i, 10);
	}
	for (int i = 0; i < 100; i++) {
		const char *l;

		snprintf(lane, sizeof(lane), "new%d", i);
		push(q, lane, 0, 10);
		l = pop_lane(q);
		if (strcmp(l, "a") == 0)
			a++;
		else if (strcmp(l, "own") == 0)
			own++;
	}
	assert_true(a >= 10);
	assert_true(own >= 10);
	assert_true(a + own >= 20);
	sendq_free(q);
	freed = 0;
}

static void test_lane_bounds(void **state)
{
	struct sendq *q = sendq_new(&small, item_free);
	const char *last;

	for (int i = 0; i < 8; i++)
		assert_int_equal(push(q, "a", i, 10), SENDQ_QUEUED);
	/* The ninth item for a is dropped; b is not affected. */
	assert_int_equal(push(q, "a", 8, 10), SENDQ_LANE_FULL);
	assert_int_equal(push(q, "a", 9, 10), SENDQ_LANE_FULL);
	assert_int_equal(freed, 2);
	assert_int_equal(push(q, "b", 0, 10), SENDQ_QUEUED);
	assert_int_equal(sendq_drops(q, &last), 2);
	assert_string_equal(last, "a");
	assert_int_equal(sendq_drops(q, &last), 0);
	assert_null(last);
	/* Bytes count too: b may hold 1000. */
	assert_int_equal(push(q, "b", 1, 900), SENDQ_QUEUED);
	assert_int_equal(push(q, "b", 2, 100), SENDQ_LANE_FULL);
	assert_int_equal(push(q, "c", 0, 1001), SENDQ_LANE_FULL);
	assert_int_equal(sendq_drops(q, NULL), 2);
	/* Served, a lane takes items again. */
	pop_is(q, "a:0");
	assert_int_equal(push(q, "a", 10, 10), SENDQ_QUEUED);
	/* The bot's own lane has only the total bound. */
	for (int i = 0; i < 9; i++)
		assert_int_equal(push(q, NULL, i, 10), SENDQ_QUEUED);
	assert_int_equal(sendq_items(q), 8 + 2 + 9);
	sendq_free(q);
	assert_int_equal(freed, 4 + 19);
	freed = 0;
}

static void test_total_bound(void **state)
{
	struct sendq *q = sendq_new(&small, item_free);
	const char *last;

	/* 20 items in all: a flood fills its lane (8), two more lanes fill
	 * the rest. */
	for (int i = 0; i < 8; i++)
		push(q, "a", i, 10);
	for (int i = 0; i < 6; i++)
		push(q, "b", i, 10);
	for (int i = 0; i < 6; i++)
		push(q, NULL, i, 10);
	assert_int_equal(sendq_items(q), 20);
	/* A newcomer takes the place of the oldest item of the fattest
	 * lane (a). */
	assert_int_equal(push(q, "c", 0, 10), SENDQ_QUEUED);
	assert_int_equal(sendq_items(q), 20);
	assert_int_equal(sendq_drops(q, &last), 1);
	assert_string_equal(last, "a");
	/* The fattest lane itself cannot push anyone out. */
	assert_int_equal(push(q, "a", 8, 10), SENDQ_FULL);
	/* c grows at the expense of the fattest lanes, until it is as fat
	 * as they are: then its next item is dropped. */
	for (int i = 1; push(q, "c", i, 10) == SENDQ_QUEUED; i++)
		assert_true(i < 20);
	assert_int_equal(sendq_items(q), 20);
	/* Four lanes of five, and a kept its newest items (a:3 to a:7). */
	{
		int n[4] = {0};
		const char *names[] = {"a", "b", "own", "c"};

		for (int i = 0; i < 20; i++) {
			char *item = sendq_pop(q);

			assert_non_null(item);
			for (int k = 0; k < 4; k++)
				if (strncmp(item, names[k], strlen(names[k])) ==
				        0 &&
				    item[strlen(names[k])] == ':')
					n[k]++;
			if (strncmp(item, "a:", 2) == 0)
				assert_true(atoi(item + 2) >= 3);
			free(item);
		}
		for (int k = 0; k < 4; k++)
			assert_int_equal(n[k], 5);
	}
	assert_null(sendq_pop(q));
	sendq_free(q);
	freed = 0;
}

static void test_bytes_bound(void **state)
{
	struct sendq_limits lim = small;
	struct sendq *q;

	lim.total_bytes = 2500;
	q = sendq_new(&lim, item_free);
	push(q, "a", 0, 900);
	push(q, "a", 1, 100);
	push(q, "b", 0, 500);
	push(q, NULL, 0, 900);
	assert_int_equal(sendq_bytes(q), 2400);
	/* 200 more bytes for c: a (1000 bytes) loses its oldest item. */
	assert_int_equal(push(q, "c", 0, 200), SENDQ_QUEUED);
	assert_int_equal(sendq_bytes(q), 1700);
	pop_is(q, "a:1");
	sendq_free(q);
	freed = 0;
}

static void test_many_requesters_bounded(void **state)
{
	struct sendq_limits lim = roomy;
	struct sendq *q;
	char lane[32];
	size_t queued = 0;

	/* 10,000 requesters, one reply each, into a queue of 4096: the
	 * queue (and its lanes) never grows past the bound. */
	lim.total_items = 4096;
	q = sendq_new(&lim, item_free);
	for (int i = 0; i < 10000; i++) {
		snprintf(lane, sizeof(lane), "user%d@example.org", i);
		if (push(q, lane, 0, 100) == SENDQ_QUEUED)
			queued++;
		assert_true(sendq_items(q) <= 4096);
		assert_true(sendq_lanes(q) <= 4096);
	}
	assert_int_equal(queued, 4096);
	assert_int_equal(sendq_drops(q, NULL), 10000 - 4096);
	/* Clearing frees every item and lane. */
	sendq_clear(q);
	assert_int_equal(sendq_items(q), 0);
	assert_int_equal(sendq_lanes(q), 0);
	assert_int_equal(freed, 10000);
	/* And the queue works again. */
	push(q, "x", 1, 10);
	pop_is(q, "x:1");
	sendq_free(q);
	freed = 0;
}

/* A long run of new lanes served while no old lane waited (a requester
 * whose every item left at once) does not count against the next new
 * lane: a quiet requester that comes when that requester's backlog starts
 * still goes right after the backlog's first item; sendq_next_lane says
 * which lane is next. */
static void test_quiet_after_unhindered_run(void **state)
{
	struct sendq *q = sendq_new(&roomy, item_free);
	char want[32];

	(void)state;
	for (int i = 1; i <= 20; i++) {
		assert_int_equal(push(q, "flood", i, 10), SENDQ_QUEUED);
		snprintf(want, sizeof(want), "flood:%d", i);
		pop_is(q, want);
	}
	for (int i = 21; i <= 25; i++)
		assert_int_equal(push(q, "flood", i, 10), SENDQ_QUEUED);
	assert_string_equal(sendq_next_lane(q), "flood");
	pop_is(q, "flood:21");
	assert_int_equal(push(q, "quiet", 1, 10), SENDQ_QUEUED);
	assert_string_equal(sendq_next_lane(q), "quiet");
	pop_is(q, "quiet:1");
	assert_int_equal(push(q, NULL, 1, 10), SENDQ_QUEUED);
	assert_null(sendq_next_lane(q)); /* the bot's own */
	sendq_free(q);
	q = sendq_new(&roomy, item_free);
	assert_null(sendq_next_lane(q)); /* empty */
	sendq_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_robin),
	    cmocka_unit_test(test_quiet_requester_first),
	    cmocka_unit_test(test_quiet_after_unhindered_run),
	    cmocka_unit_test(test_no_starvation),
	    cmocka_unit_test(test_lane_bounds),
	    cmocka_unit_test(test_total_bound),
	    cmocka_unit_test(test_bytes_bound),
	    cmocka_unit_test(test_many_requesters_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
