"""Training: float pre-training, STE quantization-aware training, ADMM for row-quantized weights."""

from flow.train.admm import ADMMConfig, train_admm
from flow.train.lq_basis import LQBasisUpdate
from flow.train.ste import TrainConfig, evaluate, train, transfer_weights

__all__ = ["ADMMConfig", "LQBasisUpdate", "TrainConfig", "evaluate", "train", "train_admm", "transfer_weights"]
