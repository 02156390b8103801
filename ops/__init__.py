"""Operations tooling that runs on a developer's machine, never deployed: the cost model (``make cost``)."""
