"""The training loop shared by every model: devices, DistributedDataParallel, mixed precision,
torch.compile, progress bar, sample grids, atomic checkpoints, --resume, divergence stop, Hub push.

One process per device. Under `torchrun` each process reads RANK / WORLD_SIZE / LOCAL_RANK and
joins a process group (nccl on GPUs, gloo on CPU); DistributedSampler gives each rank its shard
of each epoch's seeded permutation; only rank 0 logs and writes.

The loop drives a recipe (training/recipes/base.py): `setup` builds the model, then each batch is
one `loss` or `step`, each epoch one `evaluate` (and `samples`, `snapshot`), the last one `final`.
As in nanoGPT's train.py, the loop owns autocast, backward and the optimiser step of every recipe
that returns a loss; a recipe with its own step (the GANs) gets the autocast context and its
modules wrapped by the same `_wrap`, and honours only the flags it declares (training/run.py
refuses the others). After each epoch the resume state holds the optimiser, every rank's RNG,
the counters and the recipe's own `state_dict()`; `--resume` gives each back.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import shlex
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Subset
from torch.utils.data.distributed import DistributedSampler
from tqdm import tqdm

from dgm_core.checkpoints import (
    CONFIG_NAME,
    STATE_NAME,
    PushFailed,
    load_local,
    load_state,
    push_folder,
    recover_folder,
    write_checkpoint,
)
from dgm_core.data import DATASETS, load_dataset

#: Test hook: a run whose environment sets this is killed (SIGKILL) just before that global step,
#: which is how the tests check that --resume continues a run killed mid-epoch.
KILL_AT_STEP_ENV = "DGM_TRAIN_KILL_AT_STEP"
EVAL_IMAGES = 2000


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class RunError(RuntimeError):
    """A run that cannot start as asked (existing output, mismatched resume, bad settings)."""


@dataclass
class Context:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


@dataclass
class TestSet:
    """Up to EVAL_IMAGES test images in memory, with factor indices where the dataset has them."""
    images: torch.Tensor
    labels: torch.Tensor
    factor_index: torch.Tensor | None


def setup_distributed() -> Context:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return Context(0, 1, device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    dist.init_process_group(backend=backend)
    return Context(rank, world, device)


def command_line(argv: list[str], world: int) -> str:
    """The command that reproduces this run (without --resume, which does not change the result)."""
    args = [a for a in argv if a != "--resume"]
    launcher = f"torchrun --nproc-per-node={world} -m training.run" if world > 1 else "python -m training.run"
    return f"{launcher} {shlex.join(args)}"


def class_balanced_part(data: Dataset, n: int) -> Dataset:
    """The first n // classes images of each class, in the dataset's order (--train-images): the same images on
    every machine, and each class in the same share as in the whole."""
    labels = data.labels if hasattr(data, "labels") else torch.as_tensor([data[i][1] for i in range(len(data))])
    if labels.dim() != 1:
        raise RunError("--train-images needs one class label per image; this dataset's labels are attributes.")
    classes = labels.unique()
    each = n // len(classes)
    if each < 1 or n > len(labels):
        raise RunError(f"--train-images {n}: give between {len(classes)} (one per class) and {len(labels)} "
                       f"(the whole training split).")
    index = torch.cat([torch.nonzero(labels == c).flatten()[:each] for c in classes]).sort().values
    part = Subset(data, index.tolist())
    for attr in ("num_channels", "image_size", "class_names", "name"):
        setattr(part, attr, getattr(data, attr))
    return part


def _test_set(data: Dataset) -> TestSet:
    if hasattr(data, "images"):
        n = min(EVAL_IMAGES, len(data))
        index = getattr(data, "factor_index", None)
        return TestSet(data.images[:n], data.labels[:n], index[:n] if index is not None else None)
    items = [data[i] for i in range(min(EVAL_IMAGES, len(data)))]
    labels = [torch.as_tensor(y) for _, y in items]
    return TestSet(torch.stack([x for x, _ in items]), torch.stack(labels), None)


def _png(images: torch.Tensor) -> bytes:
    from torchvision.utils import save_image

    buffer = io.BytesIO()
    save_image(images.float().clamp(0, 1), buffer, format="png", nrow=8, padding=2, pad_value=0.5)
    return buffer.getvalue()


def _rng_states(ctx: Context) -> list[torch.Tensor]:
    """Every rank's CPU (and CUDA) RNG state, gathered on all ranks: resuming restores each its own."""
    state = torch.random.get_rng_state()
    if torch.cuda.is_available():
        state = torch.cat([state, torch.cuda.get_rng_state(ctx.device)])
    if ctx.world == 1:
        return [state]
    gathered = [torch.empty_like(state) for _ in range(ctx.world)]
    dist.all_gather(gathered, state.to(ctx.device) if ctx.device.type == "cuda" else state)
    return [g.cpu() for g in gathered]


