#!/usr/bin/env python3
"""Draws the output of `make bench` as an SVG bar chart (bench/chart.svg).

Input: the lines bench/bench.c prints (bench/README.md, "Output and method"):

    name value unit                                   a figure (not drawn by itself)
    ratio A/B value (target <= x: met|not met)        a figure against its baseline
    ratio A/B value (no target)                       an informational ratio
    check name value unit (target <= x unit: met)     a figure against an absolute limit
    # library: /path/libdispatch.so                   comments: library, load, totals

Anything else is ignored, so a line this script does not understand costs a row, never the
chart.

Output: one row per ratio, as a horizontal bar on a log axis that starts at the baseline
(1x) and ends at the ratio, with the target as a black tick; then one row per absolute
check, as a bar from 0 to value / limit on a linear axis with the limit (1) as the tick.
Bars are green when the bench said "met", red when "not met", grey without a target. Every
target of bench.c is an upper bound except the speedup of figure 5 (`>=`, baseline over
figure); such a ratio is drawn inverted (figure over baseline, target 1/x) so that on every
row of the chart left of the tick is better.

The chart is plain SVG (rects, lines and text, no script, no external font), on a white
background so that it also reads on a dark page, 800 px wide: the width of a GitHub README.
Labels use a monospace font so that their width can be known without measuring text.

This script never fails `make bench`: an empty or unreadable input leaves the old chart in
place and exits 0 with a warning on stderr. `--self-test` parses a fixed sample, checks the
rows, and renders them; it exits 1 on a failure (run by `make check`).

Usage: bench_chart.py [INPUT] [-o OUTPUT]   (defaults: target/bench/bench.txt, bench/chart.svg)
       bench_chart.py --self-test
"""
import argparse
import datetime
import math
import os
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
# The name is greedy so that the value is the last number before the final parentheses:
# names may contain spaces and parentheses ("apply_work_20us (speedup)").
RATIO_RE = re.compile(r"^ratio\s+(?P<name>.+)\s+(?P<value>" + NUM + r")\s*\((?P<verdict>[^()]*)\)\s*$")
CHECK_RE = re.compile(
    r"^check\s+(?P<name>\S+)\s+(?P<value>" + NUM + r")\s*(?P<unit>[^()]*?)\s*\((?P<verdict>[^()]*)\)\s*$")
VERDICT_RE = re.compile(r"^target\s*(?P<cmp><=|>=|<|>)\s*(?P<target>" + NUM + r")\s*[^:]*:\s*(?P<met>met|not met)\s*$")
FIGURE_RE = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)\s+(?P<value>" + NUM + r")\s+(?P<unit>\S+)")
LIBRARY_RE = re.compile(r"^#\s*library:\s*(?P<lib>.+?)\s*$")
LOAD_RE = re.compile(r"^#.*load average[^:]*:\s*(?P<load>" + NUM + r")")
CPUS_RE = re.compile(r"^#.*cpus online:\s*(?P<cpus>\d+)")
TOTALS_RE = re.compile(r"^#\s*targets:\s*(?P<met>\d+)\s+met,\s*(?P<missed>\d+)\s+not met")
DATE_RE = re.compile(r"^#\s*date:\s*(?P<date>.+?)\s*$")

FLIP = {"<=": ">=", "<": ">", ">=": "<=", ">": "<"}
SHOWN_CMP = {"<=": "\u2264", "<": "<", ">=": "\u2265", ">": ">"}


class Row:
    """One bar: kind 'ratio' (value = figure / reference) or 'check' (value, limit)."""

    def __init__(self, kind, name, ref, value, unit, cmp, target, met, note=""):
        self.kind = kind
        self.name = name  # the figure
        self.ref = ref  # ratio: the baseline or reference figure it is divided by
        self.value = value
        self.unit = unit
        self.cmp = cmp  # None: no target
        self.target = target
        self.met = met  # True, False, or None without a target
        self.note = note  # how the bench printed it, when drawn inverted

    def fraction(self):
        """A check's value as a fraction of its limit (inf for a positive value over 0)."""
        if self.target:
            return self.value / self.target
        return 0.0 if self.value == 0 else math.inf

    def __repr__(self):
        return "Row(%s %s/%s %r %s %r met=%r)" % (self.kind, self.name, self.ref, self.value, self.cmp,
                                                   self.target, self.met)


