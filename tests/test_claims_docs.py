"""docs/claims.md is generated: every section re-renders exactly from its JSON under docs/claims/, names the command
and date of its run, and its verdict is computed from the numbers (benchmarks/claims/claims_common.py)."""
import copy
import os
import re
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "benchmarks", "claims"))

import claims_common as cc  # noqa: E402

DOC = open(cc.CLAIMS_MD).read()
INTRO, SECTIONS = cc.split_sections(DOC)
RESULTS = {r["title"]: r for r in cc.all_results()}
MEASURED = re.compile(r"^Measured \((\d{4}-\d\d-\d\d), torch ([^,]+), `([^`]+)`\):$", re.M)


def test_doc_has_sections_and_no_orphan_json():
    assert len(SECTIONS) >= 10
    titles = [t for t, _ in SECTIONS]
    assert len(set(titles)) == len(titles), "duplicate section titles"
    assert set(RESULTS) == set(titles), "a section without JSON, or a JSON without its section"
    slugs = [r["slug"] for r in RESULTS.values()]
    assert len(set(slugs)) == len(slugs)
    for r in RESULTS.values():
        assert os.path.basename(cc.results_path(r["slug"])) == f"{r['slug']}.json"


def test_intro_is_the_generated_one():
    assert INTRO.rstrip("\n") == cc.INTRO.rstrip("\n")


@pytest.mark.parametrize("title,section", SECTIONS, ids=[t[:60] for t, _ in SECTIONS])
def test_section_is_exactly_its_json_rendered(title, section):
    results = RESULTS.get(title)
    assert results is not None, f"no docs/claims/*.json for section {title!r}"
    assert cc.render_section(results) == section, (
        f"section {title!r} differs from its rendering: re-render with "
        f"`python benchmarks/claims/claims_common.py --render {results['slug']}` (never edit the doc by hand)")


@pytest.mark.parametrize("title,section", SECTIONS, ids=[t[:60] for t, _ in SECTIONS])
def test_section_names_command_and_date(title, section):
    found = MEASURED.findall(section)
    assert len(found) == 1, f"section {title!r} needs exactly one 'Measured (DATE, torch X, `COMMAND`):' line"
    date, torch_version, command = found[0]
    results = RESULTS[title]
    assert (date, torch_version, command) == (results["date"], results["torch"], results["command"])
    assert re.fullmatch(r"(\w+=\S+ )*python \S+\.py( .*)?", command), command
    assert results["script"] in command, "the command must run the script that renders the section"
    assert os.path.isfile(os.path.join(REPO, results["script"]))
    assert "Verdict" in section
    assert f"(claims/{results['slug']}.json)" in section


def test_observations_carry_no_numbers_beyond_labels():
    """Hand-written remarks (by eye) may not carry measured numbers: no decimals, percentages or counts > 9."""
    for r in RESULTS.values():
        for note in r.get("observations", []):
            assert not re.search(r"\d\.\d|\d\s*%|\b\d{2,}\b", re.sub(r"\([^)]*\.png\)", "", note)), note


# --- verdicts flip with the numbers ---------------------------------------------------------------------------

def module(name):
    return cc.script_module(f"benchmarks/claims/{name}.py")


def test_compare_means():
    a, b = {"mean": 2.0, "std": 0.1}, {"mean": 1.0, "std": 0.2}
    assert cc.compare_means(a, b) == cc.REPRODUCED
    assert cc.compare_means({"mean": 1.1, "std": 0.5}, b) == cc.DIRECTION
    assert cc.compare_means(b, a) == cc.NOT_REPRODUCED
    assert cc.compare_means(b, a, higher_is_better=False) == cc.REPRODUCED


