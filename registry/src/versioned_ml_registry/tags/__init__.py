"""The registry's storage in git: tag names and bodies, refs, the remote, the write journal, family state."""
