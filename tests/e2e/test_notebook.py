"""laminar from Python and from a notebook (issue 28): laminar.run and laminar.validate take a
file, a YAML text or a dict and return the run file; refusals are ExperimentErrors carrying the
command line's file, line, column, field and message, failures RunErrors; progress shows as it
happens (quiet=True: none); a Run displays itself and gives its report figures; the package's
version is the command line's; `pip install tools/python` finds the command on PATH; and
examples/notebooks/founding_study.ipynb runs cell by cell in Jupyter's own client."""
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings

import h5py

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
SOURCE = os.environ["LAMINAR_SOURCE"]
PYTHON_DIR = os.path.join(SOURCE, "tools", "python")
NOTEBOOK = os.path.join(SOURCE, "examples", "notebooks", "founding_study.ipynb")
PYTHON = "/usr/bin/python3"
sys.path.insert(0, PYTHON_DIR)
import laminar  # noqa: E402

EXPERIMENT = {
    "experiment": "from-python",
    "models": [{"id": "m", "path": "model"}],
    "stimuli": {"template": "The next word is {word}", "categories": {"space": ["galaxy", "comet", "moon"],
                                                                     "fruit": ["pear", "grape", "apple"]}},
    "extract": [{"extractor": "attention", "sites": ["q", "k"], "layers": [1]}],
    "analyze": [{"metric": "selectivity", "permutations": 100}, {"metric": "rsa", "pairs": [["q", "k"]],
                                                                  "permutations": 100, "bootstrap": 0}],
    "output": "dict.h5",
}


