"""Hostile and careless input (issue 8): one test class per kind of defect found, each asserting
the exit code and the error text. Exit codes as the README's table: 0 ok, 1 runtime failure,
2 usage or experiment-file error; never a signal (a negative return code here)."""
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON = "/usr/bin/python3"

EXPERIMENT = """experiment: hostile
models:
  - id: m
    backend: gpt2
    path: {model}
stimuli:
  template: "The next word is {{word}}"
  position: last
  categories:
    space: [galaxy, comet, moon, star]
    fruit: [pear, grape, apple, lime]
    interior: [sofa, lamp, rug{extra}]
extract:
  - extractor: attention
    sites: [q, k]
    layers: {layers}
analyze:
  - metric: cosine
  - metric: selectivity
    permutations: 50
  - metric: rsa
    pairs: [[q, k]]
    permutations: 50
output: run.h5
"""


def run(*args, **kwargs):
    return subprocess.run([BIN, *args], capture_output=True, text=True, **kwargs)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Case(unittest.TestCase):
    """A scratch folder with a small random GPT-2 made once per class."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-bad-")
        cls.model = os.path.join(cls.dir, "model")
        subprocess.run([PYTHON, MAKE_MODEL, cls.model, "--layers", "2", "--heads", "2", "--width", "32", "--seed", "4"],
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def experiment(self, name="exp.yaml", layers="[1]", extra=""):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(EXPERIMENT.format(model=self.model, layers=layers, extra=extra))
        return path

    def variant(self, name, *edits, data=None):
        """The hostile experiment with edits: each (old, new) replaces text that must be there;
        `data` turns the text into the file's bytes (default: UTF-8)."""
        with open(self.experiment()) as f:
            text = f.read()
        for old, new in edits:
            self.assertIn(old, text)
            text = text.replace(old, new)
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data(text) if data else text.encode())
        return path

    def assertFails(self, result, code, *texts):
        self.assertEqual(result.returncode, code, result.stderr + result.stdout)
        for text in texts:
            self.assertIn(text, result.stderr)


class DataLoss(Case):
    def test_an_hdf5_file_another_tool_wrote_is_never_changed(self):
        foreign = os.path.join(self.dir, "theirs.h5")
        with h5py.File(foreign, "w") as f:
            f["stimuli"] = np.arange(5)
            f["results"] = np.ones(3)
        before = digest(foreign)
        r = run("run", self.experiment(), "--out", foreign)
        self.assertFails(r, 2, "not a laminar run file", "refusing to change a file laminar did not write")
        self.assertEqual(digest(foreign), before)
        self.assertFalse(os.path.exists(foreign + ".lock"))
        self.assertFalse(os.path.exists(foreign + ".partial"))


    def test_a_run_file_of_laminar_0_1_is_replaced_and_sealed(self):
        legacy = os.path.join(self.dir, "legacy.h5")
        with h5py.File(legacy, "w") as f:  # what laminar 0.1 wrote: no seal, its version at the root
            f.attrs["laminar_version"] = "0.1.0"
            f["stimuli/text"] = np.array([b"old"])
        r = run("run", self.experiment(), "--out", legacy)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(legacy, "rb") as f:
            self.assertTrue(f.read(17).startswith(b"LAMINAR RUN FILE"))


class StaleResults(Case):
    def test_analyze_refuses_activations_of_another_version_of_the_experiment(self):
        exp, out = self.experiment(), os.path.join(self.dir, "stale.h5")
        self.assertEqual(run("run", exp, "--out", out).returncode, 0)
        before = digest(out)
        edited = self.experiment("edited.yaml", extra=", pear2")
        for extra in [[], ["--force"]]:
            r = run("run", edited, "--out", out, "--stage", "analyze", *extra)
            self.assertFails(r, 2, "differ from those", "to extract again first")
            self.assertEqual(digest(out), before)
        self.assertEqual(run("run", edited, "--out", out).returncode, 0)  # all stages: extracts again
        with h5py.File(out, "r") as f:
            self.assertIn(b"pear2", list(f["stimuli/word"][:]))


