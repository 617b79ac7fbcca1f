"""``python -m fastbp``: the command line (see :mod:`fastbp.cli`).

The ``fastbp`` console script calls :func:`main` too.
"""
import sys


def main(argv=None):
    """Run the ``fastbp`` command line and return its exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
    """
    from .cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
