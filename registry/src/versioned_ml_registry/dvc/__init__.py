"""What the registry reads from DVC: dvc.yaml, dvc.lock and params.yaml, the cache and the remote."""