def test_conditional_verdict_flips_at_the_target():
    classic = module("classic")
    n = {"target_pct": 90.0, "rows": [{"preset": "cgan-mnist", "steps": 3000, "accuracy_pct": 90.5, "fid": 1.0}]}
    label, evidence, criterion = classic.verdict_conditional(n)
    assert label == cc.REPRODUCED and "90.5 %" in evidence and "≥ 90 %" in criterion
    n["rows"][0]["accuracy_pct"] = 89.5
    assert classic.verdict_conditional(n)[0] == cc.NOT_REPRODUCED
    n["rows"].append({"preset": "acgan-mnist", "steps": 3000, "accuracy_pct": 95.0, "fid": 1.0})
    assert classic.verdict_conditional(n)[0] == "reproduced for 1 of 2 presets"


def test_gan_costs_verdict_flips_with_the_gradients():
    gan_costs = module("gan_costs")
    n = copy.deepcopy(RESULTS[gan_costs.TITLE]["numbers"])
    rows = {r["cost"]: r for r in n["rows"]}
    rows["nonsaturating"]["grad"] = {"mean": 2.0, "std": 0.1}
    rows["minimax"]["grad"] = {"mean": 1.0, "std": 0.1}
    assert gan_costs.verdict(n)[0] == cc.REPRODUCED
    rows["nonsaturating"]["grad"] = {"mean": 0.9, "std": 0.1}
    assert gan_costs.verdict(n)[0] == cc.NOT_REPRODUCED
    # and the rendered section follows: the verdict text is computed, not stored
    results = dict(RESULTS[gan_costs.TITLE], numbers=n)
    assert "**Verdict: not reproduced.**" in cc.render_section(results)


def test_infogan_verdict_flips_at_twice_the_papers_error():
    infogan = module("infogan")
    n = copy.deepcopy(RESULTS[infogan.TITLE]["numbers"])
    n = n if "runs" in n else infogan._legacy(n)
    for error in (9.9, 10.1):
        for run in n["runs"]:
            run["curve"][-1]["error_pct"] = error  # the mean over runs at their last checkpoint decides
        assert infogan.verdict(n)[0] == (cc.REPRODUCED if error <= 10 else cc.NOT_REPRODUCED)


def test_infogan_table_puts_each_runs_checkpoints_under_their_own_iterations():
    infogan = module("infogan")
    results = copy.deepcopy(RESULTS[infogan.TITLE])
    n = results["numbers"] if "runs" in results["numbers"] else infogan._legacy(results["numbers"])
    short = copy.deepcopy(n["runs"][0])
    short["curve"] = [dict(p, steps=p["steps"] + 500, error_pct=77.7) for p in short["curve"][:1]]
    n["runs"] = [n["runs"][0], short]
    results["numbers"] = n
    rows = [line for line in infogan.render(results)[1].splitlines() if line.startswith("| ")]
    head, second = rows[0].split(" | "), rows[2].split(" | ")
    column = head.index(f"{short['curve'][0]['steps']:,}")
    assert second[column].startswith("77.7 /")
    assert all(cell.strip(" |") == "—" for i, cell in enumerate(second[2:], 2) if i != column)

def test_progan_verdict_flips_when_progressive_is_slower():
    stylegan = module("stylegan")
    curve = lambda fids: [{"seconds": 60.0 * (i + 1), "step": None, "fid_ema": f, "fid_live": f}  # noqa: E731
                          for i, f in enumerate(fids)]
    n = {"targets": [20.0, 10.0], "curves": {"progressive": curve([50, 15, 8]), "fixed": curve([60, 30, 9])}}
    assert [p[1] for p in stylegan.verdict_progan(n)] == [cc.REPRODUCED, cc.REPRODUCED]
    n["curves"]["progressive"] = curve([50, 30, 25])
    assert [p[1] for p in stylegan.verdict_progan(n)] == [cc.NOT_REPRODUCED, cc.NOT_REPRODUCED]


