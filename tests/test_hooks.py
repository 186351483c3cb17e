"""Every bad answer is refused with one clear line, and nothing is left behind."""

import pytest
from cookiecutter.exceptions import FailedHookException

from vml_testkit.bake import bake

GOOD_ANSWERS = {"project": "wine-cultivar", "package": "wine_cultivar"}
BAD_ANSWERS = [
    ("project", "Wine Cultivar"),
    ("project", "wine_cultivar"),
    ("project", "-wine"),
    ("project", "wine/cultivar"),
    ("package", "wine-cultivar"),
    ("package", "1wine"),
    ("package", "class"),
    ("package", "match"),
    ("package", "json"),
    ("package", "Wine"),
    ("model_family", "cultivar@v1"),
    ("model_family", "cultivar#prod"),
    ("model_family", "cultivar!"),
    ("model_family", "team:cultivar"),
    ("model_family", "team/cultivar"),
    ("model_family", "cul..tivar"),
    ("model_family", "cul.tivar"),
    ("model_family", "my cultivar"),
    ("model_family", "Cultivar"),
    ("model_family", "-cultivar"),
    ("model_family", "2024"),  # YAML reads these unquoted as numbers or booleans (dvc.yaml keys)
    ("model_family", "1e5"),
    ("model_family", "0x1f"),
    ("model_family", "yes"),
    ("model_family", "null"),
    ("python_version", "3"),
    ("python_version", "python3.11"),
    ("release_train_cron", "daily"),
    ("release_train_cron", "0 6 * *"),
    ("release_train_cron", "60 6 * * *"),
    ("release_train_cron", "0 6 * * MON-FRY"),
    ("release_train_cron", "*/0 * * * *"),
]


@pytest.mark.parametrize("answer, value", BAD_ANSWERS, ids=[f"{a}={v}" for a, v in BAD_ANSWERS])
def test_a_bad_answer_is_refused_and_nothing_is_created(tmp_path, capfd, answer, value):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(FailedHookException):
        bake(out, **{**GOOD_ANSWERS, answer: value})
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"error: {answer} {value!r}")
    assert list(out.iterdir()) == []


def test_an_unknown_remote_is_refused_by_cookiecutters_choice_check(tmp_path):
    with pytest.raises(ValueError, match="gcs provided for choice variable dvc_remote"):
        bake(tmp_path, dvc_remote="gcs")
    assert list(tmp_path.iterdir()) == []


def test_an_s3_remote_needs_an_s3_url(tmp_path, capfd):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(FailedHookException):
        bake(out, dvc_remote="s3", s3_url="https://bucket.example.com/models")
    assert "error: s3_url 'https://bucket.example.com/models' is not an S3 URL" in capfd.readouterr().err
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_the_s3_url_is_not_checked_for_a_local_remote(tmp_path):
    assert (bake(tmp_path, s3_url="anything") / "dvc.yaml").exists()
