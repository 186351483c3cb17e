"""`python -m {{ cookiecutter.package }}`: manage the project's model families.

  add-family NAME --data FILE --target COLUMN [--task classification|regression]
      a new family from a CSV: data under DVC, conf/families/NAME.yaml, families.yaml, dvc.yaml
  sync-families
      rewrite families.yaml and dvc.yaml's families block from conf/families/ (after adding,
      removing or renaming a conf file by hand, or changing a family's data.raw or task)
  families
      list the families: name, task, raw data file

Bad input prints one `error: ...` line and exits with status 2, having written nothing.
"""

import argparse
import sys


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        print(f"error: {message} (see `python -m {__package__} --help`)", file=sys.stderr)
        sys.exit(2)


def parser() -> Parser:
    top = Parser(prog=f"python -m {__package__}", description="Manage the project's model families.")
    sub = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    add = sub.add_parser("add-family", help="add a model family from a CSV file")
    add.add_argument("name", help="the family name: lowercase letters, digits, '-' and '_'")
    add.add_argument("--data", required=True, help="the CSV file (copied to data/raw/NAME.csv)")
    add.add_argument("--target", required=True, help="the column to predict")
    add.add_argument("--task", choices=["classification", "regression"],
                     help="default: classification when the target is not numeric or has at most 20 "
                          "distinct values, else regression")
    sub.add_parser("sync-families", help="rewrite families.yaml and dvc.yaml's families block from conf/families/")
    sub.add_parser("families", help="list the families: name, task, data file")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "add-family":
        from .add_family import AddFamilyError, add_family

        try:
            lines = add_family(args.name, args.data, args.target, args.task)
        except AddFamilyError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print("\n".join(lines))
    elif args.command == "sync-families":
        from .config import sync

        changed = sync()
        print(f"updated {', '.join(changed)}" if changed else "families.yaml and dvc.yaml are up to date")
    else:
        from .config import compose_families

        for name, conf in compose_families().items():
            print(f"{name}\t{conf['task']}\t{conf['data']['raw']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
