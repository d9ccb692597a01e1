"""The progress display: tqdm on a terminal, a line per 10 % in logs (ganforge.utils.progress)."""
import io

from ganforge.utils.progress import PlainProgress, progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_a_line_per_ten_percent_not_a_bar_redraw_per_update():
    out = io.StringIO()
    bar = progress(total=1000, desc="run", unit="it", file=out)
    assert isinstance(bar, PlainProgress)
    for i in range(1000):
        bar.update(1)
        if i == 500:
            bar.set_postfix({"loss_d": "0.693"})
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in out.getvalue()
    assert [line.split()[1] for line in lines] == [f"{p}%" for p in range(10, 101, 10)]
    assert lines[-1].startswith("run: 100% 1000/1000 it") and lines[-1].endswith("loss_d=0.693")


def test_a_resumed_run_reports_only_what_is_left_and_iterables_work():
    out = io.StringIO()
    bar = progress(total=1000, initial=550, file=out)
    for _ in range(450):
        bar.update()
    assert [line.split()[0] for line in out.getvalue().splitlines()] == ["60%", "70%", "80%", "90%", "100%"]
    out = io.StringIO()
    assert list(progress(range(37), desc="reading", unit="img", file=out)) == list(range(37))
    assert len(out.getvalue().splitlines()) == 10


def test_a_terminal_keeps_the_tqdm_bar_and_disable_is_silent():
    from tqdm import tqdm

    term = _Terminal()
    bar = progress(total=1000, desc="run", file=term, dynamic_ncols=True)
    assert isinstance(bar, tqdm)
    for _ in range(1000):
        bar.update(1)
    bar.close()
    assert "\r" in term.getvalue() and "1000/1000" in term.getvalue()  # tqdm redraws in place
    quiet = io.StringIO()
    bar = progress(total=10, file=quiet, disable=True)
    for _ in range(10):
        bar.update(1)
    bar.set_postfix({"a": 1})
    bar.close()
    assert quiet.getvalue() == ""
