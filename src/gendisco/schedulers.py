"""Scheduler short names: the table `load_pipeline` builds from, and the check `validate` runs.

Pure names, no diffusers import, so a project's `scheduler:` is checked with the rest of the
file instead of after the song's analysis and the model's load.
"""

from __future__ import annotations

import difflib
from typing import Any

from gendisco.errors import UserError

# short name -> (diffusers class, extra config); `load_pipeline` builds them with
# `from_config`, so the model's own betas, prediction type and timestep spacing carry over
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    "ddpm": ("DDPMScheduler", {}),
    "pndm": ("PNDMScheduler", {"skip_prk_steps": True}),  # as Stable Diffusion ships it
    "dpm++": ("DPMSolverMultistepScheduler", {}),
    "dpm++_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "dpm++_sde": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++"}),
    "dpmsolver": ("DPMSolverMultistepScheduler", {}),
    "dpm_single": ("DPMSolverSinglestepScheduler", {}),
    "dpm2": ("KDPM2DiscreteScheduler", {}),
    "dpm2_a": ("KDPM2AncestralDiscreteScheduler", {}),
    "deis": ("DEISMultistepScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lcm": ("LCMScheduler", {}),
    "tcd": ("TCDScheduler", {}),
}
# Other spellings people write. Plain "dpm" is what most interfaces call DPM++ 2M, the
# multistep solver.
ALIASES = {
    "dpm": "dpm++",
    "euler_ancestral": "euler_a",
    "eulera": "euler_a",
    "dpmpp": "dpm++",
    "dpm_solver": "dpmsolver",
    "dpmpp_karras": "dpm++_karras",
    "dpmpp_sde": "dpm++_sde",
    "unipcmultistep": "unipc",
}


def scheduler_key(name: str) -> str:
    """The table's key for `name` (case, `-` and spaces ignored; aliases followed)."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    if key not in SCHEDULERS:
        close = difflib.get_close_matches(key, SCHEDULERS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UserError(f"unknown scheduler {name!r}{hint}; known: {', '.join(SCHEDULERS)}")
    return key
