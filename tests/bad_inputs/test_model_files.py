"""Hostile model folders and input files (issue 22): nesting that overflowed the stack, FIFOs and
devices that blocked forever, config values that asked for unbounded memory or made every
activation NaN, and errors that named no file. Each test asserts the exit code and the message;
commands that could hang run with a timeout, so that a regression fails instead of blocking."""
import json
import os
import resource
import shutil
import subprocess
import unittest

from test_bad_inputs import BIN, MAKE_MODEL, PYTHON, Case, run

TIMEOUT = 60  # seconds; every command here answers in one or two
# make_model's folders of every family but gpt2 take their tokenizer from ../shared/tokenizers.
SHARED = os.path.join(os.path.dirname(MAKE_MODEL), "..", "..", "shared", "tokenizers")


class ModelFiles(Case):
    def folder(self, name):
        path = os.path.join(self.dir, name)
        shutil.copytree(self.model, path)
        return path

    def tokenizer_folder(self, name, **sections):
        """A folder with the model's config.json and a small byte-level BPE tokenizer.json
        (`sections` replace or add sections; a string value is written as raw JSON)."""
        folder = os.path.join(self.dir, name)
        os.makedirs(folder)
        shutil.copy(os.path.join(self.model, "config.json"), folder)
        vocab = {c: i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}
        tokenizer = {"normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False},
                     "model": {"type": "BPE", "vocab": vocab, "merges": []}}
        raw = {k: v for k, v in sections.items() if isinstance(v, str)}
        tokenizer.update({k: v for k, v in sections.items() if not isinstance(v, str)})
        text = json.dumps(tokenizer)
        for key, value in raw.items():
            text = text[:-1] + f', "{key}": {value}}}'
        with open(os.path.join(folder, "tokenizer.json"), "w") as f:
            f.write(text)
        return folder


class Nesting(ModelFiles):
    """A normalizer Sequence nested 30,000 deep overflowed the stack (SIGSEGV) in `tokenize`."""

    def test_every_recursive_section_nested_30000_deep_is_refused_with_the_file_named(self):
        sections = {
            "normalizer": lambda v: '{"type": "Sequence", "normalizers": [%s]}' % v,
            "pre_tokenizer": lambda v: '{"type": "Sequence", "pretokenizers": [%s]}' % v,
            "post_processor": lambda v: '{"type": "Sequence", "processors": [%s]}' % v,
            "decoder": lambda v: '{"type": "Sequence", "decoders": [%s]}' % v,
        }
        for section, wrap in sections.items():
            with self.subTest(section):
                leaf = '{"type": "Lowercase"}' if section == "normalizer" else '{"type": "ByteLevel"}'
                text = wrap("\0" * 1)
                opening, closing = text.split("\0")
                folder = self.tokenizer_folder("deep-" + section, **{section: opening * 30000 + leaf + closing * 30000})
                r = run("tokenize", "--model", folder, "abc", timeout=TIMEOUT)
                self.assertFails(r, 1, os.path.join(folder, "tokenizer.json") + ":1:",
                                 "arrays and objects nested more than 100 deep")

    def test_a_sequence_nested_within_the_limit_is_read(self):
        wrap = lambda v: '{"type": "Sequence", "normalizers": [%s]}' % v
        opening, closing = wrap("\0").split("\0")
        folder = self.tokenizer_folder("deep-enough", normalizer=opening * 40 + '{"type": "Lowercase"}' + closing * 40)
        r = run("tokenize", "--json", "--model", folder, "ABC", timeout=TIMEOUT)
        self.assertEqual((r.returncode, r.stdout), (0, "[0,1,2]\n"), r.stderr)

    def test_config_json_of_30000_nested_arrays_is_refused_where_it_nests_too_deep(self):
        folder = self.folder("deep-config")
        with open(os.path.join(folder, "config.json"), "w") as f:
            f.write('{"model_type": "gpt2", "x": ' + "[" * 30000 + "]" * 30000 + "}")
        for extra in ([], ["--backend", "gpt2"]):  # through the plugin registry, and the plugin's reader
            with self.subTest(extra=extra):
                r = run("hooks", "--model", folder, *extra, timeout=TIMEOUT)
                self.assertFails(r, 1 if extra else 2, os.path.join(folder, "config.json") + ":1:128: arrays and objects "
                                 "nested more than 100 deep")


