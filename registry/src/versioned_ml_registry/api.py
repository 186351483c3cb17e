"""The registry's Python API: what the CLI calls, and all a script needs.

Every function takes ``repo``: a path inside a git repository (default: the current
directory) or a :class:`Repo`. Read functions return plain JSON-serialisable data; write
functions return a :class:`Result` and raise :class:`RegistryError` without writing anything
when any rule or gate refuses. The rules live behind these functions, so a script gets the
same gates as the command line.
"""

from __future__ import annotations

from .errors import RegistryError, missing_extra
from .result import Result
from .rules.stages import Stage
from .tags.repo import Repo

RepoLike = str | Repo | None


def open_repo(repo: RepoLike = None) -> Repo:
    return repo if isinstance(repo, Repo) else Repo(repo)


# ---- read -----------------------------------------------------------------------------

def show(repo: RepoLike = None, family: str | None = None) -> dict:
    """``{"families": {name: summary}}``: latest version, versions, the holder of every
    stage, whether a canary is live, and each version's status."""
    r = open_repo(repo)
    families = [r.family(family)] if family is not None else r.all_families(messages=False)
    for fam in families:
        r.require_consistent(fam, write=False)
    return {"families": {f.name: f.summary(r.stages) for f in families}}


def history(repo: RepoLike = None, family: str | None = None) -> list[dict]:
    """Every event (releases and stage assignments) of ``family``, or of every family, oldest first."""
    r = open_repo(repo)
    if family is not None:
        return r.family(family).history()
    rows = [row for fam in r.all_families() for row in fam.history()]
    return sorted(rows, key=lambda row: (row["time"], row["stage"] is not None, row["tag"]))


def resolve(repo: RepoLike = None, family: str = None, stage: str = "production") -> str | None:
    """The holder of ``stage`` ("v1.3.0"), or None when the stage is empty."""
    r = open_repo(repo)
    return r.family(family).holder_version(r.stage(stage))


def resolution(repo: RepoLike = None, family: str = None, stage: str = "production") -> dict:
    """``resolve`` with what makes it doubtful: ``{"version", "problems"}``, the problems being
    other versions tagged at the holder's commit (one line each; the holder stays the version
    its stage tag assigned)."""
    r = open_repo(repo)
    fam = r.family(family)
    version = fam.holder_version(r.stage(stage))
    others = fam.others_at(version) if version else []
    problems = [f"{family} {' and '.join(others)} {'is' if len(others) == 1 else 'are'} also tagged at the commit "
                f"of {stage} {version}: still {version}, as its stage tag assigned; `model-registry verify` lists it"
                ] if others else []
    return {"version": version, "problems": problems}


def resolve_commit(repo: RepoLike = None, family: str = None, stage: str = "production") -> str | None:
    """The commit of the holder of ``stage``, or None."""
    r = open_repo(repo)
    ev = r.family(family).newest_event(r.stage(stage))
    return ev.commit if ev else None


def version_info(repo: RepoLike = None, family: str = None, version: str = None) -> dict:
    """Tag, commit, time and the parsed annotation of a released version."""
    r = open_repo(repo)
    info = r.version(r.family(family), version)
    return {"family": info.family, "version": info.vstring, "tag": info.tag,
            "commit": info.commit, "time": info.time, "meta": info.meta}


def verify(repo: RepoLike = None, family: str | None = None, remote: bool = False) -> dict:
    """Every version tag's recorded md5s equal dvc.lock at its commit; its stage tags point at
    the commit of the version they name; every tag passes the authority policy; with ``remote``,
    its artifacts are in the DVC remote."""
    from .lifecycle.verify import signature_problems, verify_families

    r = open_repo(repo)
    families = [r.require_known(r.family_state(family))] if family else r.all_families()
    from .tags.trust import where_policy

    found = verify_families(r.toplevel, families, remote)
    found["problems"] += signature_problems(r, families)
    found["policy"] = where_policy(r.toplevel)
    return found


