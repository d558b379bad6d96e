"""`python -m alphapulse.ops`: the operations command (alphapulse.ops.cli)."""

from alphapulse.ops.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
