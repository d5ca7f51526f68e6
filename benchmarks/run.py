"""Benchmark runner (`make bench`): bulk datasets, DuckDB floors, phishtrace, and the pandas peer.

    .venv/bin/python benchmarks/run.py [--sizes 1M,5M,20M] [--runs 3] [--data DIR] [--only KIND,...] [--append]

For each size it writes (once, timed in a fresh process) a dataset with phishtrace.samples.bulk,
then measures, each run in a fresh process, wall time and peak RSS (os.wait4 of that child):

    scan        DuckDB: SELECT count(*) over read_csv / read_json of every file
    load        DuckDB: CREATE TABLE AS SELECT * FROM read_... of every file, into a fresh database file
    phishtrace  Workspace(fresh file).ingest(all files) + the fct_recipient_outcomes rows
    pt_two      phishtrace on the campaign export + message trace only
    pandas      benchmarks/pandas_peer.py on the same two files

and writes benchmarks/results/<size>.json; `--report` renders benchmarks/results.md from them.
The pt_two and pandas outcomes are compared recipient by recipient (agreement is reported).
Environment: PHISHTRACE_MEMORY_LIMIT / PHISHTRACE_TEMP_DIR reach the phishtrace runs (and the floors).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KINDS = ("scan", "load", "phishtrace", "pt_two", "pandas")
SIZES = {"1M": 1_000_000, "5M": 5_000_000, "20M": 20_000_000}
CUSTOMER = "bulkco"


# -- children (each runs in its own process) ---------------------------------------------------

def _reader(fmt: str, path: str) -> str:
    """The read_* call DuckDB would be given for one file (path passed as a bound parameter)."""
    if fmt in ("phishsim_csv",):
        return "read_csv(?, header = true)"
    if fmt == "m365_message_trace":
        return "read_csv(?, header = true, skip = 1)"  # first line '#TYPE ...'
    return "read_json(?, format = 'newline_delimited')"


def _duckdb_config() -> dict:
    config = {}
    if os.environ.get("PHISHTRACE_MEMORY_LIMIT"):
        config["memory_limit"] = os.environ["PHISHTRACE_MEMORY_LIMIT"]
    if os.environ.get("PHISHTRACE_TEMP_DIR"):
        config["temp_directory"] = os.environ["PHISHTRACE_TEMP_DIR"]
    return config


def child(kind: str, data: Path, work: Path) -> dict:
    files = json.loads((data / "files.json").read_text()) if kind != "generate" else {}
    out: dict = {}
    if kind in ("scan", "load"):
        import duckdb

        db = work / "floor.duckdb"
        if kind == "load":
            db.unlink(missing_ok=True)
        con = duckdb.connect(str(db) if kind == "load" else ":memory:", config=_duckdb_config())
        rows = 0
        for i, (fmt, path) in enumerate(files.items()):
            if kind == "scan":
                rows += con.execute(f"SELECT count(*) FROM {_reader(fmt, path)}", [path]).fetchone()[0]
            else:
                con.execute(f"CREATE TABLE t{i} AS SELECT * FROM {_reader(fmt, path)}", [path])
                rows += con.execute(f"SELECT count(*) FROM t{i}").fetchone()[0]
        con.close()
        out["rows"] = rows
    elif kind in ("phishtrace", "pt_two"):
        sys.path.insert(0, str(ROOT))
        from phishtrace.workspace import Workspace

        db = work / f"{kind}.duckdb"
        db.unlink(missing_ok=True)
        chosen = files if kind == "phishtrace" else {k: files[k] for k in ("phishsim_csv", "m365_message_trace")}
        with Workspace(str(db)) as ws:
            results = ws.ingest(CUSTOMER, list(chosen.values()))
            outcomes = ws.outcomes(CUSTOMER)
        out["rows"] = sum(r.rows for r in results)
        out["outcomes"] = outcomes.height
        if kind == "pt_two":
            outcomes.select("campaign", "run", "recipient", "outcome").write_csv(work / "pt_two.csv")
    elif kind == "pandas":
        sys.path.insert(0, str(HERE))
        import pandas_peer

        pandas_peer.main(files["phishsim_csv"], files["m365_message_trace"], str(work / "pandas.csv"))
    elif kind == "generate":
        sys.path.insert(0, str(ROOT))
        from phishtrace.samples.bulk import write_bulk

        res = write_bulk(data, int(os.environ["BENCH_EVENTS"]))
        (data / "files.json").write_text(json.dumps({k: str(v) for k, v in res.files.items()}, indent=1))
        out = {"events": res.events, "campaign_events": res.campaign_events, "recipients": res.recipients}
        (data / "dataset.json").write_text(json.dumps(out, indent=1))
    return out


# -- the parent ----------------------------------------------------------------------------------

def measure(kind: str, data: Path, work: Path, env: dict | None = None) -> dict:
    """Run one child; wall time, peak RSS of that child, what it reported, load average around it."""
    report = work / f"{kind}.out.json"
    report.unlink(missing_ok=True)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", kind, "--data", str(data), "--work", str(work)],
                            env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed (exit {proc.returncode})")
    got = json.loads(report.read_text()) if report.exists() else {}
    return {"wall_s": round(wall, 3), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2), **got}


def agreement(work: Path) -> dict:
    import polars as pl

    pt = pl.read_csv(work / "pt_two.csv").select("recipient", pt="outcome")
    pd_ = pl.read_csv(work / "pandas.csv").select("recipient", pandas="outcome")
    both = pt.join(pd_, on="recipient", how="full", coalesce=True)
    same = both.filter(pl.col("pt") == pl.col("pandas")).height
    diffs = both.filter(pl.col("pt").ne_missing(pl.col("pandas"))).group_by("pt", "pandas").len().sort("len",
                                                                                                        descending=True)
    return {"recipients": both.height, "same": same, "differences": diffs.head(10).to_dicts()}


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import duckdb
    import polars

    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem, 1), "python": platform.python_version(),
            "duckdb": duckdb.__version__, "polars": polars.__version__, "os": platform.platform()}


def run_size(name: str, events: int, root: Path, runs: int, kinds: list[str], regenerate: bool,
             append: bool = False) -> dict:
    data = root / name
    work = root / f"{name}-work"
    work.mkdir(parents=True, exist_ok=True)
    result_path = HERE / "results" / f"{name}.json"
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    result.update(size=name, events=events, machine=machine(),
                  command=" ".join([Path(sys.executable).name, "benchmarks/run.py", *sys.argv[1:]]),
                  env={k: os.environ.get(k) for k in ("PHISHTRACE_MEMORY_LIMIT", "PHISHTRACE_TEMP_DIR")})
    if regenerate or not (data / "files.json").exists():
        data.mkdir(parents=True, exist_ok=True)
        print(f"[{name}] generating {events:,} events", flush=True)
        result["generate"] = measure("generate", data, work, {"BENCH_EVENTS": str(events)})
        print(f"[{name}] generate {result['generate']['wall_s']} s", flush=True)
    files = json.loads((data / "files.json").read_text())
    result["dataset"] = json.loads((data / "dataset.json").read_text())
    result["bytes"] = {k: Path(v).stat().st_size for k, v in files.items()}
    for kind in kinds:
        samples = list(result.get(kind, {}).get("runs", [])) if append else []
        for i in range(runs):
            sample = measure(kind, data, work)
            samples.append(sample)
            print(f"[{name}] {kind} run {len(samples)}: {sample['wall_s']} s, {sample['peak_rss_mib']} MiB, "
                  f"load {sample['load_before']}", flush=True)
        result[kind] = {"runs": samples, "wall_s": statistics.median(s["wall_s"] for s in samples),
                        "peak_rss_mib": statistics.median(s["peak_rss_mib"] for s in samples),
                        "peak_rss_max_mib": max(s["peak_rss_mib"] for s in samples)}
        result_path.parent.mkdir(exist_ok=True)
        result_path.write_text(json.dumps(result, indent=1))
    if {"pt_two", "pandas"} <= set(kinds):
        result["agreement"] = agreement(work)
    result_path.write_text(json.dumps(result, indent=1))
    return result


def _ratio(a: dict, b: str, c: str) -> str:
    if b in a and c in a:
        return f"{a[b]['wall_s'] / a[c]['wall_s']:.2f}"
    return "n/a"


def report() -> str:
    """A markdown table of every results/<size>.json."""
    lines = ["| size | kind | runs | wall s (median) | rows/s | peak RSS MiB (median / max) |",
             "|---|---|---|---|---|---|"]
    ratios = ["| size | phishtrace / load floor | phishtrace / scan floor | pandas / phishtrace (two inputs) "
              "| generate s | agreement pandas vs phishtrace |", "|---|---|---|---|---|---|"]
    for name in SIZES:
        path = HERE / "results" / f"{name}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        for kind in KINDS:
            if kind not in r:
                continue
            k = r[kind]
            rows = next((s.get("rows") for s in k["runs"] if s.get("rows")), None)
            if kind == "pandas":
                rows = r.get("pt_two", {}).get("runs", [{}])[0].get("rows")
            rate = f"{rows / k['wall_s']:,.0f}" if rows else ""
            lines.append(f"| {name} | {kind} | {len(k['runs'])} | {k['wall_s']:.1f} | {rate} | "
                         f"{k['peak_rss_mib']:,.0f} / {k['peak_rss_max_mib']:,.0f} |")
        agree = r.get("agreement")
        agree_text = f"{agree['same']:,} / {agree['recipients']:,}" if agree else "n/a"
        gen = f"{r['generate']['wall_s']:.1f}" if "generate" in r else "n/a"
        ratios.append(f"| {name} | {_ratio(r, 'phishtrace', 'load')} | {_ratio(r, 'phishtrace', 'scan')} | "
                      f"{_ratio(r, 'pandas', 'pt_two')} | {gen} | {agree_text} |")
    return "\n".join(lines) + "\n\n" + "\n".join(ratios) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1M,5M,20M")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", default=os.environ.get("PHISHTRACE_BENCH_DIR", "/tmp/phishtrace-bench"))
    ap.add_argument("--only", default=",".join(KINDS), help="comma-separated kinds: " + ", ".join(KINDS))
    ap.add_argument("--regenerate", action="store_true", help="write the datasets again")
    ap.add_argument("--append", action="store_true",
                    help="add the runs to those stored for the same size and kind (the median covers all)")
    ap.add_argument("--report", action="store_true", help="only print the table of the stored results")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        out = child(args.child, Path(args.data), Path(args.work))
        Path(args.work, f"{args.child}.out.json").write_text(json.dumps(out))
        return
    if args.report:
        print(report())
        return
    if args.append and args.regenerate:
        raise SystemExit("--append adds runs on the same dataset: it cannot be combined with --regenerate")
    kinds = [k for k in args.only.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise SystemExit(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
    for name in args.sizes.split(","):
        if name not in SIZES:
            raise SystemExit(f"unknown size {name}; known: {', '.join(SIZES)}")
        run_size(name, SIZES[name], Path(args.data), args.runs, kinds, args.regenerate, args.append)
    print(report())


if __name__ == "__main__":
    main()
