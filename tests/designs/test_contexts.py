"""Words in many contexts (issue 10, item 1): `stimuli.templates`, `stimuli.file` (CSV/TSV) and
`contexts: mean | keep`. The reference for every activation row is a second run of the same
prompt on its own (a one-template experiment): rows must be identical, and means equal numpy's
mean of the kept rows."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON = "/usr/bin/python3"
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "python"))
import laminar  # noqa: E402

TEMPLATES = ["The next word is {word}", "In the story there was a {word}", "She thought about the {word} all day"]
CATEGORIES = {"space": ["galaxy", "comet", "moon"], "fruit": ["pear", "grape", "apple"], "interior": ["sofa", "lamp"]}


def experiment(model, stimuli, out):
    return f"""experiment: contexts
models:
  - id: m
    backend: gpt2
    path: {model}
stimuli:
{stimuli}
extract:
  - extractor: attention
    sites: [q]
    layers: [1]
  - extractor: residual
    layers: [0]
output: {out}
"""


def categories_yaml():
    return "  categories:\n" + "".join(f"    {c}: [{', '.join(w)}]\n" for c, w in CATEGORIES.items())


class Contexts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-contexts-")
        cls.model = os.path.join(cls.dir, "model")
        subprocess.run([PYTHON, MAKE_MODEL, cls.model, "--layers", "2", "--heads", "2", "--width", "32", "--seed", "4"],
                       check=True, capture_output=True)
        # The reference: each template alone, one prompt per word.
        cls.alone = [cls.run_stimuli(f'  template: "{t}"\n' + categories_yaml(), f"alone{i}") for i, t in enumerate(TEMPLATES)]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    @classmethod
    def run_stimuli(cls, stimuli, name, code=0):
        path = os.path.join(cls.dir, name + ".yaml")
        with open(path, "w") as f:
            f.write(experiment(cls.model, stimuli, name + ".h5"))
        r = subprocess.run([BIN, "run", path, "--quiet"], capture_output=True, text=True)
        if code is not None:
            assert r.returncode == code, r.stderr
        return laminar.open(os.path.join(cls.dir, name + ".h5")) if r.returncode == 0 else r

    def templates_yaml(self, contexts):
        return "  templates:\n" + "".join(f'    - "{t}"\n' for t in TEMPLATES) + f"  contexts: {contexts}\n" + categories_yaml()

    def test_kept_contexts_are_the_prompts_run_alone_row_for_row(self):
        run = self.run_stimuli(self.templates_yaml("keep"), "keep")
        stimuli = run.stimuli()
        words = [w for ws in CATEGORIES.values() for w in ws]
        self.assertEqual(len(stimuli), len(words) * len(TEMPLATES))
        self.assertEqual(list(stimuli["word"]), [w for w in words for _ in TEMPLATES])
        self.assertEqual(list(stimuli["context"]), list(range(len(TEMPLATES))) * len(words))
        self.assertEqual(stimuli["text"].iloc[4], TEMPLATES[1].format(word="comet"))
        for hook in ["blocks.1.attn.hook_q", "blocks.0.hook_resid_post"]:
            kept = run.activations("m", hook).values
            for c, alone in enumerate(self.alone):
                np.testing.assert_array_equal(kept[c::len(TEMPLATES)], alone.activations("m", hook).values)

    def test_the_mean_over_contexts_is_numpys_mean_of_the_kept_rows(self):
        run = self.run_stimuli(self.templates_yaml("mean"), "mean")
        stimuli, prompts = run.stimuli(), run.prompts()
        words = [w for ws in CATEGORIES.values() for w in ws]
        self.assertEqual(list(stimuli["word"]), words)
        self.assertEqual(list(stimuli["n_contexts"]), [len(TEMPLATES)] * len(words))
        self.assertEqual(len(prompts), len(words) * len(TEMPLATES))
        self.assertEqual(list(prompts["stimulus"]), [i for i in range(len(words)) for _ in TEMPLATES])
        self.assertEqual(prompts["text"].iloc[5], TEMPLATES[2].format(word="comet"))
        for hook in ["blocks.1.attn.hook_q", "blocks.0.hook_resid_post"]:
            reference = np.mean([a.activations("m", hook).values.astype(np.float64) for a in self.alone], axis=0)
            np.testing.assert_allclose(run.activations("m", hook).values, reference, rtol=0, atol=1e-6)
        with h5py.File(os.path.join(self.dir, "mean.h5")) as f:
            self.assertEqual(f["stimuli"].attrs["contexts"], "mean")

    def test_a_stimuli_file_gives_the_same_rows_as_the_templates(self):
        # CSV: the word marked as {word}, or found at its first occurrence; quotes and commas inside.
        lines = ["category,word,text,source"]
        for category, ws in CATEGORIES.items():
            for w in ws:
                for i, t in enumerate(TEMPLATES):
                    text = t.format(word=w) if i % 2 else t
                    lines.append(f'{category},{w},"{text}",x{i}')
        with open(os.path.join(self.dir, "sentences.csv"), "w") as f:
            f.write("\n".join(lines) + "\n")
        run = self.run_stimuli("  file: sentences.csv\n  contexts: keep\n", "from_csv")
        keep = self.run_stimuli(self.templates_yaml("keep"), "keep_again")
        self.assertEqual(list(run.stimuli()["text"]), list(keep.stimuli()["text"]))
        np.testing.assert_array_equal(run.activations("m", "blocks.1.attn.hook_q").values,
                                      keep.activations("m", "blocks.1.attn.hook_q").values)
        self.assertEqual(run.categories(), list(CATEGORIES))
        # TSV, a different number of contexts per word, mean by default.
        with open(os.path.join(self.dir, "sentences.tsv"), "w") as f:
            f.write('word\tcategory\ttext\nmoon\tspace\tThe moon rose\nmoon\tspace\t"A ""full"" {word} tonight"\n'
                    "pear\tfruit\tA ripe pear fell\n")
        run = self.run_stimuli("  file: sentences.tsv\n", "from_tsv")
        self.assertEqual(list(run.stimuli()["n_contexts"]), [2, 1])
        self.assertEqual(list(run.prompts()["text"]), ["The moon rose", 'A "full" moon tonight', "A ripe pear fell"])

    def test_bad_stimuli_files_name_the_file_line_and_column(self):
        cases = [
            ("word,category\nmoon,space\n", "bad1.csv:1: no column 'text' in the header"),
            ("word,category,text\nmoon,space,The moon\npear,fruit,An apple fell\n",
             "bad2.csv:3: column text: neither {word} nor the word 'pear' appears in \"An apple fell\""),
            ("word,category,text\nmoon,space,The moon\nmoon,fruit,A {word}\n",
             "bad3.csv:3: column category: 'moon' is in category 'fruit' here but in 'space' on line 2"),
            ('word,category,text\nmoon,space,"The moon\n', "bad4.csv:2: "),
            ("word,category,text\nmoon,space,The moon,extra\n", "bad5.csv:2: 4 fields; the header has 3"),
        ]
        for i, (content, message) in enumerate(cases, 1):
            with open(os.path.join(self.dir, f"bad{i}.csv"), "w") as f:
                f.write(content)
            r = self.run_stimuli(f"  file: bad{i}.csv\n", f"bad{i}", code=None)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(message, r.stderr)
        r = self.run_stimuli("  file: missing.csv\n", "bad_missing", code=None)
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.csv: cannot open (No such file or directory)", r.stderr)
        r = self.run_stimuli('  template: "A {word}"\n  templates: ["B {word}"]\n' + categories_yaml(), "both", code=None)
        self.assertEqual(r.returncode, 2)
        self.assertIn("contexts.yaml:", r.stderr.replace("both.yaml", "contexts.yaml"))
        self.assertIn("stimuli: give one of template, templates and file, not several", r.stderr)
        r = self.run_stimuli('  templates: ["A {word}", "A {word}"]\n' + categories_yaml(), "twice", code=None)
        self.assertIn("stimuli.templates[1]: the same context as templates[0]", r.stderr)

    def test_editing_the_stimuli_file_invalidates_the_extraction(self):
        path = os.path.join(self.dir, "edit.csv")
        with open(path, "w") as f:
            f.write("word,category,text\nmoon,space,The moon\npear,fruit,A pear\n")
        self.run_stimuli("  file: edit.csv\n", "edit")
        with open(path, "w") as f:
            f.write("word,category,text\nmoon,space,The moon\npear,fruit,A green pear\n")
        r = subprocess.run([BIN, "run", os.path.join(self.dir, "edit.yaml")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("extract: m: 2 prompts", r.stdout)
        self.assertEqual(list(laminar.open(os.path.join(self.dir, "edit.h5")).stimuli()["text"]), ["The moon", "A green pear"])


if __name__ == "__main__":
    unittest.main()
