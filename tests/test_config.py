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
