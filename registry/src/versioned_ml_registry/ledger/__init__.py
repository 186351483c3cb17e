"""The decision ledger, the only SQL in the package: appending hash-chained rows and reading them."""
