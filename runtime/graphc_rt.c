/* graphc's C runtime: the `graphc_rt` structure every entry function receives, run-time error
 * reporting, and the persistent thread pool that runs parallel loops. The JIT compiles this
 * file with the system C compiler on first use; AoT libraries link the same file. */

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GRAPHC_ERROR_BYTES 1024

typedef struct graphc_rt {
    int32_t num_threads;   /* threads a parallel loop may use (0 or 1: the caller's alone) */
    int32_t code;          /* the last error code set, 0 when none */
    void *pool;            /* the thread pool, or NULL */
    char error[GRAPHC_ERROR_BYTES];
} graphc_rt;

static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;

/* Records an error unless one is already recorded (the first error wins). */
static int32_t set_error(graphc_rt *rt, int32_t code, const char *fmt, ...) {
    pthread_mutex_lock(&error_lock);
    if (rt->code == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rt->error, sizeof rt->error, fmt, ap);
        va_end(ap);
        rt->code = code;
    }
    code = rt->code;
    pthread_mutex_unlock(&error_lock);
    return code;
}

/* An out-of-range gather/scatter index: "indices[i,j] = v is not in [0, bound)". */
int32_t graphc_index_error(graphc_rt *rt, const int64_t *pos, int32_t rank, int64_t value,
                           int64_t bound) {
    char where[256] = "";
    size_t used = 0;
    for (int32_t i = 0; i < rank && used < sizeof where; i++)
        used += (size_t)snprintf(where + used, sizeof where - used, i ? ",%lld" : "%lld",
                                 (long long)pos[i]);
    return set_error(rt, 3 /* INVALID_ARGUMENT */, "indices[%s] = %lld is not in [0, %lld)",
                     where, (long long)value, (long long)bound);
}

size_t graphc_rt_size(void) { return sizeof(graphc_rt); }

/* ---------------------------------------------------------------- thread pool
 *
 * graphc_parallel_for(rt, kernel, args, total, chunk) runs kernel(args, start, end) over the
 * fixed chunks [0, chunk), [chunk, 2*chunk), ... of [0, total). Chunk boundaries never depend
 * on the thread count and kernels compute each element within one chunk, so any number of
 * threads gives bit-identical results. The calling thread works too; helper threads are
 * created once, on first need. One loop runs on the pool at a time: a second caller (another
 * Python thread) runs its chunks itself.
 *
 * Between loops a helper first spins on the loop counter for SPIN_NS, then sleeps on a
 * condition variable; the caller waits for the helpers the same way. A training step runs a
 * few dozen loops of 10 us to 1 ms back to back: waking a sleeping thread through the kernel
 * takes tens of microseconds each time, which measured as a tenth of a small step, while a
 * spinning helper starts within a few hundred cycles. The spin is bounded, so an idle process
 * gives its cores back within SPIN_NS. */

typedef int32_t (*graphc_kernel)(void *const *args, int64_t start, int64_t end);

#define GRAPHC_MAX_THREADS 256
#define SPIN_NS 200000

