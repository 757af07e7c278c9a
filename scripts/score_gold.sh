#!/usr/bin/env bash
# Score gold sets with `isnad evaluate`, each from a fresh `isnad run` into WORK/out-SET.
# Usage: scripts/score_gold.sh WORK [SET ...]   (sets: seeds dev holdout dev2 dev3
# dev4 dev5 dev6 holdout-bbc holdout3 holdout4 probe-a probe-b probe-c probe-d; default all; the probes are
# invented articles, see tests/data/probe-*/README.md). dev2-dev6, holdout-bbc, holdout3 and holdout4 take their articles
# from ../shared/corpus.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
work=${1:?usage: scripts/score_gold.sh WORK [SET ...]}
shift
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(seeds dev holdout dev2 dev3 dev4 dev5 dev6 holdout-bbc holdout3 holdout4 probe-a probe-b probe-c probe-d)
py=${PYTHON:-.venv/bin/python}
mkdir -p "$work"
declare -A IN=([seeds]=data/sample [dev]=tests/data/dev/articles.jsonl
    [holdout]=tests/data/holdout/articles.jsonl [dev2]="$work/dev2.jsonl" [dev3]="$work/dev3.jsonl"
    [dev4]="$work/dev4.jsonl" [dev5]="$work/dev5.jsonl" [dev6]="$work/dev6.jsonl"
    [holdout-bbc]="$work/holdout-bbc.jsonl" [holdout3]="$work/holdout3.jsonl"
    [holdout4]="$work/holdout4.jsonl"
    [probe-a]=tests/data/probe-a/articles.jsonl [probe-b]=tests/data/probe-b/articles.jsonl
    [probe-c]=tests/data/probe-c/articles.jsonl [probe-d]=tests/data/probe-d/articles.jsonl)
declare -A GOLD=([seeds]=tests/data/seeds.gold.jsonl)
for s in "${sets[@]}"; do
    [ -n "${IN[$s]:-}" ] || { echo "unknown set: $s" >&2; exit 64; }
    gold=${GOLD[$s]:-tests/data/$s/gold.jsonl}
    if [ -f "tests/data/$s/articles.ids" ]; then
        "$py" scripts/gold_articles.py "tests/data/$s/articles.ids" -o "${IN[$s]}" >/dev/null
    fi
    rm -rf "$work/out-$s"
    "$py" -m flows.cli run "${IN[$s]}" --out "$work/out-$s" >"$work/run-$s.log" 2>&1
    echo "=== $s (run exit $?)"
    "$py" -m flows.cli evaluate --gold "$gold" --quotes "$work/out-$s"
done