def _set_rng_state(state: torch.Tensor) -> None:
    cpu_size = torch.random.get_rng_state().numel()
    torch.random.set_rng_state(state[:cpu_size])
    if torch.cuda.is_available() and state.numel() > cpu_size:
        torch.cuda.set_rng_state(state[cpu_size:])


def comparison_line(compare_as: str | None, not_compared: str | None) -> str:
    """The card's line on the comparison lab: the row it belongs to, or why it is not there."""
    if compare_as:
        return f"Every model compared: the row **{compare_as}** (`--compare-as`)"
    if not_compared:
        return f"Every model compared: not a row, because {not_compared} (`--not-compared`)"
    return "Every model compared: not recorded (give --compare-as LABEL or --not-compared REASON)"


def model_card(recipe, args, command: str, history: dict, ctx: Context) -> str:
    last = history["epochs"][-1] if history["epochs"] else {}
    rows = "\n".join(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in last.items())
    return f"""---
library_name: dgm-lab
tags:
- dgm-lab
- {recipe.name}
- {args.dataset.split(':')[0]}
---
# {recipe.name} on {args.dataset}

{recipe.summary}, trained by DGM Lab's headless trainer with exactly this command:

```
{command}
```

Run it from the root of the DGM Lab repository to reproduce this checkpoint (same seed, same
data, same code: the same weights on the same hardware and torch version).

- epochs completed: {len(history['epochs'])} of {args.epochs}; optimisation steps: {last.get('step', 0)}
- devices: {ctx.world} × {ctx.device.type}; mixed precision: {args.amp or 'off'}; torch.compile: {'on' if args.compile else 'off'}; torch {torch.__version__}
- {comparison_line(getattr(args, 'compare_as', None), getattr(args, 'not_compared', None))}

## Last epoch, on the test split

| metric | value |
| --- | --- |
{rows}

## Load it

```python
from dgm_core.checkpoints import load_checkpoint
checkpoint = load_checkpoint("PATH-OR-REPO-ID")   # safetensors only; history in checkpoint.history
```
"""


