"""Command line: ``python -m fastbp demo`` (more subcommands to come)."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastbp", description="fastbp: fast MLP backpropagation on CPUs")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a network on the bundled digits data and report")
    demo.add_argument("--epochs", type=int, default=20)
    demo.add_argument("--batch-size", type=int, default=32)
    demo.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run

        run(epochs=args.epochs, batch_size=args.batch_size, n_threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
