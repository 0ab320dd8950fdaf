"""``python -m qa.cli ARGS``: the `qa` command (e.g. ``python -X importtime -m qa.cli ask …``)."""

from qa.cli import run

if __name__ == "__main__":
    run()