class Crashes(Case):
    def test_flipped_bytes_give_a_clear_error_or_the_right_answer_never_a_signal(self):
        exp, good = self.experiment(), os.path.join(self.dir, "good.h5")
        self.assertEqual(run("run", exp, "--out", good).returncode, 0)
        reference = run("inspect", good, "--all").stdout
        data = open(good, "rb").read()
        rng = random.Random(8)
        bad = os.path.join(self.dir, "flipped.h5")
        outcomes = {}
        for place in sorted(rng.sample(range(len(data)), 50)):
            flipped = bytearray(data)
            flipped[place] ^= 1 << rng.randrange(8)
            for command in (["inspect", bad, "--all"], ["run", exp, "--out", bad, "--stage", "analyze", "--force"],
                            ["run", exp, "--out", bad, "--stage", "report"]):
                with open(bad, "wb") as f:
                    f.write(flipped)
                r = run(*command)
                self.assertGreaterEqual(r.returncode, 0, f"byte {place}: {command[0]} died of signal {-r.returncode}")
                if r.returncode == 0 and command[0] == "inspect":
                    self.assertEqual(r.stdout.replace(bad, good), reference, f"byte {place}: a wrong answer")
                elif r.returncode != 0:
                    self.assertTrue("corrupted" in r.stderr or "not a laminar run file" in r.stderr, r.stderr)
                outcomes[r.returncode] = outcomes.get(r.returncode, 0) + 1
        print(f"outcomes of 150 commands on 50 flipped bytes (exit code: count): {outcomes}")

    def test_a_full_disk_says_so_and_keeps_the_previous_run_file(self):
        exp, out = self.experiment(), os.path.join(self.dir, "small", "run.h5")
        os.makedirs(os.path.dirname(out))
        folder = os.path.dirname(out)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", folder], capture_output=True).returncode == 0
        try:
            first = run("run", exp, "--out", out, "--stage", "extract")
            self.assertEqual(first.returncode, 0, first.stderr)
            before, half = digest(out), os.path.getsize(out) // 2
            if mounted:  # a filesystem that fills up (ENOSPC): leave room for half the run file
                with open(os.path.join(folder, "filler"), "wb") as f:
                    f.write(bytes(os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize - half))
                r = run("run", exp, "--out", out, "--force")
                os.remove(os.path.join(folder, "filler"))
                expected = "No space left on device"
            else:  # no mount allowed: a file-size limit (EFBIG), with SIGXFSZ ignored as laminar does
                r = subprocess.run(["bash", "-c", f"trap '' XFSZ; ulimit -f {half // 1024}; exec {BIN} run {exp} --out {out} --force"],
                                   capture_output=True, text=True)
                expected = "File too large"
            self.assertFails(r, 1, expected)
            self.assertEqual(digest(out), before)
            self.assertEqual(sorted(os.listdir(os.path.dirname(out))), ["run.h5"])  # no .partial, no .lock
        finally:
            if mounted:
                subprocess.run(["umount", os.path.dirname(out)], check=True)


# Each metric that runs loops on all cores, as the second analysis of an experiment (after cosine).
PARALLEL_METRICS = {
    "rsa": "  - metric: rsa\n    pairs: [[q, k]]\n    permutations: 20\n    bootstrap: 20\n",
    "rsa_tau": "  - metric: rsa\n    pairs: [[q, k]]\n    method: tau-a\n    permutations: 20\n    bootstrap: 0\n",
    "cka": "  - metric: cka\n    pairs: [[q, k]]\n    permutations: 0\n    bootstrap: 20\n",
    "cka_permutations": "  - metric: cka\n    pairs: [[q, k]]\n    permutations: 20\n    bootstrap: 0\n",
    "mutual_information": "  - metric: mutual_information\n    pairs: [[q, k]]\n    permutations: 20\n",
    "mi_label": "  - metric: mutual_information\n    sites: [q]\n    estimators: [binned]\n",
    "mi_ksg": "  - metric: mutual_information\n    pairs: [[q, k]]\n    estimators: [ksg]\n    permutations: 0\n",
    "effective_dimensionality": "  - metric: effective_dimensionality\n    shuffles: 5\n",
}


