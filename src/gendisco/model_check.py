"""Find a model before loading it, without torch: so `validate` can warn about it at once and
`render` and `preview` can stop before the song analysis and the model load, not after.

A model is a built-in name (`tiny`, `random:sd15`, ...), a local diffusers folder, a single
`.safetensors` file, or a Hugging Face hub id. A local path that does not exist, or a file
gendisco will not load, is the user's to fix (exit 2). A hub id that is not in the Hugging
Face cache can only be fetched from the hub: when that is forbidden (`HF_HUB_OFFLINE=1`) or
the hub cannot be reached, the check fails in about a second with one line on how to
download it, instead of after a minute of huggingface_hub's retries.

    location = check_model("stabilityai/sd-turbo")   # raises ModelNotDownloaded / ModelPathError
    warnings = model_warnings("stabilityai/sd-turbo")  # for `validate`: never raises
"""

from __future__ import annotations

import difflib
import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from gendisco.errors import ModelNotDownloaded, ModelPathError

__all__ = [
    "BUILTIN_MODELS",
    "TAESD",
    "ModelLocation",
    "check_model",
    "hub_reachable",
    "locate_model",
    "looks_like_path",
    "model_warnings",
    "offline_mode",
    "offline_reason",
    "quiet_hub_logging",
]

# The TAESD decoders `vae: tiny` swaps in, by architecture.
TAESD = {"sd": "madebyollin/taesd", "sdxl": "madebyollin/taesdxl"}
# How long the hub probe may take; a reachable hub answers a TCP connect in milliseconds.
HUB_PROBE_TIMEOUT_S = 1.5
CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".bin", ".pth")
# The models gendisco builds itself (gendisco.models.architectures): no download. `random:`
# names can never be hub ids (a repo id has no colon); a bare name starting with "tiny" that
# is neither of these nor a local path is taken for a mistyped built-in, not a hub id.
BUILTIN_MODELS = (
    "tiny",
    "tiny-sdxl",
    "random:tiny",
    "random:sd15",
    "random:sd-turbo",
    "random:sdxl",
)
RANDOM_PREFIX = "random:"

# Set once a probe in this process found the hub unreachable: loaders then read the cache
# only, instead of retrying the network for a minute per file.
_hub_unreachable = False


def quiet_hub_logging() -> None:
    """Keep huggingface_hub's retry chatter ("Retrying in 4s [Retry 3/5]") off the terminal:
    what failed reaches the user as gendisco's own one-line error. HF_HUB_VERBOSITY, when
    set, still decides."""
    if os.environ.get("HF_HUB_VERBOSITY"):
        return
    # importing it configures its logger, so the level is set after the import
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.set_verbosity_error()


def offline_mode() -> bool:
    """True when the Hugging Face hub must not be contacted: HF_HUB_OFFLINE is set, or a
    probe in this process found the hub unreachable."""
    return _offline_by_env() or _hub_unreachable


def _offline_by_env() -> bool:
    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return env in ("1", "true", "yes", "on")


def offline_reason() -> str:
    """Why nothing is downloaded, for error messages."""
    if _offline_by_env():
        return "HF_HUB_OFFLINE=1 forbids downloading it"
    return f"{_hub_host()} cannot be reached to download it (no network)"


def download_hint(repo: str) -> str:
    return (
        f"download it with `hf download {repo}` where the network is reachable "
        "(then copy the Hugging Face cache, HF_HOME, to this machine)"
    )


def looks_like_path(model: str, base: Path | None = None) -> bool:
    """A local file or folder rather than a hub id (`owner/name`); a relative path is read
    from `base` (default: the current folder)."""
    if (
        model.startswith((".", "/", "~"))
        or model.endswith(CHECKPOINT_SUFFIXES)
        or os.sep in model.replace("/", "")
    ):
        return True
    try:
        return (Path(base) / model if base is not None else Path(model)).exists()
    except (OSError, ValueError):  # too long for a file name, a NUL: not a local path
        return False


def _hub_host() -> str:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    return urlsplit(endpoint).hostname or "huggingface.co"


