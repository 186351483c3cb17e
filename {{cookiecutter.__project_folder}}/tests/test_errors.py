"""Every stage and command refuses a bad conf or bad data with one `error: ...` line on stderr
and exit status 2, never a traceback. Each case runs a stage's command line (errors.run_stage,
as `python -m <package>.<stage> FAMILY` does) in a folder holding only the files it sets up."""

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package }} import config, evaluate, package, prepare, train
from {{ cookiecutter.package }}.__main__ import main as cli
from {{ cookiecutter.package }}.errors import run, run_stage

PACKAGE = "{{ cookiecutter.package }}"
SRC = Path(__file__).resolve().parents[1] / "src"
FAMILY = "f"
CONF = {
    "task": "classification",
    "data": {"raw": "raw.csv", "target": "y", "features": {"x": {"type": "numeric"}},
             "test_size": 0.25, "split_seed": 0, "probe_size": 5},
    "preprocessing": {"numeric": {"impute": "median", "scale": True}, "categorical": {"impute": "most_frequent"}},
    "model": {"name": "logistic_regression", "_target_": "sklearn.linear_model.LogisticRegression", "C": 1.0},
    "train": {"seed": 0},
    "trusted_types": [],
    "metrics": ["accuracy"],
    "card": {},
}
ROWS = "x,y\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(40))


def project(folder: Path, edit=None, raw: str | bytes = ROWS, train_rows: str | None = None) -> None:
    """params.yaml with family f (its conf changed by ``edit``), its raw data (raw.csv, or
    raw.parquet when ``edit`` points data.raw there) and, for the train stage, its training split."""
    conf = copy.deepcopy(CONF)
    if edit:
        edit(conf)
    (folder / "params.yaml").write_text(yaml.safe_dump({"families": {FAMILY: conf}}))
    (folder / conf["data"]["raw"]).write_bytes(raw if isinstance(raw, bytes) else raw.encode())
    if train_rows is not None:
        (folder / "data/prepared/f").mkdir(parents=True)
        (folder / "data/prepared/f/train.csv").write_text(train_rows)


def drop(path: str):
    def edit(conf):
        *parents, last = path.split(".")
        node = conf
        for key in parents:
            node = node[key]
        del node[last]
    return edit


def setting(path: str, value):
    def edit(conf):
        *parents, last = path.split(".")
        node = conf
        for key in parents:
            node = node[key]
        node[last] = value
    return edit


def both(*edits):
    def edit(conf):
        for one in edits:
            one(conf)
    return edit