class Aborts(Case):
    """No analysis can abort the process (issue 21): an error inside a metric's loops on all cores
    used to leave OpenMP's region, which calls std::terminate (SIGABRT, .lock and .partial left)."""

    def analyses(self, name, entries):
        path = self.experiment(name)
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text[:text.index("analyze:")] + "analyze:\n" + entries + "output: run.h5\n")
        return path

    def test_a_failure_inside_every_metrics_parallel_loops_is_exit_1_and_keeps_the_run_file(self):
        fail = dict(os.environ, LAMINAR_TEST_FAIL_IN_PARALLEL="1")  # parallel.hpp's fault injection
        extracted = os.path.join(self.dir, "parallel", "extracted.h5")  # one extraction for all of them
        self.assertEqual(run("run", self.experiment(), "--out", extracted, "--stage", "extract").returncode, 0)
        for analysis, entry in PARALLEL_METRICS.items():
            with self.subTest(analysis):
                metric = entry.split("metric: ")[1].split()[0]
                first, rest = entry.split("\n", 1)
                exp = self.analyses(f"{analysis}.yaml", f"  - metric: cosine\n{first}\n    name: {analysis}\n{rest}")
                out = os.path.join(self.dir, "parallel", f"{analysis}.h5")
                shutil.copy(extracted, out)
                self.assertEqual(run("run", exp, "--out", out, "--stage", "analyze").returncode, 0)
                before = run("inspect", out, "--table", analysis, "--format", "csv").stdout
                r = run("run", exp, "--out", out, "--stage", "analyze", "--force", env=fail)
                self.assertFails(r, 1, f"error: analyze {analysis} (metric {metric}): a fault injected in a parallel loop "
                                       "(iteration 0, LAMINAR_TEST_FAIL_IN_PARALLEL is set)")
                self.assertIn("analyze: cosine: done", r.stdout)  # the analysis before it was committed
                after = run("inspect", out, "--table", analysis, "--format", "csv")
                self.assertEqual(after.returncode, 0, after.stderr)  # sealed and readable
                self.assertEqual(after.stdout, before)  # the failed analysis's earlier results, intact
                self.assertEqual(sorted(f for f in os.listdir(os.path.dirname(out)) if f.startswith(analysis + ".")),
                                 [analysis + ".h5"])  # no .lock, no .partial

    def test_rsa_with_spearman_and_bootstrap_on_categories_of_three_and_four_words(self):
        # The report: a resample of a category drew one word, and spearman of no pairs threw
        # "mean(): object has no elements" inside the OpenMP loop (SIGABRT, .lock and .partial left).
        exp = self.analyses("spearman.yaml", "  - metric: rsa\n    pairs: [[q, k]]\n    method: spearman\n"
                                             "    permutations: 50\n    bootstrap: 200\n")
        out = os.path.join(self.dir, "spearman", "run.h5")
        r = run("run", exp, "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(os.listdir(os.path.dirname(out))), ["run", "run.h5"])  # the report's folder; no .lock
        with h5py.File(out, "r") as f:
            for category, words in (("space", 4), ("fruit", 4), ("interior", 3)):
                # Under 10 words no within-category interval is given (issue 23), and a warning says why.
                g = f[f"results/rsa/m/blocks.1.attn.hook_q~blocks.1.attn.hook_k/categories/{category}"]
                self.assertNotIn("ci_low", g.attrs)
                self.assertIn(f"categories/{category}: no bootstrap interval: {words} words, fewer than 10", r.stdout)
            # The whole design's 11 words are resampled (spearman, drawing a word many times: no crash)
            g = f["results/rsa/m/blocks.1.attn.hook_q~blocks.1.attn.hook_k"]
            self.assertLessEqual(g.attrs["ci_low"], g.attrs["ci_high"])
            self.assertLessEqual(g.attrs["n_bootstrap_used"], 200)


def write_safetensors(path, tensors, header_extra=None, raw_header=None):
    """tensors: name -> (dtype, shape, begin, end); data is zeros up to the largest end."""
    header = {name: {"dtype": d, "shape": s, "data_offsets": [b, e]} for name, (d, s, b, e) in tensors.items()}
    text = raw_header if raw_header is not None else json.dumps(header)
    size = max(e for _, _, _, e in tensors.values())
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text.encode() + bytes(size))


