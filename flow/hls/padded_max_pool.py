"""Padded max pooling of an unsigned type: where hls4ml's C++ and Keras disagree.

hls4ml's ``pad_val<T, Max>()`` (``nnet_pooling.h``) fills padded window positions with the value whose
most significant bit alone is set: the most negative value of a signed ``ap_fixed``, but half the range
(a large *positive* value) of an unsigned ``ap_ufixed``. Keras ignores padded positions, so a max pool
with ``padding='same'`` that really pads, on an unsigned input (after a ReLU), returns that value at the
border in C-simulation and on the FPGA. :func:`padded_unsigned_max_pools` names those layers;
``flow.convert.convert`` refuses them (or, with ``allow_approximate``, reports them).
"""

from __future__ import annotations

PAD_ATTRS = ("pad_top", "pad_bottom", "pad_left", "pad_right")


def padded_unsigned_max_pools(hm) -> dict[str, str]:
    """``{layer: why}`` for each max pooling layer of ``hm`` that pads an unsigned input."""
    found = {}
    for node in hm.get_layers():
        if not node.class_name.startswith("Pooling") or node.get_attr("pool_op") != "Max":
            continue
        pads = {a: int(node.get_attr(a, 0) or 0) for a in PAD_ATTRS}
        precision = node.get_input_variable().type.precision
        if any(pads.values()) and not getattr(precision, "signed", True):
            padded = ", ".join(f"{a} {v}" for a, v in pads.items() if v)
            found[node.name] = (f"max {node.class_name} pads ({padded}) an unsigned input ({precision}); hls4ml pads max "
                                f"pooling with 2^{precision.integer - 1}, Keras ignores padding")
    return found


ADVICE = "use padding='valid' (or an input size the pool divides), or a signed activation before the pool"
