"""Benchmark: the full isnad flow over a corpus, against a floor on the same corpus.

Prints articles/s, MB/s, peak memory and seconds per stage for the flow (``isnad run``, the
command an operator runs, with its default ``--workers auto``), then the floor (read the
records, a regex sentence split, write the sentences table) and the ratio flow / floor, both
timed from process start to exit (the floor's time inside its process is printed too). The
flow runs in a child process and the floor in another. The flow's memory is sampled every
0.1 s over its whole process tree (the run and its worker processes; not the shared Prefect
server): the peak of the summed RSS is printed, and the peak RSS of the run's own process.

    .venv/bin/python bench/bench.py                      # the SaudiNewsNet dev corpus once
    .venv/bin/python bench/bench.py --replicate 4        # 4 copies with new ids (~123k articles)
    .venv/bin/python bench/bench.py --limit 1            # start-up cost: a run over one article
    .venv/bin/python bench/bench.py --workers 1          # one process, no pool

Replicas get new ids and a marked title, so their content hashes differ and none of them is
skipped as an exact duplicate. This is a benchmark that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "saudinewsnet-dev.jsonl.gz"


def prepare(
    corpus: Path, replicate: int, limit: int | None, workdir: Path
) -> tuple[Path, int, int]:
    """Write the benchmark input: ``replicate`` copies of the first ``limit`` records."""
    out = workdir / "input.jsonl.gz"
    n = chars = 0
    with gzip.open(corpus, "rt", encoding="utf-8") as src:
        records = [json.loads(line) for _, line in zip(range(limit or 10**9), src, strict=False)]
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=1) as dst:
        for k in range(replicate):
            for r in records:
                if k:
                    r = {**r, "id": f"{r['id']}-r{k}", "title": f"{r.get('title') or ''} [r{k}]"}
                dst.write(json.dumps(r, ensure_ascii=False) + "\n")
                n += 1
                chars += len(r.get("text") or "") + len(r.get("title") or "")
    return out, n, chars


def _parents() -> dict[int, list[int]]:
    """Children of each process, from every /proc/<pid>/stat (a process pool may start its
    workers from any thread, so a thread's ``children`` file is not enough)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    return children


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(pid: int) -> tuple[int, int]:
    """(RSS of ``pid`` and all its descendants summed, RSS of ``pid`` alone), in bytes."""
    children = _parents()
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss(p)
        todo.extend(children.get(p, []))
    return total, _rss(pid)


def run_child(cmd: list[str]) -> tuple[str, float, int, int]:
    """Run ``cmd``; return its stdout, wall seconds, and the peak tree / own RSS sampled."""
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    peaks = [0, 0]

    def sample() -> None:
        while proc.poll() is None:
            total, own = tree_rss(proc.pid)
            peaks[0], peaks[1] = max(peaks[0], total), max(peaks[1], own)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    if proc.returncode != 0:
        sys.stderr.write(err[-4000:])
        raise SystemExit(f"child failed with {proc.returncode}")
    return out, wall, peaks[0], peaks[1]


FLOOR_CHILD = r"""
import gzip, json, re, resource, sys, time
import pyarrow as pa, pyarrow.parquet as pq
t0 = time.perf_counter()
split = re.compile(r"(?<=[.!?؟])\s+|\n+")
schema = pa.schema([("article_id", pa.string()), ("sentence_index", pa.int32()),
                    ("text", pa.string())])
writer = pq.ParquetWriter(sys.argv[2], schema, compression="zstd")
ids, idx, texts = [], [], []
n = 0
with gzip.open(sys.argv[1], "rt", encoding="utf-8") as f:
    for line in f:
        r = json.loads(line)
        for i, s in enumerate(x for x in split.split(r.get("text") or "") if x.strip()):
            ids.append(str(r["id"])); idx.append(i); texts.append(s)
        n += 1
        if len(texts) > 200_000:
            writer.write_table(pa.table([ids, idx, texts], schema=schema))
            ids, idx, texts = [], [], []
writer.write_table(pa.table([ids, idx, texts], schema=schema)); writer.close()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"floor_s": time.perf_counter() - t0, "peak_rss": peak, "articles": n}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--replicate", type=int, default=1)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N records")
    ap.add_argument("--batch-size", type=int, default=2000)
    ap.add_argument("--no-floor", action="store_true")
    ap.add_argument("--workers", default="auto", help="isnad run --workers (default auto)")
    ap.add_argument("--registry", default=None, help="isnad run --registry (default: shipped)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="isnad-bench-") as tmp:
        work = Path(tmp)
        inp, n, chars = prepare(args.corpus, args.replicate, args.limit, work)
        mb = chars * 2 / 1e6  # Arabic letters are two bytes in UTF-8
        print(
            f"corpus   {n} articles, {chars / 1e6:.1f} M characters (~{mb:.0f} MB UTF-8), "
            f"replicate={args.replicate}"
        )
        isnad = str(Path(sys.executable).with_name("isnad"))
        cmd = [isnad, "run", str(inp), "--out", str(work / "out"), "--json"]
        cmd += ["--batch-size", str(args.batch_size), "--workers", args.workers]
        cmd += ["--registry", args.registry] if args.registry else []
        out, total, tree_peak, own_peak = run_child(cmd)
        summary = json.loads(out.strip().splitlines()[-1])
        print(
            f"flow     {total:.1f} s wall (`isnad run --workers {args.workers}`), "
            f"{n / total:.0f} articles/s, {mb / total:.2f} MB/s, {summary['quotes']} quotes"
        )
        print(
            f"memory   peak RSS {tree_peak / 2**20:.0f} MiB summed over the run's processes, "
            f"{own_peak / 2**20:.0f} MiB in the run's own process"
        )
        print("  seconds in the run's process (batch stages: summed over the processes ran them)")
        peaks = summary.get("stage_peak_rss_mib", {})
        for stage, seconds in summary["stage_seconds"].items():
            peak = f"  (run's process peak {peaks[stage]} MiB by its end)" if stage in peaks else ""
            print(f"  {stage:<26} {seconds:7.1f} s{peak}")
        if not args.no_floor:
            out, floor_wall, _, _ = run_child(
                [sys.executable, "-c", FLOOR_CHILD, str(inp), str(work / "floor.parquet")]
            )
            floor = json.loads(out.strip().splitlines()[-1])
            print(
                f"floor    {floor_wall:.1f} s wall, like the flow's: process start to exit "
                f"({floor['floor_s']:.1f} s inside it: read + regex split + write sentences), "
                f"peak RSS {floor['peak_rss'] / 2**20:.0f} MiB"
            )
            print(
                f"ratio    flow / floor = {total / floor_wall:.2f} "
                f"({total / floor['floor_s']:.2f} against the floor's time inside its process)"
            )


if __name__ == "__main__":
    main()
