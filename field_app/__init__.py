"""网格通: the grid worker's phone app (Kivy). Talks to the gridflow API over HTTP only."""

__version__ = "0.1.0"
