#!/usr/bin/env bash
# Hyperscan against Vectorscan: the in-memory matching benchmark (vigil_match_bench) of the same
# sources, rules and data, built once per engine, in one run. See bench/README.md.
#   1. builds (or reuses, incrementally) vigil_match_bench twice, plain Release:
#        $VIGIL_BENCH_HS_BUILD (default <root>/build-bench, run_benchmarks.sh's plain build)
#          with -DVIGIL_REGEX_ENGINE=hyperscan
#        $VIGIL_BENCH_VS_BUILD (default <root>/build-bench-vectorscan)
#          with -DVIGIL_REGEX_ENGINE=vectorscan (fetched by scripts/fetch_vectorscan.sh)
#   2. prepares the data in $VIGIL_BENCH_DIR (default /tmp/vigil-bench): bench/prepare_data.sh
#   3. $VIGIL_BENCH_ROUNDS (3) rounds, each running both programs one after the other, the order
#      swapped every round (hyperscan first in odd rounds, vectorscan first in even ones), so
#      that drift in the machine's load hits both engines alike. Each program verifies first
#      (exit 3 on failure: the script stops) and then times $VIGIL_BENCH_REPETITIONS (3)
#      randomly interleaved repetitions of each benchmark.
#   4. prints, per benchmark, the median over all rounds and repetitions of each engine's rate
#      (wall clock and CPU time) and the ratio vectorscan / hyperscan.
# A rate is printed only from runs whose checks passed: a benchmark any of whose repetitions
# reported an error (for `vigil`: an alert count other than the verified one) gets FAILED and no
# figure, and so does a `vigil` benchmark whose alert count differs between the two engines
# (same rules, same data: the engines must agree).
# Extra arguments go to vigil_match_bench (e.g. --benchmark_filter=linux_web).
# VIGIL_BENCH_REPORT_ONLY=1 prints the table of the last run again (nothing built or run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
hs_build="${VIGIL_BENCH_HS_BUILD:-$root/build-bench}"
vs_build="${VIGIL_BENCH_VS_BUILD:-$root/build-bench-vectorscan}"
out="${VIGIL_BENCH_DIR:-/tmp/vigil-bench}"
rounds="${VIGIL_BENCH_ROUNDS:-3}"
reps="${VIGIL_BENCH_REPETITIONS:-3}"
export VIGIL_BENCH_DIR="$out"
results="$out/engines"

# Configures (only the engine, build type and PGO settings are forced, so an existing plain
# Release build of run_benchmarks.sh is reused) and builds the benchmark program.
build_engine() {
  local engine="$1" dir="$2" gen=()
  [[ -f "$dir/CMakeCache.txt" ]] || gen=(-G Ninja -DVIGIL_BUILD_TESTS=OFF)
  echo "== $engine: Release build in $dir ==" >&2
  cmake -S "$root" -B "$dir" ${gen[@]+"${gen[@]}"} -DCMAKE_BUILD_TYPE=Release -DVIGIL_PGO= \
    -DVIGIL_REGEX_ENGINE="$engine" > "$dir/vigil-configure.log" 2>&1 ||
    { cat "$dir/vigil-configure.log" >&2; exit 2; }
  grep -h 'vigil: regex engine' "$dir/vigil-configure.log" >&2
  cmake --build "$dir" --target vigil_match_bench
}
if [[ "${VIGIL_BENCH_REPORT_ONLY:-0}" != 1 ]]; then
  mkdir -p "$hs_build" "$vs_build"
  build_engine hyperscan "$hs_build"
  build_engine vectorscan "$vs_build"

  "$here/prepare_data.sh" "$hs_build/bench/vigil_match_bench"

  rm -rf "$results" && mkdir -p "$results"
  for ((round = 1; round <= rounds; round++)); do
    if ((round % 2)); then order=(hyperscan vectorscan); else order=(vectorscan hyperscan); fi
    for engine in "${order[@]}"; do
      if [[ "$engine" == hyperscan ]]; then dir="$hs_build"; else dir="$vs_build"; fi
      json="$results/$engine.$round.json"
      echo "== round $round/$rounds: $engine ($reps repetitions; verification output first) ==" >&2
      # A failed verification exits 3 before anything is timed: set -e stops the script here.
      "$dir/bench/vigil_match_bench" \
        --benchmark_repetitions="$reps" \
        --benchmark_enable_random_interleaving=true \
        --benchmark_out="$json" --benchmark_out_format=json \
        "$@" > "$results/$engine.$round.txt" 2>&1 ||
        { status=$?; tail -n 20 "$results/$engine.$round.txt" >&2
          echo "engines: $engine round $round failed (exit $status): no figures" >&2; exit "$status"; }
      grep -E '^\[.*\] (VERIFIED|.*VERIFICATION)' "$results/$engine.$round.txt" >&2 || true
    done
  done
  echo "$rounds $reps" > "$results/rounds"
