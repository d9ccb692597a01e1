"""Policy-gradient pieces of MaskGAN (Fedus et al., ICLR 2018, §3.2, Eq. 4–6; official `model_losses.py`).

Per filled token t the reward is r_t = log D(x̂_t) (zero at present tokens), the return is the discounted sum of
the rewards from t on over the missing tokens, R_t = Σ_{s≥t} missing_s γ^{s−t} r_s, the advantage is
A_t = clip(R_t − V(s_t), ±c) with the critic's estimate V as the baseline, and the generator maximises
Σ_t missing_t · log π(x̂_t) · A_t with A treated as a constant (REINFORCE).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def token_rewards(d_logits: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
    """r_t = log σ(D_t) at missing tokens, 0 at present ones (log-sigmoid: stable where the official code adds
    an eps of 1e-7 inside the log)."""
    return F.logsigmoid(d_logits) * missing.to(d_logits.dtype)


def discounted_returns(rewards: torch.Tensor, missing: torch.Tensor, gamma: float) -> torch.Tensor:
    """R_t = Σ_{s≥t} missing_s · γ^{s−t} · r_s for every t (N×L), as one matrix product."""
    length = rewards.shape[1]
    s = torch.arange(length, device=rewards.device)
    power = (s[:, None] - s[None, :]).to(rewards.dtype)  # [s, t] = s − t
    discount = torch.where(power >= 0, torch.as_tensor(gamma, dtype=rewards.dtype) ** power.clamp(min=0),
                           torch.zeros((), dtype=rewards.dtype, device=rewards.device))
    return (rewards * missing.to(rewards.dtype)) @ discount


def advantages(returns: torch.Tensor, baseline, clip: float = 5.0) -> torch.Tensor:
    """A_t = clip(R_t − b_t, ±clip), detached (the official `advantage_clipping` = 5); `baseline` None: b = 0."""
    adv = returns if baseline is None else returns - baseline
    return adv.clamp(-clip, clip).detach() if clip > 0 else adv.detach()


def reinforce_loss(log_probs: torch.Tensor, advantage: torch.Tensor, missing: torch.Tensor) -> torch.Tensor:
    """−Σ_t missing_t · log π(x̂_t) · A_t, summed over positions and averaged over the batch: its gradient is the
    REINFORCE estimate of −∇ E[Σ rewards] (the advantage carries no gradient)."""
    return -(log_probs * advantage.detach() * missing.to(log_probs.dtype)).sum(dim=1).mean()
