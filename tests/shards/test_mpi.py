"""`mpirun -n N laminar run` (issue 12, items 1 and 3): 1, 2 and 3 ranks give the run file one
process writes (compare_runs.py: every dataset and attribute, bit for bit, apart from when and
by which command stages ran), for the experiments of test_shards; a rank killed mid-run leaves
the run file as its last completed stage left it; an error on one rank stops every rank.

Ranks share this machine's 2 cores: mpirun runs with --oversubscribe and --bind-to none, so
that each rank's BLAS has the threads a one-process run has (OpenBLAS sums in an order that
depends on its thread count; Open MPI would otherwise bind 1 or 2 ranks to one core each).
Skipped, saying so, where mpirun is missing or laminar was built without MPI."""
import os
import shutil
import subprocess
import tempfile
import unittest

import h5py

from compare_runs import differences
from test_shards import BIN, FIXTURES, KEPT, prepare

MPIRUN = shutil.which("mpirun")
WITH_MPI = "with MPI" in subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout
# Open MPI refuses root without these (CI runs as root); harmless otherwise.
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", LAMINAR_PLUGIN_PATH=FIXTURES)


def mpirun(ranks, *args, cwd):
    return subprocess.run([MPIRUN, "--oversubscribe", "--bind-to", "none", "-n", str(ranks), BIN, *args],
                          capture_output=True, text=True, cwd=cwd, env=ENV, timeout=300)


@unittest.skipUnless(MPIRUN and WITH_MPI, "mpirun is not installed or laminar was built without MPI")
class Ranks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-mpi-")
        prepare(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_one_two_and_three_ranks_write_the_one_process_run_file(self):
        for experiment in ("kept", "averaged"):
            for ranks in (1, 2, 3):
                with self.subTest(experiment=experiment, ranks=ranks):
                    out = f"{experiment}-{ranks}ranks.h5"
                    r = mpirun(ranks, "run", f"{experiment}.yaml", "--out", out, cwd=self.dir)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    if ranks > 1:
                        self.assertIn(f"merge: {ranks} shard(s) of extract", r.stdout)
                        self.assertIn(f"merge: {ranks} shard(s) of analyze", r.stdout)
                    self.assertEqual(r.stdout.count("report: "), 2)  # rank 0 alone reports (run file, page)
                    self.assertFalse([f for f in os.listdir(self.dir) if f.startswith(f"{experiment}-{ranks}ranks.shard-")])
                    self.assertEqual(differences(self.path(f"{experiment}-one.h5"), self.path(out)), [])

    def test_a_rank_killed_mid_run_leaves_the_run_file_as_the_last_stage_left_it(self):
        out = "killed.h5"
        r = mpirun(2, "run", "kept.yaml", "--out", out, "--stage", "extract", cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path(out), "rb") as f:
            before = f.read()
        # Analysis 1 is rank 1's: its metric kills its process after its first dataset.
        crash = KEPT.replace("SEED", "1").replace("  - {metric: rsa", "  - {metric: row_norms, crash_midway: true}\n  - {metric: rsa")
        with open(self.path("crash.yaml"), "w") as f:
            f.write(crash)
        r = mpirun(2, "run", "crash.yaml", "--out", out, cwd=self.dir)
        self.assertNotEqual(r.returncode, 0)
        with open(self.path(out), "rb") as f:
            self.assertEqual(f.read(), before)
        # Rank 0's shard is complete, rank 1's is not: a one-process run names the missing one ...
        r = subprocess.run([BIN, "run", "kept.yaml", "--out", out], cwd=self.dir, env=ENV, capture_output=True, text=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("shard 1/2 is missing", r.stderr)
        # ... and the same mpirun again discards what was left half-written and finishes the job.
        r = mpirun(2, "run", "kept.yaml", "--out", out, cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("discarded", r.stdout + r.stderr)
        self.assertEqual(differences(self.path("kept-one.h5"), self.path(out)), [])

    def test_an_error_on_one_rank_stops_every_rank(self):
        """A metric's error at analysis time on rank 1 (a set per token where stimuli are
        compared): rank 1 reports it, rank 0 stops too instead of waiting, nothing is merged."""
        bad = KEPT.replace("SEED", "1").replace("  - {metric: rsa", "  - {metric: rsa, name: wrong, pairs: [[resid_post.tokens, q]]}\n  - {metric: rsa")
        with open(self.path("bad.yaml"), "w") as f:
            f.write(bad)
        r = mpirun(2, "run", "bad.yaml", "--out", "bad.h5", cwd=self.dir)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("has a row for every token of each prompt", r.stderr)
        self.assertIn("rank 1 failed", r.stderr)
        with h5py.File(self.path("bad.h5"), "r") as f:  # the extraction, merged; no analysis
            self.assertIn("activations", f)
            self.assertNotIn("results", f)

    def test_shard_is_refused_under_mpirun(self):
        r = mpirun(2, "run", "kept.yaml", "--out", "x.h5", "--shard", "0/2", cwd=self.dir)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--shard is for job arrays without MPI", r.stderr)


if __name__ == "__main__":
    unittest.main()