def parse_verdict(text):
    """'target <= 1.50: met' -> ('<=', 1.5, True); 'no target' -> (None, None, None)."""
    text = text.strip()
    if text == "no target":
        return None, None, None
    m = VERDICT_RE.match(text)
    if not m:
        raise ValueError(text)
    return m.group("cmp"), float(m.group("target")), m.group("met") == "met"


def parse(lines):
    """Returns (rows, info): the ratio and check rows in input order, and the comments."""
    rows, info, figures = [], {}, {}
    for line in lines:
        line = line.rstrip("\n")
        try:
            m = RATIO_RE.match(line)
            if m:
                cmp, target, met = parse_verdict(m.group("verdict"))
                name, _, ref = m.group("name").strip().partition("/")
                value = float(m.group("value"))
                note = ""
                if cmp in (">", ">="):
                    # "baseline/figure >= x" (a speedup) is "figure/baseline <= 1/x".
                    note = "printed as %s %s %s %s" % (ref.strip(), fmt(value), SHOWN_CMP[cmp], fmt(target))
                    name, ref = ref, name
                    value = 1 / value if value else math.inf
                    target = 1 / target if target else math.inf
                    cmp = FLIP[cmp]
                    # "apply_work_20us (speedup)": the annotation belongs to the printed form.
                    name = re.sub(r"\s*\(.*\)\s*$", "", name)
                if not math.isnan(value):
                    rows.append(Row("ratio", name.strip(), ref.strip(), value, "", cmp, target, met, note))
                continue
            m = CHECK_RE.match(line)
            if m:
                cmp, target, met = parse_verdict(m.group("verdict"))
                value = float(m.group("value"))
                if cmp is not None and not math.isnan(value):
                    rows.append(Row("check", m.group("name"), None, value, m.group("unit").strip(), cmp, target, met))
                continue
            m = LIBRARY_RE.match(line)
            if m:
                info["library"] = m.group("lib")
                continue
            m = TOTALS_RE.match(line)
            if m:
                info["met"], info["missed"] = int(m.group("met")), int(m.group("missed"))
                continue
            m = DATE_RE.match(line)
            if m:
                info["date"] = m.group("date")
                continue
            m = LOAD_RE.match(line)
            if m:
                info["load"] = float(m.group("load"))
            m = CPUS_RE.match(line)
            if m:
                info["cpus"] = int(m.group("cpus"))
            if line.startswith("#"):
                continue
            m = FIGURE_RE.match(line)
            if m:
                figures[m.group("name")] = (float(m.group("value")), m.group("unit"))
        except (ValueError, ZeroDivisionError, OverflowError):
            continue  # a line that looks like one of ours but is not: skip it
    info["figures"] = figures
    return rows, info


def fmt(v):
    """Three significant figures, as the bench prints them."""
    if math.isinf(v):
        return "\u221e"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 0.01 or a == 0:
        return "%.2f" % v
    return "%.2g" % v


# ---- drawing ----

WIDTH = 800
PAD = 12
ROW_H = 28
BAR_H = 12
FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', 'Liberation Mono', monospace"
CHAR_W = 0.6  # advance of a monospace character, in ems
GREEN, RED, GREY = "#2da44e", "#cf222e", "#8c959f"
INK, MUTED, GRID = "#1f2328", "#656d76", "#d0d7de"
NICE_SPANS = [2, 3, 5, 10, 20, 30, 50, 100, 300, 1000]
CHECK_SPAN = 2.0  # the check axis runs from 0 to twice the limit


def colour(row):
    return GREY if row.met is None else GREEN if row.met else RED


