"""Stage-change webhooks: real git repositories, a real receiver on 127.0.0.1 that checks every
signature with the independent ``standardwebhooks`` package, the real detached delivery process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from standardwebhooks import Webhook
from versioned_ml_registry import api
from versioned_ml_registry.errors import RegistryError
from versioned_ml_registry.notify import config
from versioned_ml_registry.notify.signature import sign, signing_key
from vml_testkit.git import add_origin, bare_origin, git, tag_yaml
from vml_testkit.net import free_port, poll, unreachable_endpoint
from vml_testkit.registry import make_repo, release, run_cli, to_production
from vml_testkit.webhooks import Receiver, configure, log_text, new_secret, outbox

FAST = {"attempts": 2, "backoff": 0.05, "max_backoff": 0.2, "timeout": 2}


def stage_tags(repo: Path) -> dict[str, str]:
    """``{"msg_<tag object>": tag}`` of the stage tags of ``repo`` but those a release wrote:
    testkit's ``release`` calls the release engine, not the API, so they are not announced."""
    out = git(repo, "for-each-ref", "--format=%(objectname) %(refname:strip=2)", "refs/tags/*#*")
    return {f"msg_{oid}": name for oid, name in (line.split(" ", 1) for line in out.splitlines())
            if tag_yaml(repo, name).get("event") != "release"}


def drained(repo: Path, timeout: float = 30.0) -> None:
    poll(lambda: not outbox(repo), timeout, "an empty outbox")


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo")


@pytest.fixture
def secret_file(tmp_path):
    """A whsec_ secret in a file outside the repository."""
    path = tmp_path / "webhook-secret"
    path.write_text(new_secret() + "\n")
    return path


def test_signatures_match_the_standardwebhooks_package():
    body = b'{"type":"stage.changed"}'
    at = datetime.fromtimestamp(1_700_000_000, tz=timezone.utc)
    for secret, theirs in ((new_secret(), None), ("plain words", b"plain words")):
        expected = Webhook(theirs or secret).sign("msg_1", at, body)
        assert sign(signing_key(secret), "msg_1", 1_700_000_000, body) == expected
    with pytest.raises(RegistryError, match="base64"):
        signing_key("whsec_not base64!")


def test_every_stage_change_arrives_signed_with_who_why_and_the_previous_holder(repo, secret_file):
    with Receiver(secret_file.read_text().strip()) as hook:
        configure(repo, {"url": hook.url, "secret_file": str(secret_file)}, retry=FAST)
        v1 = release(repo, "m")
        to_production(repo, "m", v1, reason="first")
        v2 = release(repo, "m")
        to_production(repo, "m", v2, reason="beats v0.1.0")
        api.rollback(str(repo), "m", reason="latency")
        drained(repo)
        expected = stage_tags(repo)
        got = hook.wait_for(len(expected))
    assert all(d.verified for d in got), [d.error for d in got]
    assert hook.accepted() == {msg_id: 1 for msg_id in expected}
    payloads = {d.payload["tag"]: d.payload for d in got}
    assert set(payloads) == set(expected.values())
    prod = [p for p in payloads.values() if p["stage"] == "production"]
    promoted = next(p for p in prod if p["version"] == v2 and p["event"] == "promote")
    assert promoted["previous"] == v1 and promoted["why"] == "beats v0.1.0"
    assert promoted["who"] == tag_yaml(repo, promoted["tag"])["by"] and promoted["type"] == "stage.changed"
    assert promoted["timestamp"].endswith("Z") and len(promoted["commit"]) == 40
    rolled = next(p for p in prod if p["event"] == "rollback")
    assert (rolled["version"], rolled["previous"], rolled["why"]) == (v1, v2, "latency")
    assert any(p["stage"] == "deprecated" and p["version"] == v2 for p in payloads.values())
    assert "attempt 1/2: HTTP 204: delivered" in log_text(repo)


def test_a_plain_secret_from_the_environment_through_the_command_line(repo, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "correct horse battery staple")
    with Receiver("correct horse battery staple") as hook:
        configure(repo, {"url": hook.url, "secret_env": "HOOK_SECRET", "stages": ["staging"]}, retry=FAST)
        v1 = release(repo, "m")
        done = run_cli(repo, "promote", "m", v1, "staging", "--reason", "qa")
        assert done.returncode == 0, done.stderr
        assert "webhooks: 1 event(s) to 1 endpoint(s)" in done.stdout
        drained(repo)
        [delivery] = hook.wait_for(1)
    assert delivery.verified and delivery.payload["stage"] == "staging"


