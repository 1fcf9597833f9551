#!/usr/bin/env bash
# Seed every fuzz target's corpus from the project's own fixtures, then run each target for
# SECONDS (default 60). Corpora and crash files live outside the clone, under
# ~/.cache/deployclaw/fuzz-corpus and fuzz-artifacts; a crash is reported by target and file.
#   fuzz/run.sh [SECONDS] [TARGET...]
# SANITIZER=address adds AddressSanitizer; the default is none: the readers are safe Rust, whose
# bounds are checked anyway, and the uninstrumented build compiles and runs several times faster.
# The targets are built once (optimized, with debug assertions and overflow checks: -O -a) and
# then run directly; NO_BUILD=1 runs what is built, so editing the sources meanwhile changes
# nothing.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"; shift || true
sanitizer="${SANITIZER:-none}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/deployclaw/fuzz-target}"
corpus="$HOME/.cache/deployclaw/fuzz-corpus"
artifacts="$HOME/.cache/deployclaw/fuzz-artifacts"
fixtures=../tests/fixtures
bin="${DEPLOYCLAW_BIN:-$HOME/.cache/deployclaw/target/debug/deployclaw}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(hprof hprof_graph v8_snapshot ci_logs templates slo_rules slo_specs terraform durations notebook kernel_wire log_verify guard host_answers log_archive)

# seed_into TARGET FILE...: copy the files that exist into TARGET's corpus.
seed_into() {
    local dir="$corpus/$1"; shift; mkdir -p "$dir"
    for f in "$@"; do if [ -f "$f" ]; then cp "$f" "$dir/$(echo "$f" | tr '/ ' '__')"; fi; done
}
# seed_found TARGET FIND-ARGS...: the same for what find lists (names may hold spaces).
seed_found() {
    local target="$1"; shift; local files=()
    while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$@" -type f -print0)
    seed_into "$target" "${files[@]}"
}

scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
if [ -x "$bin" ]; then
    # Small dumps and a signed log written by deployclaw itself.
    printf 'heap::demo_dump("%s/a.hprof", 3);\nheap::demo_dump("%s/b.hprof", 1);\n' "$scratch" "$scratch" \
        | DEPLOYCLAW_HOME="$scratch/home" "$bin" >/dev/null
    echo 'evidence::note("seed"); 1 + 1' | DEPLOYCLAW_HOME="$scratch/home" "$bin" --log "$scratch/session.jsonl" >/dev/null
fi
if command -v node >/dev/null; then
    node -e "const v8=require('v8');globalThis.keep=[{a:1},'s'.repeat(10)];v8.writeHeapSnapshot('$scratch/n.heapsnapshot')" >/dev/null
