"""Prior packages (docs/prior-package.md): formulas, space JSON, saving, and every refusal of a malformed package."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from gymnasium import spaces  # noqa: E402
from torch import nn  # noqa: E402

from rql4j_bridge.prior.package import (  # noqa: E402
    PriorOutputError,
    PriorPackageError,
    PriorQueryError,
    diag_gaussian_log_prob,
    load_prior_package,
    save_prior_package,
    squashed_gaussian_log_prob,
)
from rql4j_bridge.prior.package import _check_module_behaviour, _probe  # noqa: E402
from rql4j_bridge.prior.spaces_json import SpaceJsonError, space_from_json, space_to_json  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

CARTPOLE_OBS = spaces.Box(
    np.array([-4.8, -np.inf, -0.41887903, -np.inf], np.float32),
    np.array([4.8, np.inf, 0.41887903, np.inf], np.float32),
    dtype=np.float32,
)
BOX2 = spaces.Box(np.array([-2.0, -1.0], np.float32), np.array([2.0, 3.0], np.float32), dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# Formulas
# ---------------------------------------------------------------------------------------------


def test_squashed_gaussian_reproduces_the_method_test_vector() -> None:
    mean = torch.tensor([[0.3]], dtype=torch.float64)
    log_std = torch.tensor([[-0.5]], dtype=torch.float64)
    action = torch.tanh(torch.tensor([[0.8]], dtype=torch.float64))
    assert abs(action.item() - 0.664036770267849) < 1e-12
    value = squashed_gaussian_log_prob(mean, log_std, action).item()
    assert abs(value - (-0.1772184298359022)) < 1e-9


def test_gaussian_formulas_match_torch_distributions() -> None:
    gen = torch.Generator().manual_seed(0)
    mean = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    log_std = torch.randn(50, 3, generator=gen, dtype=torch.float64) * 0.5
    a = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    normal = torch.distributions.Normal(mean, log_std.exp())
    torch.testing.assert_close(diag_gaussian_log_prob(mean, log_std, a), normal.log_prob(a).sum(-1), rtol=0, atol=1e-12)
    squashed = torch.tanh(a)
    expected = normal.log_prob(a).sum(-1) - torch.log(1 - torch.tanh(a) ** 2 + 1e-6).sum(-1)
    torch.testing.assert_close(squashed_gaussian_log_prob(mean, log_std, squashed), expected, rtol=0, atol=1e-9)
    # At the bounds the action is clipped to +-(1 - 1.19e-7) before atanh: finite.
    edge = squashed_gaussian_log_prob(mean[:1, :1], log_std[:1, :1], torch.ones(1, 1, dtype=torch.float64))
    assert torch.isfinite(edge).all()


# ---------------------------------------------------------------------------------------------
# Space JSON
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "space",
    [
        spaces.Discrete(5, start=-2),
        CARTPOLE_OBS,
        spaces.Box(0, 255, (2, 3), np.uint8),
        spaces.MultiDiscrete([3, 4]),
        spaces.MultiDiscrete([3, 4], start=[1, -1]),
        spaces.MultiBinary([2, 3]),
        spaces.Dict([("z", spaces.Discrete(2)), ("a", BOX2)]),  # key order kept (not sorted)
        spaces.Tuple([spaces.Discrete(3), spaces.Box(-1, 1, (2,), np.float32)]),
    ],
    ids=lambda s: type(s).__name__,
)
def test_space_json_round_trips(space: spaces.Space) -> None:
    text = json.dumps(space_to_json(space))
    back = space_from_json(json.loads(text))
    assert back == space
    if isinstance(space, spaces.Dict):
        assert list(back.spaces) == list(space.spaces)
    assert space_to_json(back) == space_to_json(space)


def test_space_json_writes_infinite_bounds_as_strings() -> None:
    box = space_to_json(CARTPOLE_OBS)
    assert box["low"][1] == "-inf" and box["high"][3] == "inf"
    assert box["low"][2] == float(np.float32(-0.41887903))  # the float32 value, exactly


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({"type": "Box", "shape": [2], "dtype": "float32", "low": [0, 0]}, "space.high"),
        ({"type": "Box", "shape": [2], "dtype": "float32", "low": [0], "high": [1, 1]}, "space.low"),
        ({"type": "Box", "shape": [1], "dtype": "float32", "low": ["nan"], "high": [1]}, "space.low[0]"),
        ({"type": "Discrete", "n": "2"}, "space.n"),
        ({"type": "Discrete", "n": True}, "space.n"),
        ({"type": "Graph"}, "space.type"),
        ({"type": "Dict", "spaces": {"a": {"type": "Discrete"}}}, "space.spaces.a.n"),
    ],
)
def test_space_json_errors_name_the_field(obj: dict[str, Any], field: str) -> None:
    with pytest.raises(SpaceJsonError) as info:
        space_from_json(obj)
    assert info.value.field == field, str(info.value)


# ---------------------------------------------------------------------------------------------
# Saving and loading
# ---------------------------------------------------------------------------------------------


class Logits(nn.Module):
    def __init__(self, obs_dim: int = 4, n: int = 2) -> None:
        super().__init__()
        self.lin = nn.Linear(obs_dim, n)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.lin(obs), dim=-1)


class Gaussian(nn.Module):
    def __init__(self, obs_dim: int = 3, d: int = 2) -> None:
        super().__init__()
        self.mu = nn.Linear(obs_dim, d)
        self.ls = nn.Linear(obs_dim, d)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mu(obs), torch.tanh(self.ls(obs)) - 0.5


class NanRows(Logits):
    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out = torch.log_softmax(self.lin(obs), dim=-1)
        return torch.where(obs[:, :1] > 0, torch.full_like(out, float("nan")), out)


def categorical_package(tmp_path: Path, name: str = "cat") -> Path:
    torch.manual_seed(0)
    return save_prior_package(
        tmp_path / name,
        Logits(),
        name=name,
        distribution="categorical",
        observation_space=CARTPOLE_OBS,
        action_space=spaces.Discrete(2),
        source_kind="torch-module",
    )


def squashed_package(tmp_path: Path, name: str = "sq") -> Path:
    torch.manual_seed(1)
    return save_prior_package(
        tmp_path / name,
        Gaussian(),
        name=name,
        distribution="squashed_gaussian",
        observation_space=spaces.Box(-1, 1, (3,), np.float32),
        action_space=BOX2,
        source_kind="torch-module",
    )


def test_saved_package_has_every_field_of_the_doc(tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"checkpoint bytes")
    out = save_prior_package(
        tmp_path / "pkg",
        Logits(),
        name="cartpole",
        distribution="categorical",
        observation_space=CARTPOLE_OBS,
        action_space=spaces.Discrete(2),
        source_kind="soft-dqn",
        source_file=source,
        temperature=0.5,
        made_by={"command": "test", "seed": 3},
    )
    sidecar = json.loads((out / "prior.json").read_text())
    assert sidecar["format"] == "rql4j-prior/1"
    assert sidecar["observation"] == {"flatten": "none", "dim": 4}
    assert sidecar["action_scaling"] is None and sidecar["temperature"] == 0.5
    assert sidecar["module"] == {"file": "policy.pt", "outputs": ["log_probs"]}
    assert sidecar["source"]["file"] == "source.bin"
    assert sidecar["source"]["sha256"] == hashlib.sha256(b"checkpoint bytes").hexdigest()
    assert sidecar["made_by"]["command"] == "test" and sidecar["made_by"]["seed"] == 3
    assert sidecar["made_by"]["date"].endswith("Z")
    assert sidecar["versions"]["torch"] == torch.__version__ and sidecar["versions"]["python"]
    module = torch.jit.load(str(out / "policy.pt"))
    assert all(not p.requires_grad for p in module.parameters())
    assert sorted(p.name for p in out.iterdir()) == ["policy.pt", "prior.json"]


def test_box_scaling_and_squashed_queries(tmp_path: Path) -> None:
    prior = load_prior_package(squashed_package(tmp_path))
    assert prior.sidecar["action_scaling"] == {"kind": "tanh_to_box", "low": [-2.0, -1.0], "high": [2.0, 3.0]}
    obs = np.random.default_rng(0).uniform(-1, 1, (7, 3)).astype(np.float32)
    mean, log_std = prior.distribution_params(obs)
    assert mean.dtype == np.float32 and mean.shape == (7, 2) and log_std.shape == (7, 2)
    actions = np.random.default_rng(1).uniform(-0.99, 0.99, (7, 2)).astype(np.float32)
    expected = squashed_gaussian_log_prob(
        torch.from_numpy(mean).double(), torch.from_numpy(log_std).double(), torch.from_numpy(actions).double()
    )
    np.testing.assert_allclose(prior.log_prob(obs, actions), expected.numpy(), rtol=0, atol=1e-12)
    # Sampling: seeded -> reproducible, in [-1, 1]; deterministic -> tanh(mean).
    a1 = prior.sample(obs, generator=torch.Generator().manual_seed(5))
    a2 = prior.sample(obs, generator=torch.Generator().manual_seed(5))
    np.testing.assert_array_equal(a1, a2)
    assert np.all(np.abs(a1) <= 1)
    np.testing.assert_allclose(prior.sample(obs, deterministic=True), np.tanh(mean), rtol=1e-6, atol=1e-7)
    env = prior.to_env_actions(np.array([[-1.0, 1.0], [0.0, 0.0]]))
    np.testing.assert_allclose(env, [[-2.0, 3.0], [0.0, 1.0]])
    with pytest.raises(PriorQueryError, match="LogProbsAll needs a categorical prior"):
        prior.log_probs_all(obs)
    with pytest.raises(PriorQueryError, match=r"normalized to \[-1, 1\]"):
        prior.log_prob(obs, actions * 3)
    with pytest.raises(PriorQueryError, match=r"\[B, 3\]"):
        prior.distribution_params(obs[:, :2])


def test_categorical_queries(tmp_path: Path) -> None:
    prior = load_prior_package(categorical_package(tmp_path))
    obs = np.random.default_rng(0).normal(size=(9, 4)).astype(np.float32)
    lp = prior.log_probs_all(obs)
    assert lp.dtype == np.float32 and lp.shape == (9, 2)
    np.testing.assert_allclose(np.exp(lp).sum(1), 1, atol=1e-6)
    actions = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1])
    np.testing.assert_array_equal(prior.log_prob(obs, actions), lp[np.arange(9), actions].astype(np.float64))
    np.testing.assert_array_equal(prior.sample(obs, deterministic=True), lp.argmax(1))
    draws = np.stack([prior.sample(obs, generator=torch.Generator().manual_seed(s)) for s in range(400)])
    np.testing.assert_allclose((draws == 1).mean(0), np.exp(lp[:, 1]), atol=0.1)
    with pytest.raises(PriorQueryError, match="outside"):
        prior.log_prob(obs, actions + 1)
    with pytest.raises(PriorQueryError, match="Distribution needs a Gaussian prior"):
        prior.distribution_params(obs)


def test_discrete_start_offsets_actions(tmp_path: Path) -> None:
    out = save_prior_package(
        tmp_path / "start",
        Logits(4, 3),
        name="start",
        distribution="categorical",
        observation_space=CARTPOLE_OBS,
        action_space=spaces.Discrete(3, start=5),
        source_kind="bc",
    )
    prior = load_prior_package(out)
    obs = np.zeros((2, 4), np.float32)
    lp = prior.log_probs_all(obs)
    np.testing.assert_array_equal(prior.log_prob(obs, np.array([5, 7])), [lp[0, 0], lp[1, 2]])
    assert set(prior.sample(obs, generator=torch.Generator().manual_seed(0)).tolist()) <= {5, 6, 7}


def test_dict_observations_use_gymnasium_flatten(tmp_path: Path) -> None:
    obs_space = spaces.Dict([("pos", spaces.Box(-1, 1, (2,), np.float32)), ("mode", spaces.Discrete(3))])
    out = save_prior_package(
        tmp_path / "dict",
        Logits(5, 2),
        name="dict",
        distribution="categorical",
        observation_space=obs_space,
        action_space=spaces.Discrete(2),
        source_kind="bc",
        observation_flatten="gymnasium",
    )
    prior = load_prior_package(out)
    assert prior.sidecar["observation"] == {"flatten": "gymnasium", "dim": 5}
    flat = prior.flatten_observations([{"pos": np.array([0.5, -0.5], np.float32), "mode": 2}])
    np.testing.assert_array_equal(flat, [[0.5, -0.5, 0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="'none' needs a Box"):
        save_prior_package(
            tmp_path / "bad",
            Logits(5, 2),
            name="x",
            distribution="categorical",
            observation_space=obs_space,
            action_space=spaces.Discrete(2),
            source_kind="bc",
        )


def test_traced_fallback_for_unscriptable_modules(tmp_path: Path) -> None:
    class Unscriptable(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(4, 2)

        def forward(self, obs):  # type: ignore[no-untyped-def]
            h = self.lin(obs)
            return torch.log_softmax(h * float(np.float64(1.0)), dim=-1)  # numpy call: not scriptable

    out = save_prior_package(
        tmp_path / "traced",
        Unscriptable(),
        name="t",
        distribution="categorical",
        observation_space=CARTPOLE_OBS,
        action_space=spaces.Discrete(2),
        source_kind="torch-module",
    )
    assert json.loads((out / "prior.json").read_text())["made_by"]["scripted_with"] == "torch.jit.trace"
    assert load_prior_package(out).log_probs_all(np.zeros((3, 4), np.float32)).shape == (3, 2)


def test_save_refuses_what_no_consumer_could_use(tmp_path: Path) -> None:
    common: dict[str, Any] = {"name": "x", "observation_space": CARTPOLE_OBS, "source_kind": "bc"}
    with pytest.raises(ValueError, match="Discrete action space"):
        save_prior_package(tmp_path / "a", Logits(), distribution="categorical", action_space=BOX2, **common)
    with pytest.raises(ValueError, match="bounded Box"):
        save_prior_package(
            tmp_path / "b",
            Gaussian(4, 1),
            distribution="squashed_gaussian",
            action_space=spaces.Box(-np.inf, np.inf, (1,), np.float32),
            **common,
        )

    class Raw(Logits):  # logits, not log-probabilities
        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return self.lin(obs) + 3.0

    with pytest.raises(PriorPackageError, match="not normalized"):
        save_prior_package(tmp_path / "c", Raw(), distribution="categorical", action_space=spaces.Discrete(2), **common)
    assert not (tmp_path / "c" / "prior.json").exists()


def test_the_behaviour_probe_stays_inside_finite_bounds() -> None:
    probe = _probe(4, CARTPOLE_OBS)
    assert probe.shape == (5, 4) and probe.dtype == torch.float32
    assert (probe[:, 0].abs() <= 4.8).all() and (probe[:, 2].abs() <= 0.41887903).all()
    assert torch.equal(_probe(2, None), torch.randn(5, 2, generator=torch.Generator().manual_seed(1234)))


def test_batch_size_check_allows_rounding_of_large_outputs_but_not_real_dependence() -> None:
    class Rounding(nn.Module):  # large log-probabilities; a row alone is off by float rounding of their size
        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            wobble = 1e-6 * 300.0 if obs.shape[0] == 1 else 0.0
            return torch.log_softmax(obs[:, :2] * 300.0 + wobble * torch.tensor([1.0, 0.0]), dim=1)

    class Mixing(nn.Module):  # each row reads the batch's mean: a real dependence on the batch
        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return torch.log_softmax(obs[:, :2] - obs[:, :2].mean(dim=0, keepdim=True), dim=1)

    for module in (Rounding(), Mixing()):
        module.eval()
    _check_module_behaviour(Rounding(), torch.jit.script(Rounding()), 2, BOX2)
    with pytest.raises(ValueError, match="depends on the batch size"):
        _check_module_behaviour(Mixing(), torch.jit.script(Mixing()), 2, BOX2)


# ---------------------------------------------------------------------------------------------
# Malformed packages
# ---------------------------------------------------------------------------------------------


def rewrite(path: Path, edit: Any) -> Path:
    sidecar = json.loads((path / "prior.json").read_text())
    edit(sidecar)
    (path / "prior.json").write_text(json.dumps(sidecar))
    return path


def refusal(path: Path) -> PriorPackageError:
    with pytest.raises(PriorPackageError) as info:
        load_prior_package(path)
    return info.value


def _del(*keys: str) -> Any:
    def edit(s: dict[str, Any]) -> None:
        target = s
        for k in keys[:-1]:
            target = target[k]
        del target[keys[-1]]

    return edit


def _set(value: Any, *keys: str) -> Any:
    def edit(s: dict[str, Any]) -> None:
        target = s
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value

    return edit


CATEGORICAL_BREAKS = [
    ("format", _del("format"), "is missing"),
    ("format", _set("rql4j-prior/2", "format"), "unknown format"),
    ("name", _set(3, "name"), "expected a non-empty string"),
    ("distribution", _del("distribution"), "is missing"),
    ("distribution", _set("beta", "distribution"), "unknown distribution"),
    ("distribution", _set("diag_gaussian", "distribution"), "needs a Box action_space"),
    ("observation_space", _set("Box", "observation_space"), "expected a space object"),
    ("observation_space.low", _set([0, 0], "observation_space", "low"), "expected 4 entries"),
    ("action_space.n", _set("2", "action_space", "n"), "expected a positive integer"),
    ("observation.dim", _set(5, "observation", "dim"), "flattens to 4"),
    ("observation.dim", _set(4.0, "observation", "dim"), "expected a positive integer"),
    ("observation.flatten", _set("torch", "observation", "flatten"), "unknown flatten"),
    ("action_scaling", _set({"kind": "tanh_to_box", "low": [0], "high": [1]}, "action_scaling"), "must be null"),
    ("temperature", _set(-1, "temperature"), "positive number"),
    ("module", _del("module"), "is missing"),
    ("module.outputs", _set(["mean", "log_std"], "module", "outputs"), "outputs ['log_probs']"),
    ("module.file", _set("nothere.pt", "module", "file"), "is not a file in the package folder"),
    ("module.file", _set("../x.pt", "module", "file"), "leads out of the package folder"),
    ("source.kind", _set("sb3-td3", "source", "kind"), "unknown source kind"),
    ("source.sha256", _set("abc", "source", "sha256"), "64 lower-case hex"),
    ("source", _del("source"), "is missing"),
    ("made_by", _set([], "made_by"), "expected an object"),
    ("made_by.command", _del("made_by", "command"), "is missing"),
    ("versions.torch", _set(2, "versions", "torch"), "version string"),
]


@pytest.mark.parametrize(
    ("field", "edit", "fragment"), CATEGORICAL_BREAKS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CATEGORICAL_BREAKS)]
)
def test_malformed_categorical_sidecars_name_file_and_field(
    tmp_path: Path, field: str, edit: Any, fragment: str
) -> None:
    path = rewrite(categorical_package(tmp_path), edit)
    error = refusal(path)
    assert error.field == field, str(error)
    assert error.file.endswith("prior.json"), str(error)
    assert fragment in str(error) and "prior.json" in str(error) and field in str(error)


GAUSSIAN_BREAKS = [
    ("distribution", _set("categorical", "distribution"), "needs a Discrete action_space"),
    ("action_scaling", _set(None, "action_scaling"), "for a Box action space"),
    ("action_scaling", _del("action_scaling"), "is missing (required for a Box action space)"),
    ("action_scaling.kind", _set("clip_to_box", "action_scaling", "kind"), "uses 'tanh_to_box'"),
    ("action_scaling.high", _set([2.0, 4.0], "action_scaling", "high"), "must agree"),
    ("action_scaling.low", _set([-2.0], "action_scaling", "low"), "has 1 entries"),
]


@pytest.mark.parametrize(
    ("field", "edit", "fragment"), GAUSSIAN_BREAKS, ids=[c[0] + str(i) for i, c in enumerate(GAUSSIAN_BREAKS)]
)
def test_malformed_gaussian_sidecars(tmp_path: Path, field: str, edit: Any, fragment: str) -> None:
    error = refusal(rewrite(squashed_package(tmp_path), edit))
    assert error.field == field and fragment in str(error), str(error)


# The package-folder rule of module.file: the cases Java's PriorPackageTest reads too.
MODULE_FILE_CASES = json.loads(
    (Path(__file__).resolve().parents[2] / "rql4j/src/test/resources/org/rql4j/prior/module-file-cases.json").read_text()
)["cases"]


@pytest.fixture(scope="module")
def package_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[str, Any]]:
    """A real categorical package's policy.pt bytes and sidecar, made once for the module-file cases."""
    path = categorical_package(tmp_path_factory.mktemp("module-file"))
    return (path / "policy.pt").read_bytes(), json.loads((path / "prior.json").read_text())


