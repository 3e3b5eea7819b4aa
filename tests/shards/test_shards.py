"""Job arrays without MPI (issue 12, item 2): `laminar run --shard K/N` and `laminar merge` give
the run file one process writes — every dataset and attribute equal, bit for bit, apart from
when and by which command stages ran (compare_runs.py) — for the extraction (split by stimuli,
with contexts kept and averaged, a set per token, the logit lens with contexts kept) and for the analyses (split by
analysis; every metric kind: cosine, correlation, selectivity, rsa, cka, effective
dimensionality, mutual information, logit lens). A missing or stale shard is named; a shard killed mid-write leaves nothing half
written."""
import os
import shutil
import subprocess
import tempfile
import unittest

import h5py

from compare_runs import differences

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
FIXTURES = os.environ["LAMINAR_FIXTURE_PLUGINS"]
PYTHON = "/usr/bin/python3"

KEPT = """experiment: shards
models:
  - {id: m, backend: gpt2, path: model}
stimuli:
  templates: ["The next word is {word}", "I saw the {word} today", "They brought the {word} home"]
  contexts: keep
  categories:
    space: [galaxy, comet, moon, star]
    fruit: [pear, dragonfruit, apple]
extract:
  - {extractor: attention, sites: [q, k], layers: all}
  - {extractor: residual, layers: all, positions: all}
  - {extractor: logit_lens, k: 3, at: position}
analyze:
  - {metric: cosine}
  - {metric: rsa, pairs: [[q, k]], permutations: 200, bootstrap: 100, seed: SEED, grid: true}
  - {metric: rsa, name: rsa_spearman, pairs: [[q, k]], method: spearman, permutations: 50, bootstrap: 100}
  - {metric: effective_dimensionality, sites: [resid_post.tokens], shuffles: 5}
  - {metric: cka, pairs: [[q, k]], permutations: 50, bootstrap: 0}
  - {metric: mutual_information, pairs: [[q, k]], sites: [q], permutations: 20, seed: 3}
  - {metric: correlation}
  - {metric: logit_lens}
  - {metric: decoding, sites: [q], folds: 2, permutations: 40, seed: 2}
output: one.h5
"""
# A word's contexts averaged: a shard takes whole words; two models, the second a deeper one.
AVERAGED = """experiment: averaged
models:
  - {id: m, backend: gpt2, path: model}
  - {id: deep, backend: gpt2, path: deep}
stimuli:
  templates: ["The next word is {word}", "I saw the {word} today", "{word} again"]
  categories:
    space: [galaxy, comet, moon, star, planet]
    fruit: [pear, dragonfruit, apple, lime]
extract:
  - {extractor: attention, sites: [q, k], layers: all}
analyze:
  - {metric: selectivity}
  - {metric: rsa, pairs: [["m:q", "deep:q"]], align: relative_depth, grid: true, method: spearman, permutations: 100, bootstrap: 50}
  - {metric: cka, pairs: [["m:k", "deep:k"]], align: relative_depth, grid: true, permutations: 30, bootstrap: 20}
  - {metric: encoding, sites: [q], targets: targets.csv, folds: 3, permutations: 30}
output: one.h5
"""


# A stand-in for sbatch: runs the --wrap command at once (for an --array, once per task) and
# logs the job name of each run; prints a job id as `sbatch --parsable` does.
SBATCH = r"""#!/usr/bin/env python3
import os, subprocess, sys
args = sys.argv[1:]
name = next(a.split("=", 1)[1] for a in args if a.startswith("--job-name="))
wrap = next(a.split("=", 1)[1] for a in args if a.startswith("--wrap="))
array = next((a.split("=", 1)[1] for a in args if a.startswith("--array=")), None)
tasks = range(int(array.split("-")[0]), int(array.split("-")[1]) + 1) if array else [None]
for task in tasks:
    env = dict(os.environ, **({"SLURM_ARRAY_TASK_ID": str(task)} if task is not None else {}))
    with open(os.environ["SBATCH_LOG"], "a") as log:
        log.write(f"{name} {task}\n")
    if subprocess.run(["bash", "-c", wrap], env=env).returncode:
        sys.exit(1)
print(abs(hash(wrap)) % 100000)
"""


