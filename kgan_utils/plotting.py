"""Matplotlib figures for GAN training: image grids, training curves, metrics, nearest neighbours.

Every function draws into a given ``ax`` (or a new figure) and returns the axes,
so notebooks can arrange them freely. Images are uint8 (0..255) or float in
[-1, 1]; they are shown as black digits on white, as MNIST is usually printed.
"""

from __future__ import annotations

import numpy as np

from kgan_utils.callbacks import image_grid, renamed_metric_keys

__all__ = [
    "BOOK_STYLE",
    "MAX_FIGURE_WIDTH_IN",
    "use_book_style",
    "image_grid",
    "show_images",
    "plot_training_curves",
    "plot_metrics",
    "show_neighbours",
]


# The book's one figure style. A code column of the rendered book is about 750 px wide; a figure at most
# MAX_FIGURE_WIDTH_IN inches wide at 100 dpi is shown at its natural size, so 9-point text stays >= 8 pt on the page.
MAX_FIGURE_WIDTH_IN = 7.5
DIGIT_CMAP = "gray_r"  # black digits on white, as MNIST is usually printed: the one colour map for digit images
BOOK_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.figsize": (6.0, 3.6),
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 11,
    "legend.framealpha": 0.9,
    "image.cmap": DIGIT_CMAP,
    "figure.facecolor": "white",
}


def use_book_style():
    """Set the book's figure style (:data:`BOOK_STYLE`): 100 dpi, text of at least 9 points, one digit colour map.

    Call it once, after the imports of a notebook. It imports ``matplotlib.pyplot`` first, because the notebook
    backend applies its own defaults (72 dpi) when pyplot is first imported, and those would override the style.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> use_book_style()
    >>> import matplotlib.pyplot as plt
    >>> plt.rcParams["figure.dpi"], plt.rcParams["xtick.labelsize"]
    (100.0, 9.0)
    """
    import matplotlib.pyplot as plt

    plt.rcParams.update(BOOK_STYLE)


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def show_images(images, ncols=None, title=None, ax=None, figsize=(4.5, 4.5)):
    """Show a stack of images as one grid (see :func:`kgan_utils.callbacks.image_grid`).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np
    >>> ax = show_images(np.zeros((4, 28, 28), np.uint8), title="blank")
    >>> ax.get_title()
    'blank'
    """
    ax = _axes(ax, figsize)
    ax.imshow(image_grid(images, ncols=ncols), cmap=DIGIT_CMAP, vmin=0, vmax=255)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def _column(rows, key):
    epochs = [r["epoch"] for r in rows if key in r and r[key] is not None]
    values = [float(r[key]) for r in rows if key in r and r[key] is not None]
    return np.asarray(epochs), np.asarray(values)


def plot_training_curves(rows, axes=None, figsize=(7.5, 2.8)):
    """Two panels from per-epoch rows (``metrics.json``): the losses, and D(x) with D(G(z)).

    ``rows`` is a list of dicts with ``epoch``, ``d_loss``, ``g_loss``, ``d_real``, ``d_fake``.
    The dotted line at 1/2 is where an optimal discriminator ends when the
    generator matches the data; ``2 log 2`` is its loss there.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=figsize)
    ax1, ax2 = axes
    for key, label in (("d_loss", "discriminator loss"), ("g_loss", "generator loss")):
        ax1.plot(*_column(rows, key), marker=".", label=label)
    ax1.axhline(2 * np.log(2), color="gray", ls=":", lw=1, label="2 log 2")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss (epoch mean)")
    ax1.set_title("Losses")
    ax1.legend()
    for key, label in (("d_real", "D(x), real"), ("d_fake", "D(G(z)), generated")):
        ax2.plot(*_column(rows, key), marker=".", label=label)
    ax2.axhline(0.5, color="gray", ls=":", lw=1)
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("mean discriminator output")
    ax2.set_title("What the discriminator says")
    ax2.legend()
    return axes


def plot_metrics(rows, keys=("fid", "kid", "classes_covered"), axes=None, figsize=(7.5, 2.6)):
    """One panel per metric in ``keys`` against the epoch (rows without the key are skipped).

    Rows of runs recorded before the rename (``coverage`` for ``classes_covered``) are read too.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(keys), figsize=figsize)
    axes = np.atleast_1d(axes)
    labels = {
        "fid": "FID (classifier features)",
        "kid": "KID",
        "classes_covered": "classes covered (of 10)",
        "kl_uniform": "KL(class freq. || uniform)",
        "confidence": "mean classifier confidence",
    }
    rows = [renamed_metric_keys(r) for r in rows]  # runs recorded before a metric was renamed
    for ax, key in zip(axes, keys):
        epochs, values = _column(rows, key)
        if key == "kid" and any("kid_std" in r for r in rows):
            _, std = _column(rows, "kid_std")
            ax.errorbar(epochs, values, yerr=std if len(std) == len(values) else None, marker=".", capsize=2)
        else:
            ax.plot(epochs, values, marker=".")
        if key in ("fid", "kid") and len(values) and (values > 0).all():
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(labels.get(key, key))
    return axes


def show_neighbours(samples, neighbours, distances=None, title=None, figsize=None):
    """Rows of: a generated sample, then its nearest training images (``neighbours[i]``, [k, 28, 28]).

    Parameters
    ----------
    samples : [n, 28, 28] images
    neighbours : [n, k, 28, 28] images
    distances : [n, k] floats, optional, written above the neighbours
    title : str, optional
    """
    import matplotlib.pyplot as plt

    samples, neighbours = np.asarray(samples), np.asarray(neighbours)
    n, k = neighbours.shape[:2]
    fig, axes = plt.subplots(n, k + 1, figsize=figsize or (1.1 * (k + 1), 1.15 * n), squeeze=False)
    for i in range(n):
        row = [samples[i]] + list(neighbours[i])
        for j, img in enumerate(row):
            ax = axes[i, j]
            ax.imshow(image_grid(img[None], pad=0), cmap=DIGIT_CMAP, vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if j and distances is not None:
                ax.set_title(f"{distances[i, j - 1]:.2f}", fontsize=8)
        if i == 0:
            axes[0, 0].set_title("sample", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return axes