def _fill(value: str, root: Path) -> str:
    return value.replace("{package}", str(root / "pkg")).replace("{outside}", str(root / "outside.pt"))


@pytest.mark.parametrize("case", MODULE_FILE_CASES, ids=[repr(c["file"]) for c in MODULE_FILE_CASES])
def test_module_files_outside_the_package_are_refused_as_in_java(
    tmp_path: Path, package_files: tuple[bytes, dict[str, Any]], case: dict[str, Any]
) -> None:
    module_bytes, sidecar = package_files
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    for module in (tmp_path / "outside.pt", pkg / "policy.pt", pkg / "sub" / "inner.pt"):
        module.write_bytes(module_bytes)
    for name, target in case.get("links", {}).items():
        (pkg / name).symlink_to(_fill(target, tmp_path))
    file = _fill(case["file"], tmp_path)
    (pkg / "prior.json").write_text(json.dumps({**sidecar, "module": {**sidecar["module"], "file": file}}))
    if not case["refused"]:
        assert load_prior_package(pkg).log_probs_all(np.zeros((1, 4), np.float32)).shape == (1, 2)
        return
    error = refusal(pkg)
    assert error.field == "module.file" and error.file == str(pkg / "prior.json"), str(error)
    assert case["rule"] in str(error) and repr(file) in str(error), str(error)