def diff(repo: RepoLike = None, family: str = None, old: str = None, new: str = None) -> dict:
    """What changed between two released versions: params, metrics, and the bump the bundle
    evidence derives."""
    from .lifecycle.propose import diff_versions

    r = open_repo(repo)
    fam = r.family(family)
    return diff_versions(r.toplevel, fam, r.version(fam, old), r.version(fam, new))


def changelog(repo: RepoLike = None, family: str = None, since: str | None = None) -> str:
    """Release notes in Markdown, newest version first: bump and reasons, the Conventional
    Commits since the previous version by type, metric deltas, who released it and when.
    ``since``: only the versions after that one."""
    from .report.changelog import render

    r = open_repo(repo)
    fam = r.family(family)
    return render(r.toplevel, fam, r.version(fam, since) if since else None)


def report(repo: RepoLike = None, output: str = "report", ledger: str | None = None) -> str:
    """Write the static HTML report of every family to ``output``; returns the index's path."""
    from .report.site import write_report

    return write_report(open_repo(repo), output, ledger)


def load_model(family: str, stage: str | None = "production", version: str | None = None,
               repo: RepoLike = None):
    """A predictor for the version holding ``stage`` (or ``version``), with the preprocessing
    pinned in that version's bundle, fetched at its commit and checked against its tag's md5."""
    from .bundle.loading import load_released

    return load_released(open_repo(repo), family, stage, version)


def untrusted_types(path: str) -> list[str]:
    """The skops types in a model file or folder that loading would refuse: what a project
    reviews before listing them under a family's ``trusted_types``."""
    from pathlib import Path

    from .bundle.contract import untrusted_types as find

    if not Path(path).exists():
        raise RegistryError(f"no model file or folder at {path}")
    return find(path)


def propose(repo: RepoLike = None, family: str = None):
    """The bump the evidence and the commits derive for the family's bundle in the working
    tree, against its highest released version. Writes nothing."""
    from .lifecycle.propose import propose as derive

    r = open_repo(repo)
    return derive(r.toplevel, family, released=r.family_state(family).highest())


# ---- write ----------------------------------------------------------------------------

def release(repo: RepoLike = None, family: str = None, bump: str | None = None,
            force: bool = False, reason: str | None = None, if_changed: bool = False,
            offline: bool = False) -> Result:
    """Tag HEAD as the family's next version, derived from the evidence (``bump`` may raise it;
    lowering it needs ``force`` and ``reason``); a candidate too when the candidate gates pass.
    The version number must be new to the git remote too, unless ``offline``."""
    from .lifecycle import release as releasing

    r = open_repo(repo)
    releasing.check_releasable(r)
    return _announced(r, releasing.release(r, family, propose(r, family), bump, force, reason,
                                           if_changed=if_changed, remote=None if offline else "origin"))


def promote(repo: RepoLike = None, family: str = None, version: str = None, stage: str = None,
            reason: str | None = None, force: bool = False, skip_staging: bool = False,
            breaking: bool = False, dvc_remote: str | None = None, push: bool = False,
            remote: str = "origin") -> Result:
    """Assign ``stage`` to ``version`` through every gate; with ``push``, on the git remote's
    current tags, published atomically (retried after a lost race while still valid)."""
    from .lifecycle import promote as promotion

    r = open_repo(repo)
    if push:
        from .lifecycle.publish import promote_and_push

        return _announced(r, promote_and_push(r, family, version, stage, reason, force, skip_staging, breaking,
                                              remote=remote, dvc_remote=dvc_remote), published=True)
    return _announced(r, promotion.promote(r, family, version, stage, reason, force, skip_staging, breaking,
                                           dvc_remote))


def rollback(repo: RepoLike = None, family: str = None, to: str | None = None,
             reason: str | None = None, force: bool = False) -> Result:
    from .lifecycle import rollback as recovery

    r = open_repo(repo)
    return _announced(r, recovery.rollback(r, family, to, reason, force))


