"""Nothing lost, nothing wrong (issue 22): output that cannot be written, files of another
experiment, modes, full disks, the report folder and the paths a user types. Each test asserts
the exit code and the message; exit codes as the README's table (0 ok, 1 runtime failure, 2 usage
or experiment-file error), never a signal."""
import grp
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import unittest

import h5py

from test_bad_inputs import BIN, Case, digest, run

NOBODY = 65534


def limited(size):
    """preexec_fn: files may grow to `size` bytes (EFBIG past it, SIGXFSZ ignored as laminar does)."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return apply


class Output(Case):
    """Every command checks its standard output on exit."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.run_file = os.path.join(cls.dir, "out.h5")
        subprocess.run([BIN, "run", cls.experiment(cls), "--out", cls.run_file, "--quiet"], check=True, capture_output=True)
        cls.texts = os.path.join(cls.dir, "texts.jsonl")
        with open(cls.texts, "w") as f:
            f.writelines(json.dumps(f"text number {i}") + "\n" for i in range(4000))  # well over 64 KB printed

    def commands(self):
        return {"inspect --table": ["inspect", self.run_file, "--table", "selectivity", "--format", "csv"],
                "inspect": ["inspect", self.run_file, "--all"],
                "plugins": ["plugins"],
                "hooks": ["hooks", "--model", self.model],
                "tokenize": ["tokenize", "--model", self.model, "Hello world"],
                "tokenize (large)": ["tokenize", "--model", self.model, "--jsonl", self.texts]}

    def test_output_to_a_full_device_is_exit_1_and_says_so(self):
        for name, command in self.commands().items():
            with self.subTest(name), open("/dev/full", "w") as full:
                r = subprocess.run([BIN, *command], stdout=full, stderr=subprocess.PIPE, text=True)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("could not write standard output: No space left on device", r.stderr)

    def test_a_reader_that_goes_away_is_not_an_error(self):
        for name, command in self.commands().items():
            for sigpipe in ("default", "ignored"):
                with self.subTest(name, sigpipe=sigpipe):
                    line = " ".join(f"'{a}'" for a in [BIN, *command])
                    trap = "trap '' PIPE; " if sigpipe == "ignored" else ""
                    r = subprocess.run(["bash", "-c", f"{trap}{line} | head -1"], capture_output=True, text=True)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    self.assertEqual(len(r.stdout.splitlines()), 1, r.stdout)
                    if name != "hooks":  # which prints the model's shape on stderr
                        self.assertEqual(r.stderr, "")
                    self.assertNotIn("error", r.stderr)


