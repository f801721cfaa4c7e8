"""Which generators exist, and loading one by name or directory.

Three places hold model directories (see :mod:`faceveil.gen.base`):

- the built-in ones, inside the package (``faceveil/data/generators/*``);
- the user's model home, ``$FACEVEIL_MODELS`` or ``~/.local/share/faceveil/models``: every
  sub-directory with a ``model.json``;
- directories registered anywhere else (``faceveil train -o DIR`` registers DIR), listed in
  ``registry.json`` in the model home.

A name found in several places resolves in that order.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from faceveil.errors import InputError
from faceveil.gen.base import MODEL_FILE, Generator, GeneratorInfo, default_device
from faceveil.gen.choices import ARCH_NAMES
from faceveil.gen.nets import VAE, DCGANGenerator
from faceveil.models.weights import weight_path

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "data" / "generators"
DEFAULT_GENERATOR = "dcgan64"
REGISTRY_FILE = "registry.json"


def _dcgan(info: GeneratorInfo) -> torch.nn.Module:
    return DCGANGenerator(nz=info.latent_dim, res=info.resolution, **info.arch_kwargs)


def _vae_decoder(info: GeneratorInfo) -> torch.nn.Module:
    return VAE(nz=info.latent_dim, res=info.resolution, **info.arch_kwargs).decoder


# arch name -> the decoder network for a model.json; a new architecture is one line here.
ARCHS: dict[str, Callable[[GeneratorInfo], torch.nn.Module]] = {
    "dcgan": _dcgan,
    "vae": _vae_decoder,
}
assert tuple(ARCHS) == ARCH_NAMES


def models_home() -> Path:
    """Where user models live: ``$FACEVEIL_MODELS``, else ``$XDG_DATA_HOME/faceveil/models``
    (``~/.local/share/faceveil/models``)."""
    if os.environ.get("FACEVEIL_MODELS"):
        return Path(os.environ["FACEVEIL_MODELS"]).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "faceveil" / "models"


def _registered() -> dict[str, str]:
    try:
        data = json.loads((models_home() / REGISTRY_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def model_dirs() -> dict[str, Path]:
    """Every known model directory by name, in resolution order (first wins)."""
    found: dict[str, Path] = {}
    candidates = sorted(BUILTIN_DIR.glob(f"*/{MODEL_FILE}"))
    home = models_home()
    if home.is_dir():
        candidates += sorted(home.glob(f"*/{MODEL_FILE}"))
    candidates += [Path(p) / MODEL_FILE for p in _registered().values()]
    for file in candidates:
        try:
            info = GeneratorInfo.load(file.parent)
        except InputError:
            continue  # a broken or vanished model does not hide the others
        found.setdefault(info.name, file.parent)
    return found


def list_generators(**tags: str) -> list[GeneratorInfo]:
    """Metadata of every available generator whose tags match `tags` (all of them).

    ``list_generators(skin_tone="dark")`` picks models by metadata, as the re-imaging
    workflow does; ``name``, ``arch`` and ``training_data`` can be matched too.
    """
    infos = [GeneratorInfo.load(d) for d in model_dirs().values()]

    def matches(info: GeneratorInfo) -> bool:
        fields = {"name": info.name, "arch": info.arch, "training_data": info.training_data}
        return all({**info.tags, **fields}.get(k) == v for k, v in tags.items())

    return [i for i in infos if matches(i)]


def register(model_dir: str | Path) -> GeneratorInfo:
    """Make the model in `model_dir` loadable by its name from anywhere; returns its info."""
    model_dir = Path(model_dir).resolve()
    info = GeneratorInfo.load(model_dir)
    home = models_home()
    home.mkdir(parents=True, exist_ok=True)
    entries = _registered()
    entries[info.name] = str(model_dir)
    tmp = home / (REGISTRY_FILE + ".tmp")
    tmp.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(home / REGISTRY_FILE)
    _load.cache_clear()
    return info


def resolve(name_or_dir: str | Path | None = None) -> Path:
    """The model directory of a registered name, or `name_or_dir` itself if it is one."""
    name_or_dir = name_or_dir or DEFAULT_GENERATOR
    as_path = Path(name_or_dir).expanduser()
    if (as_path / MODEL_FILE).is_file():
        return as_path
    dirs = model_dirs()
    if str(name_or_dir) in dirs:
        return dirs[str(name_or_dir)]
    known = ", ".join(sorted(dirs)) or "none"
    raise InputError(f"no generator {str(name_or_dir)!r} (known: {known})")


def load_state_dict(info: GeneratorInfo, file: str | None = None) -> dict:
    """The state_dict named by `file` (default: ``info.weights``) in the model dir.

    User files go through ``torch.load(weights_only=True)``: a pickle never runs code.
    """
    ref = file or info.weights
    if ref.startswith("package:"):
        path = weight_path(ref.removeprefix("package:"))
    else:
        path = Path(info.path or ".") / ref
        if Path(ref).is_absolute() or ".." in Path(ref).parts:
            raise InputError(f"{info.name}: weights must be a file inside the model directory")
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickles before refusing them
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"{info.name}: missing weights file {path}") from None
    except Exception as exc:  # unpickling refused or a corrupt file: one line
        raise InputError(f"{path}: not a loadable weights file ({type(exc).__name__})") from None
    if info.weights_key and file is None:
        state = state.get(info.weights_key) if isinstance(state, dict) else None
    if not isinstance(state, dict):
        raise InputError(f"{path}: expected a state_dict")
    return state


@functools.lru_cache(maxsize=4)
def _load(model_dir: str, device: str) -> Generator:
    info = GeneratorInfo.load(model_dir)
    if info.arch not in ARCHS:
        raise InputError(f"{model_dir}: unknown arch {info.arch!r} (known: {', '.join(ARCHS)})")
    net = ARCHS[info.arch](info)
    try:
        net.load_state_dict(load_state_dict(info))
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"{model_dir}: weights do not fit {info.arch}: {first}") from None
    return Generator(net, info, torch.device(device))


def get_generator(
    name_or_dir: str | Path | None = None, device: torch.device | str | None = None
) -> Generator:
    """Load a generator by registered name (default ``dcgan64``) or model directory.

    Loaded generators are cached per directory and device.
    """
    model_dir = resolve(name_or_dir).resolve()
    return _load(str(model_dir), str(device or default_device()))


get_generator.cache_clear = _load.cache_clear  # type: ignore[attr-defined]
