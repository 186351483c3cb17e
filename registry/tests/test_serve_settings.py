"""Serving settings: options over params.yaml's `serving:` over defaults, and `serve` refusing
bad settings in one line before it listens (a plain git repository: nothing is loaded)."""

from __future__ import annotations

import socket

import pytest

from vml_testkit.registry import make_repo, release, run_cli
from versioned_ml_registry.errors import RegistryError
from versioned_ml_registry.serve.settings import canary_percents, serve_settings


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    r = make_repo(tmp_path_factory.mktemp("settings") / "repo")
    release(r, "cultivar")
    release(r, "price")
    return r


def test_defaults_then_params_yaml_then_options(repo):
    top, known = str(repo), ["cultivar", "price"]
    settings = serve_settings(top, known)
    assert (settings.families, settings.host, settings.port, settings.follow, settings.interval) == (
        known, "127.0.0.1", 8000, "local", 1.0)
    assert settings.canary_percent == {"cultivar": 10.0, "price": 10.0} and settings.store_inputs is True
    assert settings.ledger == repo / ".model-registry" / "ledger.sqlite"
    (repo / "params.yaml").write_text("serving:\n  canary_percent: {cultivar: 20, default: 5}\n  interval: 2\n"
                                      "  families: [cultivar]\n  store_inputs: false\n  ledger: var/decisions.db\n")
    try:
        settings = serve_settings(top, known)
        assert settings.families == ["cultivar"] and settings.interval == 2.0 and settings.store_inputs is False
        assert settings.canary_percent == {"cultivar": 20.0} and settings.ledger == repo / "var" / "decisions.db"
        settings = serve_settings(top, known, families=["cultivar", "price"], interval=0.5, store_inputs=True,
                                  canary_percent=["price=30"], ledger="x.sqlite")
        assert settings.canary_percent == {"cultivar": 20.0, "price": 30.0}
        assert settings.interval == 0.5 and settings.store_inputs is True and settings.ledger.name == "x.sqlite"
    finally:
        (repo / "params.yaml").unlink()


@pytest.mark.parametrize("configured, options, message", [
    (None, ["150"], "must be a number from 0 to 100"),
    (None, ["nope=5"], "'nope' is not a served family"),
    ({"cultivar": "lots"}, [], "is not a number"),
    (True, [], "must be a number from 0 to 100"),
])
def test_bad_canary_percents_are_one_line(configured, options, message):
    with pytest.raises(RegistryError, match=message):
        canary_percents(["cultivar"], configured, options)


@pytest.mark.parametrize("args, message", [
    (["--family", "nope"], "error: unknown family 'nope' (known: cultivar, price)"),
    (["--interval", "0"], "error: serving setting interval must be from 0.05 to 3600 seconds"),
    (["--canary-percent", "-1"], "error: --canary-percent: canary percent '-1' must be a number from 0 to 100"),
    (["--follow", "sideways"], "error: argument --follow: invalid choice: 'sideways'"),
])
def test_serve_refuses_bad_settings_before_listening(repo, args, message):
    done = run_cli(repo, "serve", *args)
    assert done.returncode == 2 and done.stderr.startswith(message), done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stdout == ""


def test_serve_refuses_a_port_in_use_in_one_line(repo):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(repo, "serve", "--port", str(port), "--ledger", str(repo.parent / "l.sqlite"))
    assert done.returncode == 2 and done.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert len(done.stderr.splitlines()) == 1
