/*
 * vigil-workload: threads that block in known ways, for Vigil's integration
 * tests and benchmarks. Built with frame pointers so stacks unwind.
 *
 *   vigil-workload blocking [ROUNDS]
 *       Prints its pid and thread ids as one JSON line, waits for a line on
 *       stdin, then runs ROUNDS rounds of: a thread sleeping 200 ms; a thread
 *       waiting on a futex another thread releases after 300 ms; a thread
 *       blocked reading a pipe another thread writes after 250 ms; a thread
 *       whose futex wait times out after 150 ms; a thread whose futex wait a
 *       signal interrupts after about 200 ms. Prints "done" and exits.
 *   vigil-workload pingpong PAIRS SECONDS
 *       PAIRS thread pairs bounce a byte over pipes for SECONDS; prints the
 *       total round trips per second.
 *   vigil-workload idle SECONDS
 *       Sleeps, for tests that need a process that exits on its own.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static int rounds = 1;
static pthread_barrier_t start_barrier;
enum { SLEEPER, FUTEX_WAITER, FUTEX_WAKER, PIPE_READER, PIPE_WRITER, FUTEX_TIMEOUT,
       FUTEX_INTERRUPTED, THREADS };
static atomic_int tids[THREADS];

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0) {
	}
}

static int gettid_now(void) { return (int)syscall(SYS_gettid); }

/* --- sleeper: off CPU 200 ms, woken by a timer --- */

static NOINLINE void workload_sleep_200ms(void) { sleep_ms(200); }

static NOINLINE void *workload_sleeper(void *arg)
{
	(void)arg;
	atomic_store(&tids[SLEEPER], gettid_now());
	pthread_barrier_wait(&start_barrier);
	for (int i = 0; i < rounds; i++) {
		workload_sleep_200ms();
		sleep_ms(600 - 200);
	}
	return NULL;
}

/* --- futex: one thread waits, another releases it after 300 ms --- */

static _Atomic uint32_t futex_word;
static _Atomic int futex_round;

static NOINLINE void workload_futex_wait(uint32_t expected)
{
	while (atomic_load(&futex_word) == expected)
		syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static NOINLINE void *workload_futex_waiter(void *arg)
{
	(void)arg;
	atomic_store(&tids[FUTEX_WAITER], gettid_now());
	pthread_barrier_wait(&start_barrier);
	for (int i = 0; i < rounds; i++) {
		uint32_t expected = atomic_load(&futex_word);
		atomic_store(&futex_round, i + 1);
		workload_futex_wait(expected);
	}
	return NULL;
}

static NOINLINE void *workload_futex_waker(void *arg)
{
	(void)arg;
	atomic_store(&tids[FUTEX_WAKER], gettid_now());
	pthread_barrier_wait(&start_barrier);
	for (int i = 0; i < rounds; i++) {
		while (atomic_load(&futex_round) != i + 1)
			sleep_ms(1);
		sleep_ms(300);
		atomic_fetch_add(&futex_word, 1);
		syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
		sleep_ms(300);
	}
	return NULL;
}

/* --- pipe: one thread blocks in read, another writes after 250 ms --- */

static int pipe_fds[2];

static NOINLINE void workload_pipe_read(void)
{
	char byte;
	if (read(pipe_fds[0], &byte, 1) != 1)
		perror("read");
}

static NOINLINE void *workload_pipe_reader(void *arg)
{
	(void)arg;
	atomic_store(&tids[PIPE_READER], gettid_now());
	pthread_barrier_wait(&start_barrier);
	for (int i = 0; i < rounds; i++)
		workload_pipe_read();
	return NULL;
}

static NOINLINE void *workload_pipe_writer(void *arg)
{
	(void)arg;
	atomic_store(&tids[PIPE_WRITER], gettid_now());
	pthread_barrier_wait(&start_barrier);
	for (int i = 0; i < rounds; i++) {
		sleep_ms(250);
		if (write(pipe_fds[1], "x", 1) != 1)
			perror("write");
		sleep_ms(350);
	}
	return NULL;
}

/* --- futex outcomes: a wait that times out, one a signal interrupts --- */

static _Atomic uint32_t silent_word; /* never changes: every wait on it ends another way */
static _Atomic int interrupted_rounds;
static pthread_t interrupted_thread;

static NOINLINE long workload_futex_wait_timeout(void)
{
	struct timespec timeout = { .tv_sec = 0, .tv_nsec = 150 * 1000000L };
	return syscall(SYS_futex, &silent_word, FUTEX_WAIT_PRIVATE, 0, &timeout, NULL, 0);
}

static NOINLINE void *workload_futex_timeout(void *arg)
{
	(void)arg;
	atomic_store(&tids[FUTEX_TIMEOUT], gettid_now());
	pthread_barrier_wait(&start_barrier);
	for (int i = 0; i < rounds; i++) {
		workload_futex_wait_timeout();
		/* Interrupt the other waiter about 50 ms later, again until it noticed. */
		sleep_ms(50);
		while (atomic_load(&interrupted_rounds) == i) {
			pthread_kill(interrupted_thread, SIGUSR1);
			sleep_ms(100);
		}
		sleep_ms(300);
	}
	return NULL;
}

static void on_signal(int signal) { (void)signal; }

static NOINLINE void workload_futex_wait_interrupted(void)
{
	while (syscall(SYS_futex, &silent_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) != -1 ||
	       errno != EINTR) {
	}
}

static NOINLINE void *workload_futex_interrupted(void *arg)
{
	(void)arg;
	atomic_store(&tids[FUTEX_INTERRUPTED], gettid_now());
	pthread_barrier_wait(&start_barrier);
	for (int i = 0; i < rounds; i++) {
		workload_futex_wait_interrupted();
		atomic_store(&interrupted_rounds, i + 1);
	}
	return NULL;
}

static int run_blocking(void)
{
	void *(*bodies[THREADS])(void *) = { workload_sleeper,      workload_futex_waiter,
					     workload_futex_waker,  workload_pipe_reader,
					     workload_pipe_writer,  workload_futex_timeout,
					     workload_futex_interrupted };
	pthread_t threads[THREADS];
	if (pipe(pipe_fds) != 0) {
		perror("pipe");
		return 1;
	}
	/* No SA_RESTART: an interrupted futex wait returns EINTR. */
	struct sigaction action = { .sa_handler = on_signal };
	sigaction(SIGUSR1, &action, NULL);
	pthread_barrier_init(&start_barrier, NULL, THREADS + 1);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&threads[i], NULL, bodies[i], NULL);
	interrupted_thread = threads[FUTEX_INTERRUPTED];
	for (int i = 0; i < THREADS; i++)
		while (atomic_load(&tids[i]) == 0)
			sleep_ms(1);

	printf("{\"pid\":%d,\"sleeper\":%d,\"futexWaiter\":%d,\"futexWaker\":%d,"
	       "\"pipeReader\":%d,\"pipeWriter\":%d,\"futexTimeout\":%d,\"futexInterrupted\":%d}\n",
	       getpid(), tids[SLEEPER], tids[FUTEX_WAITER], tids[FUTEX_WAKER], tids[PIPE_READER],
	       tids[PIPE_WRITER], tids[FUTEX_TIMEOUT], tids[FUTEX_INTERRUPTED]);
	fflush(stdout);

	char line[64];
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	pthread_barrier_wait(&start_barrier);
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	printf("done\n");
	fflush(stdout);
	return 0;
}

