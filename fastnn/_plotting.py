"""matplotlib for fastnn's charts (bench, train curves, the learning-rate range test):
imported on demand with one message when it is missing, figures written atomically in the
format the file name asks for."""
import os

MISSING = 'this chart needs matplotlib: pip install matplotlib (or ".[plot]" from the fastnn checkout)'


def pyplot(headless=True):
    """matplotlib.pyplot, on the Agg backend when `headless` (files, no window); ImportError
    with MISSING when matplotlib is not installed."""
    try:
        import matplotlib
        if headless:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(MISSING) from None
    return plt


def image_format(path):
    """The image format a chart's file name asks for (png when it names none)."""
    return os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"


def save(figure, path):
    """Write `figure` to `path` atomically (fastnn/_files.py) in the format its name asks for."""
    from ._files import write_atomically

    write_atomically(path, lambda handle: figure.savefig(handle, format=image_format(path)))
