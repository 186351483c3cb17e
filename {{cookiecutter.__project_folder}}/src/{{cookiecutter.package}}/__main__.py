"""`python -m {{ cookiecutter.package }}`: manage the project's model families.

  add-family NAME --data FILE --target COLUMN [--task classification|regression] [--replace]
      a new family from a CSV or Parquet file: data under DVC, conf/families/NAME.yaml,
      families.yaml, dvc.yaml (--replace: your data in place of an unreleased family's, e.g.
      the example the bake ships under the name you answered)
  remove-family NAME
      take an unreleased family out: its conf, data, outputs and registration
  sync-families
      rewrite families.yaml and dvc.yaml's families block from conf/families/ (after adding,
      removing or renaming a conf file by hand, or changing a family's data.raw or task)
  families
      list the families: name, task, raw data file

Bad input prints one `error: ...` line and exits with status 2, having written nothing.
"""

import argparse

from .errors import ProjectError, run


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise ProjectError(f"{message} (see `python -m {__package__} --help`)")


def parser() -> Parser:
    top = Parser(prog=f"python -m {__package__}", description="Manage the project's model families.")
    sub = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    add = sub.add_parser("add-family", help="add a model family from a CSV or Parquet file")
    add.add_argument("name", help="the family name: lowercase letters, digits, '-' and '_'")
    add.add_argument("--data", required=True, help="the CSV or Parquet file (copied to data/raw/NAME.csv or NAME.parquet)")
    add.add_argument("--target", required=True, help="the column to predict")
    add.add_argument("--task", choices=["classification", "regression"],
                     help="default: classification when the target is not numeric or has at most 20 "
                          "distinct values, else regression")
    add.add_argument("--replace", action="store_true",
                     help="put this data in place of the family NAME's (one with no released version)")
    remove = sub.add_parser("remove-family", help="take an unreleased family out: conf, data, outputs, registration")
    remove.add_argument("name", help="the family to remove")
    sub.add_parser("sync-families", help="rewrite families.yaml and dvc.yaml's families block from conf/families/")
    sub.add_parser("families", help="list the families: name, task, data file")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "add-family":
        from .add_family import add_family

        print("\n".join(add_family(args.name, args.data, args.target, args.task, args.replace)))
    elif args.command == "remove-family":
        from .remove_family import remove_family

        print("\n".join(remove_family(args.name)))
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
    run(main)
