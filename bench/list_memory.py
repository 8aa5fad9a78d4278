"""Peak memory of reading a large list: `campaign create --list FILE` and `customers import`.

    .venv/bin/python bench/list_memory.py [--rows 200000] [--what create|import|parse|all]

Generates a list of ``--rows`` rows (a debt call list: phone, account, name, address, debt;
or a customer base of the same people with an e-mail each), migrates a fresh SQLite database
and runs the real command (``contact-center campaign create`` / ``customers import``) in a
child process, so the figure is that command's whole peak: the interpreter, the parse, the
database writes. ``parse`` only reads and validates the call list in a child, the way
``campaign create`` reads it.

The peak is the child's maximum resident set size (``wait4``'s rusage, so the parent's own
memory and the migration's child do not count). Prints per command ``<what>_seconds`` and
``<what>_peak_rss_mb``, and last ``peak_rss_mb: X``, the largest of the commands run.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STREETS = ("Чкалова", "Бочкина", "Нагорная", "Комсомольская", "Ленина", "Гидростроителей")
NAMES = ("Иванов Иван Иванович", "Петрова Анна Сергеевна", "Сидоров Пётр", "Кузнецова Ольга")


def _person(i: int, rnd: random.Random) -> tuple[str, str, str, str, str]:
    phone = f"+7 913 {i // 10000:03d}-{i // 100 % 100:02d}-{i % 100:02d}"
    account = f"{240000 + i}"
    name = rnd.choice(NAMES)
    address = f"г. Дивногорск, ул. {rnd.choice(STREETS)}, д. {i % 97 + 1}, кв. {i % 211 + 1}"
    debt = f"{rnd.randint(1, 99999)},{rnd.randint(0, 99):02d}"
    return phone, account, name, address, debt


def write_call_list(path: Path, rows: int) -> None:
    rnd = random.Random(7)
    with path.open("w", encoding="utf-8") as out:
        out.write("phone;account;name;address;debt\n")
        for i in range(rows):
            phone, account, name, address, debt = _person(i, rnd)
            out.write(f'{phone};{account};{name};"{address}";"{debt}"\n')


def write_customers(path: Path, rows: int) -> None:
    rnd = random.Random(7)
    with path.open("w", encoding="utf-8") as out:
        out.write("account,name,address,has_contract,phone,email,email_consent,debt,debt_date\n")
        for i in range(rows):
            phone, account, name, address, debt = _person(i, rnd)
            out.write(
                f'{account},{name},"{address}",да,{phone},c{i}@example.ru,да,"{debt}",2026-11-01\n'
            )


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """(seconds, peak RSS in MB, exit code, stderr tail) of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT
    )
    assert child.stderr is not None
    # read stderr as it comes (a full pipe would block the child), keep only the tail
    tail = b""
    for chunk in iter(lambda: child.stderr.read(65536), b""):  # type: ignore[union-attr]
        tail = (tail + chunk)[-2000:]
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    return seconds, usage.ru_maxrss / 1024, child.returncode, tail.decode(errors="replace")


def _parse_only(path: str) -> None:
    from autoinformer import lists
    from autoinformer.scenarios import builtin_scenarios

    scenario = next(s for s in builtin_scenarios() if s.name == "debt-notice")
    data = Path(path).read_bytes()
    if hasattr(lists, "open_campaign_list"):
        # as `campaign create` reads it: row by row, nothing kept
        reader = lists.open_campaign_list(data, scenario=scenario)
        given = sum(1 for _ in reader)
        print(given, len(reader.result.rejected), file=sys.stderr)
    else:  # the code before the streaming reader, for a before/after figure
        parsed = lists.parse_campaign_list(data, scenario=scenario)
        print(len(parsed.contacts), len(parsed.rejected), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--what", choices=("create", "import", "parse", "all"), default="all")
    parser.add_argument("--child-parse", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_parse:
        _parse_only(args.child_parse)
        return
    cli = [sys.executable, "-m", "contact_center"]
    peaks: list[float] = []
    with tempfile.TemporaryDirectory(prefix="list-memory-") as tmp_name:
        tmp = Path(tmp_name)
        env = {
            **os.environ,
            "CC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
            "PYTHONPATH": str(ROOT),
        }
        subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
        calls = tmp / "calls.csv"
        customers = tmp / "customers.csv"
        write_call_list(calls, args.rows)
        write_customers(customers, args.rows)
        print(f"rows: {args.rows}")
        print(f"call_list_mb: {calls.stat().st_size / 1e6:.1f}")
        print(f"customer_file_mb: {customers.stat().st_size / 1e6:.1f}")
        runs = {
            "parse": [sys.executable, __file__, "--child-parse", str(calls)],
            "create": [
                *cli,
                "campaign",
                "create",
                "--name",
                "bench",
                "--kind",
                "debt",
                "--list",
                str(calls),
            ],
            "import": [*cli, "customers", "import", str(customers)],
        }
        chosen = ["parse", "create", "import"] if args.what == "all" else [args.what]
        for what in chosen:
            seconds, peak, code, tail = measure(runs[what], env)
            if code != 0:
                print(f"{what} failed ({code}):\n{tail}", file=sys.stderr)
                raise SystemExit(1)
            print(f"{what}_seconds: {seconds:.1f}")
            print(f"{what}_peak_rss_mb: {peak:.0f}")
            peaks.append(peak)
    print(f"peak_rss_mb: {max(peaks):.0f}")


if __name__ == "__main__":
    main()
