/* Step 3 of the C sample: trains the compiled MLP (libmlp: a `train` entry on batches of 32,
 * an `infer` entry for any batch) on three 2-D clusters, then classifies held-out points.
 * Build: cc main.c -I. -L. -lmlp -o main */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mlp.h"

#define TRAIN_BATCH 32
#define TEST_POINTS 300

/* A point of cluster `label` (centres on a circle) with a little noise, from a fixed LCG. */
static uint32_t seed = 12345;
static float uniform(void) {
    seed = seed * 1664525u + 1013904223u;
    return (float)(seed >> 8) / 16777216.0f;
}
static void sample(float *x, int64_t *label) {
    int k = (int)(uniform() * 3) % 3;
    x[0] = 2.0f * cosf(2.0944f * k) + (uniform() - 0.5f);
    x[1] = 2.0f * sinf(2.0944f * k) + (uniform() - 0.5f);
    *label = k;
}

static int check(int rc, mlp_ctx *ctx) {
    if (rc) {
        fprintf(stderr, "error: %s\n", mlp_error(ctx));
        exit(1);
    }
    return rc;
}

int main(void) {
    mlp_ctx *ctx = mlp_create();
    if (!ctx) return 1;

    float x[TRAIN_BATCH * 2], loss;
    int64_t y[TRAIN_BATCH];
    const void *train_feeds[] = {x, y};
    void *train_fetches[] = {&loss};
    for (int step = 0; step < 200; step++) {
        for (int i = 0; i < TRAIN_BATCH; i++) sample(x + 2 * i, y + i);
        check(mlp_train_run(ctx, train_feeds, train_fetches), ctx);
        if (step % 50 == 0) printf("step %3d  loss %.4f\n", step, loss);
    }

    static float test_x[TEST_POINTS * 2], probs[TEST_POINTS * 3];
    int64_t test_y[TEST_POINTS];
    for (int i = 0; i < TEST_POINTS; i++) sample(test_x + 2 * i, test_y + i);
    check(mlp_set_batch(ctx, TEST_POINTS), ctx);
    const void *infer_feeds[] = {test_x};
    void *infer_fetches[] = {probs};
    check(mlp_infer_run(ctx, infer_feeds, infer_fetches), ctx);
    int correct = 0;
    for (int i = 0; i < TEST_POINTS; i++) {
        int best = 0;
        for (int k = 1; k < 3; k++)
            if (probs[3 * i + k] > probs[3 * i + best]) best = k;
        correct += best == test_y[i];
    }
    printf("accuracy on %d held-out points: %.3f\n", TEST_POINTS, (double)correct / TEST_POINTS);
    mlp_destroy(ctx);
    return 0;
}
