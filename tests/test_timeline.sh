#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_timeline.sh — tools/cio-timeline: bad input is refused with a clear
# message and a non-zero exit; a trace becomes a page that headless Chromium
# loads without a script error, showing one lane per task (and the loop's).
# The page reports what it did as attributes of <html> (data-errors,
# data-lanes, data-ready), which `chromium --dump-dom` lets us read.
#
#   test_timeline.sh SOURCE_DIR [PROGRAM [TOUR]]
#
# PROGRAM, if given, is a small cio program to trace with CIO_TRACE: its
# real trace is drawn too. TOUR is examples/tour: run in a scratch folder,
# it must narrate the OS reporting a response and leave a tour.html that
# loads. Exits 77 (skipped) when chromium is missing.
set -uo pipefail
src=${1:?usage: test_timeline.sh SOURCE_DIR [PROGRAM [TOUR]]}
program=${2:-}
tour=${3:-}
tool=$src/tools/cio-timeline
fixture=$src/tests/data/trace-seed.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# expect_refusal NAME EXPECTED_MESSAGE ARGS... : the tool must exit non-zero
# and say EXPECTED_MESSAGE on stderr.
expect_refusal() {
    local name=$1 message=$2
    shift 2
    local err
    if err=$("$tool" "$@" 2>&1 >/dev/null); then
        fail "$name: exit 0"
    elif ! grep -qF -- "$message" <<<"$err"; then
        fail "$name: expected '$message', got: $err"
    else
        echo "ok: $name: $err"
    fi
}

printf '{"traceEvents": [\n  {"ph": "X", "tid": 1, "ts": 1, "dur": 2},\n  {"ph": "X" "tid": 1}\n]}' \
    >"$work/broken.json"
echo '42' >"$work/number.json"
echo '{"traceEvents": []}' >"$work/empty.json"
head -c 700 "$fixture" >"$work/truncated.json"
expect_refusal "missing file" "cannot read $work/none.json: No such file or directory" \
    "$work/none.json"
expect_refusal "invalid JSON" "broken.json: not valid JSON: Expecting ',' delimiter (line 3, column 14)" \
    "$work/broken.json"
expect_refusal "truncated JSON" "truncated.json: not valid JSON" "$work/truncated.json"
expect_refusal "not a trace" "number.json: not a Chrome trace" "$work/number.json"
expect_refusal "no events" "holds no event to draw" "$work/empty.json"
expect_refusal "unwritable page" "cannot write $work/no/dir/page.html" \
    "$fixture" -o "$work/no/dir/page.html"
[ -e "$work/broken.html" ] && fail "a page was written for invalid JSON"

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "chromium is not installed: skipping the page checks (scripts/test.sh installs it)"
    exit 77
fi

# show_page PAGE: prints the <html> start tag of the page as loaded.
show_page() {
    local profile
    profile=$(mktemp -d "$work/profile.XXXXXX")
    timeout 90 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$profile" --dump-dom "file://$1" 2>/dev/null |
        grep -o -m1 '<html[^>]*>'
}

attribute() {
    sed -n "s/.* $1=\"\\([^\"]*\\)\".*/\\1/p" <<<"$2"
}

