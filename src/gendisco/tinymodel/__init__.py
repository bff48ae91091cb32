"""The built-in `tiny` model: a small latent diffusion model trained in this repository.

`vocabulary` (its words, torch-free), `scenes` (the procedural pictures and captions it is
trained on), `tokenizer` (its word-level CLIP tokenizer), `measure` (image statistics that
check its pictures against the scenes) and `train` (`make train-tiny`). The trained weights
are the diffusers folder `weights/`.
"""

from pathlib import Path

WEIGHTS = Path(__file__).with_name("weights")