class FromPython(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-python-")
        subprocess.run([PYTHON, MAKE_MODEL, os.path.join(cls.dir, "model"), "--layers", "2", "--heads", "2",
                        "--width", "32", "--seed", "3"], check=True, capture_output=True)
        cls.cwd = os.getcwd()
        os.chdir(cls.dir)  # a dict's relative paths are the working directory's

    @classmethod
    def tearDownClass(cls):
        os.chdir(cls.cwd)
        shutil.rmtree(cls.dir)

    def test_a_dict_a_text_and_a_file_run_and_return_the_run_file(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            run = laminar.run(EXPERIMENT)
        self.assertIsInstance(run, laminar.RunFile)
        self.assertEqual(run.path, os.path.join(self.dir, "dict.h5"))
        self.assertIn("analyze: rsa: done", err.getvalue())  # progress, as it happened
        self.assertEqual([f for f in os.listdir(self.dir) if f.startswith(".laminar-experiment")], [])
        # The same experiment as a file, through the command line: the same numbers.
        import yaml
        with open("file.yaml", "w") as f:
            yaml.safe_dump(dict(EXPERIMENT, output="file.h5"), f, sort_keys=False)  # (category order is the design's)
        r = subprocess.run([BIN, "run", "file.yaml", "--quiet"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File("file.h5", "r") as f:
            cli = f["results/rsa/m/blocks.1.attn.hook_q~blocks.1.attn.hook_k"].attrs["r"]
        self.assertEqual(run.table("rsa")["r"].iloc[0], cli)
        # A YAML text, quiet: no progress at all; options as on the command line.
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            text_run = laminar.run(yaml.safe_dump(EXPERIMENT), out="text.h5", quiet=True, force=True)
        self.assertEqual(err.getvalue(), "")
        self.assertEqual(text_run.path, os.path.join(self.dir, "text.h5"))
        self.assertEqual(laminar.run("file.yaml", stage="analyze", quiet=True).table("rsa")["r"].iloc[0], cli)

    def test_refusals_are_experiment_errors_with_where_and_what(self):
        bad = dict(EXPERIMENT, stimuli=dict(EXPERIMENT["stimuli"], position="middle"))
        with self.assertRaises(laminar.ExperimentError) as caught:
            laminar.run(bad, quiet=True)
        e = caught.exception
        self.assertEqual((e.file, e.field), ("<experiment>", "stimuli.position"))
        self.assertEqual(e.message, 'expected one of: last, word_last, word_first, word_mean (found "middle")')
        self.assertGreater(e.line, 0)
        self.assertIn("<experiment>:", str(e))
        with open("bad.yaml", "w") as f:
            import yaml
            yaml.safe_dump(bad, f, sort_keys=False)
        with self.assertRaises(laminar.ExperimentError) as caught:
            laminar.validate("bad.yaml")
        self.assertEqual(caught.exception.file, "bad.yaml")
        self.assertEqual(len(caught.exception.problems), 1)
        self.assertEqual(laminar.validate(EXPERIMENT), [])
        with self.assertRaises(laminar.ExperimentError) as caught:  # a file that is not there is not YAML text
            laminar.run("experiments/nosuch", quiet=True)
        self.assertEqual((caught.exception.file, caught.exception.message), ("experiments/nosuch", "no such experiment file"))
        # output: ${VAR} as the command line expands it (and $VAR not at all, as there).
        os.environ["LAMINAR_TEST_OUT"] = "expanded"
        try:
            run = laminar.run(dict(EXPERIMENT, output="${LAMINAR_TEST_OUT}.h5"), quiet=True)
        finally:
            del os.environ["LAMINAR_TEST_OUT"]
        self.assertEqual(run.path, os.path.join(self.dir, "expanded.h5"))
        with self.assertRaises(laminar.ExperimentError) as caught:  # an option the command line refuses
            laminar.run(EXPERIMENT, stage="plot", quiet=True)
        self.assertIn("--stage must be extract, analyze or report", str(caught.exception))

    def test_failures_are_run_errors_and_keep_the_results(self):
        os.environ["LAMINAR_PYTHON"] = "/bin/false"  # the report's Python fails: exit 1, results complete
        try:
            with self.assertRaises(laminar.RunError) as caught:
                laminar.run(EXPERIMENT, out="failing.h5", quiet=True)
        finally:
            del os.environ["LAMINAR_PYTHON"]
        self.assertIn("the results in the run file are complete", str(caught.exception))
        with laminar.open("failing.h5") as run:
            self.assertEqual(len(run.table("selectivity")), 2)
        self.assertNotIsInstance(caught.exception, subprocess.CalledProcessError)

    def test_a_run_displays_itself_and_gives_its_figures(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", laminar.LaminarWarning)
            run = laminar.run(EXPERIMENT, out="display.h5", quiet=True)
        page = run._repr_html_()
        self.assertIn("<h3>from-python</h3>", page)
        for name in ("selectivity", "rsa"):
            self.assertIn(laminar.finding(run, name).replace("<", "&lt;"), page)
        fig = run.figure("selectivity")
        ys = sorted(y for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")
                    for y in line.get_ydata())
        self.assertEqual(ys, sorted(run.table("selectivity")["index"]))
        with self.assertRaisesRegex(KeyError, "its figures: rsa-profile, "):
            run.figure("rsa", "nothing")

    def test_the_version_is_the_command_lines(self):
        r = subprocess.run([BIN, "--version"], capture_output=True, text=True)
        self.assertEqual(r.stdout.split()[1], laminar.__version__)

    def test_pip_installs_it_and_finds_the_command_on_path(self):
        source = os.path.join(self.dir, "python-source")
        shutil.copytree(PYTHON_DIR, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        target = os.path.join(self.dir, "site")
        r = subprocess.run([PYTHON, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                            "--target", target, source], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(any(n.startswith(f"laminar-{laminar.__version__}") for n in os.listdir(target)), os.listdir(target))
        env = {k: v for k, v in os.environ.items() if k != "LAMINAR_BIN"}
        env.update(PYTHONPATH=target, PATH=os.path.dirname(BIN) + os.pathsep + env.get("PATH", ""))
        r = subprocess.run([PYTHON, "-c", "import laminar, json; run = laminar.run(json.loads(input()), out='pip.h5', "
                            "quiet=True); print(laminar.__file__, laminar.runner.executable(), len(run.table('rsa')))"],
                           input=__import__("json").dumps(EXPERIMENT), capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        module, found, rows = r.stdout.split()
        self.assertTrue(module.startswith(target))
        self.assertEqual(os.path.realpath(found), os.path.realpath(BIN))
        self.assertEqual(rows, "1")


class Notebook(unittest.TestCase):
    def test_the_founding_study_notebook_runs_cell_by_cell(self):
        import nbformat
        from nbclient import NotebookClient
        tmp = tempfile.mkdtemp(prefix="laminar-notebook-")
        try:
            model = os.path.join(tmp, "demo-gpt2")  # the demo model's shape, random weights
            subprocess.run([PYTHON, MAKE_MODEL, model, "--layers", "4", "--heads", "4", "--width", "128",
                            "--positions", "64", "--seed", "5"], check=True, capture_output=True)
            os.environ.update(LAMINAR_DEMO_MODEL=model, LAMINAR_NOTEBOOK_OUT=os.path.join(tmp, "founding.h5"),
                              PYDEVD_DISABLE_FILE_VALIDATION="1")  # (ipykernel's debugger note on stderr)
            notebook = nbformat.read(NOTEBOOK, as_version=4)
            client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                                    resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
            client.execute()  # a cell that fails raises CellExecutionError
            outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
            self.assertFalse([o for o in outputs if o.output_type == "error"])
            texts = "\n".join(str(o.get("data", {}).get("text/html", "")) + str(o.get("data", {}).get("text/plain", ""))
                              + str(o.get("text", "")) for o in outputs)
            self.assertIn("analyze: rsa: done", texts)          # the progress line of each step, as it ended
            self.assertIn("<h3>demo</h3>", texts)               # the run, displayed
            self.assertEqual(sum("image/png" in o.get("data", {}) for o in outputs), 2)  # the two figures
            self.assertRegex(texts, r"of the words have their nearest Q neighbour in their own category \(chance 0\.\d\d\)")
            self.assertTrue(os.path.exists(os.path.join(tmp, "founding.h5")))
        finally:
            for name in ("LAMINAR_DEMO_MODEL", "LAMINAR_NOTEBOOK_OUT"):
                os.environ.pop(name, None)
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main()
