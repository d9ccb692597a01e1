import pytest

from ganforge.config import load_config, preset_names, read_raw, save_config
from ganforge.errors import ConfigError


def test_required_presets_are_shipped_and_valid():
    names = preset_names()
    for required in ("dcgan-mnist", "gan-ring8", "gan-grid25", "dcgan-shapes"):
        assert required in names
    for name in names:
        cfg = load_config(name)
        assert cfg.name == name and cfg.train.steps > 0


def test_overrides_are_typed():
    cfg = load_config("dcgan-mnist", ["train.steps=7", "method.lr_g=1e-3", "method.betas=[0.0, 0.9]",
                                      "generator.channels=16", "train.progress=false"])
    assert cfg.train.steps == 7 and isinstance(cfg.train.steps, int)
    assert cfg.method.lr_g == pytest.approx(1e-3)  # YAML 1.1 reads "1e-3" as a string: it is converted
    assert cfg.method.betas == (0.0, 0.9)
    assert cfg.generator.channels == 16 and cfg.train.progress is False


@pytest.mark.parametrize("override, suggestion", [
    ("train.stpes=5", "'steps'"),
    ("generator.chanels=5", "'channels'"),
    ("trian.steps=5", "'train'"),
    ("method.lr_gen=1e-3", "'lr_g'"),
])
def test_unknown_keys_are_rejected_with_the_closest_valid_key(override, suggestion):
    with pytest.raises(ConfigError) as err:
        load_config("dcgan-mnist", [override])
    assert "Did you mean " + suggestion in str(err.value)


@pytest.mark.parametrize("override, words", [
    ("train.steps=abc", "integer"),
    ("train.steps=2.5", "integer"),
    ("method.lr_g=fast", "number"),
    ("train.progress=maybe", "true or false"),
    ("method.g_loss=hinge_typo", "g_loss must be one of"),
    ("generator.name=dcgn", "Did you mean 'dcgan'"),
    ("train.steps", "section.key=value"),
])
def test_bad_values_get_clear_messages(override, words):
    with pytest.raises(ConfigError, match=words):
        load_config("dcgan-mnist", [override])


def test_unknown_preset_suggests_a_name():
    with pytest.raises(ConfigError, match="dcgan-mnist"):
        load_config("dcgan-mnits")


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config("gan-ring8", ["train.steps=11", "generator.hidden=32"])
    save_config(cfg, tmp_path / "config.yaml")
    again = load_config(read_raw(str(tmp_path / "config.yaml")))
    assert again == cfg


@pytest.mark.parametrize("override, message", [
    ("method.lr_g=-1", "method.lr_g must be > 0, got -1.0"),
    ("method.lr_d=0", "method.lr_d must be > 0, got 0.0"),
    ("method.lr_g=.nan", "method.lr_g must be a finite number, got nan"),
    ("method.betas=[0.5, 1.0]", "method.betas[1] must be in [0, 1), got 1.0"),
    ("method.betas=[-0.1, 0.9]", "method.betas[0] must be in [0, 1), got -0.1"),
    ("method.d_steps=-1", "method.d_steps must be ≥ 0, got -1"),
    ("method.gp_weight=-10", "method.gp_weight must be ≥ 0, got -10.0"),
    ("method.label_smoothing=1.5", "method.label_smoothing must be in [0, 1], got 1.5"),
    ("generator.channels=0", "generator.channels must be ≥ 1, got 0"),
    ("generator.z_dim=-3", "generator.z_dim must be ≥ 1, got -3"),
    ("discriminator.channels=-8", "discriminator.channels must be ≥ 1, got -8"),
    ("data.resolution=-32", "data.resolution must be ≥ 0, got -32"),
    ("train.seed=-1", "train.seed must be in [0, 2147483647], got -1"),
    ("train.seed=99999999999999999999", "train.seed must be in [0, 2147483647], got 100000000000000000000"),
    ("train.steps=.inf", "train.steps must be an integer, got inf"),
    ("train.threads=-2", "train.threads must be ≥ 0, got -2"),
    ("train.ema=1.5", "train.ema must be in [0, 1), got 1.5"),
    ("train.batch_size=0", "train.batch_size must be ≥ 1, got 0"),
])
def test_numbers_outside_their_range_are_one_line_errors(override, message):
    with pytest.raises(ConfigError) as err:
        load_config("dcgan-mnist", [override])
    assert str(err.value) == message


def test_bounds_come_from_field_names_or_field_metadata():
    from dataclasses import dataclass, field

    from ganforge.config import Bound, build_dataclass

    @dataclass
    class RecipeConfig:  # a new method's config: no validation code of its own
        lr_q: float = 1e-3
        betas_q: tuple = (0.5, 0.99)
        q_every: int = 4
        tau: float = field(default=0.5, metadata={"bound": Bound(0, 1, open_low=True)})
        n_extra: int = field(default=-1, metadata={"bound": None})  # opts out of the n_* convention

    assert build_dataclass(RecipeConfig, {"n_extra": -5}, "method").n_extra == -5
    for values, message in (({"lr_q": 0}, "method.lr_q must be > 0"), ({"q_every": -1}, "method.q_every must be ≥ 0"),
                            ({"betas_q": (0.5, 2)}, "method.betas_q[1] must be in [0, 1)"),
                            ({"tau": 0.0}, "method.tau must be in (0, 1], got 0.0")):
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
            build_dataclass(RecipeConfig, values, "method")


def test_a_path_to_a_folder_is_a_folder_dataset(tmp_path, monkeypatch):
    from PIL import Image

    from ganforge.data import build_dataset

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 30), (80 * i, 0, 0)).save(photos / f"{i}.png")
    monkeypatch.setenv("HOME", str(tmp_path))
    cfg = load_config("dcgan-mnist", ["data.path=~/photos"])  # the preset's mnist5k has no path: a folder
    assert cfg.data.name == "folder" and cfg.data.path == "~/photos" and cfg.data.resolution == 32
    ds = build_dataset(cfg.data)
    assert len(ds) == 3 and ds.x.shape[1:] == (3, 32, 32) and ds.x[:, 0].float().mean((1, 2)).tolist() == [0, 80, 160]
    yaml_cfg = read_raw("dcgan-mnist")
    yaml_cfg["data"] = {"path": str(photos), "resolution": 16}  # no name at all
    assert load_config(yaml_cfg).data.name == "folder"
    with pytest.raises(ConfigError, match="unknown key data.path"):  # not a folder: no guess
        load_config("dcgan-mnist", [f"data.path={tmp_path / 'nowhere'}"])
    with pytest.raises(ConfigError, match="Did you mean 'folder'"):  # a misspelt name is not overridden
        load_config("dcgan-mnist", ["data.name=foldr", f"data.path={photos}"])
