"""Who may move production, proven: registry tags signed with real ssh keys (``ssh-keygen``),
an authority policy on the origin's main branch, `git verify-tag` and GTO reading the tags, and
every refusal as one line with nothing written."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vml_testkit.git import add_origin, bare_origin, git
from vml_testkit.net import poll
from vml_testkit.registry import gto_bin, make_repo, release, to_production
from vml_testkit.serving import FAMILY, Server, copy_registry, probe
from vml_testkit.signing import POLICY, commit_policy, make_key, sign_as, signer_line, verify_tag

PEOPLE = {"alice": "release manager", "bob": "on-call", "dave": "engineer"}
REFUSED_DAVE = ("error: cannot write m#production#{n}: signed by dave@example.com, who may "
                "not write production (registry/authority.yaml at origin/main: allow.production is "
                "[release-managers]); nothing written")


def cli(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "versioned_ml_registry", *args], cwd=repo, capture_output=True,
                          text=True)


def tags(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/tags")


@pytest.fixture(scope="module")
def team_base(tmp_path_factory) -> Path:
    """Alice (release manager) released v0.1.0 and v0.2.0 and put v0.1.0 then v0.2.0 in
    production, signed; the policy and the allowed signers are on origin/main."""
    root = tmp_path_factory.mktemp("team")
    repo = make_repo(root / "repo")
    add_origin(repo, bare_origin(root / "origin.git"))
    keys = {who: make_key(root / "keys", who) for who in [*PEOPLE, "eve"]}
    signers = "".join(signer_line(f"{who}@example.com", keys[who]) for who in PEOPLE)
    (root / "allowed_signers").write_text(signers)
    commit_policy(repo, POLICY, signers)
    git(repo, "fetch", "-q", "origin")
    sign_as(repo, keys["alice"], "alice@example.com")
    for version in ("v0.1.0", "v0.2.0"):
        assert release(repo, "m") == version
        to_production(repo, "m", version)
    return root


@pytest.fixture
def team(team_base, tmp_path) -> Path:
    shutil.copytree(team_base, tmp_path / "team", symlinks=True)
    root = tmp_path / "team"
    git(root / "repo", "remote", "set-url", "origin", str(root / "origin.git"))
    return root


def as_person(root: Path, who: str) -> Path:
    repo = root / "repo"
    sign_as(repo, root / "keys" / who, f"{who}@example.com")
    return repo


def test_a_release_manager_promotes_and_git_and_gto_read_the_signed_tags(team):
    repo = as_person(team, "alice")
    assert release(repo, "m") == "v0.3.0"
    assert cli(repo, "promote", "m", "v0.3.0", "staging").returncode == 0
    done = cli(repo, "promote", "m", "v0.3.0", "production", "--reason", "ready")
    assert done.returncode == 0, done.stderr
    newest = done.stdout.split("tags: ")[-1].split()[-1]
    checked = verify_tag(repo, newest, team / "allowed_signers")
    assert checked.returncode == 0 and 'Good "git" signature for alice@example.com' in checked.stderr
    assert "-----BEGIN SSH SIGNATURE-----" in git(repo, "cat-file", "tag", newest)
    gto = subprocess.run([gto_bin(), "show", "m#production", "--version"], cwd=repo, capture_output=True, text=True)
    assert gto.stdout.strip() == "v0.3.0", gto.stderr
    assert cli(repo, "resolve", "m", "--stage", "production").stdout == "v0.3.0\n"
    assert "sign" not in cli(repo, "verify", "m").stdout  # the fake releases record no real md5s


def test_an_engineer_is_refused_for_production_but_may_stage(team):
    repo = as_person(team, "dave")
    before = tags(repo)
    done = cli(repo, "promote", "m", "v0.1.0", "production", "--reason", "mine", "--force")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [REFUSED_DAVE.format(n=7)]
    assert tags(repo) == before
    done = cli(repo, "promote", "m", "v0.1.0", "staging", "--force", "--reason", "re-test")
    assert done.returncode == 0, done.stderr


def test_on_call_rolls_back_and_the_engineer_cannot(team):
    repo = as_person(team, "dave")
    done = cli(repo, "rollback", "m", "--reason", "errors")
    assert done.returncode == 2 and "who may not write rollback" in done.stderr
    repo = as_person(team, "bob")
    done = cli(repo, "rollback", "m", "--reason", "errors up 5x")
    assert done.returncode == 0, done.stderr
    assert cli(repo, "resolve", "m", "--stage", "production").stdout == "v0.1.0\n"
    newest = git(repo, "for-each-ref", "--sort=-taggerdate", "--count=1", "--format=%(refname:lstrip=2)",
                 "refs/tags/m#production#*")
    assert 'signature for bob@example.com' in verify_tag(repo, newest, team / "allowed_signers").stderr


def stranger_tag(repo: Path, key: Path | None, version: str = "v0.1.0", n: int = 99, family: str = "m") -> str:
    """A production tag written with git itself (signed with ``key``, or unsigned)."""
    name = f"{family}#production#{n}"
    message = f"Assigning stage production to artifact {family} version {version}\n\nevent: promote\n"
    signing = ["-c", "gpg.format=ssh", "-c", f"user.signingKey={key}"] if key else []
    git(repo, *signing, "tag", "-s" if key else "-a", name, "-m", message, f"{family}@{version}^{{commit}}")
    return name


def test_verify_flags_a_tag_signed_by_an_unknown_key_and_an_unsigned_one(team):
    repo = team / "repo"
    unknown = stranger_tag(repo, team / "keys" / "eve", n=98)
    unsigned = stranger_tag(repo, None, n=99)
    done = cli(repo, "verify", "m")
    assert done.returncode != 0
    assert (f"{unknown}: signed by a key registry/authority.yaml at origin/main does not know (SHA256:"
            in done.stdout)
    assert (f"{unsigned}: unsigned, but registry/authority.yaml at origin/main: allow.production is "
            "[release-managers] needs a signed tag") in done.stdout


def test_a_policy_on_a_side_branch_changes_nothing(team):
    repo = as_person(team, "dave")
    commit_policy(repo, POLICY.replace("production: [release-managers]", "production: [team]"),
                  (repo / "registry" / "allowed_signers").read_text(), branch="side")
    git(repo, "checkout", "-q", "side")
    assert release(repo, "m", message="work on the side branch") == "v0.3.0"
    done = cli(repo, "promote", "m", "v0.3.0", "production", "--skip-staging", "--reason", "mine")
    assert done.returncode == 2 and "allow.production is [release-managers]" in done.stderr


def test_the_key_failing_halfway_writes_nothing_and_the_next_command_works(team, tmp_path):
    """Promoting to production with a live canary signs two tags; the signing program fails on
    the second (a wrapper around the real ssh-keygen)."""
    repo = as_person(team, "alice")
    assert release(repo, "m") == "v0.3.0"
    assert cli(repo, "promote", "m", "v0.3.0", "staging").returncode == 0
    assert cli(repo, "promote", "m", "v0.3.0", "canary").returncode == 0
    assert release(repo, "m") == "v0.4.0"
    assert cli(repo, "promote", "m", "v0.4.0", "staging").returncode == 0
    wrapper = tmp_path / "flaky-ssh-keygen"
    wrapper.write_text(f'#!/bin/sh\nif [ -e {tmp_path}/signed-once ]; then echo "agent refused operation" >&2; exit 1; fi\n'
                       f'touch {tmp_path}/signed-once\nexec ssh-keygen "$@"\n')
    wrapper.chmod(0o755)
    git(repo, "config", "gpg.ssh.program", str(wrapper))
    before = tags(repo)
    done = cli(repo, "promote", "m", "v0.4.0", "production", "--reason", "ready")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: cannot sign with {team / 'keys' / 'alice'}: agent refused operation; nothing written"]
    assert tags(repo) == before
    assert not list((repo / ".git" / "model-registry").glob("*.journal"))
    git(repo, "config", "--unset", "gpg.ssh.program")
    assert cli(repo, "promote", "m", "v0.4.0", "production", "--reason", "ready").returncode == 0
    assert cli(repo, "resolve", "m", "--stage", "canary").stdout == "v0.4.0\n"


# ---- bad input: one line, exit 2, nothing written ------------------------------------------
def refused(repo: Path, *args: str) -> str:
    before = tags(repo)
    done = cli(repo, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert tags(repo) == before
    return done.stderr.strip()


def test_a_policy_that_does_not_parse(team):
    repo = as_person(team, "alice")
    commit_policy(repo, "allow: [production: {", (repo / "registry" / "allowed_signers").read_text())
    git(repo, "fetch", "-q", "origin")
    line = refused(repo, "promote", "m", "v0.1.0", "staging", "--force", "--reason", "x")
    assert line.startswith("error: registry/authority.yaml at origin/main does not parse (")
    assert line.endswith("fix it on origin/main")


def test_a_policy_naming_neither_a_group_nor_a_principal(team):
    repo = as_person(team, "alice")
    commit_policy(repo, POLICY.replace("[release-managers]", "[releasemanagers]"),
                  (repo / "registry" / "allowed_signers").read_text())
    git(repo, "fetch", "-q", "origin")
    line = refused(repo, "promote", "m", "v0.1.0", "staging", "--force", "--reason", "x")
    assert "'releasemanagers', which is neither a group nor a principal" in line


def test_an_unknown_principal(team):
    repo = as_person(team, "eve")
    line = refused(repo, "promote", "m", "v0.1.0", "staging", "--force", "--reason", "x")
    assert "cannot write m#staging#7: signed by a key registry/authority.yaml at origin/main does not know" in line


def test_an_expired_key(team):
    repo = as_person(team, "alice")
    signers = (repo / "registry" / "allowed_signers").read_text().replace(
        "alice@example.com ", 'alice@example.com valid-before="20200101" ')
    commit_policy(repo, POLICY, signers)
    git(repo, "fetch", "-q", "origin")
    line = refused(repo, "rollback", "m", "--reason", "errors")
    assert "signed by a key that was not valid at" in line and "valid-before" in line


def test_a_missing_signing_program(team):
    repo = as_person(team, "alice")
    git(repo, "config", "gpg.ssh.program", "/nonexistent/ssh-keygen")
    line = refused(repo, "rollback", "m", "--reason", "errors")
    assert line == ("error: cannot sign: the signing program '/nonexistent/ssh-keygen' is not installed "
                    "(gpg.ssh.program): install it, or point git at it; nothing written")


def test_a_tag_whose_signature_block_is_malformed(team):
    repo = team / "repo"
    body = git(repo, "cat-file", "tag", "m#production#6")
    payload, _, signature = body.partition("-----BEGIN SSH SIGNATURE-----")
    payload = payload.replace("tag m#production#6\n", "tag m#production#97\n")
    broken = payload + "-----BEGIN SSH SIGNATURE-----\nbm90IGEgc2lnbmF0dXJl\n-----END SSH SIGNATURE-----\n"
    oid = subprocess.run(["git", "mktag"], cwd=repo, input=broken, capture_output=True, text=True,
                         check=True).stdout.strip()
    git(repo, "update-ref", "refs/tags/m#production#97", oid)
    done = cli(repo, "verify", "m")
    assert done.returncode != 0
    assert "m#production#97: its signature does not verify" in done.stdout
    assert cli(repo, "resolve", "m", "--stage", "production").returncode == 0


# ---- serving under require_signed -------------------------------------------------------------
@pytest.mark.slow
def test_the_server_never_serves_a_production_tag_the_policy_fails(serving_base, tmp_path):
    """Every production tag of the base is unsigned; Alice signs v0.2.0 into production, then a
    tag Eve signed (a key the policy does not know) names v0.3.0: the server keeps v0.2.0 and
    says why, until Alice promotes v0.3.0 herself."""
    root = copy_registry(serving_base, tmp_path / "copy")
    keys = {who: make_key(tmp_path / "keys", who) for who in ("alice", "eve")}
    commit_policy(root, "signers: allowed_signers\nallow:\n  production: [alice@example.com]\n",
                  signer_line("alice@example.com", keys["alice"]))
    sign_as(root, keys["alice"], "alice@example.com")
    assert cli(root, "promote", FAMILY, "v0.2.0", "production", "--reason", "signed").returncode == 0
    with Server(root, "--require-signed", "--family", FAMILY, "--interval", "0.2") as server:
        server.wait_healthy()
        assert server.serving(FAMILY) == "v0.2.0"
        eve = stranger_tag(root, keys["eve"], version="v0.3.0", family=FAMILY)
        server.reload()
        status, health = poll(lambda: (lambda h: h if h[1]["status"] == "degraded" else None)(server.health()),
                              20, "/healthz to say degraded")
        assert health["families"][FAMILY]["serving"] == "v0.2.0"
        assert any(p.startswith(f"{eve}: signed by a key registry/authority.yaml at origin/main does not know")
                   and p.endswith("not served (require_signed)") for p in health["families"][FAMILY]["problems"])
        assert eve in server.log()
        status, _, body = server.client.predict(FAMILY, probe(root, FAMILY, 1))
        assert status == 200 and body["version"] == "v0.2.0"
        git(root, "tag", "-d", eve)  # the registry's own reads still see Eve's tag: `verify` names it
        done = cli(root, "promote", FAMILY, "v0.3.0", "production", "--reason", "mine now")
        assert done.returncode == 0, done.stderr
        server.wait_serving(FAMILY, "v0.3.0")


def test_openpgp_keys_are_named_by_fingerprint(team, tmp_path, monkeypatch):
    """Carol signs with a real gpg key; the policy names her fingerprint for production."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "carol@example.com", "ed25519", "sign",
                    "never"], check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--list-keys", "--with-colons", "carol@example.com"], check=True,
                             capture_output=True, text=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    repo = team / "repo"
    signers = (repo / "registry" / "allowed_signers").read_text()
    policy = POLICY.replace("groups:", f"openpgp:\n  carol@example.com: {fingerprint}\ngroups:").replace(
        "release-managers: [alice@example.com]", "release-managers: [alice@example.com, carol@example.com]")
    commit_policy(repo, policy, signers)
    git(repo, "fetch", "-q", "origin")
    git(repo, "config", "gpg.format", "openpgp")
    git(repo, "config", "user.signingKey", fingerprint)
    done = cli(repo, "promote", "m", "v0.1.0", "production", "--force", "--reason", "carol decides")
    assert done.returncode == 0, done.stderr
    assert "-----BEGIN PGP SIGNATURE-----" in git(repo, "cat-file", "tag", "m#production#7")
    assert subprocess.run(["git", "verify-tag", "m#production#7"], cwd=repo, capture_output=True).returncode == 0
    commit_policy(repo, policy.replace(fingerprint, "0" * 40), signers)
    git(repo, "fetch", "-q", "origin")
    line = refused(repo, "promote", "m", "v0.2.0", "production", "--reason", "carol again")
    assert "does not know" in line and "m#production#8" in line


