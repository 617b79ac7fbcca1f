"""Seeing a network: repr, summary table, computation graph. Placeholder: being written."""


def network_repr(net):
    hidden = net.activations[0] if len(set(net.activations)) == 1 else list(net.activations)
    return (f"Network({net.sizes}, activation={hidden!r}, output={net.output!r}, "
            f"loss={net.loss_name!r}, dtype={net.dtype.__name__}, bias={net.bias})")


def summary(net):
    raise NotImplementedError


def graph(net):
    raise NotImplementedError
