"""Chromosome classification: Keras models (TensorFlow side) and the per-cell assignment.

models, data, train, infer import TensorFlow/Keras; assign and metrics import neither,
so the karyogram and report stages can use them without the TensorFlow env.
"""

import os

# TensorFlow's C++ start-up chatter (CUDA probing on CPU nodes) would bury the rule logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
