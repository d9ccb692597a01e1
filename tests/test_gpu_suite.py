"""benchmarks/gpu_suite.py (issue 24): the prepared GPU run must be known to work before a GPU is at hand — its
rows run on the CPU in --dry-run, a failing row makes the exit status non-zero, a missing GPU is one line."""
import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCH)


def test_no_cuda_is_one_line_and_exit_2():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    p = subprocess.run([sys.executable, os.path.join(BENCH, "gpu_suite.py")], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "no CUDA device" in p.stderr


@pytest.mark.slow
def test_dry_run_measures_rows_and_a_failing_row_fails_the_run(monkeypatch, tmp_path, capsys):
    import gpu_suite

    md = tmp_path / "B.md"
    real_plan = gpu_suite.build_plan

    def plan(dry):
        rows = [r for r in real_plan(dry) if r[0] in ("ssgan_speed", "dcgan")]

        def broken(device):
            raise RuntimeError("out of memory")

        return rows + [("broken", broken, 1)]

    monkeypatch.setattr(gpu_suite, "build_plan", plan)
    code = gpu_suite.main(["--dry-run", "--md", str(md)])
    out = capsys.readouterr().out
    assert code == 1  # the broken row fails the run, the others still ran
    lines = out.splitlines()
    start = lines.index("| row | status | seconds | peak GPU MiB | result |") + 2
    end = lines.index("", start)
    table = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in lines[start:end]}
    assert table == {"dcgan": "ok", "ssgan_speed": "ok", "broken": "failed"}
    # the DCGAN row timed the plain loop and every non-compiled variant, each with a positive throughput
    lever = [line for line in out.splitlines() if line.startswith("| dcgan32-c32-b64 |")]
    assert [line.split("|")[2].strip() for line in lever] == ["plain PyTorch fp32", "fp32", "bf16", "bf16+cl"]
    assert all(float(line.split("|")[3]) > 0 for line in lever)
    assert not md.exists()  # a dry run writes nothing


def test_fid_row_without_the_official_weights_times_the_same_network_and_claims_no_fid(monkeypatch):
    """The official Inception file cannot reach an offline GPU machine: the row then runs a random-weight file that
    loads strictly into the FID network (so the timed path is the real one), and its text reports no FID value."""
    import gpu_suite
    import torch

    import ganforge.evaluation as evaluation
    import ganforge.metrics.inception as inception

    def absent(*a, **k):
        raise inception.InceptionWeightsError("no weights here")

    seen = {}

    def fake_evaluate(generator, data_config, metrics, *, weights, extractor, **kw):
        model = inception.FIDInceptionV3()
        model.load_state_dict(inception.read_state_dict(weights), strict=True)  # what the row wrote is the network
        seen["model"] = model
        seen["extractor"], seen["n"] = extractor, kw["n"]
        return evaluation.EvalResult({"fid": 12.3}, {}, "", 0.0)

    monkeypatch.setattr(inception, "resolve_weights", absent)
    monkeypatch.setattr(evaluation, "evaluate", fake_evaluate)
    text, _ = gpu_suite.fid_row(dry=False)(torch.device("cpu"))
    assert seen["extractor"] == "inception" and seen["n"] == 10_000
    assert isinstance(seen["model"], inception.FIDInceptionV3)
    assert "12.3" not in text and "meaningless" in text


def test_method_row_reads_only_the_bold_ratios_of_a_speed_table(monkeypatch):
    import types

    import gpu_suite

    table = "| row | **ganforge / plain** |\n|---|---|\n| gan | **0.98×** (0.97×) |\n| pre | **1.04×** |\nnote **2×**\n"
    fake = types.SimpleNamespace(main=lambda argv: print(table, end="") or 0)
    monkeypatch.setitem(sys.modules, "fake_speed", fake)
    text, _ = gpu_suite.script_row("fake_speed", dry=True)(None)
    assert text == "ganforge / plain: 0.98×, 1.04×"
