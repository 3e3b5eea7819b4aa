"""laminar from Python: run or validate an experiment with the `laminar` command line, and get
the run file back as a `RunFile`.

    run = laminar.run("experiments/demo.yaml", models={"demo-gpt2": "build/models/demo-gpt2-wordnet"})
    run = laminar.run({"experiment": "mine", "models": [...], ...}, out="runs/mine.h5", quiet=True)
    laminar.validate("experiments/demo.yaml")        # the notes; an ExperimentError lists the problems

The experiment is a YAML file's path, a YAML text or a dict of the file's structure (relative
paths in a text or dict are relative to the working directory). Progress shows as it happens:
in a notebook one updating line per step, elsewhere the command's lines on stderr.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from collections import namedtuple

import yaml

from .run_file import RunFile

Problem = namedtuple("Problem", ["file", "line", "column", "field", "message"])


class LaminarError(Exception):
    """What the command line said when it failed, in its words."""


class ExperimentError(LaminarError):
    """The experiment (or the options) were refused before anything ran: exit status 2. `problems`
    holds each as (file, line, column, field, message); `file`, `line`, `column`, `field` and
    `message` are the first one's."""

    def __init__(self, text, problems):
        super().__init__(text)
        self.problems = problems
        first = problems[0] if problems else Problem(None, None, None, None, text)
        self.file, self.line, self.column, self.field, self.message = first


class RunError(LaminarError):
    """A run that started and failed (a model that cannot be read, a full disk): exit status 1.
    The results already written are kept."""


class LaminarWarning(UserWarning):
    """A warning of the command line (NaN from a zero vector, a set left without a partner...)."""


def executable():
    """The `laminar` command: $LAMINAR_BIN, else beside this package (an installation's bin/, a
    source checkout's build/), else on PATH."""
    if os.environ.get("LAMINAR_BIN"):
        return os.environ["LAMINAR_BIN"]
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "..", "..", "..", "..", "bin", "laminar"),  # <prefix>/share/laminar/python/laminar
                      os.path.join(here, "..", "..", "..", "build", "laminar")):    # <checkout>/tools/python/laminar
        if os.access(candidate, os.X_OK):
            return os.path.normpath(candidate)
    found = shutil.which("laminar")
    if found:
        return found
    raise LaminarError("the laminar command was not found: not in $LAMINAR_BIN, beside this package "
                       f"({here}) or on PATH (build it: tools/build.sh, or set LAMINAR_BIN)")


class _Experiment:
    """The experiment as a file the command line reads: the given path, or a hidden file in the
    working directory (so that its relative paths mean what they mean to the caller), removed after."""

    def __init__(self, experiment):
        self.temporary = None
        if isinstance(experiment, dict):
            text = yaml.safe_dump(_plain(experiment), sort_keys=False, allow_unicode=True)
        elif isinstance(experiment, os.PathLike) or (isinstance(experiment, str) and "\n" not in experiment and
                                                     not re.search(r":\s|^\s*\{", experiment)):
            self.path, self.shown = os.fspath(experiment), os.fspath(experiment)  # a file's path (not YAML's "key: value")
            if not os.path.isfile(self.path):
                raise ExperimentError(f"{self.path}: no such experiment file",
                                      [Problem(self.path, None, None, None, "no such experiment file")])
            return
        elif isinstance(experiment, str):
            text = experiment
        else:
            raise TypeError(f"experiment: a YAML file's path, a YAML text or a dict (got {type(experiment).__name__})")
        handle, self.temporary = tempfile.mkstemp(prefix=".laminar-experiment-", suffix=".yaml", dir=os.getcwd())
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        self.path, self.shown = self.temporary, "<experiment>"

    def close(self):
        if self.temporary and os.path.exists(self.temporary):
            os.remove(self.temporary)


