"""The README is a front page and the manual is docs/ (issue 24, item 2): every YAML block of
README.md and docs/*.md validates (a whole experiment as it is, a fragment over a small base
experiment), the README's minimal experiment also runs, the README's plugin is
examples/metric_row_norm to the byte (which the test installed_sdk builds out of tree against an
installed laminar), every relative link resolves, and the README stays under 200 lines."""
import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import yaml

BIN = os.environ["LAMINAR_BIN"]
SOURCE = os.environ["LAMINAR_SOURCE"]
README = os.path.join(SOURCE, "README.md")
PAGES = [README] + sorted(glob.glob(os.path.join(SOURCE, "docs", "*.md")))
MODEL = "build/models/demo-gpt2-wordnet"  # where the README's minimal experiment looks (here a random model, 12 blocks deep for the fragments)

# What a fragment is merged over: one model, four words, every attention and residual site
# recorded, so that any analysis a page shows has its spaces.
BASE = {
    "experiment": "fragment",
    "models": [{"id": "m", "backend": "gpt2", "path": MODEL}],
    "stimuli": {"template": "The next word is {word}", "categories": {"space": ["galaxy", "comet"], "fruit": ["pear", "apple"]}},
    "extract": [{"extractor": "attention", "sites": ["q", "k", "v"], "layers": "all"},
                {"extractor": "residual", "sites": ["resid_pre", "resid_mid", "resid_post"], "layers": "all"}],
    "analyze": [{"metric": "cosine", "sites": ["q"]}],
    "output": "fragment.h5",
}


def blocks(path, language):
    """(line, text, marked invalid) of every ```language block of a page (language "": bare
    fences), read fence by fence so that a closing fence is never taken for an opening one."""
    lines = open(path, encoding="utf-8").read().split("\n")
    out, i = [], 0
    while i < len(lines):
        if lines[i].startswith("```"):
            tag, start = lines[i][3:].strip(), i + 1
            i = start
            while not lines[i].startswith("```"):
                i += 1
            if tag == language:
                before = [l.strip() for l in lines[:start - 1] if l.strip()]
                invalid = bool(before) and before[-1] == "<!-- invalid -->"
                out.append((start + 1, "\n".join(lines[start:i]) + "\n", invalid))
        i += 1
    return out


class Docs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-docs-")
        subprocess.run(["/usr/bin/python3", os.path.join(SOURCE, "tools", "make_model.py"), os.path.join(cls.dir, MODEL),
                        "--layers", "12", "--heads", "4", "--width", "64", "--seed", "2"], check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def validate(self, name, document):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(document)
        return subprocess.run([BIN, "validate", path], capture_output=True, text=True)

    def test_every_yaml_block_validates(self):
        count = 0
        for page in PAGES:
            for line, text, invalid in blocks(page, "yaml"):
                where = f"{os.path.relpath(page, SOURCE)}:{line}"
                with self.subTest(block=where):
                    spec = yaml.safe_load(text)
                    self.assertIsInstance(spec, dict, where)
                    document = text if "experiment" in spec else yaml.safe_dump({**BASE, **spec}, sort_keys=False)
                    r = self.validate(f"block-{count}.yaml", document)
                    if invalid:
                        self.assertEqual(r.returncode, 2, f"{where}: marked invalid, but validates")
                    else:
                        self.assertEqual(r.returncode, 0, f"{where}: {r.stdout}{r.stderr}")
                count += 1
        self.assertGreaterEqual(count, 3)  # the README's experiment and the manual's fragments at least

    def test_the_readmes_minimal_experiment_runs(self):
        (line, text, _), = [b for b in blocks(README, "yaml") if "experiment:" in b[1]]
        path = os.path.join(self.dir, "my.yaml")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([BIN, "run", path], capture_output=True, text=True, cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"rsa/demo-gpt2/blocks\.3\.attn\.hook_q~blocks\.3\.attn\.hook_k +r=")
        self.assertTrue(os.path.exists(os.path.join(self.dir, "runs", "minimal.h5")))
        # The output shown is the output of this file (on the trained model: the same lines and names).
        shown = [b for b in blocks(README, "") if "/runs/minimal.h5\n" in b[1]]
        self.assertEqual(len(shown), 1, "the README shows the minimal experiment's output")
        names = lambda out: [l.split()[0] for l in out.splitlines() if l.startswith("  ")]
        self.assertEqual(names(shown[0][1]), names(r.stdout))

    def test_the_readmes_plugin_is_the_example_to_the_byte(self):
        example = os.path.join(SOURCE, "examples", "metric_row_norm")
        (_, cpp, _), = blocks(README, "cpp")
        (_, cmake, _), = blocks(README, "cmake")
        self.assertEqual(cpp, open(os.path.join(example, "row_norm.cpp")).read())
        self.assertEqual(cmake, open(os.path.join(example, "CMakeLists.txt")).read())

    def test_every_relative_link_resolves(self):
        for page in PAGES:
            for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", open(page, encoding="utf-8").read()):
                if "://" in target:
                    continue
                with self.subTest(page=os.path.relpath(page, SOURCE), link=target):
                    self.assertTrue(os.path.exists(os.path.join(os.path.dirname(page), target)))

    def test_the_readme_is_a_front_page(self):
        lines = open(README, encoding="utf-8").read().splitlines()
        self.assertLessEqual(len(lines), 200)
        for page in PAGES[1:]:  # and maps every page of the manual
            self.assertIn(f"(docs/{os.path.basename(page)})", "\n".join(lines))


if __name__ == "__main__":
    unittest.main()