def laminar(*args, cwd):
    env = dict(os.environ, LAMINAR_PLUGIN_PATH=FIXTURES)  # row_norms, which can kill its process
    return subprocess.run([BIN, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def prepare(folder):
    """The two models, kept.yaml and averaged.yaml in `folder`, each run by one process into
    NAME-one.h5: the run files the others must equal."""
    for name, args in [("model", ["--layers", "2", "--heads", "2", "--width", "32", "--seed", "3"]),
                       ("deep", ["--layers", "3", "--heads", "2", "--width", "32", "--seed", "4"])]:
        subprocess.run([PYTHON, MAKE_MODEL, os.path.join(folder, name), *args], check=True, capture_output=True)
    with open(os.path.join(folder, "targets.csv"), "w") as f:  # the encoding metric's, made-up numbers per word
        f.write("word,a,b\n" + "".join(f"{w},{i % 4},{(i * 7) % 5}\n" for i, w in
                                        enumerate(["galaxy", "comet", "moon", "star", "planet", "pear", "dragonfruit", "apple", "lime"])))
    for name, text in [("kept", KEPT.replace("SEED", "1")), ("averaged", AVERAGED)]:
        with open(os.path.join(folder, f"{name}.yaml"), "w") as f:
            f.write(text)
        r = laminar("run", f"{name}.yaml", "--out", f"{name}-one.h5", "--quiet", cwd=folder)
        assert r.returncode == 0, r.stderr


class Shards(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-shards-")
        prepare(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    @classmethod
    def write(cls, name, text):
        with open(os.path.join(cls.dir, name), "w") as f:
            f.write(text)

    @staticmethod
    def ok(r):
        assert r.returncode == 0, r.stderr

    def path(self, name):
        return os.path.join(self.dir, name)

    def assert_same_run(self, a, b):
        self.assertEqual(differences(self.path(a), self.path(b)), [])

    def test_the_comparison_sees_a_difference(self):
        """The check below can fail: another seed changes the permutation test and nothing else."""
        self.write("kept-seed2.yaml", KEPT.replace("SEED", "2"))
        self.ok(laminar("run", "kept-seed2.yaml", "--out", "seed2.h5", "--quiet", cwd=self.dir))
        found = differences(self.path("kept-one.h5"), self.path("seed2.h5"))
        self.assertTrue(found)
        self.assertTrue(all(line.startswith(("/results/rsa", "/stages/analyze/rsa", "/.@spec")) for line in found), found)

    def test_extraction_in_three_shards_merged_by_the_next_run(self):
        for experiment in ("kept", "averaged"):
            with self.subTest(experiment=experiment):
                out = f"{experiment}-three.h5"
                for k in range(3):
                    r = laminar("run", f"{experiment}.yaml", "--out", out, "--shard", f"{k}/3", cwd=self.dir)
                    self.ok(r)
                    self.assertIn(f"shard {k}/3 written", r.stdout)
                    self.assertFalse(os.path.exists(self.path(out)))  # nothing to analyse before all are there
                r = laminar("run", f"{experiment}.yaml", "--out", out, cwd=self.dir)
                self.ok(r)
                self.assertIn("merge: 3 shard(s) of extract", r.stdout)
                self.assertFalse([f for f in os.listdir(self.dir) if f.startswith(f"{experiment}-three.shard-")])
                self.assert_same_run(f"{experiment}-one.h5", out)

    def test_more_shards_than_stimuli(self):
        """16 shards of 14 rows: two extract nothing (shard 0 among them), and the merge is whole."""
        for k in range(16):
            self.ok(laminar("run", "kept.yaml", "--out", "many.h5", "--shard", f"{k}/16", "--quiet", cwd=self.dir))
        self.ok(laminar("run", "kept.yaml", "--out", "many.h5", "--quiet", cwd=self.dir))
        self.assert_same_run("kept-one.h5", "many.h5")

    def test_a_job_array_for_each_stage_with_laminar_merge(self):
        """Extraction in 2 shards merged by `laminar merge` (named files), then the analyses in 3
        shards (the fourth analysis goes to shard 0 again) merged by `laminar merge` (found)."""
        out = "array.h5"
        for k in range(2):
            self.ok(laminar("run", "kept.yaml", "--out", out, "--shard", f"{k}/2", "--quiet", cwd=self.dir))
        self.ok(laminar("merge", out, "array.shard-1-of-2.h5", "array.shard-0-of-2.h5", cwd=self.dir))
        for k in range(3):
            r = laminar("run", "kept.yaml", "--out", out, "--shard", f"{k}/3", cwd=self.dir)
            self.ok(r)
            self.assertIn("extract: up to date", r.stdout)
        with h5py.File(self.path("array.shard-0-of-3.h5"), "r") as f:
            self.assertEqual(sorted(f["results"]), ["correlation", "cosine", "effective_dimensionality"])
        r = laminar("merge", out, cwd=self.dir)
        self.ok(r)
        self.assertIn("analyze cosine", r.stdout)
        r = laminar("run", "kept.yaml", "--out", out, cwd=self.dir)  # the report; every stage up to date
        self.ok(r)
        self.assertEqual(r.stdout.count(": up to date"), 10, r.stdout)  # extract and the 9 analyses
        self.assert_same_run("kept-one.h5", out)

    def test_a_missing_or_stale_shard_is_named_and_nothing_is_written(self):
        out = "broken.h5"
        for k in (0, 2):
            self.ok(laminar("run", "kept.yaml", "--out", out, "--shard", f"{k}/3", "--quiet", cwd=self.dir))
        for command in (["run", "kept.yaml", "--out", out], ["merge", out]):
            r = laminar(*command, cwd=self.dir)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"shard 1/3 is missing ({self.path('broken.shard-1-of-3.h5')})", r.stderr)
        self.write("kept-more.yaml", KEPT.replace("SEED", "1").replace("apple]", "apple, lime]"))  # other stimuli: a stale shard
        self.ok(laminar("run", "kept-more.yaml", "--out", out, "--shard", "1/3", "--quiet", cwd=self.dir))
        r = laminar("run", "kept.yaml", "--out", out, cwd=self.dir)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"{self.path('broken.shard-1-of-3.h5')} is stale", r.stderr)
        r = laminar("merge", out, cwd=self.dir)  # without the experiment: against shard 0
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("broken.shard-1-of-3.h5 is stale", r.stderr)
        self.assertFalse(os.path.exists(self.path(out)))
        self.assertEqual(len([f for f in os.listdir(self.dir) if f.startswith("broken.shard-")]), 3)  # kept for the user

    def test_a_shard_killed_mid_write_leaves_no_shard_and_the_run_file_as_it_was(self):
        out = "killed.h5"
        self.ok(laminar("run", "kept.yaml", "--out", out, "--stage", "extract", "--quiet", cwd=self.dir))
        with open(self.path(out), "rb") as f:
            before = f.read()
        crash = KEPT.replace("SEED", "1").replace("analyze:\n", "analyze:\n  - {metric: row_norms, crash_midway: true}\n")
        self.write("crash.yaml", crash)
        r = laminar("run", "crash.yaml", "--out", out, "--shard", "0/2", cwd=self.dir)
        self.assertEqual(r.returncode, -9, r.stderr)  # SIGKILL, after its first dataset
        self.assertFalse(os.path.exists(self.path("killed.shard-0-of-2.h5")))
        self.assertTrue(os.path.exists(self.path("killed.shard-0-of-2.h5.partial")))
        with open(self.path(out), "rb") as f:
            self.assertEqual(f.read(), before)
        self.write("crash.yaml", crash.replace("crash_midway: true", "crash_midway: false"))
        r = laminar("run", "crash.yaml", "--out", out, "--shard", "0/2", cwd=self.dir)
        self.ok(r)
        self.assertIn("discarded", r.stdout)
        self.assertTrue(os.path.exists(self.path("killed.shard-0-of-2.h5")))
        self.assertFalse(os.path.exists(self.path("killed.shard-0-of-2.h5.partial")))

    def test_the_slurm_script_with_a_stand_in_sbatch(self):
        """tools/slurm/submit.sh against an sbatch that runs each job as it is submitted (the
        script submits in dependency order), every array task with its SLURM_ARRAY_TASK_ID."""
        bin_dir = self.path("fake-slurm")
        os.makedirs(bin_dir, exist_ok=True)
        with open(os.path.join(bin_dir, "sbatch"), "w") as f:
            f.write(SBATCH)
        os.chmod(os.path.join(bin_dir, "sbatch"), 0o755)
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ["PATH"], LAMINAR=BIN, LAMINAR_PLUGIN_PATH=FIXTURES,
                   SBATCH_LOG=self.path("sbatch.log"))
        script = os.path.join(os.environ["LAMINAR_SOURCE"], "tools", "slurm", "submit.sh")
        r = subprocess.run([script, "kept.yaml", "3", "2", "--out", "slurm run.h5", "--quiet"], cwd=self.dir, env=env,
                           capture_output=True, text=True, timeout=300)
        self.ok(r)
        with open(self.path("sbatch.log")) as f:
            jobs = f.read().splitlines()
        self.assertEqual([j.split()[0] for j in jobs], ["laminar-extract"] * 3 + ["laminar-merge"] + ["laminar-analyze"] * 2 +
                         ["laminar-report"])
        self.assertFalse([f for f in os.listdir(self.dir) if ".shard-" in f and f.startswith("slurm")])
        self.assert_same_run("kept-one.h5", "slurm run.h5")

    def test_bad_shard_arguments(self):
        for bad in ("3/3", "1", "a/b", "0/0", "1/2/3"):
            r = laminar("run", "kept.yaml", "--shard", bad, cwd=self.dir)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("--shard expects K/N with 0 <= K < N", r.stderr)


if __name__ == "__main__":
    unittest.main()
