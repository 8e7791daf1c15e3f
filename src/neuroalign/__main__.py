"""``python -m neuroalign`` runs the command-line interface."""

from neuroalign.cli import main

if __name__ == "__main__":
    main()
