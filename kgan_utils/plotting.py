"""Matplotlib figures for GAN training: image grids, training curves, metrics, nearest neighbours.

Every function draws into a given ``ax`` (or a new figure) and returns the axes,
so notebooks can arrange them freely. Images are uint8 (0..255) or float in
[-1, 1]; they are shown as black digits on white, as MNIST is usually printed.
"""

from __future__ import annotations

import numpy as np

from kgan_utils.callbacks import image_grid

__all__ = ["image_grid", "show_images", "plot_training_curves", "plot_metrics", "show_neighbours"]


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def show_images(images, ncols=None, title=None, ax=None, figsize=(5, 5)):
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
    ax.imshow(image_grid(images, ncols=ncols), cmap="gray_r", vmin=0, vmax=255)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def _column(rows, key):
    epochs = [r["epoch"] for r in rows if key in r and r[key] is not None]
    values = [float(r[key]) for r in rows if key in r and r[key] is not None]
    return np.asarray(epochs), np.asarray(values)


def plot_training_curves(rows, axes=None, figsize=(11, 3.5)):
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


def plot_metrics(rows, keys=("fid", "kid", "coverage"), axes=None, figsize=(11, 3.2)):
    """One panel per metric in ``keys`` against the epoch (rows without the key are skipped)."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(keys), figsize=figsize)
    axes = np.atleast_1d(axes)
    labels = {"fid": "FID (classifier features)", "kid": "KID", "coverage": "digits covered (of 10)",
              "kl_uniform": "KL(class freq. || uniform)", "confidence": "mean classifier confidence"}
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
            ax.imshow(image_grid(img[None], pad=0), cmap="gray_r", vmin=0, vmax=255)
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
