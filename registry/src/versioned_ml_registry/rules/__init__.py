"""Pure policy, no git: family names, stages and refusals, the SemVer bump, evidence, commits, gates, settings."""
