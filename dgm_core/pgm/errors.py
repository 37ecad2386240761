"""The errors of the Bayesian-network library: each message says what is wrong and how to fix it."""


class NetworkError(ValueError):
    """An invalid network, edit or query."""


class ZeroProbabilityEvidence(NetworkError):
    """The evidence is impossible under the network, so no posterior exists."""