def test_a_wrong_secret_fails_the_receivers_check_and_the_event_waits(repo, tmp_path, secret_file):
    wrong = tmp_path / "wrong-secret"
    wrong.write_text(new_secret())
    with Receiver(secret_file.read_text().strip()) as hook:
        configure(repo, {"url": hook.url, "secret_file": str(wrong)}, retry=FAST)
        v1 = release(repo, "m")
        api.promote(str(repo), "m", v1, "staging", reason="qa")
        poll(lambda: "gave up after 2" in log_text(repo), 30, "the retries to run out")
        got = hook.got()
        assert len(got) == 2 and not any(d.verified for d in got)
        assert "signature" in got[0].error.lower()
        [waiting] = outbox(repo)
        assert waiting == got[0].id == got[1].id  # one id for every attempt
        configure(repo, {"url": hook.url, "secret_file": str(secret_file)}, retry=FAST)
        assert api.webhooks_deliver(str(repo))["delivered"] == [waiting]
    assert hook.accepted() == {waiting: 1} and outbox(repo) == []


def test_a_receiver_down_then_up_gets_each_event_exactly_once(repo, secret_file):
    hook = Receiver(secret_file.read_text().strip(), port=free_port(), fail_first=1)
    configure(repo, {"url": hook.url, "secret_file": str(secret_file)},
              retry={"attempts": 40, "backoff": 0.05, "max_backoff": 0.3, "timeout": 2})
    v1 = release(repo, "m")
    to_production(repo, "m", v1, reason="go")
    v2 = release(repo, "m")
    to_production(repo, "m", v2, reason="go")
    expected = stage_tags(repo)
    poll(lambda: log_text(repo).count("Connection refused") >= 2 * len(expected), 30, "failed attempts")
    by_hand = subprocess.Popen([sys.executable, "-m", "versioned_ml_registry", "--repo", str(repo), "webhooks",
                                "deliver"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with hook:
        drained(repo)
        assert by_hand.wait(timeout=60) == 0, by_hand.stderr.read()
    assert hook.accepted() == {msg_id: 1 for msg_id in expected}
    assert all(d.verified for d in hook.got())
    assert "HTTP 503" in log_text(repo)


def test_two_delivers_at_once_send_each_event_once(repo, secret_file):
    hook = Receiver(secret_file.read_text().strip())
    configure(repo, {"url": hook.url, "secret_file": str(secret_file)}, retry={**FAST, "attempts": 1})
    v1 = release(repo, "m")
    to_production(repo, "m", v1, reason="go")
    api.promote(str(repo), "m", release(repo, "m"), "shadow", reason="mirror")
    expected = stage_tags(repo)
    poll(lambda: log_text(repo).count("gave up") == len(expected), 30, "the background runs to give up")
    command = [sys.executable, "-m", "versioned_ml_registry", "--repo", str(repo), "webhooks", "deliver"]
    with hook:
        runs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        assert [run.wait(timeout=60) for run in runs] == [0, 0]
    assert hook.accepted() == {msg_id: 1 for msg_id in expected}
    assert outbox(repo) == []


@pytest.mark.parametrize("answer, attempts", [(302, 2), (410, 1)])
def test_a_redirect_is_a_failure_and_gone_stops_the_retries(repo, secret_file, answer, attempts):
    with Receiver(secret_file.read_text().strip(), answer=answer) as hook:
        configure(repo, {"url": hook.url, "secret_file": str(secret_file)}, retry=FAST)
        api.promote(str(repo), "m", release(repo, "m"), "staging", reason="qa")
        poll(lambda: f"HTTP {answer}" in log_text(repo) and ("gave up" in log_text(repo) or "410 Gone" in log_text(repo)),
             30, "the retries to end")
        [waiting] = outbox(repo)
    assert len(hook.got()) == attempts and all(d.verified and d.id == waiting for d in hook.got())


def test_an_unreachable_endpoint_never_fails_or_slows_a_promotion(repo, secret_file):
    configure(repo, {"url": unreachable_endpoint() + "/hook", "secret_file": str(secret_file)}, retry=FAST)
    v1 = release(repo, "m")
    start = time.monotonic()
    done = run_cli(repo, "promote", "m", v1, "staging", "--reason", "qa")
    elapsed = time.monotonic() - start
    assert done.returncode == 0 and "m#staging#" in done.stdout, done.stderr
    assert elapsed < 5, elapsed
    [waiting] = outbox(repo)
    poll(lambda: "gave up after 2" in log_text(repo), 30, "the retries to run out")
    assert outbox(repo) == [waiting]
    listed = run_cli(repo, "webhooks", "list", "--json")
    [row] = json.loads(listed.stdout)["events"]
    assert (row["id"], row["stage"], row["attempts"]) == (waiting, "staging", 2)
    assert row["owed"] and "refused" in row["last"]["answer"]
    again = run_cli(repo, "webhooks", "deliver", "--attempts", "1")
    assert again.returncode == 1 and "pending: 1 event(s)" in again.stdout
    assert outbox(repo) == [waiting]


def test_only_what_the_team_can_see_is_announced(tmp_path, secret_file):
    repo = make_repo(tmp_path / "repo")
    add_origin(repo, bare_origin(tmp_path / "origin.git"))
    with Receiver(secret_file.read_text().strip()) as hook:
        configure(repo, {"url": hook.url, "secret_file": str(secret_file)}, retry=FAST)
        v1 = release(repo, "m")
        res = api.promote(str(repo), "m", v1, "staging", reason="qa")
        assert outbox(repo) == [] and not any("webhooks" in line for line in res.messages)
        pushed = api.push(str(repo))
        staged = [tag for tag in pushed.tags if "#" in tag]
        assert len(staged) == 2  # candidate and staging
        res = api.promote(str(repo), "m", v1, "production", reason="go", push=True)
        drained(repo)
        got = hook.wait_for(3)
    assert sorted(d.payload["tag"] for d in got) == sorted(staged + res.tags)
    assert all(d.verified for d in got)


def test_endpoints_get_only_the_families_and_stages_they_ask_for(repo, tmp_path, secret_file):
    secret = secret_file.read_text().strip()
    with Receiver(secret) as production, Receiver(secret) as other:
        configure(repo, {"url": production.url, "secret_file": str(secret_file), "stages": ["production"]},
                  {"url": other.url, "secret_file": str(secret_file), "families": ["other"]}, retry=FAST)
        v1 = release(repo, "m")
        to_production(repo, "m", v1, reason="go")
        drained(repo)
        [got] = production.wait_for(1)
    assert got.payload["stage"] == "production" and other.got() == []


BAD = {
    "endpoints: [": "does not parse",
    "- url: http://x": "must be a mapping",
    "endpoint: []": "unknown key 'endpoint'",
    "endpoints: {url: http://x}": "endpoints must be a list",
    "endpoints: [{url: http://x, secret_env: S, secret: x}]": "unknown key 'secret'",
    "endpoints: [{secret_env: S}]": "has no url",
    "endpoints: [{url: ftp://x, secret_env: S}]": "http:// or https://",
    "endpoints: [{url: http://x}]": "exactly one of secret_env",
    "endpoints: [{url: http://x, secret_env: S, secret_file: f}]": "exactly one of secret_env",
    "endpoints: [{url: http://x, secret_env: 3}]": "secret_env must be a non-empty string",
    "endpoints: [{url: http://x, secret_env: S, families: m}]": "families must be a non-empty list",
    "endpoints: [{url: http://x, secret_env: S, families: ['Bad Name']}]": "families",
    "endpoints: [{url: http://x, secret_env: S, stages: [prod]}]": "'prod' is not a stage",
    "endpoints: [{url: http://x, secret_env: S}, {url: http://x, secret_env: T}]": "listed twice",
    "retry: {attempts: '3'}": "attempts must be a whole number",
    "retry: {attempts: true}": "attempts must be a whole number",
    "retry: {attempts: 0}": "from 1 to 50",
    "retry: {backoff: -1}": "backoff must be a number of seconds",
    "retry: {timeout: .nan}": "timeout must be a number of seconds",
    "retry: {jitter: 1}": "unknown key 'jitter'",
    "retry: [1]": "retry must be a mapping",
}


@pytest.mark.parametrize("text", BAD)
def test_a_malformed_webhooks_file_is_one_line_naming_the_file_and_key(repo, text):
    (repo / "registry").mkdir()
    (repo / "registry" / "webhooks.yaml").write_text(text + "\n")
    with pytest.raises(RegistryError) as caught:
        config.load(str(repo))
    message = str(caught.value)
    assert "\n" not in message and message.startswith("registry/webhooks.yaml")
    assert BAD[text] in message


def test_a_comments_only_file_sends_nothing_and_the_defaults_apply(repo):
    (repo / "registry").mkdir()
    (repo / "registry" / "webhooks.yaml").write_text("# endpoints:\n#   - url: https://example.com\n")
    settings = config.load(str(repo))
    assert settings.endpoints == () and settings.retry == config.Retry()
    assert [settings.retry.delay(n) for n in (1, 2, 3)] == [2, 4, 8]
    v1 = release(repo, "m")
    api.promote(str(repo), "m", v1, "staging", reason="qa")
    assert outbox(repo) == []


def test_a_malformed_file_never_blocks_a_promotion_and_its_events_wait(repo, secret_file):
    v1 = release(repo, "m")
    (repo / "registry").mkdir()
    (repo / "registry" / "webhooks.yaml").write_text("endpoints: [{url: http://x, secret_env: S, retries: 3}]\n")
    done = run_cli(repo, "promote", "m", v1, "staging", "--reason", "qa")
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stdout.splitlines() if line.startswith("warning: webhooks")]
    assert len(warning) == 1 and "unknown key 'retries'" in warning[0] and "webhooks deliver" in warning[0]
    assert git(repo, "tag", "-l", "m#staging#*")
    [waiting] = outbox(repo)
    for args in (("webhooks", "list"), ("webhooks", "deliver")):
        refused = run_cli(repo, *args)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
        assert "unknown key 'retries'" in refused.stderr
    with Receiver(secret_file.read_text().strip()) as hook:
        configure(repo, {"url": hook.url, "secret_file": str(secret_file)}, retry=FAST)
        delivered = run_cli(repo, "webhooks", "deliver")
        assert delivered.returncode == 0 and "delivered: 1 event(s)" in delivered.stdout
    assert hook.accepted() == {waiting: 1}