def test_progan_further_seeds_get_their_own_verdict_at_the_first_seeds_targets():
    stylegan = module("stylegan")
    curve = lambda fids: [{"seconds": 60.0 * (i + 1), "step": None, "fid_ema": f, "fid_live": f}  # noqa: E731
                          for i, f in enumerate(fids)]
    n = {"targets": [20.0, 10.0], "curves": {"progressive": curve([50, 15, 8]), "fixed": curve([60, 30, 9])},
         "more_seeds": {"1": {"curves": {"progressive": curve([50, 30, 25]), "fixed": curve([60, 15, 9])}}}}
    parts = stylegan.verdict_progan(n)
    assert [p[0] for p in parts] == ["EMA generator, seed 0", "live generator, seed 0",
                                     "EMA generator, seed 1", "live generator, seed 1"]
    assert [p[1] for p in parts] == [cc.REPRODUCED] * 2 + [cc.NOT_REPRODUCED] * 2
    n["more_seeds"]["1"]["curves"]["progressive"] = curve([18, 9, 8])  # reaches both targets first
    assert [p[1] for p in stylegan.verdict_progan(n)] == [cc.REPRODUCED] * 4


def test_dissection_repair_verdict_needs_a_replicated_drop_beyond_noise_below_random_without_rougher_images():
    dissection = module("dissection")
    n = copy.deepcopy(RESULTS[dissection.TITLE]["numbers"])
    part = lambda: next(p for p in dissection.verdict(n) if p[0].startswith("Ablating artifact"))  # noqa: E731
    for r in n["repair"]:  # nothing lowers FID
        r["fid_after"], r["top_after"] = r["fid_before"] + 1, r["top_before"] + 1
    assert part()[1] == cc.NOT_REPRODUCED
    main = next(r for r in n["repair"] if r["ranking"] == "per-unit FID" and r["where"] == "active")
    twin = next(r for r in n["repair"] if r["ranking"] == dissection.REPLICATE
                and (r["k"], r["threshold"]) == (main["k"], main["threshold"]))
    real = n["real_roughness"]
    for r in (main, twin):
        r["top_score_before"], r["top_score_after"] = real + 0.1, real + 0.05  # closer to the real roughness
    noise = abs(main["fid_resample"] - main["fid_before"])
    main["fid_after"], main["fid_random"] = main["fid_before"] - noise - 0.01, main["fid_before"]
    assert part()[1] == "lowers FID on one sample set, not on a second"
    twin["fid_after"] = twin["fid_before"] - abs(twin["fid_resample"] - twin["fid_before"]) - 0.01
    twin["fid_random"] = twin["fid_before"]
    assert part()[1] == cc.REPRODUCED
    twin["top_score_after"] = real + 0.2  # the repeat makes the flagged images rougher than before
    assert part()[1] == "FID lower on two sample sets, but the flagged images get rougher"
    twin["top_score_after"] = real + 0.05
    main["fid_random"] = main["fid_after"] - 0.01  # as many random units lower FID as much: no evidence
    assert part()[1] == cc.NOT_REPRODUCED

def test_igan_verdict_flips_when_the_hybrid_stops_beating_both_projectors():
    igan = module("igan")
    n = copy.deepcopy(RESULTS[igan.TITLE]["numbers"])
    rows = {r["projector"]: r for r in n["projection"]["real"]}
    for r, mean in ((rows["hybrid"], 0.01), (rows["encoder"], 0.05), (rows["opt"], 0.08)):
        r["pixel_mse"] = {"mean": mean, "std": 0.02, "n": 32}  # standard error 0.0035 each
    assert igan.verdict_projection(n["projection"]["real"], "real")[1] == cc.REPRODUCED
    rows["encoder"]["pixel_mse"]["mean"] = 0.015  # lower, but by 1 standard error of the difference
    assert igan.verdict_projection(n["projection"]["real"], "real")[1] == cc.DIRECTION
    rows["opt"]["pixel_mse"]["mean"] = 0.009  # optimisation alone beats the hybrid
    assert igan.verdict_projection(n["projection"]["real"], "real")[1] == cc.NOT_REPRODUCED
    n["edit"]["cost_before"]["mean"], n["edit"]["cost_after"]["mean"] = 2.0, 1.0
    n["edit"]["d_samples"], n["edit"]["d_edited"] = -5.0, {"mean": -5.5, "std": 1.0, "n": 32}
    assert igan.verdict_edit(n["edit"])[1] == cc.REPRODUCED
    n["edit"]["cost_after"]["mean"] = 1.01  # less than halved
    assert igan.verdict_edit(n["edit"])[1] == cc.NOT_REPRODUCED
    n["npe"]["change_inside"]["mean"], n["npe"]["change_outside"]["mean"] = 0.5, 0.01
    n["npe"]["max_change_far"] = 0.0
    assert igan.verdict_npe(n["npe"])[1] == cc.REPRODUCED
    n["npe"]["max_change_far"] = 1e-3  # a pixel beyond the brush's reach moved
    assert igan.verdict_npe(n["npe"])[1] == cc.NOT_REPRODUCED


