"""`chalice package` for the Lambda runtime, whatever Python runs the build.

Usage: python -m infra.package [chalice package options] OUT_DIR
       python -m infra.package --runtime-python    (prints a Python of the runtime on this machine, if any)

Chalice takes the functions' runtime, and the ABI of the wheels it vendors, from the Python that runs
it. The functions run RUNTIME; this sets Chalice's Lambda Python version to it, so the template names
RUNTIME and Chalice fetches RUNTIME's manylinux wheels for the dependencies that have compiled parts
(as it does when a package is built on a laptop for Linux), then runs Chalice's own command line.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

#: The functions' runtime: supported by AWS to 2029.
RUNTIME = "python3.13"


def runtime_python() -> str | None:
    """A Python of the functions' runtime on this machine (on the PATH or under pyenv), or None: it compiles
    the package's bytecode, and the cold-start benchmark runs the package with it."""
    name = RUNTIME
    candidates = [shutil.which(name), *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{name[6:]}*/bin/{name}"))),
                  f"/usr/bin/{name}", f"/usr/local/bin/{name}"]
    version = f"import sys; assert sys.version_info[:2] == ({name[6]}, {name[8:]})"
    for candidate in filter(None, candidates):
        if os.path.exists(candidate) and subprocess.run([candidate, "-c", version], capture_output=True).returncode == 0:
            return candidate
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--runtime-python"]:
        print(runtime_python() or "")
        return 0
    from chalice.cli import main as chalice
    from chalice.config import Config

    Config.lambda_python_version = property(lambda self: RUNTIME)  # type: ignore[assignment]
    sys.argv = ["chalice", "package", *args]
    return chalice()


if __name__ == "__main__":
    sys.exit(main())