class NotRegularFiles(ModelFiles):
    """A FIFO as a run file or as a model file blocked `inspect`, `run`, `report`, `hooks` and
    `validate` forever; /dev/zero as a stimuli file grew `validate` at 200 MB/s."""

    def fifo(self, path):
        if os.path.lexists(path):
            os.remove(path)
        os.mkfifo(path)
        return path

    def test_a_fifo_as_run_file_is_refused_by_every_command(self):
        out = self.fifo(os.path.join(self.dir, "fifo.h5"))
        exp = self.experiment("fifo.yaml")
        for command in (["inspect", out], ["report", out], ["run", exp, "--out", out], ["run", exp, "--out", out, "--stage", "analyze"]):
            with self.subTest(command[0]):
                r = run(*command, timeout=TIMEOUT)
                self.assertFails(r, 2, out + ": not a regular file (a FIFO)")
        os.makedirs(os.path.join(self.dir, "merged"))
        shard = self.fifo(os.path.join(self.dir, "merged", "run.shard-0-of-2.h5"))  # merge opens the shards beside the run file
        r = run("merge", os.path.join(self.dir, "merged", "run.h5"), timeout=TIMEOUT)
        self.assertFails(r, 2, shard + ": not a regular file (a FIFO)")

    def test_a_fifo_as_a_model_file_is_refused(self):
        for name, code in (("model.safetensors", 1), ("config.json", 2), ("tokenizer.json", 1), ("vocab.json", 1),
                           ("tokenizer.model", 1)):
            with self.subTest(name):
                folder = self.folder("fifo-" + name)
                if name == "tokenizer.model":  # read only where no other tokenizer file is
                    os.remove(os.path.join(folder, "vocab.json"))
                self.fifo(os.path.join(folder, name))
                command = ["hooks", "--model", folder] if name in ("model.safetensors", "config.json") \
                    else ["tokenize", "--model", folder, "hello"]
                r = run(*command, timeout=TIMEOUT)
                self.assertFails(r, code, os.path.join(folder, name) + ": not a regular file (a FIFO)")
        folder = os.path.join(self.dir, "fifo-model.safetensors")  # validate reads the model folder too
        with open(self.experiment("fifo-model.yaml")) as f:
            text = f.read().replace(self.model, folder)
        with open(os.path.join(self.dir, "fifo-model.yaml"), "w") as f:
            f.write(text)
        r = run("validate", os.path.join(self.dir, "fifo-model.yaml"), timeout=TIMEOUT)
        self.assertFails(r, 2, os.path.join(folder, "model.safetensors") + ": not a regular file (a FIFO)")

    def stimuli_experiment(self, name, path):
        with open(self.experiment()) as f:
            text = f.read()
        start, end = text.index("stimuli:"), text.index("extract:")
        exp = os.path.join(self.dir, name)
        with open(exp, "w") as f:
            f.write(text[:start] + f"stimuli:\n  file: {path}\n  position: last\n" + text[end:])
        return exp

    def test_stimuli_and_hypothesis_files_that_are_not_regular_files_are_refused(self):
        fifo = self.fifo(os.path.join(self.dir, "stimuli-fifo.csv"))
        for path, kind in ((fifo, "a FIFO"), ("/dev/zero", "a character device")):
            with self.subTest(path):
                r = run("validate", self.stimuli_experiment("stimuli-%d.yaml" % len(kind), path), timeout=TIMEOUT)
                self.assertFails(r, 2, path + ": not a regular file (" + kind + ")")
        link = os.path.join(self.dir, "zero.npy")
        os.symlink("/dev/zero", link)
        with open(self.experiment()) as f:
            text = f.read().replace("pairs: [[q, k]]", "hypotheses: {mine: zero.npy}\n    pairs: [[q, \"hypothesis:mine\"]]")
        exp = os.path.join(self.dir, "zero-npy.yaml")
        with open(exp, "w") as f:
            f.write(text)
        r = run("validate", exp, timeout=TIMEOUT)
        self.assertFails(r, 2, "hypotheses.mine: " + link + ": not a regular file (a character device)")
        self.assertNotIn("not found", r.stderr)

    def test_a_stimuli_file_beyond_the_size_limit_is_refused_before_it_is_read(self):
        big = os.path.join(self.dir, "big.csv")
        with open(big, "wb") as f:  # sparse: 300 MiB that take no disk
            f.truncate(300 << 20)
        r = run("validate", self.stimuli_experiment("big.yaml", big), timeout=TIMEOUT)
        self.assertFails(r, 2, big + ": 314572800 bytes, more than the 256 MiB laminar reads from a text file")

    def test_a_dangling_link_is_named_as_such(self):
        folder = self.folder("dangling")
        os.remove(os.path.join(folder, "model.safetensors"))
        os.symlink("/nowhere/model.safetensors", os.path.join(folder, "model.safetensors"))
        r = run("hooks", "--model", folder, timeout=TIMEOUT)
        self.assertFails(r, 1, os.path.join(folder, "model.safetensors") + ": a dangling symbolic link to "
                         "/nowhere/model.safetensors")
        os.remove(os.path.join(folder, "vocab.json"))  # a tokenizer file: named too, not "no tokenizer"
        os.symlink("/nowhere/vocab.json", os.path.join(folder, "vocab.json"))
        r = run("tokenize", "--model", folder, "hello", timeout=TIMEOUT)
        self.assertFails(r, 1, os.path.join(folder, "vocab.json") + ": a dangling symbolic link to /nowhere/vocab.json")

    def test_tokenize_jsonl_says_what_is_wrong_with_the_path_it_was_given(self):
        empty = os.path.join(self.dir, "empty.jsonl")
        open(empty, "w").close()
        for path, message in (("/dev/null", "/dev/null: not a regular file (a character device)"),
                              ("", "--jsonl expects a file path (got an empty string)"),
                              (empty, empty + ": holds no line of text")):
            with self.subTest(path):
                r = run("tokenize", "--model", self.model, "--jsonl", path, timeout=TIMEOUT)
                self.assertFails(r, 2, message)
                self.assertNotIn("give at least one TEXT", r.stderr)