def test_ian_verdict_flips_when_the_vae_is_as_sharp():
    ian = module("ian")
    n = copy.deepcopy(RESULTS[ian.TITLE]["numbers"])
    rows = n["rows"]
    rows["ian"].update(recon_sharpness=0.9, recon_fid=1.0, sample_fid=2.0)
    rows["vae"].update(recon_sharpness=0.5, recon_fid=3.0)
    rows["ian-binary"].update(recon_fid=1.5, sample_fid=2.5)
    assert [p[1] for p in ian.verdict(n)] == [cc.REPRODUCED, cc.REPRODUCED]
    rows["vae"]["recon_sharpness"] = 0.95
    rows["ian-binary"]["sample_fid"] = 1.9  # binary samples closer to the data
    assert [p[1] for p in ian.verdict(n)] == [cc.NOT_REPRODUCED, cc.NOT_REPRODUCED]
    assert "**not reproduced**" in cc.render_section(dict(RESULTS[ian.TITLE], numbers=n))


def test_gansynth_ablation_judges_pitch_accuracy_fid_and_ndb_each_against_both_baselines():
    gs = module("gansynth")
    n = copy.deepcopy(RESULTS[gs.TITLE]["numbers"])
    n["n"] = 300
    rows = n["rows"]
    rows["if-mel"].update(pa=0.30, fid=2000.0, ndb=25)
    rows["if"].update(pa=0.20, fid=1500.0, ndb=40)  # the better FID, but not the best IF arm by PA
    rows["phase"].update(pa=0.20, fid=3000.0, ndb=26)
    rows["wave"].update(pa=0.05, fid=4000.0, ndb=30)
    assert [p[1] for p in gs.verdict_ablation(n)] == [cc.REPRODUCED] * 3
    rows["phase"]["pa"] = 0.25  # 5 points on 300 notes each: within two standard errors (7.3 points)
    rows["wave"]["fid"] = 1900.0
    rows["phase"]["ndb"] = 24
    assert [p[1] for p in gs.verdict_ablation(n)] == [cc.NOT_REPRODUCED] * 3
    del rows["wave"]
    assert [p[1] for p in gs.verdict_ablation(n)] == [cc.NOT_REPRODUCED]


def test_gansynth_interpolation_is_judged_on_the_best_if_arm_by_pitch_accuracy():
    gs = module("gansynth")
    n = copy.deepcopy(RESULTS[gs.TITLE]["numbers"])
    path = {"pairs": 16, "points": 9, "n_ends": 32}
    n["interpolation"] = {"if-mel": dict(path, pa_path=0.40, max_step_over_mean=1.2),
                          "if": dict(path, pa_path=0.60, max_step_over_mean=1.3)}
    n["rows"]["if-mel"]["pa"], n["rows"]["if"]["pa"] = 0.45, 0.55  # if-mel misses the 50 % precondition
    assert gs.verdict_interp(n)[1] == cc.REPRODUCED and gs.verdict_interp(n)[2].startswith("if (")
    n["rows"]["if-mel"]["pa"] = 0.58  # now if-mel is the best IF arm, and its paths lose pitch (40 % < 53 %)
    assert gs.verdict_interp(n)[1] == cc.NOT_REPRODUCED
    n["interpolation"] = {"pa_path": 0.60, "max_step_over_mean": 1.3, **path}  # an older, IF-Mel-only result
    assert gs.verdict_interp(n)[1] == cc.REPRODUCED
    n["rows"]["if"]["pa"] = 0.70  # best arm not interpolated
    assert gs.verdict_interp(n)[1] == cc.NOT_REPRODUCED


