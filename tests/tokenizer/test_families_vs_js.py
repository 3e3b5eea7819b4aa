"""laminar's tokenizers against tokenizers.js (npm @huggingface/tokenizers), on real vocabularies.

The tokenizer files are the real ones in ../shared/tokenizers (read there, never copied into
the project): GPT-NeoX-20B (Pythia: byte-level BPE, NFC, added whitespace tokens), Mistral-7B
(Metaspace, byte_fallback, <s>), the Llama-2 / TinyLlama layout of the same vocabulary
(Prepend + Replace normalizers), bert-base-uncased (BertNormalizer, WordPiece, [CLS] ... [SEP])
and Qwen2's pre-tokenizer (Split regex, then byte-level), and gpt2's and bert-base-uncased's files as
the Hub publishes them (published/: older layouts, no model type). For each, `laminar tokenize --json`
must give exactly the ids of tokenizers.js's `encode(text)` on every string of corpus.py; BERT
also from its vocab.txt alone. Llama-2's and Llama-3's real vocabularies come from the npm
packages llama-tokenizer-js and llama3-tokenizer-js: llama_js.mjs lays each out as the
tokenizer.json of Meta's Hugging Face folders, and laminar must match both tokenizers.js on that
file and the package's own encoder. Run by ctest (tokenizers_vs_js).
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from corpus import corpus
from test_tokenizer_vs_js import laminar_ids

BIN = os.environ["LAMINAR_BIN"]
NODE = os.environ.get("LAMINAR_NODE", "node")
NODE_MODULES = os.environ["LAMINAR_NODE_MODULES"]
SHARED = os.environ.get("LAMINAR_SHARED_TOKENIZERS",
                        os.path.join(os.environ["LAMINAR_SOURCE"], "..", "shared", "tokenizers"))
FAMILIES = ["gpt_neox", "mistral", "llama2_legacy", "bert", "qwen2_style"]


def js_ids(folder, jsonl):
    with open(jsonl) as f:
        out = subprocess.run([NODE, os.path.join(os.path.dirname(os.path.abspath(__file__)), "hf_encode.mjs"),
                              NODE_MODULES, folder], stdin=f, capture_output=True, text=True, check=True, timeout=600)
    return out.stdout.splitlines()


@unittest.skipUnless(os.path.isdir(SHARED), f"the real tokenizer files are not at {SHARED} (../shared/tokenizers)")
class FamiliesAgainstJs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-tokfam-")
        cls.texts = corpus()
        cls.jsonl = os.path.join(cls.dir, "corpus.jsonl")
        with open(cls.jsonl, "w") as f:
            f.write("".join(json.dumps(t) + "\n" for t in cls.texts))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def folder(self, family, files):
        """A model folder holding `files` of the family's tokenizer (config.json names gpt2: tokenize
        needs a backend, and every backend shares the one tokenizer loader)."""
        folder = os.path.join(self.dir, family + "-" + "-".join(sorted(files)))
        if os.path.isdir(folder):
            return folder
        os.makedirs(folder)
        for name in files:
            os.symlink(os.path.join(SHARED, family, name), os.path.join(folder, name))
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump({"model_type": "gpt2"}, f)
        return folder

    def assert_same(self, ours, reference, what):
        self.assertEqual(len(ours), len(self.texts), what)
        bad = [i for i, (a, b) in enumerate(zip(ours, reference)) if a != b]
        report = "\n".join(f"{json.dumps(self.texts[i])}: laminar {ours[i]} vs js {reference[i]}" for i in bad[:10])
        self.assertEqual(len(bad), 0, f"{what}: {len(bad)} of {len(self.texts)} differ:\n{report}")

    def test_each_family_matches_tokenizers_js(self):
        for family in FAMILIES:
            with self.subTest(family=family):
                files = [f for f in os.listdir(os.path.join(SHARED, family)) if f.endswith(".json")]
                folder = self.folder(family, files)
                reference = js_ids(folder, self.jsonl)
                self.assert_same(laminar_ids(folder, self.jsonl), reference, family)
                self.assertGreater(sum(len(json.loads(r)) for r in reference), 50000)

    def test_published_files_match_tokenizers_js(self):
        """gpt2's and bert-base-uncased's files exactly as the Hub publishes them (../shared/tokenizers/published):
        model sections without a type, gpt2's "" prefix and suffix and null dropout, bert's strip_accents
        null and tokenizer_config.json {"do_lower_case": true}."""
        for name in ["gpt2", "bert-base-uncased"]:
            with self.subTest(folder=name):
                with open(os.path.join(SHARED, "published", name, "tokenizer.json")) as f:
                    self.assertNotIn("type", json.load(f)["model"])
                files = [f for f in os.listdir(os.path.join(SHARED, "published", name)) if f.startswith("tokenizer")]
                folder = self.folder(os.path.join("published", name), files)
                reference = js_ids(folder, self.jsonl)
                self.assert_same(laminar_ids(folder, self.jsonl), reference, name)
                self.assertGreater(sum(len(json.loads(r)) for r in reference), 50000)

    def test_bert_from_vocab_txt_alone(self):
        reference = js_ids(self.folder("bert", ["tokenizer.json", "tokenizer_config.json"]), self.jsonl)
        self.assert_same(laminar_ids(self.folder("bert", ["vocab.txt", "tokenizer_config.json"]), self.jsonl),
                         reference, "bert vocab.txt")

    def test_llama2_and_llama3_vocabularies_of_the_npm_packages(self):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "llama_js.mjs")
        for which, bos in [("llama2", 1), ("llama3", 128000)]:
            with self.subTest(vocabulary=which):
                folder = os.path.join(self.dir, which)
                subprocess.run([NODE, script, NODE_MODULES, "tokenizer-json", which, folder], check=True, timeout=600)
                ours = laminar_ids(folder, self.jsonl)
                self.assert_same(ours, js_ids(folder, self.jsonl), f"{which} vs tokenizers.js")
                with open(self.jsonl) as f:
                    package = subprocess.run([NODE, script, NODE_MODULES, "encode", which], stdin=f, capture_output=True,
                                             text=True, check=True, timeout=600).stdout.splitlines()
                self.assertTrue(all(json.loads(o)[0] == bos for o in ours))
                # llama-tokenizer-js spells <s>, </s> and <unk> out as text; Hugging Face's files (and
                # laminar, and tokenizers.js) take them as the special tokens: those strings are left out.
                keep = [i for i, t in enumerate(self.texts)
                        if which == "llama3" or not any(s in t for s in ("<s>", "</s>", "<unk>"))]
                self.assertGreater(len(keep), 5900)
                ours_text = [json.dumps(json.loads(ours[i])[1:]) for i in keep]
                theirs = [json.dumps(json.loads(package[i])) for i in keep]
                bad = [i for i, (a, b) in zip(keep, zip(ours_text, theirs)) if a != b]
                self.assertEqual(bad, [], f"{which} vs its npm package's encoder (without BOS): {len(bad)} differ, "
                                          f"e.g. {[self.texts[i] for i in bad[:5]]}")

    def test_tokenizer_model_files_through_libsentencepiece(self):
        """A folder with only tokenizer.model (sentencepiece BPE with byte fallback, trained here on
        the corpus by Debian's spm_train) against Debian's spm_encode; BOS added as Llama's
        tokenizer_config.json says."""
        folder = os.path.join(self.dir, "sentencepiece")
        os.makedirs(folder)
        text = os.path.join(self.dir, "train.txt")
        with open(text, "w") as f:
            f.write("\n".join(t.replace("\n", " ") for t in self.texts * 2))
        subprocess.run(["spm_train", f"--input={text}", f"--model_prefix={folder}/tokenizer", "--vocab_size=3000",
                        "--model_type=bpe", "--byte_fallback=true", "--character_coverage=0.995"],
                       check=True, capture_output=True, timeout=600)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump({"model_type": "llama"}, f)
        with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
            json.dump({"add_bos_token": True, "add_eos_token": False}, f)
        # spm_encode reads lines: texts with line breaks of any kind are left out of this comparison.
        keep = [i for i, t in enumerate(self.texts) if len(t.splitlines()) == 1 and not set(t) & set("\r\n")]
        self.assertGreater(len(keep), 3000)
        jsonl = os.path.join(self.dir, "one-line.jsonl")
        with open(jsonl, "w") as f:
            f.write("".join(json.dumps(self.texts[i]) + "\n" for i in keep))
        ours = [json.loads(l) for l in laminar_ids(folder, jsonl)]
        reference = subprocess.run(["spm_encode", f"--model={folder}/tokenizer.model", "--output_format=id"],
                                   input="".join(self.texts[i] + "\n" for i in keep), capture_output=True, text=True,
                                   check=True, timeout=600).stdout.split("\n")
        bad = [(self.texts[i], o, r) for i, o, r in zip(keep, ours, reference)
               if o != [1] + [int(x) for x in r.split()]]
        self.assertEqual(bad[:5], [], f"{len(bad)} of {len(keep)} differ from spm_encode")

    def test_special_tokens_are_marked_off_the_text(self):
        """BOS / [CLS] ... [SEP] are added as Hugging Face adds them, and shown as added."""
        jsonl = os.path.join(self.dir, "seed.jsonl")
        with open(jsonl, "w") as f:
            f.write(json.dumps("The next word is galaxy") + "\n")
        added = {"mistral": ([1], 0), "llama2_legacy": ([1], 0), "bert": ([101], 1), "gpt_neox": ([], 0)}  # BOS, [CLS] [SEP]
        for family, (before, after) in added.items():
            with self.subTest(family=family):
                folder = self.folder(family, ["tokenizer.json", "tokenizer_config.json"])
                ids = json.loads(js_ids(folder, jsonl)[0])
                out = subprocess.run([BIN, "tokenize", "--model", folder, "The next word is galaxy"],
                                     capture_output=True, text=True, check=True)
                lines = out.stdout.splitlines()[1:]
                self.assertEqual([int(l.split()[0]) for l in lines], ids)
                self.assertEqual(ids[:len(before)], before)
                marked = [i for i, l in enumerate(lines) if l.endswith("(added by the tokenizer)")]
                self.assertEqual(marked, list(range(len(before))) + list(range(len(ids) - after, len(ids))))

    def test_inconsistent_vocabularies_are_refused(self):
        folder = os.path.join(self.dir, "broken")
        os.makedirs(folder)
        with open(os.path.join(SHARED, "gpt_neox", "tokenizer.json")) as f:
            tokenizer = json.load(f)
        tokenizer["model"]["vocab"]["Ġgalaxy"] = tokenizer["model"]["vocab"]["Ġthe"]  # two tokens, one id
        with open(os.path.join(folder, "tokenizer.json"), "w") as f:
            json.dump(tokenizer, f)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump({"model_type": "gpt2"}, f)
        r = subprocess.run([BIN, "tokenize", "--model", folder, "x"], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("tokenizer.json", r.stderr)
        self.assertIn("share id", r.stderr)


if __name__ == "__main__":
    unittest.main()