def test_the_module_file_cases_are_shared() -> None:
    assert len(MODULE_FILE_CASES) == 19  # PriorPackageTest checks the same count


def test_invalid_json_and_missing_package(tmp_path: Path) -> None:
    path = categorical_package(tmp_path)
    (path / "prior.json").write_text("{not json")
    assert refusal(path).field == "(document)"
    with pytest.raises(FileNotFoundError, match="no prior package"):
        load_prior_package(tmp_path / "nowhere")


def hand_written(tmp_path: Path, case: str, module: nn.Module, distribution: str, action_space: dict[str, Any]) -> Path:
    """A package written by hand (as another tool might), with the minimal provenance fields."""
    d = tmp_path / case
    d.mkdir()
    torch.jit.save(torch.jit.script(module.eval()), str(d / "policy.pt"))
    box = {"type": "Box", "shape": [4], "dtype": "float32", "low": [-1.0] * 4, "high": [1.0] * 4}
    scaling = None if distribution == "categorical" else {"kind": "tanh_to_box", "low": [-1.0], "high": [1.0]}
    outputs = ["log_probs"] if distribution == "categorical" else ["mean", "log_std"]
    meta = {
        "format": "rql4j-prior/1", "name": case, "distribution": distribution,
        "observation_space": box, "action_space": action_space,
        "observation": {"flatten": "none", "dim": 4}, "action_scaling": scaling,
        "module": {"file": "policy.pt", "outputs": outputs},
        "source": {"kind": "torch-module", "file": None, "sha256": None},
        "made_by": {"command": "hand"}, "versions": {"torch": torch.__version__},
    }  # fmt: skip
    (d / "prior.json").write_text(json.dumps(meta))
    return d