def train(recipe, args, argv: list[str]) -> Path:
    """Run (or resume) training; returns the checkpoint folder. Raises TrainingDiverged / RunError."""
    ctx = setup_distributed()
    try:
        return _train(recipe, args, argv, ctx)
    finally:
        if ctx.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _train(recipe_class, args, argv, ctx: Context) -> Path:
    out = Path(args.out)
    recover_folder(out)
    if (out / CONFIG_NAME).exists() and not args.resume:
        raise RunError(f"{out} already holds a checkpoint. Pass --resume to continue it, or --out to write "
                       "somewhere else; nothing there has been changed.")
    if args.resume and not (out / CONFIG_NAME).exists():
        raise RunError(f"--resume: there is no checkpoint in {out} to continue. Drop --resume to start a new run.")

    train_data = load_dataset(args.dataset, "train", image_size=args.image_size)
    if getattr(args, "train_images", None):
        train_data = class_balanced_part(train_data, args.train_images)
    test = _test_set(load_dataset(args.dataset, "test", image_size=args.image_size))
    valid = train_part = None
    if recipe_class.selects_on and "valid" in getattr(DATASETS.get(args.dataset), "splits", ()):
        valid = _test_set(load_dataset(args.dataset, "valid", image_size=args.image_size))
        train_part = _test_set(Subset(train_data, range(min(len(valid.images), len(train_data)))))
    sampler = DistributedSampler(train_data, num_replicas=ctx.world, rank=ctx.rank, shuffle=True, seed=args.seed)
    loader = DataLoader(train_data, batch_size=args.batch_size, sampler=sampler, num_workers=0,
                        pin_memory=ctx.device.type == "cuda")
    recipe = recipe_class(args)
    torch.manual_seed(args.seed)                    # the same initial weights on every rank
    model = recipe.setup(train_data, len(loader), ctx.device)
    optimizer = recipe.optimizer()
    history: dict = {"steps": [], "epochs": []}
    start_epoch = global_step = 0
    best = None          # {"epoch", "value", "weights"} of the best validation epoch so far (selects_on)
    torch.manual_seed(args.seed + 1000 * ctx.rank)  # different noise on each rank
    command = command_line(argv, ctx.world)
    settings = {k: v for k, v in vars(args).items() if k not in ("resume", "out", "push_to_hub") and not k.startswith("_")}

    if args.resume:
        saved = load_local(out, expected=type(model), device=str(ctx.device))
        if saved.model.config != model.config:
            raise RunError(f"--resume: {out} was trained with {saved.model.config}, but this command asks for "
                           f"{model.config}. Resume with the original settings (see {out}/README.md).")
        model.load_state_dict(saved.model.state_dict())
        state = load_state(out / STATE_NAME)
        optimizer.load_state_dict(state["optimizer"])
        recipe.load_state_dict(state.get("recipe", {}))
        start_epoch, global_step, history = state["epoch"], state["step"], saved.history
        best = state.get("best")
        if len(state["rng"]) != ctx.world:
            raise RunError(f"--resume: {out} was written by {len(state['rng'])} processes; resume it with the same "
                           "number (torchrun --nproc-per-node), or the run would not be the same.")
        _set_rng_state(state["rng"][ctx.rank])
        if ctx.main:
            print(f"Resuming {out} after epoch {start_epoch} (step {global_step}).", file=sys.stderr)

    refused = unsupported_flags(recipe, args, ctx.world)
    if refused:                                    # training.run checks first; this guards other callers
        raise RunError(refusal(recipe, refused))
    step_model = recipe.wrap(lambda m: _wrap(m, args, ctx))
    autocast = (torch.autocast(device_type=ctx.device.type, dtype=torch.bfloat16) if args.amp == "bf16"
                else contextlib.nullcontext())
    kill_at = int(os.environ.get(KILL_AT_STEP_ENV, "0"))
    # Wall-clock spent training (evaluation and writing excluded), summed over epochs and resumes:
    # comparisons of models with different update rules are made against it and against updates.
    train_seconds = history["epochs"][-1].get("seconds", 0.0) if history["epochs"] else 0.0

    for epoch in range(start_epoch, args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        epoch_started = time.perf_counter()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{args.epochs}", disable=not ctx.main, leave=False,
                   dynamic_ncols=True, mininterval=1.0, file=sys.stderr)
        for x, y in bar:
            if kill_at and global_step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            x, y = x.to(ctx.device, non_blocking=True), y.to(ctx.device, non_blocking=True)
            if recipe.owns_step:
                metrics = recipe.step(step_model, x, y, optimizer, global_step, autocast)
            else:
                optimizer.zero_grad(set_to_none=True)
                with autocast:
                    loss, metrics = recipe.loss(step_model, x, y, global_step)
                loss.backward()
                optimizer.step()
                metrics = {k: float(v) for k, v in metrics.items()}
            finite = torch.tensor(float(all(math.isfinite(v) for v in metrics.values())))
            if ctx.world > 1:
                dist.all_reduce(finite, op=dist.ReduceOp.MIN)
            if finite.item() < 1:
                bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
                kept = f"the last good checkpoint, after epoch {epoch}, is kept in {out}" if epoch > 0 or args.resume \
                    else f"no checkpoint had been written yet, so {out} is unchanged"
                raise TrainingDiverged(
                    f"Training diverged at epoch {epoch + 1}, step {global_step + 1}: {bad}. Stopped; {kept}. "
                    f"{recipe.divergence_advice} (--lr is now {args.lr}.)")
            global_step += 1
            if ctx.main and (global_step % args.log_every == 0 or global_step == 1):
                history["steps"].append({"step": global_step, "epoch": epoch + 1, **metrics})
                bar.set_postfix({k: f"{v:.3g}" for k, v in metrics.items() if k != "beta"})
        bar.close()
        train_seconds += time.perf_counter() - epoch_started

        if ctx.world > 1:
            _broadcast_buffers(model)
        rng = _rng_states(ctx)
        if ctx.main:
            epoch_metrics = recipe.evaluate(test)
            if valid is not None:
                epoch_metrics.update(recipe.validate(valid, train_part))
                value = epoch_metrics[recipe.selects_on]
                if best is None or value < best["value"]:
                    best = {"epoch": epoch + 1, "value": value,
                            "weights": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
            history["epochs"].append({"epoch": epoch + 1, "step": global_step, "seconds": round(train_seconds, 3),
                                      **epoch_metrics})
            last = epoch + 1 == args.epochs
            samples, snapshots = {}, {}
            if (epoch + 1) % args.sample_every == 0 or last:
                grid = recipe.samples()
                if grid is not None:
                    samples[f"epoch-{epoch + 1:03d}.png"] = _png(grid)
                snapshot = recipe.snapshot()
                if snapshot is not None:
                    snapshots[f"epoch-{epoch + 1:03d}.safetensors"] = snapshot
            if last and best is not None:
                # A finished run holds the weights of its best validation epoch, and says so: the test
                # figures of `final` are of the model selected without looking at the test split.
                model.load_state_dict(best["weights"])
                history["selected"] = {"epoch": best["epoch"], recipe.selects_on: best["value"],
                                       "by": f"lowest {recipe.selects_on} on the validation split"}
            if last:
                history.update(recipe.final(test))
            history["run"] = {"command": command, "world_size": ctx.world, **settings}
            summary = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in epoch_metrics.items())
            print(f"epoch {epoch + 1}/{args.epochs}: {summary}", file=sys.stderr)
            state = {"optimizer": optimizer.state_dict(), "rng": rng, "epoch": epoch + 1, "step": global_step,
                     "recipe": recipe.state_dict(), **({"best": best} if best is not None else {})}
            write_checkpoint(model, out, command=command, history=history, samples=samples, snapshots=snapshots, state=state,
                             card=model_card(recipe, args, command, history, ctx))
        if ctx.world > 1:
            if epoch + 1 == args.epochs and valid is not None:
                for tensor in model.state_dict().values():    # rank 0 may have taken the best epoch's weights
                    dist.broadcast(tensor, 0)
            dist.barrier()

    if ctx.world > 1:
        _check_ranks_agree(model, ctx)
    failed_push = None
    if ctx.main:
        print(f"Checkpoint: {out}", file=sys.stderr)
        if args.push_to_hub:
            try:
                url = push_folder(out, args.push_to_hub, commit_message=f"DGM Lab: {command}")
                print(f"Pushed to the Hub: {url}", file=sys.stderr)
            except PushFailed as exc:
                failed_push = exc
    if ctx.world > 1:
        # Every rank leaves together: a rank that tore its gloo group down while rank 0 was still
        # writing or pushing made rank 0 abort at exit ("terminate called without an active exception").
        dist.barrier()
    if failed_push is not None:
        raise failed_push
    return out