class ConfigValues(ModelFiles):
    """config.json's values are bounded by the weights' shapes and their domains."""

    def config_folder(self, name, family="gpt2", **changes):
        folder = os.path.join(self.dir, name)
        if family != "gpt2" and not os.path.isdir(SHARED):
            raise unittest.SkipTest(f"the real tokenizer files are not at {SHARED}: no {family} folder can be made")
        if not os.path.exists(folder):
            subprocess.run([PYTHON, MAKE_MODEL, folder, "--family", family, "--layers", "2", "--heads", "2", "--width", "32",
                            "--seed", "5"], check=True, capture_output=True)
        with open(os.path.join(folder, "config.json")) as f:
            config = json.load(f)
        config.update(changes)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f)
        return folder

    def test_a_layer_count_the_weights_do_not_have_is_refused_before_any_allocation(self):
        folder = self.config_folder("billion-layers", n_layer=1000000000)
        # An address-space limit that the unbounded table (8 GB) would hit: refused first, not out of memory.
        limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        r = subprocess.run([BIN, "hooks", "--model", folder], capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=limit)
        self.assertFails(r, 1, os.path.join(folder, "config.json") + ": n_layer is 1000000000, but the weights hold 2 block(s)")
        folder = self.config_folder("one-layer", n_layer=1)
        self.assertFails(run("hooks", "--model", folder, timeout=TIMEOUT), 1,
                         os.path.join(folder, "config.json") + ": n_layer is 1, but the weights hold a block 1 too")

    def test_values_outside_their_domain_are_refused_by_key_for_every_family(self):
        cases = [
            ("gpt2", {"layer_norm_epsilon": -1}, "layer_norm_epsilon must be a number greater than 0 (found -1)"),
            ("gpt2", {"n_head": 3}, "n_embd (32) is not a multiple of n_head (3)"),
            ("gpt2", {"vocab_size": 0}, "vocab_size must be a positive integer (found 0)"),
            ("gpt_neox", {"layer_norm_eps": 0}, "layer_norm_eps must be a number greater than 0 (found 0)"),
            ("gpt_neox", {"rotary_emb_base": 0}, "rotary_emb_base must be a number greater than 0 (found 0)"),
            ("llama", {"rope_theta": 0}, "rope_theta must be a number greater than 0 (found 0)"),
            ("llama", {"rms_norm_eps": -1e-6}, "rms_norm_eps must be a number greater than 0 (found -1e-06)"),
            ("llama", {"num_attention_heads": 3, "num_key_value_heads": 3, "head_dim": None}, "hidden_size (32) is not a multiple of num_attention_heads (3), and there is no head_dim"),
            ("llama", {"num_key_value_heads": 0}, "num_key_value_heads must be a positive integer (found 0)"),
            ("mistral", {"rope_theta": -5}, "rope_theta must be a number greater than 0 (found -5)"),
            ("qwen2", {"rms_norm_eps": "1e-6"}, "rms_norm_eps must be a number greater than 0 (found \"1e-6\")"),
            ("bert", {"layer_norm_eps": -1e-12}, "layer_norm_eps must be a number greater than 0 (found -1e-12)"),
            ("bert", {"num_attention_heads": 5}, "hidden_size (32) is not a multiple of num_attention_heads (5)"),
            # the checks every family's config reading shares (plugins/models/common/config_json.hpp)
            ("gptj", {"n_head": 3}, "n_embd (32) is not a multiple of n_head (3)"),
            ("distilbert", {"n_heads": 5}, "dim (32) is not a multiple of n_heads (5)"),
            ("phi", {"num_key_value_heads": 3}, "num_attention_heads (2) is not a multiple of num_key_value_heads (3)"),
            ("phi", {"partial_rotary_factor": 0.05}, "partial_rotary_factor 0.050000 of head size 16 gives 0 rotary dimensions; "
                                                     "expected a factor in (0, 1] giving an even number of at least 2"),
            ("gemma", {"head_dim": 15}, "the head size (15) must be even for rotary embeddings"),
            ("stablelm", {"rope_scaling": {"type": "linear", "factor": 2.0}},
             'rope_scaling {"factor":2.0,"type":"linear"} is not supported (only unscaled rotary embeddings)'),
            ("olmo2", {"rope_parameters": {"rope_type": "yarn"}}, 'rope_parameters {"rope_type":"yarn"} is not supported (only rope_type "default")'),
            # Llama configs as transformers 5 writes them: the base inside rope_parameters (read, so a bad one is refused)
            ("llama", {"rope_parameters": {"rope_type": "default", "rope_theta": 0}}, "rope_parameters.rope_theta 0 is not a number > 0"),
            # ... and the rotated share where transformers 5 writes it, read (not the family's default) and checked
            ("stablelm", {"rope_parameters": {"rope_type": "default", "rope_theta": 10000, "partial_rotary_factor": 0.05}},
             "rope_parameters.partial_rotary_factor 0.050000 of head size 16 gives 0 rotary dimensions; "
             "expected a factor in (0, 1] giving an even number of at least 2"),
            ("phi3", {"rope_parameters": {"rope_type": "default", "factor": 2.0}},
             "rope_parameters.factor is not supported (only rope_type, rope_theta and partial_rotary_factor: unscaled rotary embeddings)"),
        ]
        for i, (family, changes, message) in enumerate(cases):
            with self.subTest(family=family, changes=changes):
                base = os.path.join(self.dir, "family-" + family)
                if not os.path.exists(base):
                    self.config_folder("family-" + family, family)
                folder = os.path.join(self.dir, f"domain-{i}")
                shutil.copytree(base, folder)
                self.config_folder(f"domain-{i}", family, **changes)
                r = run("hooks", "--model", folder, timeout=TIMEOUT)
                self.assertFails(r, 1, os.path.join(folder, "config.json") + ": " + message)

    def test_unparseable_config_json_is_named_with_line_and_column(self):
        folder = self.folder("bad-config")
        with open(os.path.join(folder, "config.json"), "w") as f:
            f.write('{\n  "model_type": "gpt2",\n  "n_layer": 2,\n  oops\n}\n')
        r = run("hooks", "--model", folder, timeout=TIMEOUT)
        self.assertFails(r, 2, os.path.join(folder, "config.json") + ":4:3: not valid JSON: syntax error")
        self.assertNotIn("no model_type", r.stderr)
        r = run("hooks", "--model", folder, "--backend", "gpt2", timeout=TIMEOUT)
        self.assertFails(r, 1, os.path.join(folder, "config.json") + ":4:3: not valid JSON: syntax error")

    def test_a_backend_named_for_a_folder_of_another_model_type_says_which_it_reads(self):
        folder = self.config_folder("family-llama", "llama")
        r = run("hooks", "--model", folder, "--backend", "gemma", timeout=TIMEOUT)
        self.assertFails(r, 1, os.path.join(folder, "config.json") + ': model_type is "llama", not "gemma" or "gemma2"')