DISCRETE2 = {"type": "Discrete", "n": 2, "start": 0}
BOX1 = {"type": "Box", "shape": [1], "dtype": "float32", "low": [-1.0], "high": [1.0]}


def test_minimal_hand_written_package_loads(tmp_path: Path) -> None:
    prior = load_prior_package(hand_written(tmp_path, "good", Logits(), "categorical", DISCRETE2))
    assert prior.log_probs_all(np.zeros((1, 4), np.float32)).shape == (1, 2)


def test_module_with_wrong_output_shape_is_refused(tmp_path: Path) -> None:
    error = refusal(hand_written(tmp_path, "wrong_shape", Logits(4, 3), "categorical", DISCRETE2))
    assert error.field == "module.outputs" and error.file.endswith("policy.pt")
    assert "returned shape (2, 3)" in str(error) and "expected (2, 2)" in str(error)


def test_gaussian_module_with_one_output_is_refused(tmp_path: Path) -> None:
    class OneOutput(nn.Module):
        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return obs[:, :1]

    error = refusal(hand_written(tmp_path, "one_output", OneOutput(), "squashed_gaussian", BOX1))
    assert error.field == "module.outputs" and "returned 1 outputs" in str(error)
    assert "deterministic" in str(error)


def test_module_that_outputs_nan_is_refused_at_load(tmp_path: Path) -> None:
    class AllNan(Logits):
        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return torch.full((obs.shape[0], 2), float("nan"))

    error = refusal(hand_written(tmp_path, "nan_probe", AllNan(), "categorical", DISCRETE2))
    assert error.field == "module.outputs" and "NaN for rows [0, 1]" in str(error)


