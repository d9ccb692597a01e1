"""The one generic training loop (DESIGN.md §3): data, device, seeding, precision, data parallelism, EMA,
counters, progress bar, sample grids, metrics.jsonl, checkpoints, signals and non-finite guards. It never knows
which GAN it trains: the Method's `step` does all the GAN-specific work.
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import time
from dataclasses import dataclass
from typing import Optional, Tuple

import torch

from .. import __version__
from ..config import Config, check_config, save_config
from ..data import BatchStream, build_dataset
from ..errors import CheckpointError, ConfigError, GanforgeError, TrainingDiverged
from ..methods import build_method
from ..methods.base import Noise
from ..utils.images import save_grid, save_scatter
from ..utils.safeio import atomic_write
from ..utils.progress import progress
from . import distributed as ddp
from . import rng
from .checkpoint import (clear_stale_temporaries, latest_checkpoint, load_checkpoint, save_checkpoint, step_name,
                         step_of)
from .ema import EMA
from .logger import RunLogger, plot_losses, plot_scores, read_metrics
from .precision import autocast, grad_scaler
from .runlock import RunLock
from .signals import StopRequest

log = logging.getLogger(__name__)

GPU_RESIDENT_BYTES = 2 << 30  # datasets smaller than this are kept on the GPU


@dataclass
class RunResult:
    run_dir: str
    step: int
    checkpoint: Optional[str]
    samples: Optional[str]
    loss_plot: Optional[str]
    interrupted: bool
    seconds: float
    scores: Optional[dict] = None  # the last evaluation's scores (train.eval_every > 0)
    scores_plot: Optional[str] = None


def resolve_device(name: str) -> torch.device:
    """"auto" or a device name -> a torch.device this machine has (a one-line ConfigError otherwise)."""
    return ddp.checked_device(name)


class DeviceStream:
    """The Method's view of the data: batches already on the training device (and layout)."""

    def __init__(self, stream: BatchStream, device: torch.device, channels_last: bool = False):
        self.stream, self.device = stream, device
        self.memory_format = torch.channels_last if channels_last else None

    def next(self):
        return self.stream.next().to(self.device, non_blocking=True, memory_format=self.memory_format)


def default_run_dir(config: Config) -> str:
    """train.out_dir/name, for a run started without a folder; a name that would leave out_dir is refused."""
    name = config.name
    if not name.strip() or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise ConfigError(f"name {name!r} names the run's folder under train.out_dir: use letters, digits, '-', "
                          f"'_' or '.' (no path separators), or give the folder with --out")
    return os.path.join(config.train.out_dir, name)


def _undo_on_failure(init):
    """Make a failing Trainer.__init__ (a bad value, a batch larger than the data, a checkpoint of another model)
    remove what it created in the run folder — the folder itself when it made it — never what was there before."""

    @functools.wraps(init)
    def wrapped(self, config, run_dir=None, *args, **kwargs):
        folder = run_dir or default_run_dir(config)
        before = set(os.listdir(folder)) if os.path.isdir(folder) else None
        try:
            init(self, config, run_dir, *args, **kwargs)
        except BaseException:
            lock = getattr(self, "run_lock", None)
            dist = getattr(self, "dist", None)
            if (dist is None or dist.is_main) and os.path.isdir(folder):
                if before is None:
                    shutil.rmtree(folder, ignore_errors=True)
                else:
                    for name in sorted(set(os.listdir(folder)) - before):
                        path = os.path.join(folder, name)
                        if os.path.isdir(path) and not os.path.islink(path):
                            shutil.rmtree(path, ignore_errors=True)
                        else:
                            os.remove(path)
            if lock is not None:
                lock.release()
            raise

    return wrapped