class Patterns(ModelFiles):
    """A pre-tokenizer pattern that failed at run time (PCRE2's match limit, error -47) named
    neither the tokenizer file nor the pattern."""

    def test_a_pattern_past_pcre2s_match_limit_names_the_file_and_the_pattern(self):
        split = {"type": "Split", "pattern": {"Regex": "(a|aa)+[^a]"}, "behavior": "Isolated", "invert": False}
        folder = self.tokenizer_folder("backtracking", pre_tokenizer=split)
        r = run("tokenize", "--model", folder, "a" * 60, timeout=TIMEOUT)
        self.assertFails(r, 1, os.path.join(folder, "tokenizer.json") + ": pre-tokenizer pattern (a|aa)+[^a] failed",
                         "PCRE2 error -47")

    def test_a_pattern_that_does_not_compile_names_the_file_and_the_pattern(self):
        split = {"type": "Split", "pattern": {"Regex": "(ab"}, "behavior": "Isolated", "invert": False}
        folder = self.tokenizer_folder("no-compile", pre_tokenizer=split)
        r = run("tokenize", "--model", folder, "ab", timeout=TIMEOUT)
        self.assertFails(r, 1, os.path.join(folder, "tokenizer.json") + ": ", "pattern (ab does not compile")


    def test_tokenizer_files_that_are_not_json_objects_are_refused(self):
        # Found by fuzzing: a tokenizer.json holding a string escaped as nlohmann's type_error.
        for name in ("tokenizer.json", "tokenizer_config.json"):
            with self.subTest(name):
                folder = self.tokenizer_folder("not-an-object-" + name)
                with open(os.path.join(folder, name), "w") as f:
                    f.write('"{normalizer"')
                r = run("tokenize", "--model", folder, "abc", timeout=TIMEOUT)
                self.assertFails(r, 1, os.path.join(folder, name) + ": expected a JSON object (found string)")


