"""kgan_utils -- the tested library behind the book *Kernels, Distances and GANs*.

One module per concept, data flowing one way::

    data -> distances -> kernels -> mmd -> losses -> models -> gan -> metrics, plotting

Import what you need, e.g. ``from kgan_utils.mmd import mmd2``. The smoke switch
of the book (environment variable ``KGAN_SMOKE``) is read by
:func:`kgan_utils.config.smoke_mode`.
"""

__version__ = "0.1.0"
REPOSITORY_URL = "https://github.com/kgan-book/kernels-distances-gans"