def _wrap(module: torch.nn.Module, args, ctx: Context) -> torch.nn.Module:
    """The module the step calls: under DistributedDataParallel on several processes, compiled
    with --compile. A recipe wraps each module it updates on its own (a GAN: two)."""
    if ctx.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        module = DistributedDataParallel(module, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    if args.compile:
        module = torch.compile(module)
    return module


def unsupported_flags(recipe, args, world: int) -> list[str]:
    """The flags of this run that the recipe does not honour, as the user wrote them."""
    asked = {"amp": f"--amp {args.amp}" if args.amp else None, "compile": "--compile" if args.compile else None,
             "ddp": "torchrun (DistributedDataParallel)" if world > 1 else None}
    return [shown for flag, shown in asked.items() if shown and flag not in recipe.supports]


def refusal(recipe, refused: list[str]) -> str:
    shown = {"amp": "--amp bf16", "compile": "--compile", "ddp": "torchrun (DistributedDataParallel)"}
    supported = ", ".join(shown[f] for f in ("amp", "compile", "ddp") if f in recipe.supports) or "none of them"
    because = f": {recipe.unsupported_because}" if recipe.unsupported_because else ""
    return (f"{recipe.name} does not support {' or '.join(refused)}{because}. It supports: {supported}. "
            "Nothing was trained or written; run again without it.")


def _broadcast_buffers(model: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (batch-norm running statistics). DDP broadcasts them from
    rank 0 before each forward of a wrapped module, but each rank's last forwards leave its own;
    rank 0's are the ones saved, so after each epoch all replicas take them and stay identical."""
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)


def _check_ranks_agree(model: torch.nn.Module, ctx: Context) -> None:
    """DDP keeps replicas identical by all-reducing gradients; check it: gather every rank's
    parameters and floating-point buffers and report the largest difference from rank 0's."""
    tensors = [*model.parameters(), *(b for b in model.buffers() if b.is_floating_point())]
    flat = torch.cat([t.detach().float().flatten() for t in tensors])
    gathered = [torch.empty_like(flat) for _ in range(ctx.world)]
    dist.all_gather(gathered, flat)
    worst = max((g - gathered[0]).abs().max().item() for g in gathered)
    if ctx.main:
        print(f"Parameters on all {ctx.world} ranks agree: max |difference| = {worst:.3g}", file=sys.stderr)
    if worst != 0.0:
        raise RunError(f"The {ctx.world} ranks ended with different parameters (max |difference| {worst:.3g}).")