def parquet(columns: dict, row_group_size: int = 64) -> bytes:
    """A Parquet file of ``columns`` ({name: values}), as bytes."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.table(columns), out, row_group_size=row_group_size)
    return out.getvalue()


LABELS = ["ab"[i % 2] for i in range(40)]
TEXT = "x,msg,y\n" + "".join(f"{i},book a table for {i},{'ab'[i % 2]}\n" for i in range(40))
# a quoted value spanning two lines (record 3), then a bad number in record 7: line 8 of the file
SPANNING = ("x,note,y\n1,plain,a\n2,\"two\nlines\",b\n" + "".join(f"{i},n,{'ab'[i % 2]}\n" for i in range(3, 6))
            + "six,n,a\n" + "".join(f"{i},n,{'ab'[i % 2]}\n" for i in range(7, 40)))


def family_conf(folder: Path, name: str, text: str) -> None:
    (folder / "conf/families").mkdir(parents=True)
    (folder / f"conf/families/{name}.yaml").write_text(text)


STAGES = {
    "prepare: no family argument": (prepare.main, [], None, "usage: python -m"),
    "prepare: no params.yaml": (prepare.main, [FAMILY], lambda d: None, "params.yaml is missing"),
    "prepare: an unknown family": (prepare.main, ["g"], project, "params.yaml has no family 'g'"),
    "prepare: no raw data": (prepare.main, [FAMILY], lambda d: (project(d), (d / "raw.csv").unlink()),
                             "raw.csv is missing"),
    "prepare: a configured column missing": (prepare.main, [FAMILY], lambda d: project(d, raw="z,y\n1,a\n"),
                                             "raw.csv has no column 'x'"),
    "prepare: raw data not UTF-8": (prepare.main, [FAMILY], lambda d: project(d, raw=b"x,y\n\xff,\xfe\n"),
                                    "not UTF-8"),
    "prepare: a conf without probe_size": (prepare.main, [FAMILY], lambda d: project(d, drop("data.probe_size")),
                                           "no data.probe_size"),
    "prepare: a bad test_size": (prepare.main, [FAMILY], lambda d: project(d, setting("data.test_size", 5.0)),
                                 "cannot split 40 rows"),
    "prepare: a text regression target": (prepare.main, [FAMILY], lambda d: project(d, setting("task", "regression")),
                                          "raw.csv, line 2, column 'y': the regression target 'a' is not a finite"),
    "prepare: missing markers that are not a list": (
        prepare.main, [FAMILY], lambda d: project(d, setting("data.missing_values", "NA")),
        "data.missing_values is 'NA': make it a list"),
    "prepare: an unparsable number names its line and column": (
        prepare.main, [FAMILY], lambda d: project(d, raw=ROWS.replace("\n5,", "\nfive,")),
        "raw.csv, line 7, column 'x': 'five' is not a finite number"),
    "prepare: a value marked missing is no error": (
        prepare.main, [FAMILY], lambda d: project(d, raw=ROWS.replace("\n5,", "\nN/A,").replace("\n6,", "\nsix,")),
        "raw.csv, line 8, column 'x': 'six'"),
    "prepare: lines of a quoted value spanning lines count": (
        prepare.main, [FAMILY], lambda d: project(d, setting("data.features.note", {"type": "categorical"}),
                                                  raw=SPANNING),
        "raw.csv, line 8, column 'x': 'six'"),
    "prepare: a text column declared numeric": (
        prepare.main, [FAMILY], lambda d: project(d, setting("data.features.msg", {"type": "numeric"}), raw=TEXT),
        "raw.csv, line 2, column 'msg': 'book a table for 0' is text, not a number: declare the feature's type text"),
    "prepare: a missing target": (prepare.main, [FAMILY], lambda d: project(d, raw=ROWS.replace("\n3,b\n", "\n3,\n")),
                                  "raw.csv, line 5, column 'y': the target is missing"),
    "prepare: a target with one class": (prepare.main, [FAMILY], lambda d: project(d, raw=ROWS.replace(",b\n", ",a\n")),
                                         "raw.csv, column 'y': the target has one class ('a') in all 40 rows"),
    "prepare: an empty file": (prepare.main, [FAMILY], lambda d: project(d, raw=""), "raw.csv is empty"),
    "prepare: a header and no rows": (prepare.main, [FAMILY], lambda d: project(d, raw="x,y\n"), "raw.csv has no rows"),
    "prepare: a ragged line": (prepare.main, [FAMILY], lambda d: project(d, raw=ROWS.replace("\n4,a\n", "\n4,a,9\n")),
                               "raw.csv, line 6: 3 fields, the header has 2"),
    "prepare: a nested Parquet column": (
        prepare.main, [FAMILY], lambda d: project(d, setting("data.raw", "raw.parquet"),
                                                  raw=parquet({"x": [[i] for i in range(40)], "y": LABELS})),
        "raw.parquet, row group 1 of 1, column 'x': a nested or binary column (list<element: int64>)"),
    "prepare: a Parquet value names its row group": (
        prepare.main, [FAMILY], lambda d: project(d, setting("data.raw", "raw.parquet"), raw=parquet(
            {"x": [str(i) if i != 25 else "many" for i in range(40)], "y": LABELS}, row_group_size=10)),
        "raw.parquet, row group 3 of 4, row 6, column 'x': 'many' is not a finite number"),
    "prepare: a bad task": (prepare.main, [FAMILY], lambda d: project(d, setting("task", "ranking")),
                            "task is 'ranking'"),
    "train: an unknown _target_": (
        train.main, [FAMILY], lambda d: project(d, setting("model._target_", "sklearn.linear_model.Nope"), train_rows=ROWS),
        "conf/model/logistic_regression.yaml: _target_ 'sklearn.linear_model.Nope' cannot be imported"),
    "train: a model conf without _target_": (
        train.main, [FAMILY], lambda d: project(d, drop("model._target_"), train_rows=ROWS),
        "conf/model/logistic_regression.yaml has no _target_"),
    "train: an inline model without _target_": (
        train.main, [FAMILY], lambda d: project(d, setting("model", {"C": 1.0}), train_rows=ROWS),
        "the model: block of conf/families/f.yaml has no _target_"),
    "train: a regressor for a classification family": (
        train.main, [FAMILY], lambda d: project(d, setting("model", {"name": "ridge", "_target_": "sklearn.linear_model.Ridge"}),
                                                train_rows=ROWS),
        "conf/model/ridge.yaml: Ridge is a regressor, the family's task is classification: choose a classifier"),
    "train: a classifier for a regression family": (
        train.main, [FAMILY], lambda d: project(d, setting("task", "regression"), train_rows=ROWS.replace(",a\n", ",1\n")
                                                .replace(",b\n", ",2\n")),
        "conf/model/logistic_regression.yaml: LogisticRegression is a classifier, the family's task is regression"),
    "train: not an estimator": (
        train.main, [FAMILY], lambda d: project(d, setting("model", {"name": "scaler", "_target_":
                                                                     "sklearn.preprocessing.StandardScaler"}), train_rows=ROWS),
        "conf/model/scaler.yaml: sklearn.preprocessing.StandardScaler is not an estimator"),
    "train: an unknown hyperparameter": (train.main, [FAMILY],
                                         lambda d: project(d, setting("model.depth", 3), train_rows=ROWS),
                                         "conf/model/logistic_regression.yaml: sklearn.linear_model.LogisticRegression: "
                                         "LogisticRegression.__init__() got an unexpected keyword argument 'depth'"),
    "train: a bad hyperparameter value": (train.main, [FAMILY],
                                          lambda d: project(d, setting("model.C", -1.0), train_rows=ROWS),
                                          "training with conf/model/logistic_regression.yaml failed"),
    "train: a bad text vectorizer": (
        train.main, [FAMILY], lambda d: project(d, both(setting("data.features.msg", {"type": "text"}),
                                                        setting("preprocessing.text", {"_target_": "sklearn.nope.Tfidf"})),
                                                raw=TEXT, train_rows=TEXT),
        "preprocessing.text (conf/preprocessing/): _target_ 'sklearn.nope.Tfidf' cannot be imported"),
    "train: trusted_types not a list": (train.main, [FAMILY],
                                        lambda d: project(d, setting("trusted_types", "numpy.ravel"), train_rows=ROWS),
                                        "trusted_types is 'numpy.ravel': make it a list"),
    "train: text in a numeric column": (train.main, [FAMILY],
                                        lambda d: project(d, train_rows=ROWS.replace("\n3,", "\nthree,")),
                                        "must be a number"),
    "train: no training split": (train.main, [FAMILY], project, "train.csv is missing"),
    "evaluate: no model file": (evaluate.main, [FAMILY], project, "build/f/model is missing"),
    "package: no model file": (package.main, [FAMILY], project, "build/f/model is missing"),
}


def refused(capsys, command) -> str:
    """The one line ``command`` printed before exiting with status 2."""
    with pytest.raises(SystemExit) as exit_:
        command()
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("case", list(STAGES))
def test_a_stage_refuses_bad_input_in_one_line(tmp_path, monkeypatch, capsys, case):
    main, args, setup, message = STAGES[case]
    monkeypatch.chdir(tmp_path)
    if setup:
        setup(tmp_path)
    assert message in refused(capsys, lambda: run_stage(main, args))


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_a_booster_without_its_extra_names_the_extra_to_install(tmp_path, monkeypatch, capsys, library):
    target = {"xgboost": "xgboost.XGBClassifier", "lightgbm": "lightgbm.LGBMClassifier"}[library]
    monkeypatch.chdir(tmp_path)
    project(tmp_path, setting("model", {"name": library, "_target_": target}), train_rows=ROWS)
    monkeypatch.setitem(sys.modules, library, None)  # as if it were not installed
    line = refused(capsys, lambda: run_stage(train.main, [FAMILY]))
    assert line == (f"error: conf/model/{library}.yaml: {target} needs the {library} extra, which is not installed: "
                    f'pip install -e ".[{library}]"')


CONFIGS = {
    "no family": ("", "", "conf/families/ holds no family"),
    "bad YAML": ("broken", "a: [1\n", "conf/families/broken.yaml is not valid YAML"),
    "a bad family name": ("Broken", "# @package _global_\ntask: classification\n", "invalid family name 'Broken'"),
    "a missing group": ("broken", "defaults:\n  - /model: nope\n", "conf/families/broken.yaml: "),
    "no data.raw": ("broken", "task: classification\n", "has no data.raw"),
}


@pytest.mark.parametrize("case", list(CONFIGS))
def test_the_config_stage_refuses_a_bad_conf_in_one_line(tmp_path, monkeypatch, capsys, case):
    name, text, message = CONFIGS[case]
    monkeypatch.chdir(tmp_path)
    if name:
        family_conf(tmp_path, name, text)
    assert message in refused(capsys, lambda: run(config.main))


@pytest.mark.parametrize("argv, message", [
    (["add-family", "Bad", "--data", "x.csv", "--target", "y"], "no dvc.yaml here"),
    (["sync-families"], "holds no family"),
    (["deploy"], "invalid choice"),
    ([], "required"),
])
def test_a_command_refuses_bad_input_in_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert message in refused(capsys, lambda: run(lambda: cli(argv)))


def test_the_stage_command_line_prints_one_line_and_exits_2(tmp_path):
    project(tmp_path, raw="z,y\n1,a\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", f"{PACKAGE}.prepare", FAMILY], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["error: raw.csv has no column 'x': fix data.features / data.target "
                                        "in the family conf"], done.stderr
    done = subprocess.run([sys.executable, "-m", f"{PACKAGE}.train"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: usage: python -m {PACKAGE}.train FAMILY (got 0 arguments)"]