class Safetensors(Case):
    def folder(self, name):
        path = os.path.join(self.dir, name)
        shutil.copytree(self.model, path)
        return path

    def test_gaps_overlaps_and_duplicate_names_are_refused(self):
        cases = {
            "gap": ({"a": ("F32", [2], 0, 8), "b": ("F32", [2], 12, 20)}, None, "leaves a gap at byte 8"),
            "overlap": ({"a": ("F32", [2], 0, 8), "b": ("F32", [2], 4, 12)}, None, "overlaps at byte 4"),
            "no dtype (found by fuzzing)": ({"a": ("F32", [2], 0, 8)},
                                            '{"a": {"d$ype": "F32", "shape": [2], "data_offsets": [0, 8]}}',
                                            'tensor "a": expected {"dtype": string'),
            "duplicate": ({"a": ("F32", [2], 0, 8)},
                          '{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, '
                          '"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', 'names tensor "a" twice'),
        }
        for name, (tensors, raw, expected) in cases.items():
            with self.subTest(name):
                folder = self.folder("st-" + name)
                write_safetensors(os.path.join(folder, "model.safetensors"), tensors, raw_header=raw)
                self.assertFails(run("hooks", "--model", folder), 1, "model.safetensors", expected)

    def test_shards_outside_the_model_folder_are_refused(self):
        for shard in ["../model/model.safetensors", "/etc/passwd"]:
            with self.subTest(shard):
                folder = self.folder("shard-" + str(abs(hash(shard))))
                os.remove(os.path.join(folder, "model.safetensors"))
                with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
                    json.dump({"weight_map": {"wte.weight": shard}}, f)
                self.assertFails(run("hooks", "--model", folder), 1, "is not a file name in the model folder")