# lanes_in TRACE: how many lanes (thread_name records) a trace declares.
lanes_in() {
    python3 -c 'import json, sys
events = json.load(open(sys.argv[1]))["traceEvents"]
print(len({e["tid"] for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"}))' "$1"
}

# check_page NAME TRACE LANES [TOOL_ARGS...]: draws TRACE and checks the page
# (see load_page).
check_page() {
    local name=$1 trace=$2 lanes=$3
    shift 3
    if ! "$tool" "$trace" -o "$work/$name.html" "$@" 2>"$work/$name.log"; then
        fail "$name: cio-timeline failed: $(cat "$work/$name.log")"
        return 1
    fi
    load_page "$name" "$work/$name.html" "$lanes"
}

# load_page NAME PAGE LANES: checks the page in Chromium: no script error,
# LANES lanes. With $inject set, that file is put into the page before
# </body> first; with $tooltip set, the page must end with the tooltip's
# first line equal to it.
load_page() {
    local name=$1 page=$2 lanes=$3 tag
    [ -n "${inject:-}" ] && sed -i -e "/<\/body>/e cat $inject" "$page"
    tag=$(show_page "$page")
    if [ "$(attribute data-ready "$tag")" != yes ]; then
        fail "$name: the page did not finish drawing: $tag"
    elif [ "$(attribute data-errors "$tag")" != 0 ]; then
        fail "$name: script errors: $(attribute data-error-text "$tag")"
    elif [ "$(attribute data-lanes "$tag")" != "$lanes" ]; then
        fail "$name: $(attribute data-lanes "$tag") lanes shown, expected $lanes"
    elif [ -n "${tooltip:-}" ] && [ "$(attribute data-tooltip "$tag")" != "$tooltip" ]; then
        fail "$name: the tooltip shows '$(attribute data-tooltip "$tag")', not '$tooltip'"
    else
        echo "ok: $name: $tag"
    fi
}

# The seed's story, written by hand to the trace contract: the loop, main,
# A and B.
check_page seed "$fixture" 4
grep -q '"name":"task#2 A"' "$work/seed.html" && grep -q '"name":"task#3 B"' "$work/seed.html" ||
    fail "seed: the lanes of tasks A and B are not in the page"

# Driven as a person would: wheel zoom, drag, keys, then a hover over B's
# wait, whose description the tooltip must show.
cat >"$work/drive.js" <<'EOF'
<script>
(function () {
  var canvas = document.getElementById("canvas"), box = canvas.getBoundingClientRect();
  function at(x, y) { return { clientX: box.left + x, clientY: box.top + y, bubbles: true, cancelable: true }; }
  canvas.dispatchEvent(new WheelEvent("wheel", Object.assign({ deltaY: -400 }, at(300, 60))));
  canvas.dispatchEvent(new MouseEvent("mousedown", at(300, 60)));
  window.dispatchEvent(new MouseEvent("mousemove", at(340, 70)));
  window.dispatchEvent(new MouseEvent("mouseup", at(340, 70)));
  ["w", "s", "a", "d", "0"].forEach(function (k) {
    window.dispatchEvent(new KeyboardEvent("keydown", { key: k }));
  });
  window.cioTimeline.draw();
  var lane = 3, t = 500000;   /* task#3 B, half-way through its 1 s sleep */
  canvas.dispatchEvent(new MouseEvent("mousemove",
    at(window.cioTimeline.x(t), window.cioTimeline.y(lane) + 13)));
  document.documentElement.setAttribute("data-tooltip",
    document.getElementById("tooltip").textContent.split("\n")[0]);
})();
</script>
EOF
inject=$work/drive.js tooltip='task#3 B: wait: timer due at 1000.110 ms (waiting)' \
    check_page driven "$fixture" 4

# A cap on the drawn events: the page says what it left out, and still loads.
check_page capped "$fixture" 4 --max-events 5
grep -q 'Drawing the first 5 events of' "$work/capped.html" ||
    fail "capped: the page does not say that events were left out"

# The bare array form of the format, which Chrome also reads.
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["traceEvents"]))' \
    "$fixture" >"$work/array.json"
check_page array "$work/array.json" 4

# A real trace of a cio program: one lane per thread_name it declares.
if [ -n "$program" ]; then
    CIO_TRACE="$work/real.json" "$program" >"$work/real.out" 2>&1 ||
        fail "$program failed: $(cat "$work/real.out")"
    if [ ! -s "$work/real.json" ]; then
        fail "CIO_TRACE=$work/real.json $program wrote no trace"
    else
        check_page real "$work/real.json" "$(lanes_in "$work/real.json")"
    fi
fi

# The guided tour: its narration shows the OS reporting a socket readable
# and the loop making the task that waits on it ready; its page loads.
if [ -n "$tour" ]; then
    mkdir "$work/tour"
    if ! (cd "$work/tour" && timeout 60 "$tour" >stdout.txt 2>stderr.txt); then
        fail "the tour failed: $(cat "$work/tour/stdout.txt" "$work/tour/stderr.txt")"
    elif ! grep -q -E 'fd [0-9]+ readable -> task#[0-9]+' "$work/tour/stderr.txt" ||
        ! grep -q -E '"fetch-(slow|fast)" resumed \(woken by fd [0-9]+ readable' \
            "$work/tour/stderr.txt"; then
        fail "the tour's narration does not show a response reported: $(cat "$work/tour/stderr.txt")"
    else
        echo "ok: tour: $(grep -m1 -E 'fd [0-9]+ readable -> task#' "$work/tour/stderr.txt")"
        load_page tour "$work/tour/tour.html" "$(lanes_in "$work/tour/tour.json")"
    fi
fi

[ "$failures" -eq 0 ] && echo "all timeline checks passed"
[ "$failures" -eq 0 ]
