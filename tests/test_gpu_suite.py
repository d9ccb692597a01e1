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
