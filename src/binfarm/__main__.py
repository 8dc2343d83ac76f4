"""`python -m binfarm` runs the command line."""

from binfarm.cli import main

main()
