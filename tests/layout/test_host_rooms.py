"""The host's rooms keep their arrows pointing down the data's way (docs: DESIGN "Folders").

stages/ may include spec/, store/ and runtime/; spec/ and store/ may include runtime/; runtime/
includes no other room. No two files (a .hpp and its .cpp count as one) include each other round a
cycle. Read from the `#include "room/file"` lines of framework/src, so a new arrow up fails here
before it becomes a call cycle.
"""
import os
import re
import unittest
from pathlib import Path

SOURCE = Path(os.environ.get("LAMINAR_SOURCE", Path(__file__).resolve().parents[2]))
HOST = SOURCE / "framework" / "src"
ROOMS = {"spec", "store", "stages", "runtime"}
MAY_INCLUDE = {
    "stages": {"stages", "spec", "store", "runtime"},
    "spec": {"spec", "runtime"},
    "store": {"store", "runtime"},
    "runtime": {"runtime"},
}
# Known and left for later: loading an experiment (experiment.cpp) checks its stimuli and its
# recording plans, which both read the Experiment type. A separate loader file would untie them.
KNOWN_CYCLES = {
    "spec/experiment -> spec/recording_plan -> spec/experiment",
    "spec/experiment -> spec/stimuli_spec -> spec/experiment",
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def host_files():
    return sorted(p for p in HOST.rglob("*") if p.is_file() and p.suffix in {".hpp", ".cpp", ".in"})


def unit(relative):
    """'store/run_file.cpp' -> 'store/run_file': a header and its source are one node."""
    return relative.split(".")[0]


def graph():
    edges = {}
    for path in host_files():
        rel = path.relative_to(HOST).as_posix()
        for target in INCLUDE.findall(path.read_text()):
            if target.split("/")[0] in ROOMS:
                edges.setdefault(unit(rel), set()).add(unit(target))
    return edges


class HostRooms(unittest.TestCase):
    def test_every_file_lives_in_a_room(self):
        loose = [p.relative_to(HOST).as_posix() for p in host_files()
                 if p.relative_to(HOST).parts[0] not in ROOMS]
        self.assertEqual(loose, [], "framework/src holds rooms only: " + ", ".join(sorted(ROOMS)))

    def test_includes_point_down(self):
        up = []
        for path in host_files():
            rel = path.relative_to(HOST).as_posix()
            room = rel.split("/")[0]
            for target in INCLUDE.findall(path.read_text()):
                to = target.split("/")[0]
                if to in ROOMS and to not in MAY_INCLUDE[room]:
                    up.append(f"{rel} includes {target}")
                if "/" not in target and (HOST / target).exists():
                    up.append(f"{rel} includes {target} without its room")
        self.assertEqual(up, [], "an arrow up the data's way")

    def test_no_cycle_between_files(self):
        edges = graph()
        state, stack, cycles = {}, [], []

        def visit(node):
            state[node] = "open"
            stack.append(node)
            for nxt in sorted(edges.get(node, ())):
                if nxt == node:
                    continue
                if state.get(nxt) == "open":
                    cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
                elif nxt not in state:
                    visit(nxt)
            stack.pop()
            state[node] = "done"

        for node in sorted(edges):
            if node not in state:
                visit(node)
        self.assertEqual([c for c in cycles if c not in KNOWN_CYCLES], [])


if __name__ == "__main__":
    unittest.main()
