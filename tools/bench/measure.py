"""Runs one process and measures it: wall seconds and peak resident memory (GB), for the
benchmarks that compare whole processes (bench_llama.py, bench_memory.py)."""
import os
import tempfile
import time


def timed(cmd):
    """(seconds, peak RSS in GB, stdout) of `cmd`; exits naming it when it fails. Output goes
    through files, not pipes, so a chatty process cannot block before wait4 reaps it."""
    return timed_cpu(cmd)[:3]


def timed_cpu(cmd):
    """timed(cmd) and the process's CPU seconds (user + system): on a shared machine the wall
    seconds include waiting for a core, the CPU seconds do not."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                                                                    (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        if status != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {err.read().decode()}")
        return seconds, usage.ru_maxrss / 1e6, out.read().decode(), usage.ru_utime + usage.ru_stime