class Tokenizer(Case):
    def test_merges_that_cannot_make_the_vocabulary_are_refused(self):
        folder = os.path.join(self.dir, "no-merges")
        shutil.copytree(self.model, folder)
        for name in ["tokenizer.json"]:
            if os.path.exists(os.path.join(folder, name)):
                os.remove(os.path.join(folder, name))
        with open(os.path.join(folder, "merges.txt"), "w") as f:
            f.write("#version: 0.2\n")
        self.assertFails(run("tokenize", "--model", folder, "hello"), 1, "merges.txt",
                         "no merge makes them (0 merges", "the merges are missing or cut short")

    def test_ids_far_beyond_the_vocabulary_are_refused(self):
        # Found by fuzzing: one stray id sized a table by it (17 GB).
        folder = os.path.join(self.dir, "huge-id")
        shutil.copytree(self.model, folder)
        with open(os.path.join(folder, "vocab.json")) as f:
            vocab = json.load(f)
        vocab["hello"] = 551615004
        with open(os.path.join(folder, "vocab.json"), "w") as f:
            json.dump(vocab, f)
        self.assertFails(run("tokenize", "--model", folder, "hello"), 1, 'token "hello" has id 551615004, far beyond')

    def test_duplicate_ids_are_refused(self):
        folder = os.path.join(self.dir, "dup-ids")
        shutil.copytree(self.model, folder)
        with open(os.path.join(folder, "vocab.json")) as f:
            vocab = json.load(f)
        vocab["hello-again"] = vocab["hello"]
        with open(os.path.join(folder, "vocab.json"), "w") as f:
            json.dump(vocab, f)
        self.assertFails(run("tokenize", "--model", folder, "hello"), 1, "share id")

    def tokenizer_json(self, name, model=None, config=None, without_merges=False, **sections):
        """A folder with the model's config.json and a tokenizer.json: GPT-2's vocabulary and
        merges with `model` (the options of its model section) or `sections` set, and
        `config` as its tokenizer_config.json."""
        folder = os.path.join(self.dir, name)
        os.makedirs(folder)
        shutil.copy(os.path.join(self.model, "config.json"), folder)
        with open(os.path.join(self.model, "vocab.json")) as f:
            vocab = json.load(f)
        with open(os.path.join(self.model, "merges.txt")) as f:
            merges = [l for l in f.read().split("\n")[1:] if l]
        tokenizer = {"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False},
                     "model": {"vocab": vocab, **({} if without_merges else {"merges": merges}), **(model or {})},
                     **sections}
        with open(os.path.join(folder, "tokenizer.json"), "w") as f:
            json.dump(tokenizer, f)
        if config is not None:
            with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
                json.dump(config, f)
        return folder

    def test_options_at_their_defaults_are_read_as_such(self):
        """Older files (the Hub's gpt2 and roberta) have no type and write "" and null for options unset."""
        expected = json.loads(run("tokenize", "--json", "--model", self.model, "Hello world").stdout)
        self.assertEqual(expected, [15496, 995])
        for name, options in {"hub-style": {"dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                                            "end_of_word_suffix": "", "fuse_unk": False},
                              "typed-zero-dropout": {"type": "BPE", "dropout": 0.0, "continuing_subword_prefix": None,
                                                     "byte_fallback": None}}.items():
            with self.subTest(name):
                r = run("tokenize", "--json", "--model", self.tokenizer_json(name, options), "Hello world")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout), expected)

    def test_options_that_would_change_the_ids_are_refused_by_name_and_value(self):
        cases = {"prefix": ({"continuing_subword_prefix": "##"}, 'BPE option continuing_subword_prefix is "##"'),
                 "suffix": ({"type": "BPE", "end_of_word_suffix": "</w>"}, 'BPE option end_of_word_suffix is "</w>"'),
                 "dropout": ({"dropout": 0.1}, "BPE option dropout is 0.1; dropout draws other ids"),
                 "flag": ({"fuse_unk": "yes"}, 'BPE option fuse_unk is "yes"; expected true, false or null')}
        for name, (options, message) in cases.items():
            with self.subTest(name):
                folder = self.tokenizer_json("refused-" + name, options)
                self.assertFails(run("tokenize", "--model", folder, "x"), 1, os.path.join(folder, "tokenizer.json"), message)

    def test_a_model_without_type_is_recognised_or_named_with_its_keys(self):
        folder = self.tokenizer_json("word-level", {"unk_token": "<|endoftext|>"}, without_merges=True)  # WordLevel's keys
        self.assertFails(run("tokenize", "--model", folder, "x"), 1, "tokenizer.json: model has no type, and its keys "
                         "(unk_token, vocab) are neither a BPE's (vocab and merges) nor a WordPiece's")

    def test_template_ids_that_contradict_the_vocabulary_are_refused(self):
        template = {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                                                             {"Sequence": {"id": "A", "type_id": 0}}],
                    "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [50256], "tokens": ["<|endoftext|>"]}}}
        r = run("tokenize", "--json", "--model", self.tokenizer_json("template", post_processor=template), "Hello world")
        self.assertEqual((r.returncode, json.loads(r.stdout or "null")), (0, [50256, 15496, 995]), r.stderr)
        template["special_tokens"]["<|endoftext|>"]["ids"] = [0]
        self.assertFails(run("tokenize", "--model", self.tokenizer_json("template-0", post_processor=template), "x"), 1,
                         "tokenizer.json: post_processor: special_tokens gives <|endoftext|> the ids [0], "
                         "but the vocabulary gives it id 50256")

    def test_tokenizer_config_that_contradicts_the_bert_normalizer_is_refused(self):
        normalizer = {"type": "BertNormalizer", "lowercase": True, "strip_accents": None}
        agreeing = self.tokenizer_json("bert-agree", config={"do_lower_case": True, "strip_accents": None},
                                       normalizer=normalizer)
        self.assertEqual(json.loads(run("tokenize", "--json", "--model", agreeing, "HELLO").stdout),
                         json.loads(run("tokenize", "--json", "--model", self.model, "hello").stdout))
        folder = self.tokenizer_json("bert-disagree", config={"do_lower_case": False}, normalizer=normalizer)
        self.assertFails(run("tokenize", "--model", folder, "x"), 1, os.path.join(folder, "tokenizer_config.json"),
                         "do_lower_case is false, but tokenizer.json's BertNormalizer has lowercase true")


class OutputPath(Case):
    def test_a_symbolic_link_is_followed_and_stays_a_link(self):
        exp = self.experiment()
        target, link = os.path.join(self.dir, "real.h5"), os.path.join(self.dir, "link.h5")
        self.assertEqual(run("run", exp, "--out", target, "--stage", "extract").returncode, 0)
        os.symlink(target, link)
        r = run("run", exp, "--out", link)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.islink(link))
        with h5py.File(target, "r") as f:
            self.assertIn("results", f)
        self.assertFalse(os.path.exists(link + ".lock") or os.path.exists(target + ".lock"))

    def test_an_empty_output_path_is_a_usage_error(self):
        self.assertFails(run("run", self.experiment(), "--out", ""), 2, "--out expects a file path")