/* --- ping-pong: context-switch load for benchmarks --- */

struct pair {
	int ping[2];
	int pong[2];
	atomic_long trips;
};

static atomic_int stop_pingpong;

static NOINLINE void *pingpong_server(void *arg)
{
	struct pair *pair = arg;
	char byte;
	while (read(pair->ping[0], &byte, 1) == 1) {
		if (write(pair->pong[1], &byte, 1) != 1)
			break;
	}
	return NULL;
}

static NOINLINE void *pingpong_client(void *arg)
{
	struct pair *pair = arg;
	char byte = 'p';
	while (!atomic_load_explicit(&stop_pingpong, memory_order_relaxed)) {
		if (write(pair->ping[1], &byte, 1) != 1 || read(pair->pong[0], &byte, 1) != 1)
			break;
		atomic_fetch_add_explicit(&pair->trips, 1, memory_order_relaxed);
	}
	close(pair->ping[1]);
	return NULL;
}

static int run_pingpong(int pairs, double seconds)
{
	struct pair *all = calloc((size_t)pairs, sizeof(*all));
	pthread_t *threads = calloc((size_t)pairs * 2, sizeof(*threads));
	for (int i = 0; i < pairs; i++) {
		if (pipe(all[i].ping) != 0 || pipe(all[i].pong) != 0) {
			perror("pipe");
			return 1;
		}
		pthread_create(&threads[2 * i], NULL, pingpong_server, &all[i]);
		pthread_create(&threads[2 * i + 1], NULL, pingpong_client, &all[i]);
	}
	struct timespec begin, end;
	clock_gettime(CLOCK_MONOTONIC, &begin);
	sleep_ms((long)(seconds * 1000));
	atomic_store(&stop_pingpong, 1);
	long total = 0;
	for (int i = 0; i < pairs; i++)
		total += atomic_load(&all[i].trips);
	clock_gettime(CLOCK_MONOTONIC, &end);
	double elapsed = (double)(end.tv_sec - begin.tv_sec) + (double)(end.tv_nsec - begin.tv_nsec) / 1e9;
	printf("%.0f\n", (double)total / elapsed);
	fflush(stdout);
	_exit(0); /* the servers may still be blocked in read */
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "blocking") == 0) {
		if (argc >= 3)
			rounds = atoi(argv[2]);
		return run_blocking();
	}
	if (argc >= 4 && strcmp(argv[1], "pingpong") == 0)
		return run_pingpong(atoi(argv[2]), atof(argv[3]));
	if (argc >= 3 && strcmp(argv[1], "idle") == 0) {
		sleep_ms((long)(atof(argv[2]) * 1000));
		return 0;
	}
	fprintf(stderr, "usage: vigil-workload blocking [ROUNDS] | pingpong PAIRS SECONDS | idle SECONDS\n");
	return 2;
}
