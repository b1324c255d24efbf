"""`graphc compile` and `graphc run` on the command line: help, one-line errors for bad
arguments and models, and `graphc run`'s printed and saved outputs against a Session."""

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import graphc
from graphc import cli
from tests.aot.helpers import Driver, compile_lib
from tests.framework.helpers import build, feeds, mlp


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    graph = build(graphc, mlp, "gd")
    return graphc.train.write_graph(graph, str(tmp), "m.graph", as_text=False), graph


@pytest.mark.parametrize("command", ["compile", "run"])
def test_help(command):
    proc = subprocess.run([sys.executable, "-m", "graphc.cli", command, "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    assert "usage: graphc %s" % command in proc.stdout and "--feed" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["--feed", "x", "--fetch", "nope"], "--fetch nope: the graph has no such tensor"),
    (["--feed", "zz", "--fetch", "probs"], "--feed zz: the graph has no such tensor"),
    (["--feed", "x=?,5", "--fetch", "probs"], "not compatible with the tensor's (?, 4)"),
    (["--feed", "x=a,4", "--fetch", "probs"], "a shape is comma-separated sizes"),
    (["--feed", "x"], "has no --fetch and no --train-op"),
    (["--feed", "x", "--fetch", "loss"], "You must feed a value for placeholder tensor 'y'"),
    (["--feed", "x", "--fetch", "probs", "--entry", "b", "--fetch", "probs"],
     "given before the first --entry"),
    (["--entry", "a", "--fetch", "probs", "--entry", "a", "--fetch", "probs"],
     "--entry a is given twice"),
    (["--entry", "1a", "--fetch", "probs"], "must be a C identifier"),
    (["--feed", "x=6,4", "--feed", "y=6,3", "--fetch", "loss", "--train-op", "train",
      "--freeze"], "cannot be used with --train-op"),
    (["--feed", "x", "--fetch", "probs", "--train-op", "nope"], "--train-op nope: the graph "
                                                                 "has no such op"),
    (["--feed", "x", "--fetch", "probs", "--checkpoint", "/nonexistent/ckpt"],
     "no such checkpoint"),
    (["--feed", "x", "--fetch", "probs", "--target-triple", "nonsense-triple"],
     "--target-triple nonsense-triple"),
])
def test_compile_errors_are_one_line(model, tmp_path, capsys, args, message):
    status = cli.main(["compile", model[0], "-o", str(tmp_path / "libm.so")] + args)
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("graphc compile: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_compile_errors_on_bad_model_files(tmp_path, capsys):
    bad = tmp_path / "bad.graph"
    bad.write_bytes(b"\x08\x96\x01garbage")
    assert cli.main(["compile", str(bad), "-o", str(tmp_path / "libm.so"), "--fetch", "y"]) == 1
    assert "not a GraphDef or MetaGraphDef" in capsys.readouterr().err
    assert cli.main(["compile", str(tmp_path / "missing.pb"), "-o", str(tmp_path / "l.so"),
                     "--fetch", "y"]) == 1
    assert "No such file" in capsys.readouterr().err


def test_compile_writes_header_and_library(model, tmp_path, capsys):
    status = cli.main(["compile", model[0], "-o", str(tmp_path / "libmlp.so"), "--feed", "x",
                       "--fetch", "probs", "--header", str(tmp_path / "api.h"),
                       "--target-cpu", "generic"])
    assert status == 0
    assert "wrote %s" % (tmp_path / "libmlp.so") in capsys.readouterr().out
    header = (tmp_path / "api.h").read_text()
    assert "int mlp_run(mlp_ctx* ctx, const void* const* feeds, void* const* fetches);" in header
    assert "feed 0  x:0" in header and "float[?,4]" in header


def test_run_prints_and_saves_outputs(model, tmp_path, capsys):
    path, graph = model
    x = feeds(mlp, batch=3)["x:0"]
    np.save(tmp_path / "x.npy", x)
    with graphc.Session(graph=graph) as sess:
        sess.run("init")
        want = sess.run("probs:0", {"x:0": x})
    assert cli.main(["run", path, "--feed", "x=%s" % (tmp_path / "x.npy"), "--fetch", "probs",
                     "--output", str(tmp_path / "out.npz")]) == 0
    with np.load(tmp_path / "out.npz") as out:
        np.testing.assert_allclose(out["probs:0"], want, rtol=1e-6)
    assert cli.main(["run", path, "--feed", "x=%s" % (tmp_path / "x.npy"), "--fetch",
                     "probs"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("probs:0 float32[3, 3]\n")
    printed = re.findall(r"[-+]?\d*\.\d+(?:e[-+]?\d+)?", out.split("\n", 1)[1])
    np.testing.assert_allclose(np.array(printed, float).reshape(3, 3), want, rtol=1e-6)


def test_run_errors(model, tmp_path, capsys):
    path, _ = model
    assert cli.main(["run", path, "--fetch", "probs"]) == 1
    assert "You must feed a value for placeholder tensor 'x'" in capsys.readouterr().err
    assert cli.main(["run", path, "--feed", "x", "--fetch", "probs"]) == 1
    assert "expected NAME=FILE.npy" in capsys.readouterr().err


def test_generic_target_runs_and_header_works_in_cpp(model, tmp_path):
    """A library built for the generic x86-64 CPU gives the Session's outputs; the header
    compiles as C++ too."""
    path, graph = model
    compile_lib(tmp_path, path, "--feed", "x", "--fetch", "probs", "--target-cpu", "generic")
    x = feeds(mlp, batch=4)["x:0"]
    outs, _ = Driver(tmp_path).run(["main"], {"main": [x]}, batch=4)
    with graphc.Session(graph=graph) as sess:
        sess.run("init")
        np.testing.assert_allclose(outs[0][0], sess.run("probs:0", {"x:0": x}), rtol=1e-5)
    cxx = shutil.which("c++")
    if cxx:
        src = tmp_path / "use.cc"
        src.write_text(_CPP)
        subprocess.run([cxx, "-Wall", "-Werror", "-I", str(tmp_path), str(src), "-o",
                        str(tmp_path / "use"), "-L", str(tmp_path), "-lmodel",
                        "-Wl,-rpath," + str(tmp_path)], check=True)
        out = subprocess.run([str(tmp_path / "use")], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == [
            "model_run: the batch is not set: call model_set_batch first",
            "model_get_variable: variable w1 has 80 bytes, got 4", "ok"]


_CPP = r"""
#include <cstdio>
#include "model.h"

int main() {
    model::Context ctx;
    float x[4 * 2] = {0}, probs[3 * 2];
    const void* feeds[] = {x};
    void* fetches[] = {probs};
    try { ctx.run(feeds, fetches); } catch (const std::runtime_error& e) { std::puts(e.what()); }
    float w;
    try { ctx.get_variable("w1", &w, 4); } catch (const std::runtime_error& e) {
        std::puts(e.what());
    }
    ctx.set_batch(2);
    ctx.run(feeds, fetches);
    std::puts(model_num_feeds() == 1 ? "ok" : "bad");
    return 0;
}
"""


def test_library_name_must_be_a_c_identifier(model, tmp_path, capsys):
    assert cli.main(["compile", model[0], "-o", str(tmp_path / "lib-m.so"), "--fetch",
                     "probs", "--feed", "x"]) == 1
    assert "the name '-m' from" in capsys.readouterr().err
    assert cli.main(["compile", model[0], "-o", str(tmp_path / "libm.so"), "--name", "9x",
                     "--fetch", "probs", "--feed", "x"]) == 1
    assert "--name 9x: the library name must be a C identifier" in capsys.readouterr().err
