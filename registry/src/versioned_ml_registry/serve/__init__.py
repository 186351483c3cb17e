"""The HTTP server that follows the tags: app, service, routes, follower, shadow, metrics, validation, settings."""