def hub_reachable(timeout_s: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub (HF_ENDPOINT) opens within `timeout_s`.

    Name resolution has no timeout of its own, so the probe runs in a daemon thread and is
    given up on after `timeout_s`. Behind a proxy the direct connection says nothing about
    the proxied one, so the hub counts as reachable and the download is left to try.
    """
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY")):
        return True
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = _hub_host()
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    answer: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, name="gendisco-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(answer and answer[0])


@dataclass(frozen=True)
class ModelLocation:
    """Where a model comes from. For a hub id, `path` is its cached `model_index.json`
    (None when it is not in the cache); for a folder or file, the resolved path."""

    model: str
    kind: Literal["builtin", "folder", "file", "hub"]
    path: Path | None = None
    architecture: Literal["sd", "sdxl"] | None = None  # when it can be told without loading

    @property
    def cached(self) -> bool:
        return self.kind != "hub" or self.path is not None


def _architecture(index_path: Path) -> Literal["sd", "sdxl"] | None:
    try:
        name = json.loads(index_path.read_text(encoding="utf-8")).get("_class_name", "")
    except (OSError, ValueError, AttributeError):
        return None
    return "sdxl" if "XL" in name else "sd" if name else None


def _cached_file(repo: str, filename: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename)
    return Path(found) if isinstance(found, str) else None


def locate_model(model: str) -> ModelLocation:
    """Where `model` is, looking only at this machine (files and the Hugging Face cache).

    Raises ModelPathError (exit 2) for a local path that does not exist, a file that is not
    `.safetensors`, a folder without `model_index.json`, a malformed hub id, or a mistyped
    built-in name.
    """
    if model in BUILTIN_MODELS:
        return ModelLocation(model, "builtin")
    if model.startswith(RANDOM_PREFIX):
        raise _unknown_builtin(model)
    if looks_like_path(model):
        try:
            path = Path(model).expanduser().resolve()
            exists = path.exists()
        except (OSError, ValueError, RuntimeError) as error:  # too long, a NUL, no such ~user
            reason = getattr(error, "strerror", None) or str(error)
            raise ModelPathError(f"model path {model!r:.80} cannot be used ({reason})") from None
        if not exists:
            raise ModelPathError(f"model path {path} does not exist")
        if path.is_file():
            if path.suffix != ".safetensors":
                raise ModelPathError(
                    f"{path.name} is not a .safetensors checkpoint; gendisco loads "
                    "safetensors only (pickled weights can run code when loaded)"
                )
            return ModelLocation(model, "file", path)
        index = path / "model_index.json"
        if not index.is_file():
            raise ModelPathError(
                f"folder {path} has no model_index.json, so it is not a diffusers "
                "pipeline folder (pass the folder that contains model_index.json)"
            )
        return ModelLocation(model, "folder", path, _architecture(index))
    if model.startswith("tiny") and "/" not in model:
        raise _unknown_builtin(model)
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(model)
    except HFValidationError:
        raise ModelPathError(
            f"model '{model}' is neither an existing file or folder nor a valid Hugging Face "
            "repo id (owner/name)"
        ) from None
    index = _cached_file(model, "model_index.json")
    return ModelLocation(model, "hub", index, _architecture(index) if index else None)


def _unknown_builtin(model: str) -> ModelPathError:
    close = difflib.get_close_matches(model, BUILTIN_MODELS, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return ModelPathError(
        f"unknown built-in model {model!r}{hint}; built-in: {', '.join(BUILTIN_MODELS)}"
    )


def _taesd_repos(location: ModelLocation) -> list[str]:
    if location.architecture is not None:
        return [TAESD[location.architecture]]
    return list(TAESD.values())  # either may be needed: both must be missing to fail


def check_model(
    model: str, *, vae: str = "default", probe_network: bool = True, role: str = ""
) -> ModelLocation:
    """Fail now, in one line, if `model` cannot be loaded from here; else where it is.

    A hub id that is not in the Hugging Face cache fails when HF_HUB_OFFLINE is set or (with
    `probe_network`) when the hub does not answer within a second or so; once a probe failed,
    loaders in this process read the cache only. `vae="tiny"` also needs a TAESD decoder.
    `role` names where the model came from in messages, e.g. "preview's default".
    """
    global _hub_unreachable
    quiet_hub_logging()
    location = locate_model(model)
    needed: list[list[str]] = []  # groups of repos; each group needs one of its members
    if location.kind == "hub" and not location.cached:
        needed.append([model])
    if vae == "tiny" and location.kind != "builtin":
        repos = _taesd_repos(location)
        if not any(_cached_file(repo, "config.json") for repo in repos):
            needed.append(repos)
    if not needed:
        return location
    if not _offline_by_env():
        if not probe_network or hub_reachable():
            return location  # the download can go ahead
        _hub_unreachable = True
    repo = needed[0][0]
    what = f"model '{model}'" if repo == model else f"the tiny VAE '{repo}' (vae: tiny)"
    if role and repo == model:
        what += f" ({role})"
    raise ModelNotDownloaded(
        f"{what} is not in the Hugging Face cache and {offline_reason()}; {download_hint(repo)}"
    )


def model_warnings(model: str, *, vae: str = "default") -> list[str]:
    """What `validate` says about a model it cannot find on this machine (no network: instant).

    Warnings, not errors: the model may be downloaded before the render, or the project
    rendered with `--model`.
    """
    quiet_hub_logging()
    try:
        location = locate_model(model)
    except ModelPathError as error:
        return [str(error)]
    missing = []
    if location.kind == "hub" and not location.cached:
        missing.append((f"model '{model}'", model))
    if vae == "tiny" and location.kind != "builtin":
        repos = _taesd_repos(location)
        if not any(_cached_file(repo, "config.json") for repo in repos):
            missing.append((f"the tiny VAE '{repos[0]}' (vae: tiny)", repos[0]))
    if _offline_by_env():
        return [
            f"{what} is not in the Hugging Face cache and HF_HUB_OFFLINE=1 forbids downloading "
            f"it; {download_hint(repo)}"
            for what, repo in missing
        ]
    return [
        f"{what} is not in the Hugging Face cache yet; `gendisco render` downloads it "
        f"(or run `hf download {repo}` now)"
        for what, repo in missing
    ]
