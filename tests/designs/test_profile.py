"""`laminar run --profile [FILE]` (issue 29): where each analysis's time went, per statistic and
per thread, as the metrics measured it.

On a run file of 300 generated words in 3 categories (q and k), rsa with its Mantel test and
bootstrap overall and within categories, selectivity, cka and mutual_information: the JSON lists
each analysis in order with its statistics, as many calls as the design makes (one pair overall,
three categories within), one busy time per thread, every thread busy in the parallel nulls and
none busy longer than the statistic's wall time; the statistics add up to no more than their
analysis; the table is printed; a rerun with nothing to do says so. Run by ctest (profile)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "bench"))
import synthetic_run  # noqa: E402

THREADS = 2
ANALYSES = """\
  - {metric: rsa, pairs: [[q, k]], permutations: 2000, bootstrap: 200, seed: 1}
  - {metric: selectivity, sites: [q, k], permutations: 2000, seed: 2}
  - {metric: cka, pairs: [[q, k]], permutations: 500, seed: 3}
  - {metric: mutual_information, pairs: [[q, k]], estimators: [binned], permutations: 500, seed: 4}"""


class Profile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-profile-")
        rng = np.random.default_rng(5)
        n, names = 300, ["a", "b", "c"]
        labels = np.arange(n) % 3
        q = rng.normal(size=(n, 32)) + rng.normal(size=(3, 32))[labels] + 1
        k = q + rng.normal(size=(n, 32))
        cls.run_file = os.path.join(cls.dir, "profile.h5")
        synthetic_run.write(cls.run_file, [f"w{i}" for i in range(n)], [names[c] for c in labels], names,
                            {f"blocks.0.attn.hook_{s}": (s, 0, x.astype(np.float32)) for s, x in (("q", q), ("k", k))})
        cls.yaml = os.path.join(cls.dir, "profile.yaml")
        with open(cls.yaml, "w") as f:
            f.write(synthetic_run.ANALYSIS_ONLY.format(name="profile", analyses=ANALYSES, out=cls.run_file))
        synthetic_run.stamp_as_extracted(cls.run_file, cls.yaml)
        cls.json = os.path.join(cls.dir, "profile.json")
        env = dict(os.environ, OMP_NUM_THREADS=str(THREADS))
        cls.first = subprocess.run([os.environ["LAMINAR_BIN"], "run", cls.yaml, "--stage", "analyze", "--profile", cls.json],
                                   capture_output=True, text=True, env=env)
        cls.again = subprocess.run([os.environ["LAMINAR_BIN"], "run", cls.yaml, "--stage", "analyze", "--profile"],
                                   capture_output=True, text=True, env=env)
        with open(cls.json) as f:
            cls.profile = {a["name"]: a for a in json.load(f)["analyses"]}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def statistics(self, analysis):
        return {s["name"]: s for s in self.profile[analysis]["statistics"]}

    def test_each_analysis_lists_its_statistics_with_the_design_s_calls(self):
        self.assertEqual(self.first.returncode, 0, self.first.stderr)
        self.assertEqual(list(self.profile), ["rsa", "selectivity", "cka", "mutual_information"])
        expected = {"rsa": {"rdm": 2, "mantel null": 1, "bootstrap": 1, "mantel null (within categories)": 3,
                            "bootstrap (within categories)": 3},
                    "selectivity": {"similarity": 2, "selectivity null": 2},
                    "cka": {"gram": 2, "cka null": 1, "jackknife": 1},
                    "mutual_information": {"mi null": 1}}
        for analysis, calls in expected.items():
            with self.subTest(analysis=analysis):
                self.assertEqual({name: s["calls"] for name, s in self.statistics(analysis).items()}, calls)
                self.assertEqual(self.profile[analysis]["metric"], analysis)

    def test_every_thread_works_in_the_nulls_and_no_time_exceeds_the_wall(self):
        for analysis, null in (("rsa", "mantel null"), ("selectivity", "selectivity null"), ("cka", "cka null"),
                               ("mutual_information", "mi null")):
            with self.subTest(analysis=analysis):
                s = self.statistics(analysis)[null]
                self.assertEqual(len(s["busy_s"]), THREADS)
                self.assertTrue(all(b > 0 for b in s["busy_s"]), s)
                self.assertTrue(all(b <= s["wall_s"] * 1.001 + 1e-4 for b in s["busy_s"]), s)
        for a in self.profile.values():
            self.assertLessEqual(sum(s["wall_s"] for s in a["statistics"]), a["wall_s"] * 1.001 + 1e-4, a["name"])

    def test_the_table_is_printed_and_a_rerun_with_nothing_to_do_says_so(self):
        self.assertIn("profile: analyze, 2 thread(s)", self.first.stderr + self.first.stdout)
        self.assertRegex(self.first.stderr + self.first.stdout, r"rsa +mantel null +1 +[0-9.]+ +[0-9.]+ [0-9.]+ +\(\d+ % of the cores\)")
        self.assertEqual(self.again.returncode, 0, self.again.stderr)
        self.assertIn("note: --profile: no analysis ran (all were up to date; --force runs them again)",
                      self.again.stderr + self.again.stdout)


if __name__ == "__main__":
    unittest.main()
