"""The pieces of "any output, any input" on their own: the graders' random inputs for images and tabular
features, the recipe's normalisation, loss and prediction by output kind, binary accuracy, and the
space the architecture check compares outputs in."""

from __future__ import annotations

import pytest
import torch

from cnngrade.grader.accuracy import evaluate
from cnngrade.grader.architecture import DROPOUTS, Architecture
from cnngrade.grader.equivalence import as_log_probabilities, output_difference
from cnngrade.grader.inputs import Inputs, default_inputs, inputs_text
from cnngrade.lab.config import ConfigError, LabConfig
from cnngrade.submission.training import Recipe
from tests.paths import ROOT, TESTS

BINARY_LAB = TESTS / "labs" / "outputs" / "binary-mlp" / "lab.toml"


def test_random_images_are_uniform_pixels_normalised_and_features_standard_normal():
    images = default_inputs()  # Lab 4's: (1, 28, 28), MNIST's mean and standard deviation
    u = torch.rand((5, 1, 28, 28), generator=torch.Generator().manual_seed(3))
    assert torch.equal(images.batch(5, seed=3), (u - 0.1307) / 0.3081)
    lab = LabConfig.load(BINARY_LAB)
    features = Inputs.from_lab(lab)
    assert features.tabular and features.shape == (8,) and len(features.mean) == len(features.std) == 8
    x = features.batch(4000, seed=1)
    assert x.shape == (4000, 8) and x.dtype == torch.float32 and torch.equal(x, features.batch(4000, seed=1))
    assert x.mean(dim=0).abs().max() < 0.1 and (x.std(dim=0) - 1).abs().max() < 0.1  # as normalised features are
    assert inputs_text(lab, 1) == "1 input" and inputs_text(LabConfig.load(ROOT / "graders" / "lab.toml"), 7) == (
        "7 images")


def test_an_input_mean_of_the_wrong_length_is_the_labs_mistake(tmp_path):
    lab = LabConfig.load(BINARY_LAB)
    lab.data["net"]["input_mean"] = [0.0, 1.0, 2.0]
    with pytest.raises(ConfigError, match=r"input_mean \[0.0, 1.0, 2.0\] .* one per feature of input_shape \[8\]"):
        Inputs.from_lab(lab)


def test_the_recipe_normalises_pixels_and_features_and_trains_with_the_outputs_loss():
    pixels = torch.tensor([[[0, 255]]], dtype=torch.uint8)  # one 1x2 image
    assert torch.allclose(Recipe(mean=(0.5,), std=(0.5,)).normalise(pixels), torch.tensor([[[[-1.0, 1.0]]]]))
    features = torch.tensor([[10.0, 1.0], [30.0, 3.0]])
    assert torch.allclose(Recipe(mean=(20.0, 2.0), std=(10.0, 1.0)).normalise(features),
                          torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))
    assert torch.equal(Recipe().normalise(features), features)  # no mean and std given: as they are
    assert Recipe(output="log_softmax", loss="cross_entropy").kind.name == "log_softmax"
    assert Recipe(output="sigmoid").kind.predict(torch.tensor([[0.2], [0.7]])).tolist() == [0, 1]
    with pytest.raises(ValueError, match="output 'banana' is not an output kind"):
        Recipe(output="banana")
    with pytest.raises(ValueError, match="loss 'nll' does not fit output 'logits'"):
        Recipe(output="logits", loss="nll")


def test_binary_accuracy_has_two_label_values_and_a_prediction_out_of_range_is_wrong():
    evaluation = evaluate(torch.tensor([0, 1, 1, 7]), torch.tensor([0, 1, 0, 1]), classes=1)
    assert evaluation.accuracy == 0.5 and evaluation.confusion.tolist() == [[1, 1], [0, 1]]
    assert evaluation.per_class == (0.5, 1.0)


def test_a_single_column_is_compared_as_it_is_and_several_as_log_probabilities():
    z = torch.tensor([[-2.0], [0.5], [3.0]])
    assert torch.equal(as_log_probabilities(z)[0], z.double())  # its log-softmax would be 0 whatever z is
    assert torch.equal(as_log_probabilities(z.reshape(3))[0], z.double())
    assert output_difference(z, torch.sigmoid(z)) is not None and output_difference(z.reshape(3), z) is None
    scores = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    for same in (scores, torch.log_softmax(scores, dim=1), torch.softmax(scores, dim=1)):  # every one of them
        assert output_difference(same, torch.softmax(scores, dim=1)) is None
        assert output_difference(same, scores) is None


def test_an_architecture_says_which_layer_kinds_it_has():
    lab4 = Architecture.from_config(LabConfig.load(ROOT / "graders" / "lab.toml"))
    binary = Architecture.from_config(LabConfig.load(BINARY_LAB))
    assert lab4.has(*DROPOUTS) and lab4.has("dropout2d") and not lab4.has("sigmoid")
    assert not binary.has(*DROPOUTS) and binary.has("sigmoid", "tanh")
