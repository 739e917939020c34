"""Draw book/images/chapter_graph.svg, the chapter dependency graph of "How to read this book".

Run ``python tools/chapter_graph.py`` after adding a chapter; the list of chapters and arrows is below and must agree
with the text version in book/how_to_read.md (tests/test_book.py checks that every chapter file is in the graph).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

# number: (label, part, (x, y))
CHAPTERS = {
    "00": ("Setup", 0, (0.0, 0.5)),
    "01": ("Euclidean\ndistance", 1, (1.0, 1.0)),
    "02": ("Gaussian\nkernel", 1, (2.0, 1.0)),
    "03": ("MMD", 1, (3.0, 1.0)),
    "04": ("Adversarial\nobjective", 2, (1.0, 0.0)),
    "05": ("MNIST\nGAN", 2, (2.0, 0.0)),
    "06": ("Conditional\nGAN", 2, (3.0, -0.7)),
    "07": ("Kernel\nGANs", 3, (4.0, 1.0)),
    "08": ("Distances", 3, (5.0, 1.0)),
    "09": ("Evaluating\nGANs", 3, (4.0, 0.0)),
}
ARROWS = [
    ("00", "01"),
    ("00", "04"),
    ("01", "02"),
    ("02", "03"),
    ("04", "05"),
    ("05", "06"),
    ("03", "07"),
    ("05", "07"),
    ("07", "08"),
    ("03", "09"),
    ("05", "09"),
]
COLOURS = {0: "#eeeeee", 1: "#dbe7f5", 2: "#f8e2cf", 3: "#dcefd9"}
PARTS = {
    0: "Getting started",
    1: "Part I: foundations",
    2: "Part II: adversarial training",
    3: "Part III: kernels and distances in GANs",
}
W, H = 0.86, 0.42  # box size in data units


OUT = Path(__file__).resolve().parents[1] / "book" / "images" / "chapter_graph.svg"


def main(out=OUT):
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    for number, (label, part, (x, y)) in CHAPTERS.items():
        box = FancyBboxPatch(
            (x - W / 2, y - H / 2),
            W,
            H,
            boxstyle="round,pad=0.02,rounding_size=0.06",
            facecolor=COLOURS[part],
            edgecolor="#333333",
            linewidth=0.8,
        )
        ax.add_patch(box)
        ax.text(x, y, f"{number}\n{label}", ha="center", va="center", fontsize=9, linespacing=1.15)
    for a, b in ARROWS:
        (xa, ya), (xb, yb) = CHAPTERS[a][2], CHAPTERS[b][2]
        dx, dy = xb - xa, yb - ya
        # from box edge to box edge: scale the centre-to-centre segment by where it leaves each box
        t = min((W / 2 + 0.03) / abs(dx) if dx else 9.0, (H / 2 + 0.03) / abs(dy) if dy else 9.0)
        ax.annotate(
            "",
            xy=(xb - t * dx, yb - t * dy),
            xytext=(xa + t * dx, ya + t * dy),
            arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1.0, "shrinkA": 0, "shrinkB": 0},
        )
    handles = [plt.Rectangle((0, 0), 1, 1, facecolor=COLOURS[p], edgecolor="#333333", lw=0.6) for p in PARTS]
    ax.legend(
        handles,
        PARTS.values(),
        loc="upper center",
        bbox_to_anchor=(0.5, 0.02),
        ncol=2,
        fontsize=9,
        frameon=False,
        handlelength=1.2,
        columnspacing=1.2,
    )
    ax.set_xlim(-0.5, 5.5)
    ax.set_ylim(-1.0, 1.3)
    ax.axis("off")
    fig.savefig(out, bbox_inches="tight", metadata={"Date": None})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
