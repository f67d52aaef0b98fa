"""Run mypy on tixcli as it installs: ``python .ci/typecheck.py tixcli backends`` (what .ci/run does).

backends/ installs as ``tixcli.backends`` (package-dir in pyproject.toml), a mapping mypy cannot
read: given ``tixcli backends`` it would check backends/ as a package ``backends`` and fail to find
every ``tixcli.backends`` import. This script takes mypy's own command line and [tool.mypy], renames
the modules found under backends/ to ``tixcli.backends...`` and runs the same build as ``mypy``, so
each module is checked once, under its installed name, and errors still name the files in the repo.
"""

import sys
import time

from mypy import util
from mypy.fscache import FileSystemCache
from mypy.main import process_options, run_build
from mypy.modulefinder import BuildSource


def installed_name(module: str) -> str:
    return f"tixcli.{module}" if module == "backends" or module.startswith("backends.") else module


def main(args: list[str]) -> int:
    t0, fscache = time.time(), FileSystemCache()
    sources, options = process_options(args, fscache=fscache)
    sources = [BuildSource(s.path, installed_name(s.module), s.text, s.base_dir) for s in sources]
    _, messages, blockers = run_build(sources, options, fscache, t0, sys.stdout, sys.stderr)
    n_errors, n_notes, n_files = util.count_stats(messages)
    formatter = util.FancyFormatter(sys.stdout, sys.stderr, options.hide_error_codes)
    if n_errors:
        print(formatter.format_error(n_errors, n_files, len(sources), blockers=blockers))
    else:
        print(formatter.format_success(len(sources)))
    return (2 if blockers else 1) if messages and n_notes < len(messages) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
