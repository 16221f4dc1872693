"""``python -m clusteratlas`` runs the command-line interface."""

from clusteratlas.cli import main

main()