fi
seed_into hprof "$scratch"/*.hprof
seed_into hprof_graph "$scratch"/*.hprof
seed_into v8_snapshot "$scratch"/*.heapsnapshot
seed_found ci_logs $fixtures/ci
# A log archive as GitHub gives it: each job's whole log, and a folder of its steps.
python3 -c 'import os, sys, zipfile
run, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for i, job in enumerate(sorted(os.listdir(run))):
        steps = sorted(os.listdir(os.path.join(run, job)))
        z.writestr(f"{i}_{job}.txt", b"".join(open(os.path.join(run, job, s), "rb").read() for s in steps))
        for s in steps: z.write(os.path.join(run, job, s), f"{job}/{s}")' "$fixtures/ci/github-run-8812" "$scratch/run.zip"
seed_into log_archive "$scratch/run.zip"
seed_found templates $fixtures/ci
seed_found slo_rules $fixtures/slo '(' -name '*.yaml' -o -name '*.json' ')'
seed_found slo_specs $fixtures/slo '(' -name '*.toml' -o -name '*.yaml' ')'
seed_found terraform $fixtures/slo -name '*.tf'
# Real third-party files (../shared/real-world, when this clone sits beside it) seed the corpora in
# place of being copied into the project: the corpora live outside the clone.
real=../../shared/real-world
if [ -d "$real" ]; then
    seed_found ci_logs "$real/ci" -size -256k
    seed_found templates "$real/ci" -size -256k
    seed_found slo_rules "$real/slo" '(' -name '*.yaml' -o -name '*.yml' -o -name '*.json' ')'
    seed_found slo_specs "$real/slo" '(' -name '*.yaml' -o -name '*.yml' ')'
fi
mkdir -p "$corpus/durations"; for d in 5m 1h30m 28d 2w 250ms 90 1.5h; do printf '%s' "$d" > "$corpus/durations/$d"; done
seed_into notebook ../notebooks/*.ipynb
mkdir -p "$corpus/kernel_wire"
printf 'id\xff<IDS|MSG>\xff\xff{"msg_type":"execute_request"}\xff{}\xff{}\xff{"code":"1"}' > "$corpus/kernel_wire/execute"
seed_into log_verify "$scratch"/session.jsonl "$scratch"/home/sessions/index.chain
mkdir -p "$corpus/host_answers"
printf '77\n%s\n' "$(printf 'java\0-Dservice.version=2\0-cp\0/a\0Main\0x\0' | base64 -w0)" > "$corpus/host_answers/proc"
printf '4242 LeakSim --tenants 8\n77 app.jar\n' > "$corpus/host_answers/jcmd-l"
printf '#Sat\nservice.version=2.4.1\nC\\:\\\\dir=a\\=b\\u00e9\n' > "$corpus/host_answers/properties"
printf ' num     #instances         #bytes  class name (module)\n-------\n   1:          10            160  [B (java.base@17)\nTotal          10            160\n' > "$corpus/host_answers/histogram"
mkdir -p "$corpus/guard"; n=0
grep -v '^#' $fixtures/guard/corpus.txt | grep ': ' | while IFS= read -r line; do n=$((n+1)); printf '%s' "${line#*: }" > "$corpus/guard/$n"; done

# stamp: prefix each line with the seconds since START, so the log shows when coverage last grew.
stamp() { local now; while IFS= read -r line; do printf -v now '%(%s)T' -1; echo "$((now - $1)) $line"; done; }

if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo +nightly fuzz build --fuzz-dir . -O -a -s "$sanitizer"
fi
built="$CARGO_TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release"

status=0
for t in "${targets[@]}"; do
    mkdir -p "$artifacts/$t"
    start=$(date +%s)
    log="$artifacts/$t.log"
    set +e
    # Dumps need room; text readers find more per second on shorter inputs, and the CI-log
    # target (five formats and every rule per input) most of all.
    case "$t" in
        hprof|hprof_graph|v8_snapshot|log_verify) max_len=262144 ;;
        ci_logs) max_len=4096 ;;
        *) max_len=32768 ;;
    esac
    "$built/$t" "$corpus/$t" \
        -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=20 -max_len="$max_len" \
        -artifact_prefix="$artifacts/$t/" -print_final_stats=1 2>&1 | stamp "$start" > "$log"
    rc=${PIPESTATUS[0]}
    set -e
    ran=$(( $(date +%s) - start ))
    # When the target last reached a new edge (cov grew) and last kept an input for new
    # features (ft, which keep growing long after the edges stop).
    last_edge=$(awk '/ cov: /{ for (i = 1; i < NF; i++) if ($i == "cov:") c = $(i + 1) + 0; if (c > max) { max = c; t = $1 } } END { print t + 0 }' "$log")
    # (A target with nothing new has no NEW line at all: grep finding nothing is no failure.)
    last_new=$({ grep -E '^[0-9]+ #[0-9]+\s+NEW ' "$log" || true; } | tail -1 | cut -d' ' -f1)
    cov=$({ grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" || true; } | tail -1)
    runs=$({ grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" || true; } | grep -oE '[0-9]+$' || true)
    if [ "$rc" -eq 0 ]; then
        feature="none"
        [ -n "$last_new" ] && feature="at $last_new s"
        echo "$t: ran ${ran} s, ${runs:-?} runs, ${cov:-no coverage line}, last new edge at ${last_edge} s, last new feature ${feature}, $(find "$corpus/$t" -type f | wc -l) corpus entries, no crash"
    else
        status=1
        echo "$t: FOUND a crash after ${ran} s: $(ls -t "$artifacts/$t" | head -1) (log: $log)"
    fi
done
exit $status