def test_nan_on_some_rows_is_an_output_error_naming_the_rows(tmp_path: Path) -> None:
    prior = load_prior_package(hand_written(tmp_path, "nan", NanRows(), "categorical", DISCRETE2))
    obs = np.array([[-1, 0, 0, 0], [0.5, 0, 0, 0], [-0.5, 0, 0, 0], [2, 0, 0, 0]], np.float32)
    with pytest.raises(PriorOutputError, match=r"NaN for rows \[1, 3\]"):
        prior.log_probs_all(obs)


def test_module_with_wrong_input_width_is_refused(tmp_path: Path) -> None:
    error = refusal(hand_written(tmp_path, "width", Logits(3, 2), "categorical", DISCRETE2))
    assert error.field == "module.outputs" and "raised" in str(error)


def test_file_that_is_not_torchscript_is_refused(tmp_path: Path) -> None:
    path = categorical_package(tmp_path)
    (path / "policy.pt").write_bytes(b"not a zip")
    error = refusal(path)
    assert error.field == "module.file" and error.file.endswith("policy.pt")


def test_float64_outputs_are_refused(tmp_path: Path) -> None:
    class Double(Logits):
        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            return torch.log_softmax(self.lin(obs), dim=-1).double()

    error = refusal(hand_written(tmp_path, "f64", Double(), "categorical", DISCRETE2))
    assert "expected torch.float32" in str(error)
