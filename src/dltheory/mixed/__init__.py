"""Mixed tensor decompositions: two mode trees exchanging tensors at the nodes they share.

Cohen, Tamari & Shashua, "Boosting Dilated Convolutional Networks with Mixed
Tensor Decompositions", ICLR 2018.  :class:`MixedTensor` (:mod:`.tensor`) holds
the two trees' weights and the mixture nodes; :mod:`.forward` evaluates it
(structured, or as a dense tensor for small N); :mod:`.rank` reduces it to one
tree where the two agree and gives its Schmidt spectrum, certified ranks and
min cut.
"""

from __future__ import annotations

from .tensor import MixedTensor, shared_nodes

__all__ = ["MixedTensor", "shared_nodes"]