def fit(text, size, width):
    """Cuts text to the width (px) at a font size, with an ellipsis in the middle."""
    n = int(width / (size * CHAR_W))
    if len(text) <= n:
        return text
    keep = max(n - 1, 2)
    return text[: keep - keep // 2] + "\u2026" + text[len(text) - keep // 2:]


class Svg:
    def __init__(self):
        self.parts = []

    def text(self, x, y, s, size=11, fill=INK, anchor="start", weight=None):
        w = ' font-weight="%s"' % weight if weight else ""
        self.parts.append('<text x="%.1f" y="%.1f" font-size="%s" fill="%s" text-anchor="%s"%s>%s</text>'
                          % (x, y, size, fill, anchor, w, escape(s)))

    def rect(self, x, y, w, h, fill, extra=""):
        self.parts.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"%s/>'
                          % (x, y, max(w, 0), h, fill, extra))

    def line(self, x1, y1, x2, y2, stroke, width=1, extra=""):
        self.parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%s"%s/>'
                          % (x1, y1, x2, y2, stroke, width, extra))

    def arrow(self, x, y, right, fill):
        """A small triangle at the edge of the axis: the bar goes on beyond it."""
        d = 6 if right else -6
        self.parts.append('<polygon points="%.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="%s"/>'
                          % (x, y - 6, x + d, y, x, y + 6, fill))


def ratio_span(rows):
    """The smallest nice R such that every finite ratio and target lies within [1/R, R]."""
    extent = 1.0
    for r in rows:
        for v in (r.value, r.target):
            if v is not None and v > 0 and math.isfinite(v):
                extent = max(extent, v, 1 / v)
    for span in NICE_SPANS:
        if extent * 1.15 <= span:
            return span
    return NICE_SPANS[-1]


def axis_ticks(span):
    """1-2-5 values within [1/span, span]."""
    ticks = []
    for e in range(-4, 5):
        for m in (1, 2, 5):
            v = m * 10.0 ** e
            if 1 / span <= v * 1.0001 and v <= span * 1.0001:
                ticks.append(v)
    return ticks


def tick_label(v):
    return ("%g" % v) + "\u00d7"


