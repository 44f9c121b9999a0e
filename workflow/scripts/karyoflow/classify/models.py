"""Keras classifiers, built from a hyperparameter dict that the checkpoint carries.

- cnn9: the blog study's baseline, three blocks of two 3x3 convolutions and a max-pool
  (nine layers), flatten, dropout, one dense layer. The image is its only input.
- resnet: a small residual network (batch norm, one residual block per width, global
  average pooling) that also reads the relative length as a scalar.

Heads: `flat` (softmax over the 24 classes) or `two_stage` (a Denver group softmax, then
the number within the group: p(class) = p(group) * p(class | group), both supervised).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from karyoflow.core.labels import GROUP_INDEX_OF_CLASS, GROUPS, N_CLASSES

MODELS = ("cnn9", "resnet")
HEADS = ("flat", "two_stage")


@keras.saving.register_keras_serializable(package="karyoflow")
class WithinGroupProduct(layers.Layer):
    """p(class) = p(group of class) * softmax of the class logits within that group."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        membership = np.zeros((N_CLASSES, len(GROUPS)), dtype="float32")
        membership[np.arange(N_CLASSES), GROUP_INDEX_OF_CLASS] = 1.0
        self.membership = membership

    def call(self, group_probs, class_logits):
        member = ops.convert_to_tensor(self.membership)
        shifted = class_logits - ops.max(class_logits, axis=-1, keepdims=True)
        exp = ops.exp(shifted)
        group_sum = ops.matmul(exp, member)  # (n, groups)
        within = exp / ops.matmul(group_sum, ops.transpose(member))
        return within * ops.matmul(group_probs, ops.transpose(member))


def _trunk_cnn9(image, filters, dense):
    x = image
    for width in filters:
        x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    return layers.Dense(dense, activation="relu")(x)


def _batch_norm():
    # Keras' default momentum (0.99) lets the inference statistics lag the weights for
    # hundreds of steps: on a few thousand crops the model is wrong at validation time
    # although right in training. 0.9 tracks within tens of steps.
    return layers.BatchNormalization(momentum=0.9)


def _trunk_resnet(image, filters, dense):
    x = layers.Conv2D(filters[0], 3, padding="same", use_bias=False)(image)
    x = layers.ReLU()(_batch_norm()(x))
    for width in filters:
        shortcut = _batch_norm()(layers.Conv2D(width, 1, strides=2, use_bias=False)(x))
        y = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False)(x)
        y = layers.ReLU()(_batch_norm()(y))
        y = _batch_norm()(layers.Conv2D(width, 3, padding="same", use_bias=False)(y))
        x = layers.ReLU()(layers.Add()([shortcut, y]))
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    return layers.Dense(dense, activation="relu")(x)


def build_model(hyper: dict) -> keras.Model:
    """Model from hyperparameters: model, head, input_size, filters, dense, use_length."""
    name, head = hyper["model"], hyper["head"]
    if name not in MODELS:
        raise ValueError(f"classify.model {name!r} is not one of {MODELS}")
    if head not in HEADS:
        raise ValueError(f"classify.head {head!r} is not one of {HEADS}")
    size = int(hyper["input_size"])
    image = keras.Input((size, size, 1), name="image")
    length = keras.Input((1,), name="relative_length")
    trunk = _trunk_cnn9 if name == "cnn9" else _trunk_resnet
    features = trunk(image, list(hyper["filters"]), int(hyper["dense"]))
    if hyper.get("use_length", name != "cnn9"):
        features = layers.Concatenate()([features, length])
    if head == "flat":
        outputs = {"class": layers.Dense(N_CLASSES, activation="softmax", name="class")(features)}
    else:
        group = layers.Dense(len(GROUPS), activation="softmax", name="group")(features)
        logits = layers.Dense(N_CLASSES, name="class_logits")(features)
        outputs = {"class": WithinGroupProduct(name="class")(group, logits), "group": group}
    return keras.Model({"image": image, "relative_length": length}, outputs, name=f"{name}_{head}")


def compile_model(
    model: keras.Model, learning_rate: float, schedule: str = "constant", total_steps: int = 0
) -> None:
    """Adam at a constant rate, or (`cosine`) decaying from `learning_rate` to zero over
    `total_steps` batches. The schedule reads the optimizer's step counter, which the
    saved model keeps, so a resumed training continues the same curve."""
    if schedule == "cosine":
        if total_steps < 1:
            raise ValueError("a cosine learning-rate schedule needs the number of training steps")
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total_steps)
    elif schedule == "constant":
        rate = learning_rate
    else:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}: constant or cosine")
    losses = {name: "sparse_categorical_crossentropy" for name in model.output_names}
    metrics = {name: ["accuracy"] for name in model.output_names}
    model.compile(optimizer=keras.optimizers.Adam(rate), loss=losses, metrics=metrics)
