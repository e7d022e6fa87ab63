"""Policies built from the example configs in config/models, and event data for the tests."""

import dataclasses
from pathlib import Path

import numpy as np
import torch

from lnn_control.config import load_config
from lnn_control.policy import LiquidPolicy, PolicyConfig

MODELS = Path(__file__).resolve().parents[2] / "config" / "models"
GRAVITY_IMU = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 9.81], dtype=np.float32)


def config(name: str, **control) -> PolicyConfig:
    loaded = load_config(PolicyConfig, MODELS / f"{name}.yaml")
    if control:
        loaded = dataclasses.replace(loaded, control=dataclasses.replace(loaded.control, **control))
    return loaded


def policy(name: str, seed: int = 0, **control) -> LiquidPolicy:
    torch.manual_seed(seed)
    return LiquidPolicy(config(name, **control)).eval()


def imu_values(count: int, seed: int = 0) -> np.ndarray:
    """Plausible IMU readings: small rates, gravity plus noise."""
    rng = np.random.default_rng(seed)
    return (GRAVITY_IMU + rng.normal(0.0, 0.5, (count, 6))).astype(np.float32)


def camera_frames(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 64, 64, 3), dtype=np.uint8)
