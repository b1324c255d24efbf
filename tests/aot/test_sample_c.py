"""samples/c: `make` saves the graph, compiles it with graphc and runs the C program, which
trains the MLP from C and then classifies held-out points."""

import os
import pathlib
import re
import shutil
import subprocess
import sys

SAMPLE = pathlib.Path(__file__).resolve().parents[2] / "samples" / "c"


def test_sample_trains_and_classifies(tmp_path):
    work = tmp_path / "c"
    shutil.copytree(SAMPLE, work, ignore=shutil.ignore_patterns("mlp.graph", "mlp.h", "main",
                                                                 "*.so"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(SAMPLE.parents[1])] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    proc = subprocess.run(["make", "-s", "PYTHON=" + sys.executable], cwd=work, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    losses = [float(v) for v in re.findall(r"loss (\S+)", proc.stdout)]
    assert len(losses) == 4 and losses[-1] < losses[0] / 10
    accuracy = float(re.search(r"accuracy on 300 held-out points: (\S+)", proc.stdout).group(1))
    assert accuracy > 0.95