class OtherExperiment(Case):
    """A run file of another experiment is not replaced without --force."""

    def other(self, name="b.yaml"):
        path = self.experiment(name)
        with open(path) as f:
            text = f.read().replace("experiment: hostile", "experiment: b")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_run_refuses_a_run_file_of_another_experiment(self):
        theirs = os.path.join(self.dir, "b.h5")
        self.assertEqual(run("run", self.other(), "--out", theirs, "--stage", "analyze").returncode, 2)  # no extraction yet
        self.assertEqual(run("run", self.other(), "--out", theirs).returncode, 0)
        before = digest(theirs)
        for stage in ([], ["--stage", "extract"], ["--stage", "analyze"]):
            r = run("run", self.experiment(), "--out", theirs, *stage)
            self.assertFails(r, 2, f"{theirs} holds the results of experiment 'b', not of 'hostile'", "--force")
            self.assertEqual(digest(theirs), before)
        r = run("run", self.experiment(), "--out", theirs, "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(theirs, "r") as f:
            self.assertEqual(f.attrs["experiment"], "hostile")

    def test_merge_refuses_extraction_shards_of_another_experiment(self):
        ours = os.path.join(self.dir, "ours.h5")
        self.assertEqual(run("run", self.experiment(), "--out", ours).returncode, 0)
        before = digest(ours)
        elsewhere = os.path.join(self.dir, "elsewhere", "b.h5")
        for k in range(2):
            self.assertEqual(run("run", self.other(), "--out", elsewhere, "--shard", f"{k}/2").returncode, 0)
            shutil.copy(os.path.join(self.dir, "elsewhere", f"b.shard-{k}-of-2.h5"),
                        os.path.join(self.dir, f"ours.shard-{k}-of-2.h5"))
        r = run("merge", ours)
        self.assertFails(r, 2, f"{ours} holds the results of experiment 'hostile', but the extract shards",
                         "are of experiment 'b'", "--force")
        self.assertEqual(digest(ours), before)
        self.assertTrue(os.path.exists(os.path.join(self.dir, "ours.shard-0-of-2.h5")))
        r = run("merge", ours, "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(ours, "r") as f:
            self.assertEqual(f.attrs["experiment"], "b")


class AnalysisShards(Case):
    def test_merge_refuses_analysis_shards_of_another_experiment_file(self):
        out = os.path.join(self.dir, "spec.h5")
        big = self.experiment("big.yaml")
        with open(big) as f:
            text = f.read()
        with open(big, "w") as f:
            f.write(text.replace("permutations: 50\n  - metric: rsa", "permutations: 2000000\n  - metric: rsa"))
        self.assertEqual(run("run", big, "--out", out, "--stage", "extract").returncode, 0)
        before = digest(out)
        for k in range(2):  # the analyses of the file with 50 permutations
            r = run("run", self.experiment("small.yaml"), "--out", out, "--shard", f"{k}/2")
            self.assertEqual(r.returncode, 0, r.stderr)
        r = run("merge", out)
        self.assertFails(r, 2, "spec.shard-0-of-2.h5 was made from another experiment file than the one",
                         "is `    permutations: 50` in the shard's and `    permutations: 2000000` in the run file's")
        self.assertEqual(digest(out), before)


class Permissions(Case):
    """A rewritten run file keeps its mode and group, as `cp` onto it would."""

    def test_mode_and_group_are_kept(self):
        out = os.path.join(self.dir, "private.h5")
        self.assertEqual(run("run", self.experiment(), "--out", out, "--stage", "extract").returncode, 0)
        os.chmod(out, 0o600)
        group = os.stat(out).st_gid
        if os.geteuid() == 0:
            group = next((g.gr_gid for g in grp.getgrall() if g.gr_gid not in (0, os.getegid())), group)
            os.chown(out, -1, group)
        r = run("run", self.experiment(), "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        self.assertEqual(os.stat(out).st_gid, group)

    def test_a_file_without_write_permission_is_refused_as_cp_would(self):
        # As root, `cp` overwrites a 0444 file: so does laminar, keeping its mode. As any other
        # user, both refuse it.
        folder = tempfile.mkdtemp(prefix="laminar-perm-")
        os.chmod(folder, 0o777)
        try:
            exp = os.path.join(folder, "exp.yaml")
            shutil.copy(self.experiment(), exp)
            os.chmod(exp, 0o644)
            out = os.path.join(folder, "readonly.h5")
            self.assertEqual(run("run", exp, "--out", out, "--stage", "extract").returncode, 0)
            os.chmod(out, 0o444)
            as_user = None
            if os.geteuid() == 0:
                r = run("run", exp, "--out", out, "--stage", "analyze")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o444)
                os.chown(out, NOBODY, NOBODY)
                as_user = lambda: os.setuid(NOBODY)  # noqa: E731
            before = digest(out)
            r = run("run", exp, "--out", out, "--stage", "analyze", "--force", preexec_fn=as_user)
            self.assertFails(r, 2, f"{out}: cannot replace it (Permission denied)")
            self.assertEqual(digest(out), before)
            self.assertFalse(os.path.exists(out + ".partial"))
        finally:
            shutil.rmtree(folder)


class FullDisk(Case):
    def test_a_failed_analysis_transaction_leaves_no_partial_file(self):
        out = os.path.join(self.dir, "full", "run.h5")
        self.assertEqual(run("run", self.experiment(), "--out", out, "--stage", "extract").returncode, 0)
        before = digest(out)
        # Room for half the run file: the analysis's transaction fails while copying the activations.
        r = run("run", self.experiment(), "--out", out, "--stage", "analyze", preexec_fn=limited(os.path.getsize(out) // 2))
        self.assertFails(r, 1, "File too large")
        self.assertEqual(digest(out), before)
        self.assertEqual(sorted(os.listdir(os.path.dirname(out))), ["run.h5"])  # no .partial, no .lock
        r = run("run", self.experiment(), "--out", out, "--stage", "analyze")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("interrupted", r.stdout)


class ReportFolder(Case):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.run_file = os.path.join(cls.dir, "report.h5")
        subprocess.run([BIN, "run", cls.experiment(cls), "--out", cls.run_file, "--quiet"], check=True, capture_output=True)

    def assertClean(self, r, code, *texts):
        self.assertFails(r, code, *texts)
        self.assertNotIn("Traceback", r.stderr)

    def test_a_file_or_a_folder_it_cannot_write_is_a_clear_error(self):
        a_file = os.path.join(self.dir, "a-file")
        with open(a_file, "w") as f:
            f.write("mine")
        self.assertClean(run("report", self.run_file, "--out", a_file), 2, f"{a_file}: exists and is not a folder")
        self.assertClean(run("report", self.run_file, "--out", os.path.join(a_file, "sub")), 2,
                         f"{os.path.join(a_file, 'sub')}: cannot make the report folder (Not a directory)")
        locked = os.path.join(self.dir, "locked")
        os.makedirs(locked)
        os.chmod(locked, 0o555)
        as_user = (lambda: os.setuid(NOBODY)) if os.geteuid() == 0 else None  # root may write anywhere
        os.chmod(self.dir, 0o755)
        r = run("report", self.run_file, "--out", os.path.join(locked, "page"), preexec_fn=as_user)
        self.assertClean(r, 2, os.path.join(locked, "page"), "Permission denied")

    def test_a_full_disk_is_a_clear_error_and_leaves_no_partial_page(self):
        page = os.path.join(self.dir, "full-page")
        r = run("report", self.run_file, "--out", page)
        self.assertEqual(r.returncode, 0, r.stderr)
        figures = max(os.path.getsize(os.path.join(page, "figures", f)) for f in os.listdir(os.path.join(page, "figures")))
        size = os.path.getsize(os.path.join(page, "index.html"))
        self.assertLess(figures, size)  # the page embeds every figure: room for them, not for it
        before = digest(os.path.join(page, "index.html"))
        r = run("report", self.run_file, "--out", page, preexec_fn=limited(figures + 1))
        self.assertClean(r, 1, "laminar report: cannot write the report into", "File too large")
        self.assertEqual(digest(os.path.join(page, "index.html")), before)
        self.assertFalse(os.path.exists(os.path.join(page, "index.html.partial")))

    def test_another_programs_page_is_not_replaced(self):
        theirs = os.path.join(self.dir, "site")
        os.makedirs(theirs)
        with open(os.path.join(theirs, "index.html"), "w") as f:
            f.write("<html><title>my site</title></html>")
        self.assertClean(run("report", self.run_file, "--out", theirs), 2,
                         f"{os.path.join(theirs, 'index.html')}: a page laminar did not write; refusing to replace it")
        with open(os.path.join(theirs, "index.html")) as f:
            self.assertEqual(f.read(), "<html><title>my site</title></html>")
        os.remove(os.path.join(theirs, "index.html"))
        with open(os.path.join(theirs, "notes.txt"), "w") as f:
            f.write("mine")
        self.assertClean(run("report", self.run_file, "--out", theirs), 2, f"{theirs}: a folder laminar did not write")
        ours = os.path.join(self.dir, "ours")
        for _ in range(2):  # its own page is replaced
            self.assertEqual(run("report", self.run_file, "--out", ours).returncode, 0)

    def test_the_report_process_ends_with_laminar(self):
        pid_file = os.path.join(self.dir, "python.pid")
        fake = os.path.join(self.dir, "slow-python")
        with open(fake, "w") as f:
            f.write(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 60\n")
        os.chmod(fake, 0o755)
        laminar = subprocess.Popen([BIN, "run", self.experiment(), "--out", self.run_file, "--stage", "report"],
                                   env=dict(os.environ, LAMINAR_PYTHON=fake), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        def written():
            if not os.path.exists(pid_file):
                return ""
            with open(pid_file) as f:
                return f.read().strip()
        while not written() and time.time() < deadline:
            time.sleep(0.05)
        child = int(written())
        laminar.kill()  # kill -9
        laminar.wait()
        deadline = time.time() + 10
        while alive(child) and time.time() < deadline:
            time.sleep(0.05)
        self.assertFalse(alive(child), "the report's process outlived laminar")


def alive(pid):
    """Whether `pid` runs (a zombie waiting for its reaper does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Paths(Case):
    """What a user types as a path."""

    def test_a_run_file_path_ending_in_a_slash_is_refused(self):
        out = os.path.join(self.dir, "x.h5") + "/"
        self.assertFails(run("run", self.experiment(), "--out", out), 2,
                         f"--out: a run file path must not end in '/' (got '{out}')")
        self.assertFalse(os.path.exists(out))
        with open(self.experiment()) as f:
            text = f.read().replace("output: run.h5", "output: runs/x.h5/")
        path = os.path.join(self.dir, "slash.yaml")
        with open(path, "w") as f:
            f.write(text)
        for command in ("validate", "run"):
            self.assertFails(run(command, path), 2, "output: a run file path must not end in '/'")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "runs")))

    def test_a_loop_of_symbolic_links_is_exit_2_naming_the_path(self):
        loop = os.path.join(self.dir, "loop.h5")
        os.symlink(loop, loop)
        for command in (["inspect", loop], ["report", loop], ["run", self.experiment(), "--out", loop], ["merge", loop]):
            with self.subTest(command[0]):
                r = run(*command)
                self.assertFails(r, 2, loop)
                self.assertIn("symbolic links", r.stderr.lower())

    def test_a_truncated_run_file_is_called_so(self):
        good = os.path.join(self.dir, "whole.h5")
        self.assertEqual(run("run", self.experiment(), "--out", good, "--stage", "extract").returncode, 0)
        with open(good, "rb") as f:
            data = f.read()
        cut = os.path.join(self.dir, "cut.h5")
        for size in (100, 300, 512, 513):
            with self.subTest(size):
                with open(cut, "wb") as f:
                    f.write(data[:size])
                self.assertFails(run("inspect", cut), 1, f"{cut}: a truncated or corrupted HDF5 file")
                r = run("run", self.experiment(), "--out", cut)
                self.assertFails(r, 1, f"{cut}: a truncated or corrupted HDF5 file", "refusing to overwrite it")
                with open(cut, "rb") as f:
                    self.assertEqual(f.read(), data[:size])

    def test_a_model_id_given_twice_is_refused(self):
        other = os.path.join(self.dir, "other-model")
        r = run("run", self.experiment(), "--model", f"m={self.model}", "--model", f"m={other}",
                "--out", os.path.join(self.dir, "twice.h5"))
        self.assertFails(r, 2, f"--model names model 'm' twice (m={self.model} and m={other})")


if __name__ == "__main__":
    unittest.main()
