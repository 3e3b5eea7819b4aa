"""Issue 22, second round: input that grows without bound, text that is not UTF-8, names that
are no names, and what `validate` must catch because `run` would reject it. Each test asserts
the exit code and the message (0 ok, 1 runtime failure, 2 usage or experiment-file error; never
a signal)."""
import os
import subprocess
import unittest

import h5py

from test_bad_inputs import BIN, Case, run

WORDS = {"space": ["galaxy", "comet", "moon", "star"], "fruit": ["pear", "grape", "apple", "lime"],
         "interior": ["sofa", "lamp", "rug"]}


class Variant(Case):
    """The hostile experiment with edits (Case.variant), and files beside it."""

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path

    def position(self, path, needle):
        """'line:column' (from 1) where `needle` first appears in the file."""
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        line = next(i for i, l in enumerate(lines) if needle in l)
        return f"{line + 1}:{lines[line].index(needle) + 1}"


STIMULI_SECTION = ('  template: "The next word is {word}"\n  position: last\n  categories:\n'
                   '    space: [galaxy, comet, moon, star]\n    fruit: [pear, grape, apple, lime]\n'
                   '    interior: [sofa, lamp, rug]\n')


def alias_bomb(levels=10, copies=9):
    """The "billion laughs": each level a list of `copies` aliases of the level before."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * copies) + "]"]
    for k in range(1, levels):
        lines.append(f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * copies) + "]")
    return "\n".join(lines) + "\n"


def stimuli_csv(encoding="utf-8", bom=b"", word="sofa"):
    rows = ["word,category,text"] + [f"{w},{c},The next word is {w}" for c, ws in WORDS.items() for w in ws]
    return bom + "\n".join(rows).replace("sofa", word).encode(encoding) + b"\n"


def hypothesis_csv(words, encoding="utf-8", bom=b"", rename=None):
    labels = [rename.get(w, w) if rename else w for w in words]
    rows = ["," + ",".join(labels)] + [labels[i] + "," + ",".join("0" if i == j else "1" for j in range(len(words)))
                                       for i in range(len(words))]
    return bom + "\n".join(rows).encode(encoding) + b"\n"


HYPOTHESIS = "  - metric: rsa\n    name: mine\n    pairs: [[q, hypothesis:mine]]\n    hypotheses: {mine: mine.csv}\n" \
             "    permutations: 10\n    bootstrap: 0\n"


class CategoryNames(Variant):
    """Item 6: a category name becomes an HDF5 group: "a/b" nested inside "a", "" wrote onto
    the categories group itself, "." and ".." failed after extraction with HDF5's message."""

    def test_names_that_are_no_group_names_are_refused_at_their_key(self):
        for name, message in {"a/b": "category name \"a/b\" contains '/'", "": "an empty category name",
                              ".": "category name \".\" is a path, not a name",
                              "..": "category name \"..\" is a path, not a name"}.items():
            with self.subTest(name):
                path = self.variant("category.yaml", ("interior: [", f'"{name}": ['))
                for command in ("validate", "run"):
                    r = run(command, path, "--out", os.path.join(self.dir, "category.h5")) if command == "run" else run(command, path)
                    self.assertFails(r, 2, f"category.yaml:{self.position(path, chr(34) + name + chr(34))}: stimuli.categories.",
                                     message, "expected a non-empty name without '/', other than \".\" and \"..\"")
                self.assertFalse(os.path.exists(os.path.join(self.dir, "category.h5")))

    def test_a_stimuli_file_names_its_line(self):
        self.write("slash.csv", "word,category,text\ngalaxy,space,The next word is galaxy\npear,fruit/x,A pear\n")
        path = self.variant("slash.yaml", (STIMULI_SECTION, "  file: slash.csv\n"))
        self.assertFails(run("validate", path), 2, os.path.join(self.dir, "slash.csv") + ":3: column category: "
                         "category name \"fruit/x\" contains '/'")


