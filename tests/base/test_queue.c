/*
 * Unit tests for the queue between threads (queue.c): order, the eventfd
 * readable exactly while items wait, queue_run, removal, closing, and
 * producers and consumers on several threads at once.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "base/queue.h"
#include "fisbot/alloc.h"

struct num {
	struct queue_item item; /* first */
	int n;
	int *ran; /* queue_run: where the number goes */
};

static struct num *num_new(int n, int *ran)
{
	struct num *x = xcalloc(1, sizeof(*x));

	x->n = n;
	x->ran = ran;
	return x;
}

/* Returns true if the queue's descriptor is readable now. */
static bool readable(struct queue *q)
{
	struct pollfd pfd = {queue_fd(q), POLLIN, 0};

	return poll(&pfd, 1, 0) == 1;
}

static void test_order_and_fd(void **state)
{
	char *cause = NULL;
	struct queue *q = queue_new(&cause);
	struct queue_item *all, *next;
	int i = 0;

	(void)state;
	assert_non_null(q);
	assert_true(queue_empty(q));
	assert_false(readable(q));
	assert_null(queue_pop(q, 0));
	for (int k = 0; k < 3; k++)
		queue_push(q, &num_new(k, NULL)->item);
	assert_false(queue_empty(q));
	assert_true(readable(q));
	/* One at a time: still readable while one is left. */
	all = queue_pop(q, 0);
	assert_int_equal(((struct num *)all)->n, 0);
	free(all);
	assert_true(readable(q));
	all = queue_take(q);
	assert_false(readable(q));
	assert_true(queue_empty(q));
	for (i = 1; all != NULL; all = next, i++) {
		next = all->next;
		assert_int_equal(((struct num *)all)->n, i);
		free(all);
	}
	assert_int_equal(i, 3);
	assert_null(queue_take(q));
	/* A timeout with nothing queued. */
	assert_null(queue_pop(q, 20));
	queue_free(q);
}

/* queue_run's item handler: records the number and frees the item; the
 * first one pushes another (which waits for the next call). */
static struct queue *run_q;

static void num_run(struct queue_item *item)
{
	struct num *x = (struct num *)item;

	x->ran[x->n] = 1;
	if (x->n == 0) {
		struct num *y = num_new(5, x->ran);

		y->item.run = num_run;
		queue_push(run_q, &y->item);
	}
	free(x);
}

static bool is_odd(struct queue_item *item, void *arg)
{
	(void)arg;
	return ((struct num *)item)->n % 2 == 1;
}

static void test_run_and_remove(void **state)
{
	char *cause = NULL;
	int ran[8] = {0};
	struct queue_item *odd, *next;
	int count = 0;

	(void)state;
	run_q = queue_new(&cause);
	assert_non_null(run_q);
	for (int k = 0; k < 5; k++) {
		struct num *x = num_new(k, ran);

		x->item.run = num_run;
		queue_push(run_q, &x->item);
	}
	/* 1 and 3 are taken out, in order; the rest stays in order. */
	odd = queue_remove(run_q, is_odd, NULL);
	for (int want = 1; odd != NULL; odd = next, want += 2, count++) {
		next = odd->next;
		assert_int_equal(((struct num *)odd)->n, want);
		free(odd);
	}
	assert_int_equal(count, 2);
	assert_true(readable(run_q));
	assert_int_equal(queue_run(run_q), 3);
	assert_true(ran[0] && ran[2] && ran[4]);
	assert_false(ran[1] || ran[3] || ran[5]);
	/* What the run pushed waits for the next call. */
	assert_true(readable(run_q));
	assert_int_equal(queue_run(run_q), 1);
	assert_true(ran[5]);
	assert_false(readable(run_q));
	/* Removing everything lowers the descriptor. */
	queue_push(run_q, &num_new(1, NULL)->item);
	odd = queue_remove(run_q, is_odd, NULL);
	assert_non_null(odd);
	free(odd);
	assert_false(readable(run_q));
	queue_free(run_q);
}

#define PRODUCERS    4
#define PER_PRODUCER 5000

struct worker {
	struct queue *q;
	int id;
	long sum, count;
};

static void *producer(void *arg)
{
	struct worker *w = arg;

	for (int k = 0; k < PER_PRODUCER; k++)
		queue_push(w->q,
		           &num_new(w->id * PER_PRODUCER + k, NULL)->item);
	return NULL;
}

static void *consumer(void *arg)
{
	struct worker *w = arg;
	struct queue_item *item;

	/* Until the queue is closed: waits as long as it takes. */
	while ((item = queue_pop(w->q, -1)) != NULL) {
		w->sum += ((struct num *)item)->n;
		w->count++;
		free(item);
	}
	return NULL;
}

static void test_threads(void **state)
{
	char *cause = NULL;
	struct queue *q = queue_new(&cause);
	struct worker prod[PRODUCERS], cons[2];
	pthread_t pt[PRODUCERS], ct[2];
	long sum = 0, count = 0;
	const long n = (long)PRODUCERS * PER_PRODUCER;
	struct queue_item *left, *next;

	(void)state;
	assert_non_null(q);
	for (int i = 0; i < 2; i++) {
		cons[i] = (struct worker){q, i, 0, 0};
		assert_int_equal(
		    pthread_create(&ct[i], NULL, consumer, &cons[i]), 0);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		prod[i] = (struct worker){q, i, 0, 0};
		assert_int_equal(
		    pthread_create(&pt[i], NULL, producer, &prod[i]), 0);
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(pt[i], NULL);
	/* Wait until the consumers took everything, then close. */
	while (!queue_empty(q)) {
		struct timespec ms = {0, 1000000};

		nanosleep(&ms, NULL);
	}
	queue_close(q);
	for (int i = 0; i < 2; i++) {
		pthread_join(ct[i], NULL);
		sum += cons[i].sum;
		count += cons[i].count;
	}
	assert_int_equal(count, n);
	assert_int_equal(sum, n * (n - 1) / 2);
	/* Closed: pop returns at once, pushed items wait for take. */
	queue_push(q, &num_new(1, NULL)->item);
	assert_null(queue_pop(q, -1));
	left = queue_take(q);
	for (; left != NULL; left = next) {
		next = left->next;
		free(left);
	}
	queue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_and_fd),
	    cmocka_unit_test(test_run_and_remove),
	    cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
