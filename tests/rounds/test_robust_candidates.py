"""Robust candidates (issue 16 item 3): the coordinate-wise median or the trimmed mean of the improving
updates, chosen by the owner at registration, is scored beside FedAvg; one large poisoned update that
drags FedAvg down cannot move the robust candidate, which then becomes the head."""
import numpy as np
import pytest

from test_settle import new_chain, play_round

from chain.rounds.candidates import coordinate_median, trim_count, trimmed_mean
from chainutil import BOB, CAROL
from client.trainer import delta_from_torch
from registryutil import digits, tiny_model, train_digits, validation

torch = pytest.importorskip("torch")


def test_coordinate_median_of_odd_and_even_counts_is_exact():
    a = [np.array([1, 9, -4]), np.array([100, 2, -5]), np.array([3, 3, 1000])]
    assert coordinate_median(a).tolist() == [3, 3, -4]
    b = a + [np.array([4, 4, 0])]                          # even: mean of the two middle, half to even
    assert coordinate_median(b).tolist() == [4, 4, -2]     # (3+4)/2 = 3.5 -> 4; (3+4)/2 -> 4; (-4+0)/2 = -2


def test_trimmed_mean_drops_each_end_per_coordinate():
    assert [trim_count(n) for n in (2, 3, 12, 13, 23)] == [0, 1, 1, 2, 3]
    a = [np.array([1, -50]), np.array([2, 0]), np.array([3, 1]), np.array([1000, 2])]
    assert trimmed_mean(a).tolist() == [2, 0]               # keeps 2, 3 -> 2.5 -> 2; keeps 0, 1 -> 0.5 -> 0


def permuted(net):
    """The same function with its hidden units in another order: as good alone, far from the others as a
    vector, so averaging it with them breaks both (a "large" update that still improves on its own)."""
    import copy
    net = copy.deepcopy(net)
    order = torch.arange(net[0].out_features).flip(0)
    with torch.no_grad():
        net[0].weight.copy_(net[0].weight[order])
        net[0].bias.copy_(net[0].bias[order])
        net[2].weight.copy_(net[2].weight[:, order])
    return net


@pytest.mark.parametrize("aggregator", ["median", "trimmed_mean"])
def test_coordinate_median_and_trimmed_mean_resist_one_large_update_that_drags_fedavg(aggregator):
    net, model = tiny_model()
    X_val, y_val, shards = validation(model, samples=400)
    X, y = digits()
    X_train, y_train = X[:-400], y[:-400]
    thirds = np.array_split(np.arange(len(X_train)), 3)
    honest = [train_digits(net, X_train[i], y_train[i]) for i in thirds]
    large = permuted(train_digits(net, X_train[thirds[0]], y_train[thirds[0]], epochs=80))
    updates = [delta_from_torch(model, n) for n in honest + [large]]
    chain, model_id = new_chain(shards, model, aggregator=aggregator, min_improvement=1)
    info = play_round(chain, model_id, 0, list(zip([BOB, CAROL, BOB, CAROL], updates)), reveal_index=0)
    fedavg, robust = info["aggregate"], info["robust"]
    assert robust["kind"] == aggregator and robust["of"] == fedavg["of"] == [0, 1, 2, 3]   # all four improve
    accuracy = lambda s: s["correct"] / s["total"]  # noqa: E731
    singles = [accuracy(s["score"]) for s in info["submission_list"]]
    print(aggregator, "fedavg", accuracy(fedavg["score"]), "robust", accuracy(robust["score"]), "updates", singles)
    # the large update drags FedAvg far below every honest update; the robust candidate stays near them
    assert accuracy(fedavg["score"]) < min(singles[:3]) - 0.3
    assert accuracy(robust["score"]) > accuracy(fedavg["score"]) + 0.3