class OutOfMemory(ModelFiles):
    """Under `ulimit -v 700000` extraction spun at 100 % CPU forever: libtorch's thread pool and
    OpenBLAS (in the metrics) wait forever for memory they cannot have. Now every limit gives
    a result or an error, never a hang."""

    def test_every_address_space_limit_gives_an_answer_or_an_out_of_memory_error(self):
        exp = self.experiment("limited.yaml")
        outcomes = {}
        for kb in (750000, 850000, 950000, 1100000, 1400000):
            with self.subTest(limit=kb):
                limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (kb << 10, kb << 10))
                try:
                    r = subprocess.run([BIN, "run", exp, "--out", os.path.join(self.dir, f"limited-{kb}.h5")], capture_output=True,
                                       text=True, timeout=TIMEOUT, preexec_fn=limit)
                except subprocess.TimeoutExpired:
                    self.fail(f"ulimit -v {kb}: no answer in {TIMEOUT} s")
                self.assertIn(r.returncode, (0, 1, 2), r.stderr)
                if r.returncode:
                    self.assertRegex(r.stderr, "out of memory|bad_alloc|failed to map segment|Cannot allocate memory", r.stderr)
                outcomes[kb] = r.returncode
        # Where the limit bites depends on the allocator's layout, so the mmap of the weights
        # ("cannot map into memory (Cannot allocate memory)") is as valid an answer as bad_alloc.
        print(f"exit codes by ulimit -v (KiB): {outcomes}")


if __name__ == "__main__":
    unittest.main()
