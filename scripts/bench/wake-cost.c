// What a thread's wake-up costs it here, in its own CPU time (CLOCK_THREAD_CPUTIME_ID), the clock
// the live sampler's cost is measured with.
//
//   cc -O2 -pthread -o wake-cost scripts/bench/wake-cost.c && ./wake-cost [ROUNDS]     default 6
//
// 1. A thread that sleeps 0.5 s (nanosleep) and wakes: the CPU time from before the call to after
//    it. Any periodic sampler pays this once an interval. hvtax counts it in sampler.cpuNs (its
//    reading thread's time since its last sample ended); the C reader and floor of pread-floor.c
//    time the pass alone and do not.
// 2. A hand-over as the sampler's caller makes it (PrivateFileTableThread.run): after its own
//    0.5 s sleep, the caller posts a semaphore and waits on another, which a second thread (that
//    waited 0.5 s on the first) posts back at once. Printed: the caller's CPU time around the
//    hand-over, and the second thread's from before its wait to after it.
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long thread_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static sem_t work, done;
static int rounds;
static long long *woke;

static void *partner(void *unused) {
    (void)unused;
    for (int i = 0; i < rounds; i++) {
        long long start = thread_cpu_ns();
        sem_wait(&work);
        woke[i] = thread_cpu_ns() - start;
        sem_post(&done);
    }
    return NULL;
}

int main(int argc, char **argv) {
    rounds = argc > 1 ? atoi(argv[1]) : 6;
    if (rounds < 1) { fprintf(stderr, "usage: %s [ROUNDS]\n", argv[0]); return 2; }
    const struct timespec half = {0, 500000000};
    for (int i = 0; i < rounds; i++) {
        long long start = thread_cpu_ns();
        nanosleep(&half, NULL);
        printf("wake from a 0.5 s nanosleep: %lld us of the thread's CPU\n", (thread_cpu_ns() - start) / 1000);
    }
    woke = calloc(rounds, sizeof *woke);
    sem_init(&work, 0, 0);
    sem_init(&done, 0, 0);
    pthread_t thread;
    if (pthread_create(&thread, NULL, partner, NULL) != 0) { perror("pthread_create"); return 1; }
    for (int i = 0; i < rounds; i++) {
        nanosleep(&half, NULL);
        long long start = thread_cpu_ns();
        sem_post(&work);
        sem_wait(&done);
        long long caller = thread_cpu_ns() - start;
        printf("hand-over: caller %lld us, the woken thread %lld us\n", caller / 1000, woke[i] / 1000);
    }
    pthread_join(thread, NULL);
    return 0;
}