def test_biggan_ortho_longer_budget_gets_its_own_verdict_from_its_own_runs():
    """`biggan_scale.py --longer` adds a budget beside the published one: each budget's part counts amenable models
    among its own runs only, and the published part keeps its verdict."""
    bs = module("biggan_scale")
    n = copy.deepcopy(RESULTS[bs.ORTHO_TITLE]["numbers"])
    n.pop("longer", None)
    first = bs.ortho_verdict(n)
    assert len(first) == 1 and first[0][0] is None

    def run(arm, seed, amenable):
        plain = {"psi": None, "fid": 1.0, "precision": 0.6, "recall": 0.5, "faithful": 0.6}
        cut = dict(plain, psi=0.5, precision=0.7 if amenable else 0.5, faithful=0.8)
        return {"arm": arm, "seed": seed, "rows": [plain, cut], "penalty": 1.0}

    runs = [run("ortho", 0, True), run("ortho", 1, True), run("no-ortho", 0, True), run("no-ortho", 1, False)]
    n["longer"] = {"3000": {"seeds": [0, 1], "command": "c", "date": "d", "runs": runs}}
    parts = bs.ortho_verdict(n)
    assert [p[0] for p in parts] == [f"{n['steps']} iterations", "3000 iterations"]
    assert parts[0][1:] == first[0][1:]
    assert parts[1][1] == cc.REPRODUCED and "2 of 2 models with" in parts[1][2] and "1 of 2 without" in parts[1][2]
    runs[3] = run("no-ortho", 1, True)  # now both arms are amenable every time
    assert bs.ortho_verdict(n)[1][1] == cc.NOT_REPRODUCED
    assert "3000 iterations per run" in bs.ortho_render({"numbers": n})[1]


def test_ssgan_forgetting_counts_only_when_the_unconditional_discriminator_forgets():
    """Sequential setting: SS-GAN's probe higher and its fall below the best-so-far smaller, both beyond the seed
    spread, is reproduced only when the unconditional D falls back by NO_FORGETTING or more; below that nothing
    forgets and the part is the same direction at best."""
    ss = module("ssgan")

    def run(arm, seed, drop, level):
        probe = {str(i * 250): level + 0.01 * i for i in range(7)}  # rising, then a dip of `drop` at 1,750
        probe.update({"1750": level + 0.06 - drop, "2000": level + 0.06})
        return {"arm": arm, "setting": "sequential", "seed": seed, "probe": probe}

    def part(drop_uncond):
        runs = [run("ssgan", s, 0.0, 0.80 + 0.002 * s) for s in range(3)]
        runs += [run("uncond", s, drop_uncond + 0.004 * s, 0.75 + 0.002 * s) for s in range(3)]
        return ss.verdict({"runs": runs})[0]

    assert ss.forgetting(run("uncond", 0, 0.09, 0.7)) == pytest.approx(0.09 / 9)
    assert part(0.20)[1] == cc.REPRODUCED  # the unconditional D falls back by ≈ 0.02 on average
    assert part(0.05)[1] == cc.DIRECTION  # ≈ 0.006: separated beyond the spread, but nothing forgets
    assert "same direction at best" in part(0.05)[2]


