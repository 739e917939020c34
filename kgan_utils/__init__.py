"""kgan_utils -- the tested library behind the book *Kernels, Distances and GANs*.

One module per concept. ``a -> b`` means that ``b`` imports ``a``; two stacks
meet in the kernel GANs, and no module imports one that is built on it::

    Part I, kernels and the MMD:  distances -> kernels -> mmd --+
                                                                +--> kernel_gans
    Part II, adversarial nets:    losses -> gan ----------------+

    models      the DCGAN networks (Keras layers only)
    registry    every named model and build_gan(); builds from models, gan and
                kernel_gans when called (imports no Keras itself)
    classifier  the MNIST classifier of the metrics, trained and cached
    transport   exact Wasserstein distances (sorting, assignment), the Gaussian W2
                of FID, the Sinkhorn divergence (on POT); NumPy/SciPy only
    metrics     FID, KID, classes covered, ... <- classifier, distances, kernels,
                mmd, transport
    checkpoint  the .npz checkpoint format of a run
    callbacks   Keras callbacks of a run <- checkpoint, data;  plotting <- callbacks
    cli         the command line (``python -m kgan_utils``) <- registry; the others
                when a command runs

Under all of them: ``backend`` (the only backend-specific code), ``_validate``
(input checks, <- backend), ``data`` (MNIST and toy data, <- config) and
``config`` (the smoke switch). Beside them: ``checks`` (the assignments'
feedback) and ``toy_metrics``.

Import what you need, e.g. ``from kgan_utils.mmd import mmd2``. The smoke switch
of the book (environment variable ``KGAN_SMOKE``) is read by
:func:`kgan_utils.config.smoke_mode`.
"""

__version__ = "0.1.0"
REPOSITORY_URL = "https://github.com/kgan-book/kernels-distances-gans"
