"""Benchmark: the full isnad flow over a corpus, against a floor on the same corpus.

Prints articles/s, MB/s, peak RSS and seconds per stage for the flow, then the floor (read the
records, a regex sentence split, write the sentences table) and the ratio flow / floor. The
flow runs in a child process and the floor in another, so each peak RSS is its own.

    .venv/bin/python bench/bench.py                      # the SaudiNewsNet dev corpus once
    .venv/bin/python bench/bench.py --replicate 4        # 4 copies with new ids (~123k articles)
    .venv/bin/python bench/bench.py --limit 1            # start-up cost: a run over one article

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


def run_child(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last."""
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"child failed with {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


FLOW_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from flows.cli import _quiet_prefect, prefect_api
_quiet_prefect(verbose=False)
from flows.pipeline import isnad_flow
t1 = time.perf_counter()
with prefect_api():
    summary = isnad_flow([sys.argv[1]], sys.argv[2], batch_size=int(sys.argv[3]))
t2 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"import_s": t1 - t0, "flow_s": t2 - t1, "peak_rss": peak,
                  "stages": summary.get("stage_seconds", {}), "articles": summary.get("articles"),
                  "quotes": summary.get("quotes")}))
"""

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
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="isnad-bench-") as tmp:
        work = Path(tmp)
        inp, n, chars = prepare(args.corpus, args.replicate, args.limit, work)
        mb = chars * 2 / 1e6  # Arabic letters are two bytes in UTF-8
        print(
            f"corpus   {n} articles, {chars / 1e6:.1f} M characters (~{mb:.0f} MB UTF-8), "
            f"replicate={args.replicate}"
        )
        flow = run_child(FLOW_CHILD, str(inp), str(work / "out"), str(args.batch_size))
        total = flow["import_s"] + flow["flow_s"]
        print(
            f"flow     {total:.1f} s wall ({flow['import_s']:.1f} s imports), "
            f"{n / total:.0f} articles/s, {mb / total:.2f} MB/s, "
            f"peak RSS {flow['peak_rss'] / 2**20:.0f} MiB, {flow['quotes']} quotes"
        )
        for stage, seconds in flow["stages"].items():
            print(f"  {stage:<12} {seconds:7.1f} s")
        if not args.no_floor:
            floor = run_child(FLOOR_CHILD, str(inp), str(work / "floor.parquet"))
            print(
                f"floor    {floor['floor_s']:.1f} s (read + regex split + write sentences), "
                f"peak RSS {floor['peak_rss'] / 2**20:.0f} MiB"
            )
            print(f"ratio    flow / floor = {total / floor['floor_s']:.2f}")


if __name__ == "__main__":
    main()
