"""Models by their Hub name, offline (issue 28): `hub: ORG/NAME` (or `path: hf:ORG/NAME`) read
from a Hugging Face cache in huggingface_hub's exact layout (blobs, snapshots of relative links,
refs), built by tools/make_model.py --hub-cache: found through $HF_HUB_CACHE, $HF_HOME/hub or
~/.cache/huggingface/hub, `revision:` by ref or commit, the snapshot recorded in the run file,
and a model or revision that is not there named with what the cache holds."""
import os
import shutil
import subprocess
import tempfile
import unittest

import h5py

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON = "/usr/bin/python3"
REPO = "laminar-tests/tiny-gpt2"

EXPERIMENT = """experiment: hub
models:
  - id: tiny
%s
stimuli:
  template: "The next word is {word}"
  categories:
    space: [galaxy, comet, moon, star]
    fruit: [pear, grape, apple, lime]
extract:
  - {extractor: attention, sites: [q], layers: [1]}
analyze:
  - {metric: cosine}
output: %s
"""


class HubCache(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-hub-")
        cls.cache = os.path.join(cls.dir, "hf", "hub")

        def make(name, seed, revision):
            out = subprocess.run([PYTHON, MAKE_MODEL, os.path.join(cls.dir, name), "--layers", "2", "--heads", "2",
                                  "--width", "32", "--seed", str(seed), "--hub-cache", cls.cache, "--repo", REPO,
                                  "--revision", revision], check=True, capture_output=True, text=True)
            return out.stdout.strip().splitlines()[-1]
        cls.v1 = make("v1", 1, "v1")        # a tag
        cls.main = make("main", 2, "main")  # main, made last: another snapshot of the same repo
        subprocess.run([PYTHON, MAKE_MODEL, os.path.join(cls.dir, "other"), "--layers", "2", "--heads", "2", "--width",
                        "32", "--hub-cache", cls.cache, "--repo", "gpt2-small-test"], check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def run_with(self, model_lines, out, **env):
        path = os.path.join(self.dir, out + ".yaml")
        with open(path, "w") as f:
            f.write(EXPERIMENT % (model_lines, out + ".h5"))
        environment = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_CACHE", "HF_HOME")}
        environment.update(env)
        return subprocess.run([BIN, "run", path, "--quiet"], capture_output=True, text=True, env=environment, cwd=self.dir)

    def model_attrs(self, out):
        with h5py.File(os.path.join(self.dir, out + ".h5"), "r") as f:
            return dict(f["activations/tiny"].attrs), f["activations/tiny/blocks.1.attn.hook_q"][()]

    def test_the_layout_is_huggingface_hubs(self):
        root = os.path.join(self.cache, "models--laminar-tests--tiny-gpt2")
        self.assertEqual(sorted(os.listdir(root)), ["blobs", "refs", "snapshots"])
        with open(os.path.join(root, "refs", "main")) as f:
            self.assertEqual(os.path.join(root, "snapshots", f.read()), self.main)
        link = os.readlink(os.path.join(self.main, "model.safetensors"))
        self.assertTrue(link.startswith("../../blobs/"), link)  # relative links into blobs/
        self.assertEqual(len(os.listdir(os.path.join(root, "snapshots"))), 2)

    def test_a_hub_name_reads_the_snapshot_of_main_and_records_it(self):
        r = self.run_with(f"    hub: {REPO}", "by_name", HF_HUB_CACHE=self.cache)
        self.assertEqual(r.returncode, 0, r.stderr)
        attrs, q = self.model_attrs("by_name")
        self.assertEqual(attrs["hub_repo"], REPO)
        self.assertEqual(attrs["hub_revision"], "main")
        self.assertEqual(attrs["hub_commit"], os.path.basename(self.main))
        self.assertEqual(attrs["path"], self.main)
        # The same bytes as the folder it was made from: the same fingerprint, the same activations
        # (the links are read through).
        r = self.run_with(f"    path: {os.path.join(self.dir, 'main')}", "by_folder")
        self.assertEqual(r.returncode, 0, r.stderr)
        folder_attrs, folder_q = self.model_attrs("by_folder")
        self.assertEqual(attrs["model_fingerprint"], folder_attrs["model_fingerprint"])
        self.assertTrue((q == folder_q).all())
        self.assertNotIn("hub_commit", folder_attrs)

    def test_hf_paths_revisions_and_the_cache_folders_huggingface_hub_looks_in(self):
        # path: hf:NAME, the cache found through $HF_HOME/hub.
        r = self.run_with(f"    path: hf:{REPO}", "hf_path", HF_HOME=os.path.dirname(self.cache))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.model_attrs("hf_path")[0]["hub_commit"], os.path.basename(self.main))
        # ~/.cache/huggingface/hub when neither is set.
        home = os.path.join(self.dir, "home")
        os.makedirs(os.path.join(home, ".cache", "huggingface"), exist_ok=True)
        if not os.path.exists(os.path.join(home, ".cache", "huggingface", "hub")):
            os.symlink(self.cache, os.path.join(home, ".cache", "huggingface", "hub"))
        r = self.run_with(f"    hub: {REPO}\n    revision: v1", "tag", HOME=home)
        self.assertEqual(r.returncode, 0, r.stderr)
        tagged, tagged_q = self.model_attrs("tag")
        self.assertEqual((tagged["hub_revision"], tagged["hub_commit"]), ("v1", os.path.basename(self.v1)))
        # $XDG_CACHE_HOME/huggingface/hub, as huggingface_hub looks there before ~/.cache.
        xdg = os.path.join(self.dir, "xdg-cache")
        os.makedirs(os.path.join(xdg, "huggingface"), exist_ok=True)
        if not os.path.exists(os.path.join(xdg, "huggingface", "hub")):
            os.symlink(self.cache, os.path.join(xdg, "huggingface", "hub"))
        r = self.run_with(f"    hub: {REPO}", "xdg", XDG_CACHE_HOME=xdg, HOME=os.path.join(self.dir, "nowhere"))
        self.assertEqual(r.returncode, 0, r.stderr)
        # A commit is its own revision, whole or its start (as git abbreviates it).
        commit = os.path.basename(self.v1)
        r = self.run_with(f"    hub: {REPO}\n    revision: {commit[:10].upper()}", "short", HF_HUB_CACHE=self.cache)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.model_attrs("short")[0]["hub_commit"], commit)
        r = self.run_with(f"    hub: {REPO}\n    revision: {commit}", "commit", HF_HUB_CACHE=self.cache)
        self.assertEqual(r.returncode, 0, r.stderr)
        by_commit, by_commit_q = self.model_attrs("commit")
        self.assertEqual(by_commit["hub_commit"], commit)
        self.assertTrue((by_commit_q == tagged_q).all())

    def test_what_is_not_in_the_cache_is_named_with_what_is(self):
        r = self.run_with("    hub: laminar-tests/tiny-gpt3", "missing", HF_HUB_CACHE=self.cache)
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"models[0].hub: model 'laminar-tests/tiny-gpt3' is not in the Hugging Face cache {self.cache}",
                      r.stderr)
        self.assertIn("it holds: gpt2-small-test, laminar-tests/tiny-gpt2 (laminar downloads nothing", r.stderr)
        r = self.run_with(f"    hub: {REPO}\n    revision: v2", "no_ref", HF_HUB_CACHE=self.cache)
        self.assertEqual(r.returncode, 2)
        snapshots = ", ".join(sorted(os.path.basename(p) for p in (self.main, self.v1)))
        self.assertIn(f"models[0].revision: model '{REPO}' in the Hugging Face cache {self.cache}", r.stderr)
        self.assertIn(f"has no ref 'v2' (refs: main, v1; snapshots: {snapshots})", r.stderr)
        r = self.run_with(f"    hub: {REPO}\n    path: {self.main}", "both", HF_HUB_CACHE=self.cache)
        self.assertEqual(r.returncode, 2)
        self.assertIn("models[0]: both path and hub: give path (a model folder) or hub", r.stderr)
        r = self.run_with(f"    path: {self.main}\n    revision: v1", "folder_revision", HF_HUB_CACHE=self.cache)
        self.assertEqual(r.returncode, 2)
        self.assertIn("models[0].revision: revision goes with hub", r.stderr)
        for name in ("../etc", "org//name", "a--b/c", "org/na me"):
            r = self.run_with(f"    hub: '{name}'", "bad_name", HF_HUB_CACHE=self.cache)
            self.assertEqual(r.returncode, 2)
            self.assertIn(f"'{name}' is not a Hub model name", r.stderr)
        r = self.run_with(f"    hub: {REPO}\n    revision: ../../../../etc/hostname", "bad_revision", HF_HUB_CACHE=self.cache)
        self.assertIn("models[0].revision: '../../../../etc/hostname' is not a revision", r.stderr)
        # Never valid, wherever the cache is: validate says so too.
        path = os.path.join(self.dir, "bad_name.yaml")
        r = subprocess.run([BIN, "validate", path], capture_output=True, text=True,
                           env=dict(os.environ, HF_HUB_CACHE=os.path.join(self.dir, "no-cache")))
        self.assertEqual(r.returncode, 2, r.stdout)

    def test_a_run_file_moved_to_a_machine_without_the_cache_is_analysed_again(self):
        r = self.run_with(f"    hub: {REPO}", "moved", HF_HUB_CACHE=self.cache)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.run_with(f"    hub: {REPO}", "moved", HF_HUB_CACHE=os.path.join(self.dir, "no-cache"))
        self.assertEqual(r.returncode, 0, r.stderr)  # (quiet: the log says it used the activations it has)
        r = self.run_with(f"    hub: {REPO}", "moved_fresh", HF_HUB_CACHE=os.path.join(self.dir, "no-cache"))
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"models[0].hub: model '{REPO}' is not in the Hugging Face cache", r.stderr)


if __name__ == "__main__":
    unittest.main()