class Messages(Case):
    def test_layer_numbers_are_read_as_written(self):
        self.assertFails(run("run", self.experiment(layers="[99999999999]")), 2, "layer 99999999999 does not exist")
        self.assertFails(run("run", self.experiment(layers="[1, 1]")), 2, "layers[1]", "layer 1 is listed twice")

    def test_a_nul_character_in_a_word_is_refused(self):
        self.assertFails(run("validate", self.experiment(extra=', "bed\\0x"')), 2, "interior[3]", "NUL character")

    def test_an_experiment_file_that_is_not_utf8_is_refused_where_it_stops_being_so(self):
        # Found by fuzzing: invalid UTF-8 made the schema validator read out of bounds.
        path = os.path.join(self.dir, "latin1.yaml")
        with open(self.experiment()) as f:
            text = f.read()
        with open(path, "wb") as f:
            f.write(text.replace("sofa", "caf\xe9").encode("latin-1"))
        line = next(i for i, l in enumerate(text.splitlines(), 1) if "sofa" in l)
        column = text.splitlines()[line - 1].index("sofa") + 4
        self.assertFails(run("validate", path), 2, f"latin1.yaml:{line}:{column}: not valid UTF-8")

    def test_an_alias_inside_its_own_anchor_is_refused_not_a_stack_overflow(self):
        # Found by fuzzing: `&a [{id: *a}]` made the YAML converter recurse until the stack ran out.
        path = os.path.join(self.dir, "self-alias.yaml")
        with open(path, "w") as f:
            f.write("experiment: &a [{id: *a, path: /m}]\n")
        self.assertFails(run("validate", path), 2, "self-alias.yaml:1:", "experiment[0].id: an alias refers to a "
                         "collection that contains it")

    def test_config_json_says_why_it_cannot_be_read(self):
        folder = os.path.join(self.dir, "config-dir")
        shutil.copytree(self.model, folder)
        os.remove(os.path.join(folder, "config.json"))
        os.mkdir(os.path.join(folder, "config.json"))
        self.assertFails(run("hooks", "--model", folder), 2, "config.json: is a directory, expected a file")

    def test_the_first_interrupted_run_is_not_said_to_have_left_a_run_file(self):
        out = os.path.join(self.dir, "interrupted.h5")
        with open(out + ".partial", "w") as f:
            f.write("half a file")
        r = run("run", self.experiment(), "--out", out, "--stage", "extract")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no stage had completed, so there is no run file yet", r.stdout)

    def test_report_prints_integers_as_integers_and_rsa_warns_of_single_pairs(self):
        r = run("run", self.experiment(extra=""), "--out", os.path.join(self.dir, "report.h5"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"n_pairs=\d+\b(?!\.)")
        self.assertNotRegex(r.stdout, r"n_pairs=[0-9.]+e\+")
        # interior has three words (three pairs): fine; make one with two.
        two = self.experiment("two.yaml").replace("two.yaml", "two.yaml")
        with open(two) as f:
            text = f.read().replace("interior: [sofa, lamp, rug]", "interior: [sofa, lamp]")
        with open(two, "w") as f:
            f.write(text)
        r = run("run", two, "--out", os.path.join(self.dir, "two.h5"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("categories/interior: 1 within-category pair(s)", r.stdout)

    def test_nan_activations_are_named_as_such_not_as_zero_length(self):
        folder = os.path.join(self.dir, "nan-model")
        shutil.copytree(self.model, folder)
        set_tensor(os.path.join(folder, "model.safetensors"), "transformer.h.1.attn.c_attn.bias", np.nan)
        exp = self.experiment("nan.yaml").replace("nan.yaml", "nan.yaml")
        r = run("run", exp, "--model", "m=" + folder, "--out", os.path.join(self.dir, "nan.h5"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("m/blocks.1.attn.hook_q: 11 stimulus vector(s) contain NaN or infinite values", r.stdout)
        self.assertNotIn("zero length", r.stdout)

    def test_a_refused_plugin_is_named_when_the_experiment_asks_for_it(self):
        with open(self.experiment()) as f:
            text = f.read().replace("- metric: cosine", "- metric: mismatched\n  - metric: cosine")
        path = os.path.join(self.dir, "refused.yaml")
        with open(path, "w") as f:
            f.write(text)
        env = dict(os.environ, LAMINAR_PLUGIN_PATH=os.environ["LAMINAR_MISMATCHED_PLUGINS"])
        r = run("validate", path, env=env)
        self.assertFails(r, 2, "analyze[0].metric", "no metric plugin named 'mismatched'",
                         os.path.join(os.environ["LAMINAR_MISMATCHED_PLUGINS"], "laminar_metric_mismatched.so") +
                         " was refused: built against laminar plugin API version")


class Hygiene(Case):
    def test_forced_runs_do_not_grow_the_run_file(self):
        exp, out = self.experiment(), os.path.join(self.dir, "force.h5")
        self.assertEqual(run("run", exp, "--out", out).returncode, 0)
        sizes = []
        for _ in range(4):
            self.assertEqual(run("run", exp, "--out", out, "--force").returncode, 0)
            sizes.append(os.path.getsize(out))
        self.assertEqual(len(set(sizes)), 1, sizes)
        self.assertFalse(os.path.exists(out + ".lock"))

    def test_a_copied_build_uses_its_own_plugins(self):
        copy = os.path.join(self.dir, "copied-build")
        os.makedirs(copy)
        shutil.copy2(BIN, copy)
        shutil.copytree(os.path.join(os.path.dirname(BIN), "plugins"), os.path.join(copy, "plugins"))
        r = subprocess.run([os.path.join(copy, "laminar"), "plugins"], capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "LAMINAR_PLUGIN_PATH"})
        self.assertEqual(r.returncode, 0, r.stderr)
        files = [word for line in r.stdout.splitlines()[1:] for word in line.split() if word.endswith(".so")]
        self.assertTrue(files)
        for f in files:
            self.assertTrue(f.startswith(copy), f)

    def test_validate_checks_analyses_against_what_the_extractors_record(self):
        # Known from the plugins alone, so `run` refuses too, before any model is loaded.
        typo = self.variant("typo.yaml", ("pairs: [[q, k]]", "pairs: [[q, kk], [m:q, other:k]]"),
                       ("- metric: cosine", "- metric: cosine\n    sites: [q, resid_post]"))
        for command in ("validate", "run"):
            r = run(command, typo, "--out", os.path.join(self.dir, "typo.h5")) if command == "run" else run(command, typo)
            self.assertFails(r, 2, "analyze[0].sites[1]: no extractor records 'resid_post' (recorded: sites q, k;",
                             "analyze[2].pairs[0][1]: no extractor records 'kk'",
                             "analyze[2].pairs[1][1]: no model 'other' in this experiment (models: m)")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "typo.h5")))
        # Known from the model folder (config and tokenizer; the weights are not read).
        heads = self.variant("heads.yaml", ("sites: [q, k]\n", "sites: [q, k]\n    heads: separate\n"),
                        ("- metric: cosine", "- metric: cosine\n    sites: [blocks.1.attn.hook_q.head1, blocks.1.attn.hook_q.head2]"),
                        ("analyze:", "  - extractor: hooks\n    hooks: [blocks.0.hook_mlp_out, blocks.0.hook_nothing]\nanalyze:"))
        self.assertFails(run("validate", heads), 2, "analyze[0].sites[1]: no extractor records 'blocks.1.attn.hook_q.head2'",
                         "extract[1].hooks[1]: model 'm' has no hook point 'blocks.0.hook_nothing'")
        self.assertNotIn("head1", run("validate", heads).stderr)
        layers = self.variant("layers.yaml", ("layers: [1]", "layers: [1, 2]"))
        self.assertFails(run("validate", layers), 2, "extract[0].layers[1]: layer 2 does not exist: the model has 2 layers")
        self.assertEqual(run("validate", self.experiment()).returncode, 0)


def set_tensor(path, name, value):
    """Overwrites every element of a float32 tensor of a safetensors file in place."""
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        entry = header[name]
        assert entry["dtype"] == "F32", entry
        begin, end = entry["data_offsets"]
        f.seek(8 + n + begin)
        f.write(np.full((end - begin) // 4, value, dtype="<f4").tobytes())


if __name__ == "__main__":
    unittest.main()
