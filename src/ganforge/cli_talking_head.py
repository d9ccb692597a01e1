"""`ganforge talking-head`: put a new person in motion from K frames with a meta-learned talking-heads run
(Zakharov et al., ICCV 2019): fine-tune on the K frames (or feed-forward with --finetune-steps 0), then drive the
person with another sequence's landmarks; writes a GIF of (driving landmarks | generated frame)."""
from __future__ import annotations


def add_talking_head_parsers(sub) -> None:
    p = sub.add_parser("talking-head", help="animate a new person from K frames with a talking-heads run")
    p.add_argument("run")
    p.add_argument("--frames", required=True, help="folder of the person's frames, each NAME.png with NAME.txt "
                                                   "(68 lines 'x y'); the first K are used")
    p.add_argument("--drive", required=True, help="folder of the driving sequence: frames + landmark files, or "
                                                  "landmark files alone with a file 'frame_size'")
    p.add_argument("--shots", type=int, default=8, help="K frames of the person (default 8)")
    p.add_argument("--finetune-steps", type=int, default=None,
                   help="fine-tuning iterations (default: the run's method.finetune_steps; 0 = feed-forward)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="talking_head.gif")


def cmd_talking_head(args) -> int:
    from .talking_head_api import animate_folder

    path, n = animate_folder(args.run, args.frames, args.drive, args.shots, args.out, args.finetune_steps,
                             seed=args.seed, device=args.device)
    print(f"{path} ({n} frames)")
    return 0


TALKING_HEAD_COMMANDS = {"talking-head": cmd_talking_head}