def test_ssgan_section_of_one_arm_renders_that_arm_alone():
    """`ssgan.py --arms uncond --out F` (one arm, e.g. a longer exploratory run) renders its probe curve."""
    ss = module("ssgan")
    results = copy.deepcopy(RESULTS[ss.TITLE])
    results["numbers"]["runs"] = [r for r in results["numbers"]["runs"] if r["arm"] == "uncond"]
    text = cc.render_section(results)
    assert "| unconditional | 0." in text and "| SS-GAN | 0." not in text


def test_maskgan_verdict_flips_at_twice_the_standard_error_and_with_the_critic():
    maskgan = module("maskgan")
    n = copy.deepcopy(RESULTS[maskgan.TITLE]["numbers"])
    n["held"] = 500
    n["rows"]["MaskMLE"]["grammatical"] = 0.5
    se = (2 * 0.25 / 500) ** 0.5  # binomial standard error of the difference near one half
    n["rows"]["MaskGAN (critic)"]["grammatical"] = 0.5 + 2.2 * se
    assert maskgan.verdict_quality(n)[1] == cc.REPRODUCED
    n["rows"]["MaskGAN (critic)"]["grammatical"] = 0.5 + 1.5 * se
    assert maskgan.verdict_quality(n)[1] == cc.DIRECTION
    n["rows"]["MaskGAN (critic)"]["grammatical"] = 0.45
    assert maskgan.verdict_quality(n)[1] == cc.NOT_REPRODUCED
    rows = n["rows"]
    rows["MaskMLE (pre-trained only)"]["unique_4gram_pct"], rows["MaskMLE"]["unique_4gram_pct"] = 93.5, 94.0
    rows["MaskGAN (critic)"]["unique_4gram_pct"] = 93.0  # 1 point below MaskMLE, the MLE states differ by 0.5
    assert maskgan.verdict_modes(n)[1] == cc.REPRODUCED
    rows["MaskGAN (critic)"]["unique_4gram_pct"] = 93.8  # below, but by less than the MLE states' difference
    assert maskgan.verdict_modes(n)[1] not in (cc.REPRODUCED, cc.NOT_REPRODUCED)
    rows["MaskGAN (critic)"]["unique_4gram_pct"] = 94.5
    assert maskgan.verdict_modes(n)[1] == cc.NOT_REPRODUCED
    n["variance"]["critic"].update(variance=1.0, per_batch=[1.0, 0.9, 1.1, 1.0])
    n["variance"]["none"].update(variance=2.0, per_batch=[2.0, 1.9, 2.1, 2.0])
    assert maskgan.verdict_critic(n)[1] == cc.REPRODUCED
    n["variance"]["none"].update(variance=1.0, per_batch=[0.5, 1.5, 0.5, 1.5])  # the same on average
    assert maskgan.verdict_critic(n)[1] == cc.NOT_REPRODUCED


def test_a_rerun_replaces_one_json_and_one_section(tmp_path, monkeypatch):
    """publish() writes the JSON and rewrites only its own section; the others stay byte-identical."""
    monkeypatch.setattr(cc, "CLAIMS_DIR", str(tmp_path / "claims"))
    monkeypatch.setattr(cc, "CLAIMS_MD", str(tmp_path / "claims.md"))
    (tmp_path / "claims.md").write_text(DOC)
    for r in RESULTS.values():
        cc.save_results(r)
    classic = module("classic")
    new = copy.deepcopy(RESULTS[classic.WGAN_TITLE])
    new.update(date="2099-01-01", command="python benchmarks/claims/classic.py wgan --steps 7", observations=[])
    new.pop("source", None)
    new["numbers"]["rho_wgan"] = 0.1
    cc.publish(new)
    intro, sections = cc.split_sections((tmp_path / "claims.md").read_text())
    assert [t for t, _ in sections] == [t for t, _ in SECTIONS]
    for (title, text), (_, old) in zip(sections, SECTIONS):
        if title == classic.WGAN_TITLE:
            assert "Measured (2099-01-01" in text and "**Verdict: not reproduced.**" in text
            assert "parsed from" not in text
        else:
            assert text == old
    assert cc.render_all(check=True) == []
