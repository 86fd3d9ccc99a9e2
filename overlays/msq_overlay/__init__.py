"""Board-side driver of MSQ flow accelerators: imports only numpy (and pynq for the overlay).

- :mod:`packing`: float <-> fixed-point codes, packed several to an AXI-stream beat (``beat_format``);
- :mod:`manifest`: the overlay manifest (board, part, I/O shapes, types and beat formats, IP/DMA names, md5);
- :mod:`head`: the float head, run in numpy on the host;
- :mod:`driver`: ``MSQOverlay``, a ``pynq.Overlay`` with ``predict``;
- :mod:`simlib`: the C-simulation library of the AXI top through ctypes (no pynq);
- :mod:`sim`: ``SimDevice``, a ``pynq.Device`` that serves the DMA with the C-simulation library.

Runs on Python 3.10 (PYNQ images).
"""

__version__ = "0.1.0"
