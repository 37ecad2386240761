"""Diffusion, score-based and flow-matching models: DDPM (Ho et al., 2020) with linear and cosine
schedules (Nichol & Dhariwal, 2021), DDIM (Song, Meng & Ermon, 2021), and conditional flow matching
(Lipman et al., 2023; Liu et al., 2023) with independent or minibatch-OT coupling (Tong et al., 2024).

One module per layer, read in this order:
  schedules.py      the forward process: β schedules, q(x_t | x_0), the posterior q(x_{t−1} | x_t, x_0)
  samplers.py       the reverse process of an ε-prediction model: DDPM's ancestral step, DDIM's step
  flow_matching.py  the straight conditional path, OT coupling, the loss, Euler and Heun ODE solvers
  score_matching.py denoising score matching over a noise ladder, annealed Langevin, a noised mixture's true score
  likelihood.py     log p(x) through the ODE (flow matching's, or a DDPM's probability flow): exact or Hutchinson divergence
  toy.py            the four trained live on 2-D data, side by side (dgm_core.live.LiveModel)
  measures.py       quality against model calls (energy distance, seeds), score error per time, path straightness,
                    the Fréchet distance of a digits model against its sampler's calls
  image.py          the digits model: DDPM or flow matching, class-conditional with classifier-free guidance
What the lab shows of them is dgm_core/labs/diffusion.py (page labs/diffusion.py, Space tab space/diffusion.py).
"""
from dgm_core.diffusion.flow_matching import (
    COUPLINGS,
    SOLVERS,
    conditional_path,
    couple,
    flow_matching_loss,
    integrate,
    ot_pairing,
    straightness,
)
from dgm_core.diffusion.likelihood import DIVERGENCES, cosine_ddpm_velocity, divergence, log_likelihood, vp_velocity
from dgm_core.diffusion.samplers import ddim_step, ddpm_step, sample, sampling_timesteps
from dgm_core.diffusion.schedules import (
    KINDS,
    NoiseSchedule,
    cosine_alpha_bar,
    cosine_schedule,
    cosine_time,
    linear_schedule,
    posterior,
    predicted_x0,
    q_moments,
    q_sample,
    schedule,
)
from dgm_core.diffusion.score_matching import (
    GaussianMixture,
    annealed_langevin,
    dsm_loss,
    langevin_step,
    noise_levels,
    toy_mixture,
)
