"""Stage-change webhooks, signed as Standard Webhooks (https://www.standardwebhooks.com).

A stage change the team can see (a push, or a local write where there is no git remote) becomes
one event per stage tag in the outbox under the git directory; a detached process delivers it to
every endpoint ``registry/webhooks.yaml`` names, with bounded retries, and a delivery never
fails or blocks the command that made the change.

* :mod:`.config`: the endpoints and retry settings, read from ``registry/webhooks.yaml``;
* :mod:`.events`: the payload of a stage tag, and its id;
* :mod:`.signature`: the Standard Webhooks headers and the signing key a secret names;
* :mod:`.outbox`: the events waiting for delivery, one file each, locked while one is delivered;
* :mod:`.delivery`: the HTTP POSTs, their retries and their log;
* :mod:`.announce`: what a registry command calls after it wrote or published tags.
"""
