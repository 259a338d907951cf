"""Builds services/audit/ledger/_speedups.c into the extension module the full audit uses when it is there
(`make deps` runs this): gcc, this Python's headers, nothing else. Without gcc or the headers it says so
and leaves the ledger package to its Python path, which gives the same answers.

    .venv/bin/python -m services.audit.ledger.speedups_build
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

HERE = Path(__file__).parent
SOURCE = HERE / "_speedups.c"
TARGET = HERE / f"_speedups{sysconfig.get_config_var('EXT_SUFFIX')}"


def build() -> int:
    if TARGET.exists() and TARGET.stat().st_mtime >= SOURCE.stat().st_mtime:
        return 0
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        print("ledger speedups: no C compiler; the full audit runs its Python path", file=sys.stderr)
        return 0
    command = [compiler, "-O2", "-shared", "-fPIC", "-Wall", f"-I{sysconfig.get_paths()['include']}",
               "-o", str(TARGET), str(SOURCE), "-ldl"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        TARGET.unlink(missing_ok=True)
        print(f"ledger speedups: not built ({done.stderr.strip()}); the full audit runs its Python path",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(build())
