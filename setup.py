"""Build script for lnn_control: the same file serves `pip install -e .` and `colcon build`.

`sim/` and `bench/` live at the repository root (see ARCHITECTURE) but install as the subpackages
`lnn_control.sim` and `lnn_control.bench`, so `lnn-control sim ...` and `lnn-control bench ...`
work from any install, not only from a checkout.
"""

import re
from collections import defaultdict
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "lnn_control"
ROOT = Path(__file__).resolve().parent
VERSION = re.search(r"<version>([^<]+)</version>", (ROOT / "package.xml").read_text()).group(1)

if Path.cwd().resolve() != ROOT:
    # `colcon build --symlink-install` runs `setup.py develop` from a build folder holding links
    # to top-level packages only; legacy develop mode cannot map lnn_control.sim to sim/.
    raise SystemExit(
        "lnn_control: run setup.py from its own folder. `colcon build --symlink-install` is not "
        "supported (lnn_control.sim and lnn_control.bench live in sim/ and bench/, which its "
        "develop mode cannot map); use `colcon build` without --symlink-install, or "
        "`pip install -e .` for an editable install."
    )


def mapped_packages(folder: str, name: str) -> list[str]:
    """`name` and every package below `folder`, named as installed under `name`."""
    return [name] + [f"{name}.{sub}" for sub in find_packages(str(ROOT / folder))]


def share_tree(folder: str, pattern: str) -> list[tuple[str, list[str]]]:
    """data_files entries that install `folder/**/pattern` under share/lnn_control/folder/..."""
    groups: dict[str, list[str]] = defaultdict(list)
    for path in sorted((ROOT / folder).rglob(pattern)):
        rel = path.relative_to(ROOT)
        groups[f"share/{PACKAGE}/{rel.parent.as_posix()}"].append(rel.as_posix())
    return sorted(groups.items())


ROS = [
    "ros-jazzy-rclpy==7.1.6",
    "ros-jazzy-rmw-fastrtps-cpp==8.4.3",
    "ros-jazzy-builtin-interfaces==2.0.3",
    "ros-jazzy-std-msgs==5.3.6",
    "ros-jazzy-sensor-msgs==5.3.6",
    "ros-jazzy-geometry-msgs==5.3.6",
    "ros-jazzy-nav-msgs==5.3.6",
    "ros-jazzy-trajectory-msgs==5.3.6",
    "ros-jazzy-lifecycle-msgs==2.0.3",
    "ros-jazzy-diagnostic-msgs==5.3.6",
    "rosbags==0.11.9",
    "matplotlib==3.11.2",  # replay reports
    # the node's `onnx` engine: export (torch.onnx's dynamo exporter needs onnx, onnxscript) and run
    "onnx==1.23.2",
    "onnxruntime==1.32.0",
    "onnxscript==0.7.2",
]
SIM = ["mujoco==4.0.0", "gymnasium==1.4.0", "matplotlib==3.11.2"]  # sim view
TRAIN = [
    "stable-baselines3==2.9.2",
    "sb3-contrib==2.9.2",
    "tensorboard==2.21.0",
    "matplotlib==3.11.2",
    "tqdm==4.70.1",
    # compare and sweep run their training runs as Ray Tune trials (never ray[rllib]: it pins an
    # older gymnasium); sweep samples with Optuna
    "ray[tune]==2.60.0",
    "optuna==5.1.0",
]
DEV = [
    "pytest==9.2.0",
    "pytest-xdist==3.8.0",
    "pytest-timeout==2.4.0",
    "ncps==1.0.1",
    "scipy==1.17.1",
    "colcon-common-extensions==0.3.0",
    "hypothesis==6.170.15",
]

setup(
    name=PACKAGE,
    version=VERSION,
    description="Liquid neural network control policies for robots (LTC/CfC + NCP, ROS 2, MuJoCo)",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"])
    + mapped_packages("sim", f"{PACKAGE}.sim")
    + mapped_packages("bench", f"{PACKAGE}.bench"),
    package_dir={f"{PACKAGE}.sim": "sim", f"{PACKAGE}.bench": "bench"},
    package_data={f"{PACKAGE}.sim": ["models/**/*.xml", "models/**/*.png"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *share_tree("launch", "*.launch.py"),
        *share_tree("config", "*.yaml"),
    ],
    # Loose ranges here so a robot's own numpy/torch satisfy them; the extras pin exact versions.
    # Install torch==2.13.0 first on this machine (the Makefile does): an unpinned torch pulls CUDA.
    install_requires=["torch>=2.6", "numpy>=1.26", "pyyaml>=6.0", "safetensors>=0.4", "rich>=13"],
    extras_require={"ros": ROS, "sim": SIM, "train": TRAIN, "dev": DEV},
    zip_safe=False,
    entry_points={
        "console_scripts": [
            "lnn-control = lnn_control.cli:main",
            "policy_node = lnn_control.ros.policy_node:main",
            "sim_node = lnn_control.ros.sim_node:main",
            "bag_recorder = lnn_control.ros.recorder:main",
        ]
    },
)
