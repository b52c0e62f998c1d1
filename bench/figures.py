# SPDX-License-Identifier: BSD-3-Clause
"""Figures 4-6 of the 2015 report from `vrdma bench`'s summary (report.py),
drawn with matplotlib's Agg backend: bandwidth over message size (Figure
4), latency over message size (Figure 5) and the latency of small
messages (Figure 6), one series per case and tool, with the 2015 report's
figures as reference bands. Each PNG carries the labels of what it
plotted, as a JSON list in its "vrdma-series" text chunk, for tests and
tools to check."""

import json
import os

from vrdmalib.util import VrdmaError

from .cases import CASES

DASHES = {"NPtcp": "-", "NPmpi": "--", "ucx_perftest": "-."}
SMALL = 1024  # Figure 6: messages up to this many bytes
# The 2015 report, section 4.2.
BAND_VERBS_US = (1.4, 2.2)
BAND_P1_US = (8.2, 10.3)
BAND_P1_SHARE = (0.20, 0.25)


def pyplot():
    try:
        import matplotlib
    except ImportError:
        raise VrdmaError("matplotlib is missing (Debian package "
                         "python3-matplotlib)",
                         "run: tools/vrdma setup") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    return plt


def series(summary):
    """[(label, case, tool, rows)] in case order, measured ones only."""
    out = []
    for case, res in summary["cases"].items():
        for tool, got in res["tools"].items():
            if got.get("rows"):
                out.append((f"{case} {tool}", case, tool, got["rows"]))
    return out


def colors():
    """One colour per case, the same in every run."""
    cycle = ["tab:blue", "tab:orange", "tab:green", "tab:red",
             "tab:purple", "tab:brown", "tab:olive"]
    return {case: cycle[i % len(cycle)] for i, case in enumerate(CASES)}


def verbs_rows(summary):
    got = summary["cases"].get("h2h-verb-roce", {}).get("tools", {})
    return got.get("ucx_perftest", {}).get("rows")


def plot_series(ax, summary, key, keep=lambda row: True):
    labels = []
    color = colors()
    for label, case, tool, rows in series(summary):
        pts = [(r["bytes"], r[key]) for r in rows if keep(r)]
        if pts:
            ax.plot(*zip(*pts), DASHES.get(tool, ":"), color=color[case],
                    marker=".", markersize=3, linewidth=1, label=label)
            labels.append(label)
    return labels


def bandwidth(ax, summary):
    labels = plot_series(ax, summary, "gbits")
    verbs = verbs_rows(summary)
    if verbs:
        x = [r["bytes"] for r in verbs]
        label = "h2h-verb-roce ucp_am_bw (streaming)"
        ax.plot(x, [r["stream_gbits"] for r in verbs], ":",
                color=colors()["h2h-verb-roce"], linewidth=1,
                label=label)
        lo, hi = BAND_P1_SHARE
        band = "2015: prototype I at 20-25% of verbs"
        ax.fill_between(x, [lo * r["gbits"] for r in verbs],
                        [hi * r["gbits"] for r in verbs], color="0.6",
                        alpha=0.3, label=band)
        labels += [label, band]
    ax.set_xscale("log", base=2)
    ax.set_ylabel("bandwidth, Gbit/s (10^9)")
    ax.set_title("Figure 4: bandwidth over message size")
    return labels


def latency(ax, summary):
    labels = plot_series(ax, summary, "usec")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylabel("one-way latency, us")
    ax.set_title("Figure 5: latency over message size")
    return labels


def small_latency(ax, summary):
    labels = plot_series(ax, summary, "usec",
                         lambda row: row["bytes"] <= SMALL)
    for (lo, hi), case in ((BAND_VERBS_US, "h2h-verb-roce"),
                           (BAND_P1_US, "vm2vm-rdma-p1")):
        what = f"2015: {case} {lo}-{hi} us"
        ax.axhspan(lo, hi, color=colors()[case], alpha=0.15, label=what)
        labels.append(what)
    ax.set_xscale("log", base=2)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("one-way latency, us")
    ax.set_title(f"Figure 6: latency of small messages (to {SMALL} B)")
    return labels


FIGURES = (("fig4-bandwidth.png", bandwidth),
           ("fig5-latency.png", latency),
           ("fig6-small-latency.png", small_latency))


def draw(summary, out):
    """Write the three PNGs into out; returns {file: [series labels]}."""
    plt = pyplot()
    drawn = {}
    for name, fill in FIGURES:
        fig, ax = plt.subplots(figsize=(11, 6))
        labels = fill(ax, summary)
        ax.set_xlabel("message size, bytes")
        ax.grid(True, which="both", linewidth=0.3)
        if labels:
            ax.legend(fontsize=7, loc="upper left",
                      bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        fig.savefig(os.path.join(out, name), dpi=100, metadata={
            "Title": ax.get_title(), "Software": "vrdma bench",
            "vrdma-series": json.dumps(labels)})
        plt.close(fig)
        drawn[name] = labels
    return drawn