static struct {
    pthread_mutex_t lock, submit;
    pthread_cond_t wake, done;
    int nworkers;             /* helper threads created so far */
    /* (loop number << 8) | helpers taking part in the loop (ids below that): stored once per
     * loop, after the fields below, so a helper reads both parts in one load and touches the
     * fields only in a loop it is counted in (GRAPHC_MAX_THREADS keeps the count in 8 bits) */
    atomic_ullong generation;
    atomic_int sleepers;      /* helpers blocked, or about to block, on `wake` */
    atomic_int running;       /* helpers of the current loop that have not finished */
    graphc_kernel fn;
    void *const *args;
    int64_t total, chunk, nchunks;
    atomic_llong next;        /* next chunk to claim */
    atomic_int code;          /* first nonzero kernel result */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .submit = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spins until done(arg) or SPIN_NS pass; returns done(arg). The clock is read every 64
 * polls only. */
static int spin_until(int (*done)(const void *), const void *arg) {
    int64_t deadline = 0;
    for (unsigned i = 0;; i++) {
        if (done(arg)) return 1;
        if ((i & 63) == 0) {
            int64_t t = now_ns();
            if (!deadline) deadline = t + SPIN_NS;
            else if (t > deadline) return 0;
        }
        cpu_relax();
    }
}

static int generation_moved(const void *seen) {
    return atomic_load(&pool.generation) != *(const uint64_t *)seen;
}

static int helpers_finished(const void *unused) {
    (void)unused;
    return atomic_load(&pool.running) == 0;
}

static void run_chunks(void) {
    for (;;) {
        int64_t c = atomic_fetch_add(&pool.next, 1);
        if (c >= pool.nchunks) return;
        int64_t start = c * pool.chunk;
        int64_t end = start + pool.chunk < pool.total ? start + pool.chunk : pool.total;
        int32_t code = pool.fn(pool.args, start, end);
        if (code) {
            int expected = 0;
            atomic_compare_exchange_strong(&pool.code, &expected, code);
        }
    }
}

typedef struct { int id; uint64_t seen; } worker_arg;

static void *worker(void *p) {
    worker_arg a = *(worker_arg *)p;
    free(p);
    for (;;) {
        if (!spin_until(generation_moved, &a.seen)) {
            pthread_mutex_lock(&pool.lock);
            /* sleepers is raised before generation is read again: a submitter that bumps
             * generation after this read sees sleepers > 0 and broadcasts under the lock,
             * which it cannot take before this thread waits (seq_cst atomics order both). */
            atomic_fetch_add(&pool.sleepers, 1);
            while (atomic_load(&pool.generation) == a.seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.lock);
        }
        a.seen = atomic_load(&pool.generation);
        if (a.id >= (int)(a.seen & 255)) continue;
        run_chunks();
        if (atomic_fetch_sub(&pool.running, 1) == 1) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
    return NULL;
}

/* Creates helpers up to `want` (called holding pool.submit, so no loop is running); returns
 * how many exist. */
static int ensure_workers(int want) {
    while (pool.nworkers < want) {
        worker_arg *a = malloc(sizeof *a);
        pthread_t t;
        if (!a) break;
        a->id = pool.nworkers;
        a->seen = atomic_load(&pool.generation);
        if (pthread_create(&t, NULL, worker, a) != 0) {
            free(a);
            break;
        }
        pthread_detach(t);
        pool.nworkers++;
    }
    return pool.nworkers < want ? pool.nworkers : want;
}

int32_t graphc_parallel_for(graphc_rt *rt, graphc_kernel fn, void *const *args, int64_t total,
                            int64_t chunk) {
    if (total <= 0) return 0;
    if (chunk < 1) chunk = 1;
    int64_t nchunks = (total + chunk - 1) / chunk;
    int threads = rt->num_threads;
    if (threads > GRAPHC_MAX_THREADS) threads = GRAPHC_MAX_THREADS;
    if (threads <= 1 || nchunks <= 1 || pthread_mutex_trylock(&pool.submit) != 0) {
        for (int64_t c = 0; c < nchunks; c++) {
            int64_t start = c * chunk, end = start + chunk < total ? start + chunk : total;
            int32_t code = fn(args, start, end);
            if (code) return code;
        }
        return 0;
    }
    int helpers = ensure_workers((int)(threads - 1 < nchunks - 1 ? threads - 1 : nchunks - 1));
    pool.fn = fn;
    pool.args = args;
    pool.total = total;
    pool.chunk = chunk;
    pool.nchunks = nchunks;
    atomic_store(&pool.next, 0);
    atomic_store(&pool.code, 0);
    atomic_store(&pool.running, helpers);
    /* publishes the fields above to the helpers */
    atomic_store(&pool.generation, ((atomic_load(&pool.generation) >> 8) + 1) << 8 | helpers);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    run_chunks();
    if (!spin_until(helpers_finished, NULL)) {
        pthread_mutex_lock(&pool.lock);
        while (atomic_load(&pool.running) > 0) pthread_cond_wait(&pool.done, &pool.lock);
        pthread_mutex_unlock(&pool.lock);
    }
    int32_t code = atomic_load(&pool.code);
    pthread_mutex_unlock(&pool.submit);
    return code;
}

int32_t graphc_pool_threads(void) { return pool.nworkers + 1; }
