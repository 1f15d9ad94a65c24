"""`make bench`: load the bench data, then run every bench/bench_*.py module's main().

    .venv/bin/python -m bench.run_all [--no-load] [--only NAME ...]

Modules are found by name (bench_*.py in this folder), so a new bench only needs a main() callable
without arguments (or, failing that, a `__main__` block: it is then run as `python -m bench.<name>`).
A bench that fails is reported and the others still run; the exit status is 1 if any failed.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def bench_modules() -> list[str]:
    """Names of the bench_*.py modules next to this file, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))


def callable_without_arguments(func) -> bool:
    """True for a plain function that can be called as func()."""
    if not callable(func) or inspect.iscoroutinefunction(func):
        return False
    params = inspect.signature(func).parameters.values()
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


def call_main(name: str) -> None:
    """bench.<name>.main(); a module whose main() needs arguments runs as `python -m bench.<name>`."""
    module = importlib.import_module(f"bench.{name}")
    if callable_without_arguments(getattr(module, "main", None)):
        module.main()
    else:
        subprocess.run([sys.executable, "-m", f"bench.{name}"], check=True, cwd=HERE.parent)


def run(name: str) -> bool:
    """Run one bench with an empty command line; True when it succeeded."""
    print(f"\n=== {name} ===", flush=True)
    saved = sys.argv
    sys.argv = [f"bench.{name}"]
    t = time.perf_counter()
    try:
        call_main(name)
        ok = True
    except SystemExit as e:
        ok = e.code in (None, 0)
        if not ok:
            print(f"{name}: exited with {e.code}")
    except Exception:  # one broken bench must not hide the others' figures
        traceback.print_exc()
        ok = False
    finally:
        sys.argv = saved
    print(f"=== {name}: {'done' if ok else 'FAILED'} in {time.perf_counter() - t:.1f} s ===", flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run the loader (unless --no-load) and the benches; return the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-load", action="store_true", help="reuse the bench database as it is")
    ap.add_argument("--only", nargs="*", default=None, help="bench module names (e.g. bench_report)")
    args = ap.parse_args(argv)
    names = [n for n in bench_modules() if not args.only or n in args.only]
    results = {} if args.no_load else {"load_data": run("load_data")}
    if not all(results.values()):
        print("Loading the bench data failed; the benches need it.")
        return 1
    results.update({name: run(name) for name in names})
    failed = [n for n, ok in results.items() if not ok]
    print("\nbench: " + ("all done" if not failed else "FAILED: " + ", ".join(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