class Trainer:
    @_undo_on_failure
    def __init__(self, config: Config, run_dir: Optional[str] = None, resume: bool = False,
                 overwrite: bool = False, dataset=None):
        check_config(config)  # a Config edited in Python meets the same bounds as one loaded from YAML
        self.config = config
        t = config.train
        self.run_dir = run_dir or default_run_dir(config)
        self.dist = ddp.init_from_env(t.device)
        self.device = ddp.device_for(self.dist, t.device)
        if t.batch_size % self.dist.world_size:
            raise ConfigError(f"train.batch_size {t.batch_size} must divide evenly over {self.dist.world_size} ranks")
        if t.threads > 0:
            torch.set_num_threads(t.threads)
        self.run_lock = RunLock()  # held from the first touch of an existing run until fit() ends
        wipe, resume = self._check_run_dir(resume, overwrite)
        rng.seed_everything(t.seed)  # the same on every rank: identical initial weights
        # Data first: a missing or empty source fails here, before anything is written or built.
        self.dataset = dataset if dataset is not None else build_dataset(config.data)
        self.info = self.dataset.info
        if t.eval_every and self.info.is_text:
            raise ConfigError("train.eval_every: image metrics do not apply to text runs; set it to 0 (text scores: "
                              "ganforge.metrics.text, benchmarks/claims/maskgan.py)")
        if t.eval_every and getattr(self.info, "is_audio", False):  # notes have their own scores (audio_eval)
            from ..audio_eval import parse_audio_metrics

            parse_audio_metrics(t.eval_metrics)
        elif t.eval_every:  # a wrong metric name fails now, not at the first evaluation
            from ..evaluation import parse_metrics

            parse_metrics(t.eval_metrics, config.data.name, self.info.is_image, self.info.two_domain)
        if self.device.type == "cuda" and self.dataset.nbytes() < GPU_RESIDENT_BYTES:
            self.dataset = self.dataset.to(self.device)
        self.stream = BatchStream(self.dataset, t.batch_size, seed=t.seed, rank=self.dist.rank,
                                  world_size=self.dist.world_size)
        self.method = self._build_method()
        self.ema = EMA(self.method.generator, t.ema, t.ema_start, t.ema_warmup, 1000 * t.ema_kimg) \
            if t.ema > 0 or t.ema_kimg > 0 else None
        if t.compile:
            for net in self.method.networks().values():
                net.compile()
        if self.dist.enabled:
            torch.manual_seed(t.seed * 1_000 + self.dist.rank)  # per-rank streams from here on
        self.step = 0
        self.scores, self.scores_plot = None, None
        n_fixed = t.n_samples if self.info.is_image else max(t.n_samples, 2000)
        self.fixed_z = self.method.preview_inputs(self.dataset, n_fixed, t.seed + 1)
        if self.dist.is_main:  # everything above is checked before the run folder is touched
            if wipe:
                shutil.rmtree(self.run_dir)
            os.makedirs(os.path.join(self.run_dir, "samples"), exist_ok=True)
            self.run_lock.acquire(self.run_dir)  # a new run's folder (or the one --overwrite made again)
        self.logger = RunLogger(self.run_dir, t.tensorboard) if self.dist.is_main else None
        self.stop = StopRequest()
        self.last_checkpoint = self._found if resume else None
        if resume:
            self._resume()
        elif self.logger is not None:  # a run stopped before its first checkpoint starts over: drop its records
            self.logger.truncate_after(0)
        if self.dist.is_main:
            save_config(config, os.path.join(self.run_dir, "config.yaml"))

    def _build_method(self):
        t = self.config.train
        method = build_method(self.config, self.info)
        for name, net in method.networks().items():
            if self.dist.enabled:
                net = ddp.sync_batchnorm(net)
            net = net.to(self.device, memory_format=torch.channels_last) if t.channels_last else net.to(self.device)
            if self.dist.enabled:
                ddp.broadcast_module(net)
            method.set_network(name, net)
        method.noise = Noise(t.seed + 2, self.device, self.dist.rank, self.dist.world_size)
        if self.dist.enabled:
            world = self.dist.world_size
            method.grad_sync = lambda params: ddp.all_reduce_grads(params, world)
            method.all_mean = ddp.all_mean
        method.scalers = {name: grad_scaler(t.precision, self.device) for name in method.optimizers()} \
            if t.precision == "fp16" else {}
        return method

    @property
    def ckpt_dir(self) -> str:
        return os.path.join(self.run_dir, "checkpoints")

    def _check_run_dir(self, resume: bool, overwrite: bool) -> Tuple[bool, bool]:
        """Refuse to clobber an existing run. Returns (wipe: `overwrite` asks to delete the run, resume: there is a
        checkpoint to resume from). A run stopped before its first checkpoint is resumed from step 0 (a warning);
        what an interrupted checkpoint write left behind is removed."""
        if self.dist.is_main:
            if os.path.isdir(self.run_dir):
                self.run_lock.acquire(self.run_dir)  # before anything of an existing run is cleared or read
            clear_stale_temporaries(self.ckpt_dir)
        self._found = latest_checkpoint(self.ckpt_dir) if os.path.isdir(self.ckpt_dir) else None  # warns once
        has_ckpt = self._found is not None
        if resume and not has_ckpt:
            if not os.path.isfile(os.path.join(self.run_dir, "config.yaml")):
                raise CheckpointError(f"nothing to resume: {self.run_dir} is not a ganforge run (no config.yaml)")
            log.warning("%s stopped before its first checkpoint: nothing to resume, starting it again from step 0",
                        self.run_dir)
            return False, False
        if not resume and has_ckpt and not overwrite:
            raise GanforgeError(
                f"{self.run_dir} already holds a run; continue it with --resume {self.run_dir}, "
                f"or choose another --out (or pass --overwrite to delete it)"
            )
        return not resume and has_ckpt, resume

    # -- checkpoints ------------------------------------------------------------------------------------------------
    def sampling_generator(self):
        """The generator that draws samples and scores: the EMA copy (BatchNorm statistics recomputed for its
        weights) when the run keeps one, else the live generator."""
        if self.ema is None:
            return self.method.generator
        self.ema.refresh_batchnorm(seed=self.config.train.seed)
        return self.ema.shadow

    def _state(self, rng_ranks: Optional[list] = None) -> dict:
        state = self.method.state_dict()
        if self.ema is not None:
            self.sampling_generator()  # the saved EMA generator samples well when loaded alone
            state["ema"] = self.ema.state_dict()
        state["trainer"] = {"step": self.step, "data": self.stream.state_dict(), "rng": rng.capture(),
                            "ema_updates": self.ema.updates if self.ema else 0}
        if rng_ranks is not None:  # data parallel: every rank's own streams, in rank order
            state["trainer"]["rng_ranks"] = [rng.from_bytes(b) for b in rng_ranks]
        return state

    def _meta(self) -> dict:
        return {"ganforge_version": __version__, "torch_version": torch.__version__,
                "data_info": self.info.to_json(), "config": self.config.to_dict(),
                "world_size": self.dist.world_size, "counters": self.counters()}

    def counters(self) -> dict:
        return {"step": self.step, "g_steps": self.method.g_steps, "d_steps": self.method.d_steps,
                "images_seen": self.stream.images_seen}

    def save(self) -> Optional[str]:
        for name, net in self.method.networks().items():
            if not all(torch.isfinite(p).all() for p in net.parameters()):
                raise TrainingDiverged(f"{name} weights are not finite at step {self.step}; not saving them. "
                                       f"Last good checkpoint: {self.last_checkpoint}")
        path = os.path.join(self.ckpt_dir, step_name(self.step))
        rng_ranks = ddp.gather_bytes(rng.to_bytes(rng.capture()), self.device) if self.dist.enabled else None
        if self.dist.is_main:
            path = save_checkpoint(self.ckpt_dir, self.step, self._state(rng_ranks), self._meta(),
                                   self.config.train.keep_last)
            try:  # the pictures are a view of the record: a full disk must not stop the run over them
                plot_losses(self.logger.path, os.path.join(self.run_dir, "loss.png"))
                self.method.write_figures(self.run_dir, read_metrics(self.logger.path))
            except OSError as e:
                log.warning("could not draw the run's figures (%s); training goes on", e.strerror or e)
        self.last_checkpoint = path
        return path

    def _resume(self) -> None:
        path = self.last_checkpoint
        state, meta = load_checkpoint(path)
        self._check_same_run(meta)
        trainer = state.pop("trainer", None)
        ema_state = state.pop("ema", None)
        try:
            step, world = int(trainer["step"]), int(meta.get("world_size", 1))
            ema_updates = int(trainer.get("ema_updates", 0))
            if step != meta["step"] or step_of(os.path.basename(path)) not in (None, step):
                raise ValueError(f"it holds step {step} under the name {os.path.basename(path)}")
        except (TypeError, KeyError, ValueError) as e:
            raise CheckpointError(f"checkpoint {path} is damaged: its trainer state is unreadable "
                                  f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
        try:
            self.method.load_state_dict(state)
            if self.ema is not None and ema_state is not None:
                self.ema.load_state_dict(ema_state, ema_updates)
        except (RuntimeError, KeyError, ValueError, TypeError) as e:
            first = " ".join(str(e).split(":\n")[-1].split())[:300] if str(e) else type(e).__name__
            raise CheckpointError(f"checkpoint {path} does not fit this model/method (was the config changed?): "
                                  f"{first}") from None
        for name, net in self.method.networks().items():
            tensors = [*net.parameters(), *net.buffers()]
            if not all(torch.isfinite(t).all() for t in tensors if t.is_floating_point()):
                raise CheckpointError(f"checkpoint {path} holds non-finite {name} weights: resume from an earlier "
                                      f"one (delete this folder, or name another in {self.ckpt_dir}/LATEST)")
        if step > self.config.train.steps:
            raise ConfigError(f"{self.run_dir} is already at step {step}, past train.steps="
                              f"{self.config.train.steps}: ask for at least {step} steps")
        self.step = step
        try:
            self.stream.load_state_dict(trainer["data"])
            rng.restore(trainer["rng"])
        except (TypeError, KeyError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"checkpoint {path} is damaged: its data or random-stream state is unreadable "
                                  f"({type(e).__name__})") from None
        self._restore_rank_rng(trainer.get("rng_ranks"), world)
        if self.logger is not None:
            self.logger.truncate_after(self.step)
        log.info("resumed %s at step %d (written by %s rank(s), now %d)", self.last_checkpoint, self.step,
                 meta.get("world_size", 1), self.dist.world_size)

    def _check_same_run(self, meta: dict) -> None:
        """Refuse a checkpoint that another run wrote (a stranger's, copied in): its recipe or dataset differs from
        this run's, even where the tensor shapes happen to fit."""
        saved = meta.get("config")
        if not isinstance(saved, dict):
            return  # written before configs were kept: nothing to compare
        now = self.config.to_dict()
        for section in ("method", "data"):
            was = saved.get(section, {}).get("name") if isinstance(saved.get(section), dict) else None
            if was is not None and was != now[section].get("name"):
                raise CheckpointError(
                    f"checkpoint {self.last_checkpoint} was written by another run ({section} {was!r}, this run's "
                    f"is {now[section].get('name')!r}): it cannot continue {self.run_dir}")

    def _restore_rank_rng(self, rng_ranks: Optional[list], saved_world: int) -> None:
        """On the world size that wrote the checkpoint every rank continues its own random streams (bitwise);
        otherwise the ranks are reseeded (rank 0 alone keeps the saved streams), which is not bitwise."""
        if self.dist.enabled and rng_ranks is not None and len(rng_ranks) == self.dist.world_size:
            rng.restore(rng_ranks[self.dist.rank])
            return
        if not self.dist.enabled and saved_world == 1:
            return
        if self.dist.enabled:
            torch.manual_seed(self.config.train.seed * 1_000 + self.dist.rank + self.step)
        if self.dist.is_main:
            why = f"written by {saved_world} rank(s), resumed on {self.dist.world_size}" \
                if saved_world != self.dist.world_size else "the checkpoint holds rank 0's RNG state only"
            log.warning("this resume is not bitwise (%s): the ranks' global random streams differ from those of "
                        "an uninterrupted run", why)

    # -- pictures ---------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def write_samples(self) -> str:
        """The grid of the fixed z. The random streams are forked around it: how often a run samples never changes
        its training trajectory."""
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            g = self.sampling_generator()
            was_training = g.training
            g.eval()
            x, nrow = self.method.preview(g, self.fixed_z)
            g.train(was_training)
        path = os.path.join(self.run_dir, "samples", f"{step_name(self.step)}.png")
        if self.info.is_text:  # in-filled rows as a .txt file
            from ..data.text import write_filled

            path = write_filled(x, self.info.vocab, path[:-4] + ".txt")
        elif self.info.is_image:
            save_grid(x, path, nrow=nrow)
        else:
            ref = self.dataset.get(torch.arange(min(len(self.dataset), 2000)))
            save_scatter(x, path, reference=ref.target if ref.target is not None else ref.x)  # the output domain
        with open(path, "rb") as f:  # replaced all at once: a full disk never leaves half a picture
            atomic_write(os.path.join(self.run_dir, "samples", "latest" + os.path.splitext(path)[1]), f.read(),
                         fsync=False)
        return path

    # -- scores -------------------------------------------------------------------------------------------------------
    def evaluate(self):
        """Score the (EMA) generator with train.eval_metrics on train.eval_n samples; rank 0 logs the scores to
        metrics.jsonl and redraws scores.png. Under torchrun every rank generates its share of the samples. The
        random streams are forked around it, so evaluating never changes the training trajectory."""
        from ..evaluation import evaluate

        t = self.config.train
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            g = self.sampling_generator()
            was_training = g.training
            g.eval()
            try:
                result = evaluate(g, self.config.data, t.eval_metrics, n=t.eval_n, seed=t.seed, device=self.device,
                                  dataset=self.dataset, rank=self.dist.rank, world_size=self.dist.world_size,
                                  gather=lambda rows: ddp.gather_rows(rows, self.device),
                                  discriminator=self.method.discriminator)
            finally:
                g.train(was_training)
        if result is not None and self.logger is not None:
            self.logger.write({**self.counters(), **result.record(), "time": round(time.time(), 3)})
            self.scores_plot = plot_scores(self.logger.path, os.path.join(self.run_dir, "scores.png"))
            self.scores = result.scores
        return result

    # -- the loop ---------------------------------------------------------------------------------------------------
    def fit(self) -> RunResult:
        t = self.config.train
        main = self.dist.is_main
        data = self.data_stream()
        nonfinite = torch.zeros((), dtype=torch.bool, device=self.device)
        started = time.perf_counter()
        mark = (started, self.stream.images_seen, self.step)
        samples, stopping = None, False
        self.method.train()
        bar = progress(total=t.steps, initial=self.step, disable=not (t.progress and main), desc=self.config.name,
                       unit="it", dynamic_ncols=True)
        try:
            with self.stop:
                while self.step < t.steps and not stopping:
                    logs = self.iteration(data, nonfinite)
                    log_now = self.step % t.log_every == 0 or self.step == t.steps
                    # Ranks agree on stopping at log steps (a collective); one process stops at once.
                    stopping = (ddp.any_rank(self.stop.requested, self.device) if log_now else False) \
                        if self.dist.enabled else self.stop.requested
                    last = self.step == t.steps or stopping
                    if log_now or last:
                        mark = self._log(logs, nonfinite, mark, bar)
                    if main and (self.step % t.sample_every == 0 or last):
                        samples = self.write_samples()
                    if t.eval_every and (self.step % t.eval_every == 0 or self.step == t.steps):
                        self.evaluate()
                    if self.step % t.checkpoint_every == 0 or last:
                        self._check_finite(nonfinite)
                        self.save()
                    bar.update(1)
        finally:
            bar.close()
            if self.logger is not None:
                self.logger.close()
            self.run_lock.release()
        plot = plot_losses(self.logger.path, os.path.join(self.run_dir, "loss.png")) if main else None
        return RunResult(self.run_dir, self.step, self.last_checkpoint, samples, plot, stopping,
                         time.perf_counter() - started, self.scores, self.scores_plot)

    def __del__(self):
        lock = getattr(self, "run_lock", None)
        if lock is not None:
            lock.release()

    def data_stream(self) -> DeviceStream:
        return DeviceStream(self.stream, self.device, self.config.train.channels_last)

    def iteration(self, data: DeviceStream, nonfinite: torch.Tensor) -> dict:
        """One iteration: the method's step under autocast, the EMA update and the (sync-free) non-finite guard."""
        seen = self.stream.images_seen
        with autocast(self.config.train.precision, self.device):
            logs = self.method.step(data, self.step / self.config.train.steps)
        self.step += 1
        if self.ema is not None:
            self.ema.update(self.method.generator, self.stream.images_seen - seen)
        nonfinite |= ~torch.isfinite(torch.stack([v.float() for v in logs.values()])).all()
        return logs

    def _check_finite(self, nonfinite: torch.Tensor) -> None:
        bad = ddp.any_rank(bool(nonfinite), self.device) if self.dist.enabled else bool(nonfinite)
        if bad:
            raise TrainingDiverged(
                f"a loss became NaN or infinite before step {self.step} of {self.run_dir}; the run is stopped and "
                f"the last good checkpoint is kept: {self.last_checkpoint or 'none yet'}. "
                f"Try a lower learning rate: resume it with smaller method.lr_* values (they apply on --resume)."
            )

    def _log(self, logs, nonfinite, mark, bar):
        self._check_finite(nonfinite)
        values = torch.stack([v.float() for v in logs.values()])
        if self.dist.enabled:
            values = ddp.all_mean(values)
        now = time.perf_counter()
        t0, seen0, _ = mark
        record = {**self.counters(), **dict(zip(logs, values.tolist())),
                  "img_per_s": (self.stream.images_seen - seen0) / max(now - t0, 1e-9),
                  "time": round(time.time(), 3)}
        if self.logger is not None:
            self.logger.write(record)
            bar.set_postfix({k: f"{record[k]:.3f}" for k in logs} | {"img/s": f"{record['img_per_s']:.0f}"})
        return (now, self.stream.images_seen, self.step)
