"""The liquid time-constant (LTC) cell (Hasani et al., AAAI 2021), numerically as ncps 1.0.1.

Each neuron ``i`` has a membrane potential ``v_i`` obeying

    cm_i dv_i/dt = gleak_i (vleak_i - v_i) + sum_j w_ji s_ji(v_j) (erev_ji - v_i)
                                           + sum_k sw_ki s_ki(x_k) (serev_ki - v_i)

with sigmoid synapses ``s(u) = sigmoid(sigma (u - mu))`` on the wiring's synapses only. A step of
``dt`` is ``ode_unfolds`` semi-implicit (fused) Euler sub-steps of ``h = dt / ode_unfolds``,
implicit in the linear ``v_i`` terms:

    v_i <- (cm_i v_i + h (gleak_i vleak_i + sum w s erev)) / (cm_i + h (gleak_i + sum w s + eps))

This is ncps's update with numerator and denominator multiplied by ``h``: the same numbers, but a
zero time step leaves the state unchanged instead of dividing by zero. With non-negative ``w``,
``gleak`` and ``cm`` each sub-step is a convex combination of ``v``, ``vleak`` and the reversal
potentials, so the state stays bounded for any ``dt >= 0``.

Time runs in units of ``time_unit_s`` seconds: a step of ``dt`` seconds integrates ``dt /
time_unit_s`` units. ncps counts one unit per step, and its initial capacitances (``cm`` 0.4 to
0.6, against leak and synaptic conductances of up to about 1 each) give time constants of a few
units; stepped on real stamps in seconds (the default, 1.0) those are a few tenths of a second,
too slow for a 200 Hz attitude loop. ``time_unit_s`` set to the nominal step (0.005 s) gives the
same time constants in steps as ncps. It enters as the capacitance ``cm * time_unit_s`` (the
update above with numerator and denominator multiplied by ``time_unit_s``), so every engine that
runs :meth:`LTCCell.prepare`'s values (export, native C step) gets it without code of its own.

Synapses are evaluated as an edge list (only where the wiring has one), which is what makes sparse
NCP wirings cheap; the sparsity masks are kept as buffers.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lnn_control.errors import ConfigError
from lnn_control.liquid.base import LiquidCell
from lnn_control.liquid.ltc_scan import ltc_scan
from lnn_control.liquid.wiring import Wiring

__all__ = ["LTCCell"]

#: ncps's initialisation ranges (uniform) of the LTC parameters
INIT_RANGES = {
    "gleak": (0.001, 1.0),
    "vleak": (-0.2, 0.2),
    "cm": (0.4, 0.6),
    "w": (0.001, 1.0),
    "sigma": (3.0, 8.0),
    "mu": (0.3, 0.8),
    "sensory_w": (0.001, 1.0),
    "sensory_sigma": (3.0, 8.0),
    "sensory_mu": (0.3, 0.8),
}
MAPPINGS = ("affine", "linear", "none")


class LTCCell(LiquidCell):
    """One LTC step ``(x, h, dt) -> (y, h_new)`` on a wiring.

    Shapes: ``x (B, in_features)``, ``h (B, units)``, ``dt`` float or ``(B,)``/``(B, 1)``,
    ``y (B, motor neurons)``. The output is the motor neurons' potentials (neurons ``0..m-1``)
    through the output mapping.

    :param wiring: the connectivity; built here with ``in_features`` if not yet built.
    :param in_features: number of input features (``None``: the wiring must be built already).
    :param input_mapping: ``"affine"`` (``x * input_w + input_b``), ``"linear"`` or ``"none"``.
    :param output_mapping: ``"affine"``, ``"linear"`` or ``"none"``, on the motor potentials.
    :param ode_unfolds: semi-implicit Euler sub-steps per step.
    :param epsilon: added to the update's denominator, as ncps.
    :param implicit_param_constraints: if true, ``w``, ``sensory_w``, ``cm`` and ``gleak`` pass
        through softplus in every step; if false they are used as they are and
        :meth:`apply_weight_constraints` clips them at zero (call it after each optimiser step).
    :param time_unit_s: the ODE's unit of time, s (see the module docstring); 1.0: seconds.
    """

    def __init__(
        self,
        wiring: Wiring,
        in_features: Optional[int] = None,
        input_mapping: str = "affine",
        output_mapping: str = "affine",
        ode_unfolds: int = 6,
        epsilon: float = 1e-8,
        implicit_param_constraints: bool = False,
        time_unit_s: float = 1.0,
    ) -> None:
        super().__init__()
        if in_features is not None:
            wiring.build(in_features)
        if not wiring.is_built() or wiring.sensory_adjacency_matrix is None:
            raise ConfigError(
                "the wiring does not know its input size: pass in_features or call "
                "wiring.build(input_dim) first"
            )
        for name, mapping in (("input_mapping", input_mapping), ("output_mapping", output_mapping)):
            if mapping not in MAPPINGS:
                raise ConfigError(f"{name} must be one of {MAPPINGS}, got {mapping!r}")
        if int(ode_unfolds) < 1:
            raise ConfigError(f"ode_unfolds must be at least 1, got {ode_unfolds}")
        if not time_unit_s > 0:
            raise ConfigError(f"time_unit_s must be > 0 s, got {time_unit_s}")
        self.wiring = wiring
        self.input_size = int(wiring.input_dim)  # type: ignore[arg-type]
        self.state_size = wiring.units
        self.output_size = wiring.output_dim
        self.input_mapping = input_mapping
        self.output_mapping = output_mapping
        self.ode_unfolds = int(ode_unfolds)
        self.epsilon = float(epsilon)
        self.implicit_param_constraints = bool(implicit_param_constraints)
        self.time_unit_s = float(time_unit_s)

        n, i = self.state_size, self.input_size
        # Same parameters, order and initialisation as ncps, so a seed gives the same weights.
        self.gleak = nn.Parameter(_uniform((n,), "gleak"))
        self.vleak = nn.Parameter(_uniform((n,), "vleak"))
        self.cm = nn.Parameter(_uniform((n,), "cm"))
        self.sigma = nn.Parameter(_uniform((n, n), "sigma"))
        self.mu = nn.Parameter(_uniform((n, n), "mu"))
        self.w = nn.Parameter(_uniform((n, n), "w"))
        self.erev = nn.Parameter(torch.tensor(wiring.adjacency_matrix, dtype=torch.float32))
        self.sensory_sigma = nn.Parameter(_uniform((i, n), "sensory_sigma"))
        self.sensory_mu = nn.Parameter(_uniform((i, n), "sensory_mu"))
        self.sensory_w = nn.Parameter(_uniform((i, n), "sensory_w"))
        self.sensory_erev = nn.Parameter(
            torch.tensor(wiring.sensory_adjacency_matrix, dtype=torch.float32)
        )
        adjacency = np.abs(wiring.adjacency_matrix)
        sensory = np.abs(wiring.sensory_adjacency_matrix)
        self.register_buffer("sparsity_mask", torch.tensor(adjacency, dtype=torch.float32))
        self.register_buffer("sensory_sparsity_mask", torch.tensor(sensory, dtype=torch.float32))
        # Edge lists (derived from the masks): source, target and flat index into (src, dst).
        src, dst = np.nonzero(adjacency)
        ssrc, sdst = np.nonzero(sensory)
        self.register_buffer("syn_src", torch.tensor(src, dtype=torch.long), persistent=False)
        self.register_buffer("syn_dst", torch.tensor(dst, dtype=torch.long), persistent=False)
        self.register_buffer("syn_flat", torch.tensor(src * n + dst, dtype=torch.long),
                             persistent=False)
        self.register_buffer("sens_src", torch.tensor(ssrc, dtype=torch.long), persistent=False)
        self.register_buffer("sens_dst", torch.tensor(sdst, dtype=torch.long), persistent=False)
        self.register_buffer("sens_flat", torch.tensor(ssrc * n + sdst, dtype=torch.long),
                             persistent=False)
        # Absent mapping parameters are registered as None (TorchScript then drops their code).
        m = self.output_size
        self.input_w = nn.Parameter(torch.ones(i)) if input_mapping != "none" else None
        self.input_b = nn.Parameter(torch.zeros(i)) if input_mapping == "affine" else None
        self.output_w = nn.Parameter(torch.ones(m)) if output_mapping != "none" else None
        self.output_b = nn.Parameter(torch.zeros(m)) if output_mapping == "affine" else None

    def _positive(self, p: Tensor) -> Tensor:
        return F.softplus(p) if self.implicit_param_constraints else p

    @torch.no_grad()
    def apply_weight_constraints(self) -> None:
        """Clip ``w``, ``sensory_w``, ``cm`` and ``gleak`` at zero (explicit constraints only)."""
        if not self.implicit_param_constraints:
            for p in (self.w, self.sensory_w, self.cm, self.gleak):
                p.clamp_(min=0.0)

    def prepare(self) -> Dict[str, Tensor]:
        """Per-edge synapse parameters (``E`` synapses, ``Es`` sensory synapses) and constants.

        ``smu = -sigma * mu`` so that a synapse's activation is ``sigmoid(smu + sigma * v_pre)``;
        ``w_num = w * erev`` and ``w_den = w`` are the numerator and denominator weights.
        """
        w = self._positive(self.w).reshape(-1).index_select(0, self.syn_flat)
        sigma = self.sigma.reshape(-1).index_select(0, self.syn_flat)
        mu = self.mu.reshape(-1).index_select(0, self.syn_flat)
        erev = self.erev.reshape(-1).index_select(0, self.syn_flat)
        sw = self._positive(self.sensory_w).reshape(-1).index_select(0, self.sens_flat)
        ssigma = self.sensory_sigma.reshape(-1).index_select(0, self.sens_flat)
        smu = self.sensory_mu.reshape(-1).index_select(0, self.sens_flat)
        serev = self.sensory_erev.reshape(-1).index_select(0, self.sens_flat)
        gleak = self._positive(self.gleak)
        prep = {
            "sigma": sigma,
            "smu": -sigma * mu,
            "w_num": w * erev,
            "w_den": w,
            "sens_sigma": ssigma,
            "sens_smu": -ssigma * smu,
            "sens_w_num": sw * serev,
            "sens_w_den": sw,
            "leak_num": gleak * self.vleak,
            "leak_den": gleak + self.epsilon,
            "cm": self._positive(self.cm) * self.time_unit_s,
        }
        return prep

    def input_terms(self, x: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        """Leak plus sensory synapse currents: ``x (..., I) -> (..., 2 * units)``.

        The first ``units`` columns are the numerator terms ``gleak vleak + sum sw s serev``, the
        last ``units`` the denominator terms ``gleak + eps + sum sw s``.
        """
        input_w, input_b = self.input_w, self.input_b
        if input_w is not None:
            x = x * input_w
        if input_b is not None:
            x = x + input_b
        pre = x.index_select(-1, self.sens_src)
        act = torch.sigmoid(torch.addcmul(prep["sens_smu"], pre, prep["sens_sigma"]))
        shape = list(x.shape[:-1]) + [self.state_size]
        num = x.new_zeros(shape).index_add_(-1, self.sens_dst, act * prep["sens_w_num"])
        den = x.new_zeros(shape).index_add_(-1, self.sens_dst, act * prep["sens_w_den"])
        return torch.cat([num + prep["leak_num"], den + prep["leak_den"]], -1)

    def step(self, terms: Tensor, h: Tensor, dt: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        """``ode_unfolds`` fused Euler sub-steps: ``terms (B, 2N)``, ``h (B, N)``, ``dt (B, 1)``."""
        n = self.state_size
        sub = dt / self.ode_unfolds
        cm = prep["cm"]
        num_in = terms[:, :n] * sub
        den_in = torch.addcmul(cm, terms[:, n:], sub)
        w_num = sub * prep["w_num"]
        w_den = sub * prep["w_den"]
        v = h
        for _ in range(self.ode_unfolds):
            act = torch.sigmoid(
                torch.addcmul(prep["smu"], v.index_select(1, self.syn_src), prep["sigma"])
            )
            num = torch.addcmul(num_in, cm, v).index_add_(1, self.syn_dst, act * w_num)
            den = den_in.index_add(1, self.syn_dst, act * w_den)
            v = num / den
        return v

    def output(self, states: Tensor, prep: Dict[str, Tensor]) -> Tensor:
        """Motor neuron potentials through the output mapping: ``(..., N) -> (..., m)``."""
        y = states[..., : self.output_size]
        output_w, output_b = self.output_w, self.output_b
        if output_w is not None:
            y = y * output_w
        if output_b is not None:
            y = y + output_b
        return y

    def scan(
        self,
        terms: Tensor,
        h0: Tensor,
        dt: Tensor,
        keep: Optional[Tensor],
        prep: Dict[str, Tensor],
    ) -> Tensor:
        """As :meth:`LiquidCell.scan`, through the fused kernel outside TorchScript."""
        if torch.jit.is_scripting():
            return self._scan_steps(terms, h0, dt, keep, prep)
        return self._scan_fused(terms, h0, dt, keep, prep)

    @torch.jit.unused
    def _scan_fused(
        self,
        terms: Tensor,
        h0: Tensor,
        dt: Tensor,
        keep: Optional[Tensor],
        prep: Dict[str, Tensor],
    ) -> Tensor:
        n = self.state_size
        sub = (dt / self.ode_unfolds).transpose(0, 1)  # (T, B, 1)
        terms = terms.transpose(0, 1)
        cm = prep["cm"]
        states = ltc_scan(
            h0,
            (terms[..., :n] * sub).contiguous(),
            torch.addcmul(cm, terms[..., n:], sub).contiguous(),
            cm,
            (sub * prep["w_num"]).contiguous(),
            (sub * prep["w_den"]).contiguous(),
            prep["sigma"],
            prep["smu"],
            self.syn_src,
            self.syn_dst,
            None if keep is None else keep.transpose(0, 1).contiguous(),
            self.ode_unfolds,
        )
        return states.transpose(0, 1)

    def extra_repr(self) -> str:
        return (
            f"{self.wiring!r}, ode_unfolds={self.ode_unfolds}, "
            f"implicit_param_constraints={self.implicit_param_constraints}, time_unit_s={self.time_unit_s}"
        )


def _uniform(shape: tuple[int, ...], name: str) -> Tensor:
    low, high = INIT_RANGES[name]
    return torch.rand(*shape) * (high - low) + low
