"""Run the real CLI entry point in-process (fast) or as a subprocess (end to end)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from tixcli.__main__ import main

TIXCLI = Path(sys.executable).with_name("tixcli")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


def run(*args: str, env: dict[str, str] | None = None, stdin: bytes = b"") -> Result:
    """tixcli ARGS in this process, through the same main() the console script calls."""
    out, err = io.StringIO(), io.StringIO()
    fake_stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    with mock.patch.dict(os.environ, env or {}), mock.patch.object(sys, "stdin", fake_stdin):
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(args))
    return Result(code, out.getvalue(), err.getvalue())


def run_process(*args: str, env: dict[str, str] | None = None, stdin: bytes = b"", timeout: float = 60) -> Result:
    """tixcli ARGS as a real subprocess of the installed console script."""
    proc = subprocess.run(
        [str(TIXCLI), *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))
