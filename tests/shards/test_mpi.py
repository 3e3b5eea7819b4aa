"""`mpirun -n N laminar run` (issue 12, items 1 and 3): 1, 2 and 3 ranks give the run file one
process writes (compare_runs.py: every dataset and attribute, bit for bit, apart from when and
by which command stages ran), for the experiments of test_shards; a rank killed mid-run leaves
the run file as its last completed stage or analysis left it; an error on one rank stops every
rank, also one outside the shares of work that carry errors.

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

    def with_analysis_before_rsa(self, name, entry):
        """kept.yaml with `entry` as its second analysis (after cosine), saved as NAME.yaml, run by
        2 ranks into NAME.h5; expected to fail. Returns the run and the analyses in the run file."""
        with open(self.path(f"{name}.yaml"), "w") as f:
            f.write(KEPT.replace("SEED", "1").replace("  - {metric: rsa", f"  - {entry}\n  - {{metric: rsa", 1))
        r = mpirun(2, "run", f"{name}.yaml", "--out", f"{name}.h5", cwd=self.dir)
        self.assertNotEqual(r.returncode, 0)
        with h5py.File(self.path(f"{name}.h5"), "r") as f:
            self.assertIn("activations", f)
            return r, sorted(f["results"]), sorted(f["stages/analyze"])

    def test_one_two_and_three_ranks_write_the_one_process_run_file(self):
        for experiment in ("kept", "averaged"):
            for ranks in (1, 2, 3):
                with self.subTest(experiment=experiment, ranks=ranks):
                    out = f"{experiment}-{ranks}ranks.h5"
                    r = mpirun(ranks, "run", f"{experiment}.yaml", "--out", out, cwd=self.dir)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    if ranks > 1:
                        self.assertIn(f"merge: {ranks} shard(s) of extract", r.stdout)
                        # every rank runs each analysis with the others; rank 0 writes it
                        self.assertNotIn("of analyze", r.stdout)
                        done = [line for line in r.stdout.splitlines() if line.startswith("analyze: ") and ": done (" in line]
                        self.assertEqual(len(done), len(set(done)), r.stdout)
                    self.assertEqual(r.stdout.count("report: "), 2)  # rank 0 alone reports (run file, page)
                    self.assertFalse([f for f in os.listdir(self.dir) if f.startswith(f"{experiment}-{ranks}ranks.shard-")])
                    self.assertEqual(differences(self.path(f"{experiment}-one.h5"), self.path(out)), [])

    def test_a_rank_killed_mid_run_leaves_the_run_file_as_the_last_stage_left_it(self):
        """Rank 1 killed in the middle of the second analysis: the run file holds the extraction
        and the first analysis, as one process writes them, and nothing of the second; the same
        mpirun again discards the half-written transaction and finishes the job."""
        out = "killed.h5"
        _, results, stages = self.with_analysis_before_rsa("killed", "{metric: row_norms, crash_midway: true, crash_rank: 1}")
        self.assertEqual((results, stages), (["cosine"], ["cosine"]))
        self.assertTrue(os.path.exists(self.path(out + ".partial")))  # rank 0's open transaction
        r = mpirun(2, "run", "kept.yaml", "--out", out, cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("discarded", r.stdout + r.stderr)
        self.assertIn("analyze: cosine: up to date", r.stdout)
        self.assertEqual(differences(self.path("kept-one.h5"), self.path(out)), [])

    def test_an_error_on_one_rank_stops_every_rank(self):
        """A metric's error in the items rank 1 has (a set per token where stimuli are compared,
        the second of two pairs): rank 1 reports it, rank 0 stops too instead of waiting, and the
        analysis is not written."""
        r, results, _ = self.with_analysis_before_rsa(
            "bad", "{metric: rsa, name: wrong, pairs: [[q, k], [resid_post.tokens, q]], permutations: 10}")
        self.assertIn("has a row for every token of each prompt", r.stderr)
        self.assertIn("rank 1 failed", r.stderr)
        self.assertEqual(results, ["cosine"])  # the first analysis; not this one

    def test_a_rank_failing_outside_a_share_stops_the_ranks_waiting_for_it(self):
        """Rank 1 fails before its share (as a rank that cannot read a file would) while rank 0
        waits for it in the analysis's first collective: rank 0 hears of it and stops too, within
        the time limit, and the analysis is not written."""
        r, results, _ = self.with_analysis_before_rsa("fail", "{metric: row_norms, fail_rank: 1}")
        self.assertIn("row_norms: rank 1 fails, as asked", r.stderr)
        self.assertIn("rank 1 failed", r.stderr)
        self.assertEqual(results, ["cosine"])

    def test_shard_is_refused_under_mpirun(self):
        r = mpirun(2, "run", "kept.yaml", "--out", "x.h5", "--shard", "0/2", cwd=self.dir)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--shard is for job arrays without MPI", r.stderr)


if __name__ == "__main__":
    unittest.main()