def rollout(repo: RepoLike = None, family: str = None, server: str = None, dry_run: bool = False,
            watch: bool = False, every: float = 30.0, timeout: float = 3600.0) -> Result:
    """Decide a live canary on the evidence the server at ``server`` measured, by the family's
    ``rollout:`` policy: promote it, abort it, or wait (``data["decision"]``, ``data["exit_code"]``)."""
    from .lifecycle.rollout import rollout as decide_rollout

    r = open_repo(repo)
    return _announced(r, decide_rollout(r, family, server, dry_run, watch, every, timeout))


def drill(repo: RepoLike = None, family: str = None, reason: str | None = None) -> Result:
    from .lifecycle import rollback as recovery

    r = open_repo(repo)
    return _announced(r, recovery.drill(r, family, reason))


def abort_canary(repo: RepoLike = None, family: str = None, reason: str | None = None) -> Result:
    from .lifecycle import promote as promotion

    r = open_repo(repo)
    return _announced(r, promotion.abort_canary(r, family, reason))


def deprecate(repo: RepoLike = None, family: str = None, version: str = None,
              reason: str | None = None, force: bool = False) -> Result:
    from .lifecycle import promote as promotion

    r = open_repo(repo)
    return _announced(r, promotion.retire(r, family, version, Stage.DEPRECATED, reason, force))


def archive(repo: RepoLike = None, family: str = None, version: str = None,
            reason: str | None = None, force: bool = False) -> Result:
    from .lifecycle import promote as promotion

    r = open_repo(repo)
    return _announced(r, promotion.retire(r, family, version, Stage.ARCHIVED, reason, force))


def push(repo: RepoLike = None, remote: str = "origin", dvc_remote: str | None = None,
         family: str | None = None) -> Result:
    """Publish: the DVC artifacts of unpublished versions, then their tags in one atomic push."""
    from .lifecycle.publish import push as publish

    r = open_repo(repo)
    return _announced(r, publish(r, remote, dvc_remote, family), published=True)


def _announced(r: Repo, res: Result, published: bool = False) -> Result:
    """``res``, after the stage changes the team can now see went to the webhooks outbox
    (:mod:`.notify.announce`: never fails a command whose tags are written)."""
    from .notify.announce import announce

    announce(r, res, published)
    return res


# ---- stage-change webhooks ------------------------------------------------------------

def webhooks_pending(repo: RepoLike = None) -> dict:
    """The events waiting in the outbox, oldest first, with their attempts and the endpoints
    still owed: ``{"config", "outbox", "events"}``."""
    from .notify.config import CONFIG_FILE, load
    from .notify.outbox import listing, outbox_dir

    r = open_repo(repo)
    webhooks = load(r.toplevel)
    return {"config": CONFIG_FILE if webhooks is not None else None, "outbox": str(outbox_dir(r.git_dir)),
            "events": listing(r.git_dir, webhooks)}


def webhooks_deliver(repo: RepoLike = None, attempts: int | None = None, wait: bool = True,
                     only: list[str] | None = None) -> dict:
    """Send what waits in the outbox (``only``: the events of these ids), with the retries of
    ``registry/webhooks.yaml`` (``attempts`` overrides their number): ``{"delivered", "dropped",
    "pending", "busy"}`` lists of event ids. ``wait``: wait for events another process is
    sending, then send what they left."""
    from .notify.config import CONFIG_FILE, load
    from .notify.delivery import deliver

    r = open_repo(repo)
    webhooks = load(r.toplevel)
    if webhooks is None:
        raise RegistryError(f"no {CONFIG_FILE} in {r.toplevel}: no endpoint to deliver to")
    if attempts is not None and (isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 50):
        raise RegistryError(f"--attempts must be from 1 to 50, not {attempts!r}")
    return deliver(r.toplevel, r.git_dir, webhooks, wait, attempts, only)


