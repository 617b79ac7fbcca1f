"""Saving and loading networks (``.npz``). Placeholder: being written."""


def save(net, path):
    raise NotImplementedError("save is not written yet")


def load(path):
    raise NotImplementedError("load is not written yet")