def render(rows, info):
    ratios = [r for r in rows if r.kind == "ratio"]
    checks = [r for r in rows if r.kind == "check"]
    names = []
    for r in ratios:
        names += [(r.name, 11), ("vs " + r.ref if r.ref else "", 9.5)]
    for r in checks:
        names += [(r.name, 11), (check_detail(r), 9.5)]
    label_w = max([len(s) * size * CHAR_W for s, size in names] + [150])
    label_w = min(label_w, 300)
    value_w = 92
    x0 = PAD + label_w + 14  # the bars' area
    x1 = WIDTH - PAD - value_w
    svg = Svg()
    y = 0.0

    # title
    met = info.get("met", sum(1 for r in rows if r.met))
    missed = info.get("missed", sum(1 for r in rows if r.met is False))
    y += 24
    svg.text(PAD, y, "make bench: %d targets met, %d not met" % (met, missed), size=15, weight="bold")
    bits = []
    if "cpus" in info:
        bits.append("%d CPUs" % info["cpus"])
    if "load" in info:
        bits.append("load average %.2f" % info["load"])
    if info.get("date"):
        bits.append(info["date"])
    tail = " \u00b7 ".join(bits)
    lib = info.get("library", "library: unknown")
    width_chars = int((WIDTH - 2 * PAD) / (10 * CHAR_W)) - len(tail) - 3
    y += 18
    svg.text(PAD, y, fit(lib, 10, max(width_chars, 20) * 10 * CHAR_W) + ("  \u00b7  " + tail if tail else ""),
             size=10, fill=MUTED)
    # legend
    y += 20
    lx = PAD
    for label, c in (("met", GREEN), ("not met", RED), ("no target", GREY)):
        svg.rect(lx, y - 9, 14, 10, c)
        svg.text(lx + 19, y, label, size=10, fill=INK)
        lx += 19 + len(label) * 10 * CHAR_W + 16
    svg.line(lx + 6, y - 11, lx + 6, y + 3, INK, 2)
    svg.text(lx + 14, y, "target", size=10)
    lx += 14 + 6 * 10 * CHAR_W + 16
    svg.text(lx, y, "left of the tick is better on every row", size=10, fill=MUTED)

    if ratios:
        span = ratio_span(ratios)
        lo, hi = math.log(1 / span), math.log(span)

        def xr(v):
            if v <= 0:
                return x0
            return x0 + (min(max(math.log(v), lo), hi) - lo) / (hi - lo) * (x1 - x0)

        y += 30
        svg.text(PAD, y, "Figure / baseline", size=12, weight="bold")
        svg.text(PAD + 18 * 12 * CHAR_W, y, "(log scale; each bar starts at the baseline, 1\u00d7)",
                 size=10, fill=MUTED)
        y = draw_axis(svg, y + 16, x0, x1, [(xr(v), tick_label(v), v == 1) for v in axis_ticks(span)],
                      len(ratios))
        for i, r in enumerate(ratios):
            c = colour(r)
            mid = y + ROW_H / 2
            stripe(svg, i, y)
            svg.text(PAD, mid - 1, fit(r.name, 11, label_w), size=11)
            if r.ref:
                svg.text(PAD, mid + 10, fit("vs " + r.ref, 9.5, label_w), size=9.5, fill=MUTED)
            a, b = sorted((xr(1), xr(r.value)))
            svg.rect(a, mid - BAR_H / 2, max(b - a, 1.5), BAR_H, c)
            if r.value > 0 and math.log(r.value) > hi:
                svg.arrow(x1 + 1, mid, True, c)
            elif r.value <= 0 or math.log(r.value) < lo:
                svg.arrow(x0 - 1, mid, False, c)
            if r.cmp is not None and math.isfinite(r.target) and r.target > 0:
                tx = xr(r.target)
                svg.line(tx, mid - BAR_H / 2 - 4, tx, mid + BAR_H / 2 + 4, INK, 2)
            svg.text(WIDTH - PAD, mid - 1, fmt(r.value) + "\u00d7", size=11, fill=c, anchor="end", weight="bold")
            sub = "%s %s" % (SHOWN_CMP[r.cmp], fmt(r.target)) if r.cmp else "no target"
            svg.text(WIDTH - PAD, mid + 10, sub, size=9.5, fill=MUTED, anchor="end")
            y += ROW_H
        inverted = [r for r in ratios if r.note]
        for r in inverted:
            y += 13
            svg.text(PAD, y, "%s: drawn as figure / baseline (%s)" % (r.name, r.note), size=9.5, fill=MUTED)

    if checks:

        def xc(v):
            return x0 + min(max(v, 0.0), CHECK_SPAN) / CHECK_SPAN * (x1 - x0)

        y += 30
        svg.text(PAD, y, "Absolute limits", size=12, weight="bold")
        svg.text(PAD + 16 * 12 * CHAR_W, y, "(value as a percentage of its limit; linear scale)",
                 size=10, fill=MUTED)
        ticks = [(xc(v), "%g%%" % (100 * v) if v != 1 else "limit", v == 1) for v in (0, 0.5, 1, 1.5, 2)]
        y = draw_axis(svg, y + 16, x0, x1, ticks, len(checks))
        for i, r in enumerate(checks):
            c = colour(r)
            mid = y + ROW_H / 2
            stripe(svg, i, y)
            f = r.fraction()
            svg.text(PAD, mid - 1, fit(r.name, 11, label_w), size=11)
            svg.text(PAD, mid + 10, fit(check_detail(r), 9.5, label_w), size=9.5, fill=MUTED)
            svg.rect(x0, mid - BAR_H / 2, max(xc(f) - x0, 1.5), BAR_H, c)
            if f > CHECK_SPAN:
                svg.arrow(x1 + 1, mid, True, c)
            svg.line(xc(1), mid - BAR_H / 2 - 4, xc(1), mid + BAR_H / 2 + 4, INK, 2)
            shown = "%s%%" % fmt(100 * f) if math.isfinite(f) else "\u221e"
            svg.text(WIDTH - PAD, mid - 1, shown, size=11, fill=c, anchor="end", weight="bold")
            y += ROW_H

    height = int(y + 16)
    head = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
            'font-family="%s">\n' % (WIDTH, height, WIDTH, height, escape(FONT, {'"': "&quot;"})))
    body = '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>\n' % (WIDTH, height)
    return head + body + "\n".join(svg.parts) + "\n</svg>\n"


