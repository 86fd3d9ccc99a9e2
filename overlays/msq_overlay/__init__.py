"""Board-side driver of MSQ flow accelerators: imports only numpy (and pynq for the overlay).

- :mod:`packing`: float <-> fixed-point stream words;
- :mod:`manifest`: the overlay manifest (board, part, I/O shapes and types, IP/DMA names, md5);
- :mod:`head`: the float head, run in numpy on the host;
- :mod:`driver`: ``MSQOverlay``, a ``pynq.Overlay`` with ``predict``;
- :mod:`sim`: ``SimDevice``, a ``pynq.Device`` that serves the DMA with the C-simulation library.

Runs on Python 3.10 (PYNQ images).
"""

__version__ = "0.1.0"
