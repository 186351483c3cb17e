"""One module per registry verb: propose, release, promote, rollback, publish, verify."""
