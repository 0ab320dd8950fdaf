"""``python -m bench [OPTIONS]``: the `qa bench` command with default settings."""

from bench.cli import bench_command

if __name__ == "__main__":
    bench_command(obj={})