def test_a_second_ref_to_a_signed_tag_object_is_flagged_not_trusted(team):
    """Bob may roll back, not promote: a ref named like a production tag, pointing at the object
    of a tag he signed for another name, must not pass for a production tag he wrote."""
    repo = as_person(team, "bob")
    done = cli(repo, "rollback", "m", "--reason", "errors")
    assert done.returncode == 0, done.stderr
    newest = git(repo, "for-each-ref", "--sort=-taggerdate", "--count=1", "--format=%(refname:lstrip=2)",
                 "refs/tags/m#production#*")
    git(repo, "update-ref", "refs/tags/m#production#90", git(repo, "rev-parse", f"refs/tags/{newest}"))
    done = cli(repo, "verify", "m")
    assert done.returncode != 0
    assert f"m#production#90: its tag object is {newest}, not m#production#90" in done.stdout


def test_on_call_cannot_pass_a_promotion_off_as_a_rollback(team):
    """`rollback --to` a version that never held production is a promotion: allow.production."""
    alice = as_person(team, "alice")
    assert release(alice, "m") == "v0.3.0"
    assert cli(alice, "promote", "m", "v0.3.0", "staging").returncode == 0
    repo = as_person(team, "bob")
    line = refused(repo, "rollback", "m", "--to", "v0.3.0", "--force", "--reason", "trust me")
    assert "signed by bob@example.com, who may not write production" in line
    assert cli(repo, "rollback", "m", "--reason", "errors").returncode == 0  # back to v0.1.0: a real rollback
