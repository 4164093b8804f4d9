"""Admin pages (being written)."""


def register(bp):
    pass
