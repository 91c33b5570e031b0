"""What every rig shares: `with Rig(...) as rig:` closes it even when the body fails."""


class Rig:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        raise NotImplementedError
