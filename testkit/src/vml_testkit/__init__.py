"""The test toolkit shared by ``tests/`` and ``registry/tests/`` (installed by requirements.txt
as ``-e ./testkit``; no test edits ``sys.path``).

Modules, one concept each:

- ``paths``: where the template, the test venv's executables and the helper cache are;
- ``env``: the isolated environment every test session runs in (HOME, TMPDIR, git identity);
- ``plugin``: the pytest plugin (``-p vml_testkit.plugin`` in pytest.ini): session fixtures;
- ``git``: run commands, git, throwaway repositories, clones, bare origins, hooks;
- ``bake``: bake the template, the baked project's environment, copies of baked projects;
- ``registry``: the registry as tests drive it: fake proposals, releases, promotions, the CLI;
- ``team``: several people on one origin: new versions of a baked project, teammates' clones;
- ``net``: free ports on 127.0.0.1 and bounded polling;
- ``venvs``: helper virtualenvs under ``.cache`` (moto, actionlint);
- ``s3``: a real S3 server on 127.0.0.1 (moto);
- ``evidence``: real bundles in real git + DVC repositories;
- ``serving``: a released registry to serve, and the server as a subprocess;
- ``report``: a registry with the history the report shows;
- ``kills``: SIGKILL trials of the registry's write commands.
"""