class Aliases(Variant):
    """Item 7: ten levels of nine aliases are 400 bytes that expand to 10^9 values: validate
    grew at 140 MB/s and died of an uncaught std::bad_alloc (SIGABRT)."""

    def test_an_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit(self):
        path = self.write("bomb.yaml", alias_bomb())
        r = subprocess.run(["bash", "-c", f"ulimit -v 4000000; exec {BIN} validate {path}"], capture_output=True,
                           text=True, timeout=120)
        # 1 + 10 + 91 + ... values before level 6; its first alias (of level 5: 597,871 values) crosses 10^6.
        self.assertFails(r, 2, f"bomb.yaml:{self.position(path, '*l5')}: this alias expands the file to more than "
                               "1000000 values (aliases expanded), laminar's limit")

    def test_aliases_within_the_limit_are_expanded(self):
        path = self.variant("aliases.yaml", ("sites: [q, k]", "sites: &both [q, k]"),
                            ("- metric: cosine", "- metric: cosine\n    sites: *both"))
        r = run("validate", path)
        self.assertEqual(r.returncode, 0, r.stderr)


class Encodings(Variant):
    """Item 15: a Latin-1 stimuli file passed validate and failed in `run`, after the model
    loaded, with the JSON library's message naming no file; a spreadsheet's UTF-8 with a byte
    order mark was refused ("no column 'word'")."""

    def test_a_latin1_stimuli_file_is_refused_where_it_stops_being_utf8(self):
        csv = self.write("latin1.csv", stimuli_csv("latin-1", word="caf\xe9"))
        path = self.variant("latin1-stimuli.yaml", (STIMULI_SECTION, "  file: latin1.csv\n"))
        for command in ("validate", "run"):
            with self.subTest(command):
                self.assertFails(run(command, path), 2, f"{csv}:{self.position(csv, 'caf').split(':')[0]}:4: not valid UTF-8")

    def test_a_byte_order_mark_is_read_past(self):
        self.write("bom.csv", stimuli_csv(bom=b"\xef\xbb\xbf"))
        path = self.variant("bom-stimuli.yaml", (STIMULI_SECTION, "  file: bom.csv\n"))
        r = run("run", path, "--out", os.path.join(self.dir, "bom.h5"), "--stage", "extract")
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(os.path.join(self.dir, "bom.h5"), "r") as f:
            self.assertEqual(f["stimuli/word"][0], b"galaxy")
        yaml = self.variant("bom.yaml", data=lambda text: b"\xef\xbb\xbf" + text.encode())
        self.assertEqual(run("validate", yaml).returncode, 0, run("validate", yaml).stderr)

    def test_hypothesis_files_are_held_to_the_same(self):
        words = [w for ws in WORDS.values() for w in ws]
        path = self.variant("hypothesis.yaml", ("analyze:\n", "analyze:\n" + HYPOTHESIS))
        self.write("mine.csv", hypothesis_csv(words, bom=b"\xef\xbb\xbf"))
        r = run("validate", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        csv = self.write("mine.csv", hypothesis_csv(words, "latin-1", rename={"rug": "caf\xe9"}))
        self.assertFails(run("validate", path), 2, "analyze[0].hypotheses.mine: ", f"{csv}:1:", ": not valid UTF-8")


class Bounds(Variant):
    """Item 16: permutations or bootstrap of 10^12 passed validate; run then printed
    "error: std::bad_alloc", naming nothing."""

    def test_resampling_counts_are_bounded_in_the_schemas(self):
        for metric, entry in {"selectivity": "    permutations: 1e12\n", "rsa": "    bootstrap: 1000000000000\n",
                              "cka": "    permutations: 2000000\n"}.items():
            with self.subTest(metric):
                option = entry.split(":")[0].strip()
                analyses = f"  - metric: {metric}\n" + ("    pairs: [[q, k]]\n" if metric != "selectivity" else "") + entry
                path = self.variant(f"bound-{metric}.yaml", ("analyze:\n", "analyze:\n" + analyses))
                self.assertFails(run("validate", path), 2, f"{self.position(path, option + ':').split(':')[0]}:",
                                 f"analyze[0].{option}: ", "1000000", f"(metric plugin '{metric}')")

    def test_running_out_of_memory_names_the_analysis(self):
        env = dict(os.environ, LAMINAR_PLUGIN_PATH=os.environ["LAMINAR_FIXTURE_PLUGINS"])
        out = os.path.join(self.dir, "oom.h5")
        path = self.variant("oom.yaml", ("analyze:\n", "analyze:\n  - metric: row_norms\n    name: norms\n    out_of_memory: true\n"))
        self.assertEqual(run("run", path, "--out", out, "--stage", "extract", env=env).returncode, 0)
        r = run("run", path, "--out", out, "--stage", "analyze", env=env)
        self.assertFails(r, 1, "error: analyze norms (metric row_norms): out of memory (std::bad_alloc)")


class ValidateAsRun(Variant):
    """Item 19: what run rejects, validate must too."""

    def test_a_hypothesis_file_missing_a_word_is_found_before_extraction(self):
        words = [w for ws in WORDS.values() for w in ws]
        self.write("mine.csv", hypothesis_csv([w for w in words if w != "rug"]))
        path = self.variant("missing-word.yaml", ("analyze:\n", "analyze:\n" + HYPOTHESIS))
        out = os.path.join(self.dir, "missing-word.h5")
        for command in ("validate", "run"):
            with self.subTest(command):
                r = run(command, path, "--out", out) if command == "run" else run(command, path)
                self.assertFails(r, 2, f"missing-word.yaml:{self.position(path, 'mine.csv')}: analyze[0].hypotheses.mine: ",
                                 "mine.csv: no row for the stimuli's word(s) rug")
                self.assertNotIn("extract:", r.stdout)
        self.assertFalse(os.path.exists(out))

    def test_a_model_folder_that_is_not_there_is_an_error_with_the_nearest_folder(self):
        typo = os.path.join(self.dir, "modle")
        path = self.variant("typo-model.yaml", (f"path: {self.model}", f"path: {typo}"))
        self.assertFails(run("validate", path), 2, f"typo-model.yaml:5:11: models[0].path: model folder not found: {typo} "
                         f"(model 'm'); the deepest part of it that exists is '{self.dir}', holding close names: model")
        deeper = os.path.join(self.model, "no", "such")
        path = self.variant("deeper-model.yaml", (f"path: {self.model}", f"path: {deeper}"))
        self.assertFails(run("validate", path), 2, f"models[0].path: model folder not found: {deeper} (model 'm'); "
                         f"the deepest part of it that exists is '{self.model}'")

    def test_an_unset_variable_is_still_only_a_note(self):
        path = self.variant("unset.yaml", (f"path: {self.model}", "path: ${LAMINAR_TEST_NEVER_SET}/model"))
        env = {k: v for k, v in os.environ.items() if k != "LAMINAR_TEST_NEVER_SET"}
        r = run("validate", path, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("note: ", r.stderr)
        self.assertIn("environment variable LAMINAR_TEST_NEVER_SET is not set", r.stderr)


class WarningsMeansAndPluginNames(Variant):
    """Item 20: a warning of 794 KB, means the README lists but cosine did not write, plugins named ""."""

    def test_the_multi_token_warning_names_ten_words_and_counts_the_rest(self):
        words = ", ".join(f"qzxv{i}" for i in range(30))  # digits and letters GPT-2 splits
        path = self.variant("split.yaml", ("interior: [sofa, lamp, rug]", f"interior: [sofa, lamp, rug, {words}]"))
        r = run("run", path, "--out", os.path.join(self.dir, "split.h5"), "--stage", "extract")
        self.assertEqual(r.returncode, 0, r.stderr)
        line = next(l for l in (r.stdout + r.stderr).splitlines() if "split into several tokens" in l)
        self.assertIn("30 word(s) split into several tokens", line)
        self.assertIn("qzxv9 (", line)
        self.assertNotIn("qzxv10 (", line)
        self.assertTrue(line.endswith(", ... and 20 more"), line)

    def test_cosine_writes_its_means_without_a_histogram(self):
        out = os.path.join(self.dir, "means.h5")
        r = run("run", self.experiment(), "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(out, "r") as f:
            g = f["results/cosine/m/blocks.1.attn.hook_q"]
            for name in ("mean_all", "mean_within", "mean_between"):
                self.assertIn(name, g.attrs)
            self.assertNotIn("histogram", g)
            self.assertLess(g.attrs["mean_within"], 1.0)

    def test_a_plugin_named_by_an_empty_string_is_refused_naming_the_field(self):
        for field, edit in {"models[0].backend": ("backend: gpt2", 'backend: ""'),
                            "extract[0].extractor": ("extractor: attention", 'extractor: ""'),
                            "analyze[0].metric": ("metric: cosine", 'metric: ""')}.items():
            with self.subTest(field):
                path = self.variant("empty-plugin.yaml", edit)
                self.assertFails(run("validate", path), 2, f"empty-plugin.yaml:{self.position(path, chr(34) * 2)}: {field}: ",
                                 '(found "")')


if __name__ == "__main__":
    unittest.main()
