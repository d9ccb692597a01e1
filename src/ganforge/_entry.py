"""The console script's entry: Ctrl+C while the command line is still importing torch is a quiet exit (130), as it
is once the command runs (ganforge.cli.main)."""
import sys


def main() -> int:
    try:
        from .cli import main as cli_main

        return cli_main()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
