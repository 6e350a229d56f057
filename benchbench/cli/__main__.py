"""`python -m benchbench.cli`: the `benchbench` command."""

from benchbench.cli import main

main()
