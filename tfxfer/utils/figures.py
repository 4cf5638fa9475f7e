"""Matplotlib figures that show themselves in Jupyter without pyplot."""

from __future__ import annotations

import functools
import io


def _repr_png_(figure) -> bytes:
    # IPython calls this for the PNG of a cell's result when no formatter for
    # Figures is registered (pyplot not imported yet); with matplotlib's
    # inline backend active, its formatter is used.
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


@functools.cache
def _figure_class(name: str):
    """A `Figure` subclass called `name`, with a PNG representation (made
    once per name, when matplotlib is first needed: importing this module
    does not import matplotlib)."""
    from matplotlib.figure import Figure

    return type(name, (Figure,), {"_repr_png_": _repr_png_})


def notebook_figure(name: str = "NotebookFigure", **kwargs):
    """A new matplotlib `Figure` that a notebook cell shows as a PNG.

    The figure is not registered with pyplot: nothing to close, and nothing
    shown by a non-interactive backend.

    Args:
        name: The figure's class name, which its repr shows
            (`<HistoryFigure size 920x340 with 2 Axes>`).
        **kwargs: Passed to `matplotlib.figure.Figure` (`figsize`,
            `layout`, ...).

    Returns:
        The figure.

    Example:

    >>> from tfxfer.utils.figures import notebook_figure
    >>> figure = notebook_figure("Curves", figsize=(2, 2))
    >>> _ = figure.subplots().plot([0, 1], [1, 0])
    >>> type(figure).__name__, figure._repr_png_()[:4]
    ('Curves', b'\\x89PNG')
    """
    return _figure_class(name)(**kwargs)
