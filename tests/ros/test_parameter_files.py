"""Every shipped parameter file loads, fits the model it is written for, and the simulator's
topics and types are the ones its policy node listens and speaks on."""

import pytest
from roshelpers import ROOT

from lnn_control.config import load_config
from lnn_control.policy import PolicyConfig
from lnn_control.policy.deployment import load_deployment, load_node_parameters
from lnn_control.sim.parameters import SimParameters

CONFIG = ROOT / "config"
#: policy_node parameter file -> the model config it maps
POLICIES = {"imu_policy.yaml": "imu_cfc.yaml", "camera_imu_policy.yaml": "camera_imu_cfc.yaml",
            "quad_hover_policy.yaml": "quad_hover_cfc.yaml", "arm_reach_policy.yaml": "arm_reach_cnn_cfc.yaml",
            "quad_target_policy.yaml": "quad_target_cnn_cfc.yaml"}
#: sim_node parameter file -> the policy_node parameter file flown with it
PAIRS = {"quad_hover_sim.yaml": "quad_hover_policy.yaml", "arm_reach_sim.yaml": "arm_reach_policy.yaml",
         "quad_target_sim.yaml": "quad_target_policy.yaml"}


def test_every_parameter_file_is_covered():
    shipped = {p.name for p in (CONFIG / "ros").glob("*.yaml")}
    sims = {p.name for p in (CONFIG / "ros").glob("*_sim.yaml")}
    assert shipped - sims - {"quad_hover_expert.yaml"} == set(POLICIES)


@pytest.mark.parametrize("params, model", sorted(POLICIES.items()))
def test_a_policy_file_fits_its_model(params, model):
    load_deployment(CONFIG / "ros" / params).check(load_config(PolicyConfig, CONFIG / "models" / model))


@pytest.mark.parametrize("sim, params", sorted(PAIRS.items()))
def test_the_simulator_speaks_the_policy_nodes_topics(sim, params):
    simulated = load_node_parameters(SimParameters, CONFIG / "ros" / sim, "sim_node")
    deployment = load_deployment(CONFIG / "ros" / params)
    for name, topic in deployment.streams.items():
        published = simulated.streams[name]
        assert (published.topic, published.type, published.joint_names) == \
            (topic.topic, topic.type, topic.joint_names)
    assert (simulated.command.topic, simulated.command.type) == (deployment.output.topic, deployment.output.type)
    assert simulated.command.twist_fields == deployment.output.twist_fields


def test_sim_files_name_their_env():
    for path in (CONFIG / "ros").glob("*_sim.yaml"):
        assert load_node_parameters(SimParameters, path, "sim_node").env.startswith("lnn_control/")
