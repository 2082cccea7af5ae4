"""Cold-start import time of each Lambda entry point, against importing its dependencies alone, from
the Lambda package itself, in one run.

    make package && .venv/bin/python -m bench.coldstart [--rounds 9]

The package (build/package/deployment.zip) is unzipped and each measurement runs in a fresh
interpreter without site-packages (`python -S`), with the unzipped package first on the path as
Lambda has it, and nothing compiled at run time kept (Lambda's code folder is read-only). It is
measured twice: as packaged (with the bytecode `infra.bytecode` adds) and with the bytecode removed,
as Chalice alone would ship it. An entry point's imports are its handler's module, as the packaged template names it, plus
what its handler imports on its first call. Its dependencies are every module that left loaded that is not ours (third-party and standard
library), imported alone in the same order. Rounds alternate entry and dependencies; medians are
reported, so a noisy machine moves both alike. A second ratio, "in-process", comes from one process:
every module's import time over the same less our modules' own (`python -X importtime`), which a
busy machine cannot skew between two processes.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from chalicelib.core import catalog
from infra.package import runtime_python

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "build" / "package" / "deployment.zip"

TEMPLATE = ROOT / "build" / "package" / "template.json"
#: The package is run as Lambda runs it: by a Python of the functions' runtime, whose wheels and bytecode it holds.
PYTHON = runtime_python() or sys.executable

#: What a function's handler imports on its first call, beyond its module (chalicelib/events/ imports the
#: runner's work there, so the API function, which imports every blueprint, does not pay for it; the
#: dispatcher's first marketing email seals an unsubscribe link: Fernet, and the secret read through Powertools).
_PLAN = ["chalicelib.runner.evaluation"]
FIRST_CALL = {"dispatch": ["chalicelib.sending.dispatcher", "chalicelib.sending.sources.automation",
                           "chalicelib.sending.sources.action", "cryptography.fernet",
                           "aws_lambda_powertools.utilities.parameters"],
              "jwt_auth": ["jwt"],
              "evaluate": ["chalicelib.adapters.repository", "chalicelib.runner.evaluation"],
              "customer_changes": ["chalicelib.runner.customer_changes"],
              "ses_feedback": ["chalicelib.runner.feedback"],
              "release_deferred": _PLAN,
              **{f"plan_{type_}": _PLAN for type_ in catalog.PER_EVENT}}


def entry_points(template: Path) -> dict[str, list[str]]:
    """Functions -> what a cold invocation imports: the module of the handler the packaged template names
    (Chalice's `app.app` for the API), then what the handler imports on its first call. Functions that
    import the same modules are measured once, under their names joined."""
    resources = json.loads(template.read_text())["Resources"]
    by_imports: dict[tuple[str, ...], list[str]] = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        module, function = resource["Properties"]["Handler"].rsplit(".", 1)
        name = "api_handler" if function == "app" else function
        imports = tuple([module, *FIRST_CALL.get(name, [])])
        by_imports.setdefault(imports, []).append(name)
    return {", ".join(sorted({"plan_*" if n.startswith("plan_") else n for n in names})): list(imports)
            for imports, names in sorted(by_imports.items(), key=lambda kv: sorted(kv[1]))}


#: As Lambda runs it: its code folder is read-only, so nothing compiled at run time is kept.
ENVIRONMENT = {"AWS_DEFAULT_REGION": "us-east-1", "TABLE_PREFIX": "bench-", "AUTH_MODE": "cognito",
               "POWERTOOLS_SERVICE_NAME": "marketing-automations-runner", "PATH": "/usr/bin:/bin",
               "PYTHONDONTWRITEBYTECODE": "1"}

_TIMED = """
import importlib, json, sys, time
sys.path.insert(0, {root!r})
names = {names!r}
started = time.perf_counter()
for name in names:
    try:
        importlib.import_module(name)
    except Exception:
        pass
elapsed = (time.perf_counter() - started) * 1000
ours = [m for m in sys.modules if m == "app" or m.startswith("chalicelib")]
loaded = [m for m in sys.modules if m not in ours and m not in {before!r}]
print(json.dumps({{"ms": elapsed, "loaded": loaded}}))
"""


def _run(root: Path, names: list[str], before: list[str]) -> dict:
    code = _TIMED.format(root=str(root), names=names, before=before)
    result = subprocess.run([PYTHON, "-S", "-c", code], capture_output=True, text=True, env=ENVIRONMENT,
                            cwd=root, check=True)
    return json.loads(result.stdout)


def _own_share(root: Path, names: list[str]) -> tuple[float, float]:
    """(our modules' ms, every module's ms) of one import of the entry point, from Python's own per-module
    account (`-X importtime`: each module's body, without the modules it imports). Both figures come from
    one process, so a busy machine moves them alike."""
    code = _TIMED.format(root=str(root), names=names, before=[])
    result = subprocess.run([PYTHON, "-S", "-X", "importtime", "-c", code], capture_output=True, text=True,
                            env=ENVIRONMENT, cwd=root, check=True)
    ours = every = 0
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        own, _, name = line[len("import time:"):].split("|")
        every += int(own)
        if name.strip() == "app" or name.strip().startswith("chalicelib"):
            ours += int(own)
    return ours / 1000, every / 1000


def measure(root: Path, rounds: int, entries: dict[str, list[str]]) -> list[dict]:
    """Medians over `rounds`; each round runs every entry point and its dependencies in turn."""
    # What a bare interpreter already has loaded is not anybody's import cost.
    baseline = _run(root, [], [])["loaded"]
    dependencies = {entry: _run(root, names, baseline)["loaded"] for entry, names in entries.items()}
    times: dict[str, tuple[list, list, list]] = {entry: ([], [], []) for entry in entries}
    for _ in range(rounds):
        for entry, names in entries.items():
            times[entry][0].append(_run(root, names, baseline)["ms"])
            times[entry][1].append(_run(root, dependencies[entry], baseline)["ms"])
            ours, every = _own_share(root, names)
            times[entry][2].append(every / (every - ours))
    figures = []
    for entry, (entry_ms, deps_ms, own_ratios) in times.items():
        entry_median, deps_median = statistics.median(entry_ms), statistics.median(deps_ms)
        figures.append({"entry_point": entry, "entry_ms": round(entry_median, 1), "dependencies_ms": round(deps_median, 1),
                        "ratio": round(entry_median / deps_median, 3),
                        "own_ratio": round(statistics.median(own_ratios), 3), "modules": len(dependencies[entry])})
    return figures


def without_bytecode(root: Path) -> None:
    for cache in list(root.rglob("__pycache__")):
        shutil.rmtree(cache)


def package_size(path: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {"zipped_bytes": path.stat().st_size, "unzipped_bytes": sum(i.file_size for i in z.infolist()),
                "files": len(z.infolist())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--package", type=Path, default=PACKAGE)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if not args.package.exists():
        print(f"error: {args.package} is missing; run `make package` first", file=sys.stderr)
        return 2
    size = package_size(args.package)
    if not args.json:
        print(f"package: {size['zipped_bytes'] / 1e6:.1f} MB zipped, {size['unzipped_bytes'] / 1e6:.1f} MB unzipped, "
              f"{size['files']} files")
    with tempfile.TemporaryDirectory(prefix="coldstart-") as folder:
        with zipfile.ZipFile(args.package) as z:
            z.extractall(folder)
        entries = entry_points(args.template)
        packaged = measure(Path(folder), args.rounds, entries)
        without_bytecode(Path(folder))
        sources_only = measure(Path(folder), max(3, args.rounds // 3), entries)
    if args.json:
        print(json.dumps({"package": size, "packaged": packaged, "sources_only": sources_only}))
        return 0
    for title, figures in (("as packaged (with bytecode)", packaged), ("sources only (no bytecode)", sources_only)):
        print(f"\n{title}\n{'entry point':34} {'entry ms':>9} {'deps ms':>9} {'ratio':>7} {'in-process':>11} "
              f"{'modules':>8}")
        for f in figures:
            print(f"{f['entry_point']:34} {f['entry_ms']:9.1f} {f['dependencies_ms']:9.1f} {f['ratio']:7.3f} "
                  f"{f['own_ratio']:11.3f} {f['modules']:8d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