def stripe(svg, i, y):
    """A faint band behind every other row, so that a label is easy to follow to its bar."""
    if i % 2 == 0:
        svg.rect(PAD / 2, y + 1, WIDTH - PAD, ROW_H - 2, "#000000", ' fill-opacity="0.035"')


def check_detail(r):
    unit = (" " + r.unit) if r.unit else ""
    return "%s%s, limit %s %s%s" % (fmt(r.value), unit, SHOWN_CMP[r.cmp], fmt(r.target), unit)


def draw_axis(svg, y, x0, x1, ticks, nrows):
    """Tick labels at y, gridlines down over nrows rows; returns the y of the first row."""
    bottom = y + 6 + nrows * ROW_H
    for x, label, strong in ticks:
        svg.line(x, y + 5, x, bottom, "#8c959f" if strong else GRID, 1.5 if strong else 1)
        svg.text(x, y, label, size=9.5, fill=INK if strong else MUTED, anchor="middle",
                 weight="bold" if strong else None)
    return y + 6


# ---- entry points ----

def default_date(path):
    try:
        t = os.path.getmtime(path)
    except OSError:
        t = None
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc) if t else datetime.datetime.now(
        datetime.timezone.utc)
    return d.strftime("%Y-%m-%d %H:%M UTC")


def write_atomically(path, text):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".chart-", suffix=".svg")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("input", nargs="?", default="target/bench/bench.txt", help="bench output ('-': stdin)")
    p.add_argument("-o", "--output", default="bench/chart.svg")
    p.add_argument("--self-test", action="store_true", help="check the parser on a fixed sample")
    args = p.parse_args(argv)
    if args.self_test:
        return self_test()
    try:
        if args.input == "-":
            lines = sys.stdin.buffer.read().decode("utf-8", "replace").splitlines()
        else:
            with open(args.input, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        rows, info = parse(lines)
        if not rows:
            print("bench_chart: warning: no ratio or check lines in %s; %s left as it was"
                  % (args.input, args.output), file=sys.stderr)
            return 0
        info.setdefault("date", default_date(args.input) if args.input != "-" else default_date(""))
        write_atomically(args.output, render(rows, info))
        print("bench_chart: %s (%d ratios, %d checks)" % (args.output, sum(r.kind == "ratio" for r in rows),
                                                          sum(r.kind == "check" for r in rows)))
    except Exception as e:  # the chart is an extra: it must not fail the bench
        print("bench_chart: warning: no chart written: %s: %s" % (type(e).__name__, e), file=sys.stderr)
    return 0


SAMPLE = """\
# library: /usr/local/lib/libdispatch.so
# cpus online: 2, load average (1 min): 0.75
# spin calibration: 18025 steps ~ 20 us
sync_serial_uncontended                        14.1 ns/op
baseline_mutex_pair                            10.3 ns/op
ratio sync_serial_uncontended/baseline_mutex_pair          1.38 (target <= 1.50: met)
ratio sync_concurrent_uncontended/baseline_mutex_pair      1.98 (target <= 1.50: not met)
ratio sync_serial_2threads/baseline_mutex_pair_2threads    0.41 (no target)
ratio async_global_group/baseline_condvar_queue_1producer  13.37 (target <= 0.33: not met)
ratio baseline_serial_loop_20us/apply_work_20us (speedup)   2.00 (target >= 1.80: met)
ratio queue_hop/baseline_futex_handoff                     0.00 (target <= 1.30: met)
ratio blocking_1000_x_20ms/blocking_100_x_20ms (10x the items)   2.79 (no target)
ratio apply_200000_x_0.2us/baseline_openmp_200000_x_0.2us   1.49 (target <= 1.00: not met)
check apply_trivial                            1.27 ns/iter (target <= 5.00 ns/iter: met)
check queue_bytes                             240.0 bytes (target <= 128.0 bytes: not met)
check timer_100x10ms_lost_fires                0.00 fires (target <= 0.00 fires: met)
check idle_cpu_2s                              0.08 ms (target < 5.00 ms: met)
check timer_100x10ms_leeway5_ctxsw_per_s      399.5 /s (target <= 1000 /s: met)
# WARNING: sync: counted 3, expected 4
ratio broken line without a verdict 1.0
check half_a_line 3 ms (target <= : met)
ratio x/y 1.0 (target about 2: met)
garbage ( ) 12
# targets: 9 met, 4 not met; total run time 36.6 s
"""


def self_test():
    failures = []

    def expect(what, got, want):
        ok = got == want if not isinstance(want, float) else abs(got - want) <= 1e-9 * max(1, abs(want))
        if not ok:
            failures.append("%s: got %r, want %r" % (what, got, want))

    rows, info = parse(SAMPLE.splitlines())
    ratios = [r for r in rows if r.kind == "ratio"]
    checks = [r for r in rows if r.kind == "check"]
    expect("ratio rows", len(ratios), 8)
    expect("check rows", len(checks), 5)
    if len(ratios) == 8 and len(checks) == 5:
        expect("names", [r.name for r in ratios],
               ["sync_serial_uncontended", "sync_concurrent_uncontended", "sync_serial_2threads",
                "async_global_group", "apply_work_20us", "queue_hop", "blocking_1000_x_20ms",
                "apply_200000_x_0.2us"])
        expect("references", ratios[0].ref, "baseline_mutex_pair")
        expect("reference with a note", ratios[6].ref, "blocking_100_x_20ms (10x the items)")
        expect("ratios", [r.value for r in ratios], [1.38, 1.98, 0.41, 13.37, 0.5, 0.0, 2.79, 1.49])
        expect("met", [r.met for r in ratios], [True, False, None, False, True, True, None, False])
        expect("targets", [r.target for r in ratios], [1.5, 1.5, None, 0.33, 1 / 1.8, 1.3, None, 1.0])
        expect("comparisons", [r.cmp for r in ratios], ["<=", "<=", None, "<=", "<=", "<=", None, "<="])
        expect("speedup inverted: reference", ratios[4].ref, "baseline_serial_loop_20us")
        expect("speedup inverted: note", ratios[4].note, "printed as apply_work_20us (speedup) 2.00 \u2265 1.80")
        expect("check names", [r.name for r in checks],
               ["apply_trivial", "queue_bytes", "timer_100x10ms_lost_fires", "idle_cpu_2s",
                "timer_100x10ms_leeway5_ctxsw_per_s"])
        expect("check met", [r.met for r in checks], [True, False, True, True, True])
        expect("check units", [r.unit for r in checks], ["ns/iter", "bytes", "fires", "ms", "/s"])
        expect("check fraction", checks[1].fraction(), 240 / 128)
        expect("check fraction, limit 0", checks[2].fraction(), 0.0)
        expect("check cmp", checks[3].cmp, "<")
    expect("library", info.get("library"), "/usr/local/lib/libdispatch.so")
    expect("load", info.get("load"), 0.75)
    expect("cpus", info.get("cpus"), 2)
    expect("totals", (info.get("met"), info.get("missed")), (9, 4))
    expect("figures", info["figures"].get("baseline_mutex_pair"), (10.3, "ns/op"))
    expect("empty input", parse([]), ([], {"figures": {}}))

    info["date"] = "2000-01-01 00:00 UTC"
    try:
        root = ET.fromstring(render(rows, info))
        texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
        expect("svg width", root.get("width"), "800")
        expect("svg title", texts[0], "make bench: 9 targets met, 4 not met")
        expect("svg labels", all(r.name in texts for r in rows), True)
        expect("svg bars", sum(1 for _ in root.iter("{http://www.w3.org/2000/svg}rect")) >= len(rows), True)
    except ET.ParseError as e:
        failures.append("render: not well-formed XML: %s" % e)

    for f in failures:
        print("bench_chart self-test: FAIL %s" % f)
    print("bench_chart self-test: %s" % ("ok" if not failures else "%d failures" % len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