# ---- serving and its decisions --------------------------------------------------------

def serve(repo: RepoLike = None, **options) -> None:
    """Run the HTTP server until SIGINT/SIGTERM (see :mod:`.serve.app`); ``options`` are the
    settings of :func:`.serve.settings.serve_settings` (None: from params.yaml or the default),
    and ``engine`` (``local``: one process; ``ray``: Ray Serve, :mod:`.serve.ray_engine`) with
    its ``replicas`` per family and the cluster ``address`` (default: a local Ray instance)."""
    from .serve.settings import serve_settings

    engine, replicas, address = options.pop("engine", "local"), options.pop("replicas", 1), options.pop("address", None)
    if engine not in ("local", "ray"):
        raise RegistryError(f"unknown engine {engine!r}: local (one process) or ray (Ray Serve replicas)")
    if engine == "local" and (replicas != 1 or address is not None):
        raise RegistryError("--replicas and --address need --engine ray")
    if not isinstance(replicas, int) or not 1 <= replicas <= 1000:
        raise RegistryError(f"--replicas must be from 1 to 1000, not {replicas!r}")
    r = open_repo(repo)
    settings = serve_settings(r.toplevel, r.family_names(), **options)
    if engine == "ray" and settings.workers:
        raise RegistryError("workers (--workers, serving.workers) are for the local engine: with --engine ray, "
                            "add --replicas instead")
    try:
        from .serve.app import run
    except ImportError:
        raise missing_extra("model-registry serve", "serve") from None
    if engine == "local":
        return run(settings)
    try:
        from .serve.ray_engine import run as run_on_ray
    except ImportError:
        raise missing_extra("model-registry serve --engine ray", "ray") from None
    run_on_ray(settings, replicas, address)


def _ledger(repo: RepoLike, ledger: str | None):
    from .serve.settings import ledger_path

    return ledger_path(None if ledger is not None else open_repo(repo).toplevel, ledger)


def decision(request_id: str, ledger: str | None = None, repo: RepoLike = None) -> list[dict]:
    """Which version decided request ``request_id``, on which input: its ledger rows (the
    answer, and a shadow's if one ran)."""
    from .ledger import queries as ledger_reader

    return ledger_reader.show(_ledger(repo, ledger), request_id)


def decisions(ledger: str | None = None, repo: RepoLike = None, family: str | None = None,
              version: str | None = None, route: str | None = None, since: str | None = None,
              until: str | None = None, limit: int = 100) -> list[dict]:
    """The newest ``limit`` decisions matching the filters (times: unix seconds or ISO 8601)."""
    from .ledger import queries as ledger_reader

    return ledger_reader.select(_ledger(repo, ledger), family, version, route,
                                ledger_reader.parse_time(since, "--since"),
                                ledger_reader.parse_time(until, "--until"), limit)


def verify_decisions(ledger: str | None = None, repo: RepoLike = None, name: str = "default") -> dict:
    """Check the ledger's hash chain, and its head against the seals ``name`` of the repository
    (:mod:`.ledger.seal`): ``{"path", "rows", "head", "seals", "problems"}``."""
    from .ledger import queries as ledger_reader
    from .ledger.seal import seal_problems

    path = _ledger(repo, ledger)
    report = ledger_reader.verify(path)
    try:
        toplevel = open_repo(repo).toplevel
    except RegistryError:  # a ledger checked outside any repository: the chain only
        report["seals"] = 0
        return report
    report["seals"], problems = seal_problems(toplevel, path, name)
    report["problems"] += problems
    return report


def seal_decisions(ledger: str | None = None, repo: RepoLike = None, name: str = "default") -> dict:
    """Sign the ledger's head as a git tag (``decisions seal``): ``{"tag", "seq", "head"}``."""
    from .ledger.seal import seal

    return seal(open_repo(repo).toplevel, _ledger(repo, ledger), name)