def _plain(value):
    """A dict experiment as YAML can write it: paths (pathlib) as text."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _end_with_parent():
    """In the child, before it runs laminar: end when the Python that started it ends (a
    notebook's kernel restarted), as laminar does with the Python that draws its report."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _Progress:
    """One line per step ("extract: gpt2", "analyze: rsa"), updated as the command reports it: in
    IPython a display handle per step, elsewhere the lines as they come."""

    def __init__(self, quiet):
        self.quiet, self.handles = quiet, {}
        try:
            from IPython import get_ipython
            from IPython.display import display
            self.display = display if get_ipython() is not None else None
        except ImportError:
            self.display = None

    def show(self, line):
        if self.quiet or not line or line.startswith(("warning:", "error:", "  ")):
            return
        step = ": ".join(line.split(": ")[:2]) if line.startswith(("extract:", "analyze:")) else line.split(":")[0]
        if self.display is None:
            print(line, file=sys.stderr, flush=True)
        elif step in self.handles:
            self.handles[step].update(_Line(line))
        else:
            self.handles[step] = self.display(_Line(line), display_id=True)


class _Line(str):
    def _repr_html_(self):
        import html
        return f"<pre style='margin:0'>{html.escape(self)}</pre>"


def _problems(lines, shown, path):
    """The problems the command line listed, as Problems (the experiment's hidden file named as `shown`)."""
    def named(file):
        return shown if os.path.abspath(file) == os.path.abspath(path) else file
    out = []
    for line in lines:  # "error: FILE:LINE:COLUMN: FIELD: message" (`validate`: without "error: ")
        m = None if line.startswith(("note:", "warning:")) else re.match(r"^(?:error: )?(.+?):(\d+):(\d+): (.*)$", line)
        if not m:
            whole = re.match(r"^error: ([^ :]+): (.*)$", line)  # about a file as a whole: "error: FILE: cannot open ..."
            if whole:
                out.append(Problem(named(whole.group(1)), None, None, None, whole.group(2)))
            continue
        field, sep, message = m.group(4).partition(": ")
        if not sep or " " in field:
            field, message = None, m.group(4)
        out.append(Problem(named(m.group(1)), int(m.group(2)), int(m.group(3)), field, message))
    return out


def _call(arguments, experiment, quiet):
    """Runs `laminar ARGUMENTS`, shows its progress, turns its warnings into LaminarWarnings and its
    failure into an ExperimentError (exit 2) or a RunError (exit 1); returns its output lines."""
    progress = _Progress(quiet)
    env = dict(os.environ, LAMINAR_PROGRESS="lines")
    lines = []
    with subprocess.Popen([executable(), *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, bufsize=1, preexec_fn=_end_with_parent) as process:
        try:
            for raw in process.stdout:
                line = raw.rstrip("\n")
                if experiment.temporary:
                    line = line.replace(experiment.path, experiment.shown)
                lines.append(line)
                if line.startswith("warning: "):
                    warnings.warn(line[len("warning: "):], LaminarWarning, stacklevel=3)
                progress.show(line)
        except BaseException:  # interrupted (a notebook's stop button): the run stops too, as on Ctrl-C
            process.send_signal(signal.SIGINT)  # (what it wrote is as its last completed stage left it)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            raise
    status = process.returncode
    if status == 0:
        return lines
    problems = _problems(lines, experiment.shown, experiment.path)
    said = "\n".join(l for l in lines if l.startswith(("error:", "note:")) or (problems and re.match(r"^[^ ]+:\d+:\d+: ", l)))
    said = said or "\n".join(lines[-20:])
    if status == 2:
        raise ExperimentError(said, problems)
    raise RunError(said or f"laminar {arguments[0]} failed (exit {status})")


def _output(experiment_path, out):
    """The run file `run` writes: --out, else the experiment's `output:` (${VAR} expanded)
    relative to the experiment file's folder."""
    if out:
        return os.path.abspath(out)
    with open(experiment_path, encoding="utf-8-sig") as f:
        spec = yaml.safe_load(f)
    # ${NAME} only, as the command line expands it ($NAME stays as written there too).
    path = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: os.environ.get(m.group(1), m.group(0)), str(spec["output"]))
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(experiment_path)), path))


def run(experiment, stage=None, force=False, out=None, models=None, shard=None, quiet=False, verbose=False):
    """Runs an experiment as `laminar run` does (the same options: stage "extract", "analyze" or
    "report"; force; out, the run file; models, {"id": folder} as --model; shard "K/N") and returns
    the run file opened (a RunFile; with `shard`, None: the shards are merged by `laminar merge`).
    quiet: no progress; verbose: the command's own log lines too. Raises ExperimentError or RunError."""
    file = _Experiment(experiment)
    try:
        arguments = ["run", file.path]
        if stage:
            arguments += ["--stage", stage]
        if force:
            arguments.append("--force")
        if out:
            arguments += ["--out", os.fspath(out)]
        for model, path in (models or {}).items():
            arguments += ["--model", f"{model}={os.fspath(path)}"]
        if shard:  # "K/N", or (K, N)
            arguments += ["--shard", "/".join(map(str, shard)) if isinstance(shard, (tuple, list)) else str(shard)]
        if verbose:
            arguments.append("--verbose")
        _call(arguments, file, quiet)
        return None if shard else RunFile(_output(file.path, out))
    finally:
        file.close()


def validate(experiment):
    """Checks an experiment as `laminar validate` does, without running anything: returns its
    notes (e.g. a model folder given by an unset ${VAR}); raises ExperimentError with every problem."""
    file = _Experiment(experiment)
    try:
        return [l[len("note: "):] for l in _call(["validate", file.path], file, quiet=True) if l.startswith("note: ")]
    finally:
        file.close()