fi
read -r rounds reps < "$results/rounds" ||
  { echo "engines: no complete run in $results" >&2; exit 2; }

echo
echo "== engines: each program's output in $results/<engine>.<round>.txt =="
echo "== engines: medians of $rounds rounds x $reps repetitions (plain Release builds, one thread) =="
python3 - "$results" "$rounds" <<'PY'
import glob, json, os, statistics, sys

results, rounds = sys.argv[1], int(sys.argv[2])
scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
engines = ("hyperscan", "vectorscan")
runs = {}     # (engine, name) -> list of repetition entries
errors = {}   # (engine, name) -> error messages
for engine in engines:
    files = sorted(glob.glob(os.path.join(results, f"{engine}.*.json")))
    if len(files) != rounds:
        sys.exit(f"engines: {engine}: {len(files)} result files, expected {rounds}")
    for path in files:
        data = json.load(open(path))
        for b in data["benchmarks"]:
            if b.get("run_type") != "iteration":
                continue
            # run_name is e.g. "linux_web/vigil/iterations:1/real_time": keep suite/kind
            key = (engine, "/".join(b["run_name"].split("/")[:2]))
            if b.get("error_occurred"):
                errors.setdefault(key, []).append(b.get("error_message", "error"))
                continue
            runs.setdefault(key, []).append(b)

def wall_rate(b):
    return b["items_per_second"]

def cpu_rate(b):
    return b["events"] / (b["cpu_time"] * scale[b["time_unit"]])

names = sorted({name for (_, name) in list(runs) + list(errors)})
print(f"{'':<32}{'------------ wall clock, /s ------------':>42}{'------------- CPU time, /s -------------':>42}")
print(f"{'benchmark':<32}{'hyperscan':>14}{'vectorscan':>14}{'vs/hs':>8}  {'':4}"
      f"{'hyperscan':>14}{'vectorscan':>14}{'vs/hs':>8}  samples  check")
failed = False
for name in names:
    hs, vs = runs.get(("hyperscan", name), []), runs.get(("vectorscan", name), [])
    why = []
    for engine in engines:
        if (engine, name) in errors:
            why.append(f"{engine}: {'; '.join(sorted(set(errors[(engine, name)])))}")
    if not hs or not vs:
        why.append("no successful run of one engine")
    if name.endswith("/vigil") and hs and vs:
        alerts = {e: {int(b["alerts"]) for b in r} for e, r in (("hyperscan", hs), ("vectorscan", vs))}
        if len(alerts["hyperscan"] | alerts["vectorscan"]) != 1:
            why.append(f"alert counts differ: hyperscan {sorted(alerts['hyperscan'])}, "
                       f"vectorscan {sorted(alerts['vectorscan'])}")
    if why:
        failed = True
        print(f"{name:<32}  FAILED, no figures: {' | '.join(why)}")
        continue
    hw, vw = statistics.median(map(wall_rate, hs)), statistics.median(map(wall_rate, vs))
    hc, vc = statistics.median(map(cpu_rate, hs)), statistics.median(map(cpu_rate, vs))
    check = f"{int(hs[0]['alerts']):,} alerts, same" if name.endswith("/vigil") else "ok"
    print(f"{name:<32}{hw:>14,.0f}{vw:>14,.0f}{vw / hw:>8.3f}  {'':4}"
          f"{hc:>14,.0f}{vc:>14,.0f}{vc / hc:>8.3f}  {len(hs):>3}/{len(vs):<3}  {check}")
print("vs/hs > 1: Vectorscan faster. /s = events (lines) per second of one full pass on one thread.")
print("The CPU-time figures leave out time the shared machine gave to other work.")
sys.exit(1 if failed else 0)
PY
