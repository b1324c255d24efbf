"""Building AoT libraries with `graphc compile` and running them from real C programs.

`Driver` generates a C program against a library's header that runs a script of entry calls:
each run reads its feeds from raw files, calls `NAME_ENTRY_run`, and writes each fetch (raw
bytes plus a `dtype rank dims...` line from `NAME_ENTRY_fetch_dims`); at the end it writes every
variable (`NAME_get_variable`)."""

import os
import subprocess

import numpy as np

from graphc import cli, dtypes

_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "@HEADER@"

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void *read_file(const char *path, long *n) {
    *n = file_size(path);
    if (*n < 0) return NULL;
    void *p = malloc(*n ? *n : 1);
    FILE *f = fopen(path, "rb");
    if (*n && fread(p, 1, *n, f) != (size_t)*n) exit(9);
    fclose(f);
    return p;
}

static int item_bytes(int dtype) {
    switch (dtype) {
        case 1: case 3: case 22: return 4;
        case 2: case 9: case 23: return 8;
        case 4: case 6: case 10: return 1;
        default: return 2;
    }
}

#define RUNNER(P)                                                                           \
static int run_##P(@NAME@_ctx *ctx, const char *dir, const char *entry, int run) {         \
    const void *feeds[64];                                                                  \
    void *fetches[64];                                                                      \
    char path[4096];                                                                        \
    for (int i = 0; i < P##num_feeds(); i++) {                                              \
        long n;                                                                             \
        snprintf(path, sizeof path, "%s/%d_%s_feed%d.bin", dir, run, entry, i);             \
        if (file_size(path) < 0) snprintf(path, sizeof path, "%s/%s_feed%d.bin", dir, entry, i); \
        feeds[i] = read_file(path, &n);                                                     \
        if (!feeds[i]) { fprintf(stderr, "no feed %s\n", path); return 8; }                 \
    }                                                                                       \
    int64_t sizes[64];                                                                      \
    for (int i = 0; i < P##num_fetches(); i++) {                                            \
        int64_t dims[16], n = item_bytes(P##fetch_dtype(i));                                \
        if (P##fetch_dims(ctx, i, dims)) { fprintf(stderr, "%s\n", @NAME@_error(ctx)); return 7; } \
        for (int k = 0; k < P##fetch_rank(i); k++) n *= dims[k];                           \
        sizes[i] = n;                                                                       \
        fetches[i] = malloc(n ? n : 1);                                                     \
        snprintf(path, sizeof path, "%s/%d_fetch%d.txt", dir, run, i);                     \
        FILE *f = fopen(path, "w");                                                         \
        fprintf(f, "%d %d", P##fetch_dtype(i), P##fetch_rank(i));                          \
        for (int k = 0; k < P##fetch_rank(i); k++) fprintf(f, " %lld", (long long)dims[k]); \
        fclose(f);                                                                          \
    }                                                                                       \
    int rc = P##run(ctx, feeds, fetches);                                                   \
    if (rc) { fprintf(stderr, "%s\n", @NAME@_error(ctx)); return rc; }                     \
    for (int i = 0; i < P##num_fetches(); i++) {                                            \
        snprintf(path, sizeof path, "%s/%d_fetch%d.bin", dir, run, i);                     \
        FILE *f = fopen(path, "wb");                                                        \
        fwrite(fetches[i], 1, sizes[i], f);                                                 \
        fclose(f);                                                                          \
        free(fetches[i]);                                                                   \
    }                                                                                       \
    for (int i = 0; i < P##num_feeds(); i++) free((void *)feeds[i]);                       \
    return 0;                                                                               \
}

@RUNNERS@

int main(int argc, char **argv) {
    const char *dir = argv[1];
    @NAME@_ctx *ctx = @NAME@_create();
    if (!ctx) return 10;
    if (@NAME@_set_num_threads(ctx, atoi(argv[2]))) return 11;
    if (atoi(argv[3]) > 0 && @NAME@_set_batch(ctx, atoll(argv[3]))) return 12;
    for (int r = 4; r < argc; r++) {
        int rc = 99;
        if (!strncmp(argv[r], "batch=", 6)) {
            if (@NAME@_set_batch(ctx, atoll(argv[r] + 6))) return 12;
            continue;
        }
        @DISPATCH@
        if (rc) return rc;
    }
    char path[4096];
    for (int i = 0; i < @NAME@_num_variables(); i++) {
        int64_t n = @NAME@_variable_bytes(i);
        void *buf = malloc(n ? n : 1);
        if (@NAME@_get_variable(ctx, @NAME@_variable_name(i), buf, n)) return 13;
        snprintf(path, sizeof path, "%s/var%d.bin", dir, i);
        FILE *f = fopen(path, "wb");
        fwrite(buf, 1, n, f);
        fclose(f);
        free(buf);
    }
    @NAME@_destroy(ctx);
    return 0;
}
"""


def compile_lib(tmp, model, *args, name="model"):
    """Runs `graphc compile model -o tmp/libNAME.so args...`; returns tmp."""
    status = cli.main(["compile", str(model), "-o", os.path.join(str(tmp), "lib%s.so" % name)]
                      + list(args))
    assert status == 0
    return str(tmp)


def cc(tmp, source, exe, name="model", static=False, extra=()):
    """Compiles C `source` against libNAME in tmp (its .so with an rpath, or its .a)."""
    src = os.path.join(str(tmp), exe + ".c")
    with open(src, "w") as f:
        f.write(source)
    out = os.path.join(str(tmp), exe)
    lib = [os.path.join(str(tmp), "lib%s.a" % name), "-lpthread", "-lm"] if static else \
        ["-L" + str(tmp), "-l" + name, "-Wl,-rpath," + str(tmp)]
    subprocess.run([os.environ.get("CC", "cc"), "-O1", "-Wall", "-Werror", "-I", str(tmp),
                    "-o", out, src] + lib + list(extra), check=True)
    return out


class Driver:
    """The generic driver for library `name` with `entries` (prefix suffixes: "" for the
    unnamed entry, else the entry name)."""

    def __init__(self, tmp, name="model", entries=("",), static=False):
        self.tmp = str(tmp)
        self.name = name
        self.entries = list(entries)
        runners, dispatch = [], []
        for e in self.entries:
            prefix = "%s_%s_" % (name, e) if e else name + "_"
            runners.append("RUNNER(%s)" % prefix)
            dispatch.append('if (!strcmp(argv[r], "%s")) rc = run_%s(ctx, dir, argv[r], r - 4);'
                            % (e or "main", prefix))
        text = _DRIVER.replace("@RUNNERS@", "\n".join(runners)).replace(
            "@DISPATCH@", "\n        ".join(dispatch)).replace(
            "@HEADER@", name + ".h").replace("@NAME@", name)
        self.exe = cc(tmp, text, "driver_static" if static else "driver", name, static)

    def run(self, script, feeds, threads=1, batch=0, step_feeds=None, workdir="run"):
        """Runs the entries in `script` (entry names, "main" for the unnamed one; "batch=K"
        calls NAME_set_batch and has no fetches) with
        `feeds` {entry: [arrays]} (`step_feeds` {run index: {entry: [arrays]}} override);
        returns ([fetches per run], [variables])."""
        d = os.path.join(self.tmp, workdir)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        for entry, arrays in feeds.items():
            for i, a in enumerate(arrays):
                np.ascontiguousarray(a).tofile(os.path.join(d, "%s_feed%d.bin" % (entry, i)))
        for run, by_entry in (step_feeds or {}).items():
            for entry, arrays in by_entry.items():
                for i, a in enumerate(arrays):
                    np.ascontiguousarray(a).tofile(os.path.join(d, "%d_%s_feed%d.bin" % (
                        run, entry, i)))
        proc = subprocess.run([self.exe, d, str(threads), str(batch)] + list(script),
                              capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError("driver failed (%d): %s" % (proc.returncode, proc.stderr))
        outs = []
        for run in range(len(script)):
            fetches = []
            i = 0
            while os.path.exists(os.path.join(d, "%d_fetch%d.txt" % (run, i))):
                with open(os.path.join(d, "%d_fetch%d.txt" % (run, i))) as f:
                    enum, rank, *dims = map(int, f.read().split())
                assert rank == len(dims)
                dt = dtypes.as_dtype(enum).as_numpy_dtype
                fetches.append(np.fromfile(os.path.join(d, "%d_fetch%d.bin" % (run, i)),
                                           dtype=dt).reshape(dims))
                i += 1
            outs.append(fetches)
        variables = []
        i = 0
        while os.path.exists(os.path.join(d, "var%d.bin" % i)):
            variables.append(np.fromfile(os.path.join(d, "var%d.bin" % i), dtype=np.uint8))
            i += 1
        return outs, variables
