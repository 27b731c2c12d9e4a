"""cnngrade.lab.mutants: the mistakes made from a reference Net, on every shipped lab's reference and on
Nets written in other styles (nn.Sequential; activation, pooling, dropout and flatten modules with Tensor
methods; ``torch.log(F.softmax(...))`` and ``x.view(-1, 320)``). Each mutant's file compiles, builds,
returns the reference's output shape (checked by make_mutants on the meta device) and differs where its
mistake says."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnngrade.lab.config import LabConfig
from cnngrade.lab.mutant_run import reference_of
from cnngrade.lab.mutants import MUTATIONS, Lab, Mutant, NotApplicable, builder, make_mutants
from tests.paths import ROOT, TESTS

LAB4 = Lab((1, 28, 28), "log_softmax", 64)


def mutants_of(directory: Path, file: str, lab: Lab, net_class: str = "Net") -> dict[str, Mutant | NotApplicable]:
    made = make_mutants((directory / file).read_text(encoding="utf-8"), lab, builder(directory, file, net_class))
    assert [m.name for m in made] == [name for name, _, _ in MUTATIONS]
    for mutant in made:
        if isinstance(mutant, Mutant):
            compile(mutant.source, file, "exec")
            assert mutant.change and mutant.source != (directory / file).read_text(encoding="utf-8")
    return {m.name: m for m in made}


def changed(mutant: Mutant | NotApplicable) -> str:
    """The mutated lines, whitespace collapsed (the change's ``-> `new``` parts)."""
    assert isinstance(mutant, Mutant), mutant
    return " ".join(part.split("` -> `")[1].removesuffix("`") for part in mutant.change.split("; ") if "` -> `" in part)


@pytest.mark.parametrize("lab_dir", ["graders", "labs/mlp-mnist", "labs/cifar10-cnn", "labs/report-cnn"])
def test_every_shipped_labs_reference_gives_its_applicable_mutants(lab_dir):
    lab = LabConfig.load(ROOT / lab_dir / "lab.toml")
    made = mutants_of(reference_of(ROOT / lab_dir), f"{lab.parts.net_part}.py", Lab.from_config(lab),
                      lab.parts.net_class)
    not_applicable = {name for name, m in made.items() if isinstance(m, NotApplicable)}
    expected = {
        "graders": set(),
        "labs/mlp-mnist": {"avg_pool", "padding", "stride", "no_dropout", "dropout_moved", "dropout_off",
                           "dropout_always"},
        "labs/cifar10-cnn": {"no_output"},  # logits: no output transform to leave out
        "labs/report-cnn": set(),
    }[lab_dir]
    assert not_applicable == expected, {n: made[n] for n in not_applicable}


def test_mutants_of_lab4s_reference_change_what_they_say():
    made = mutants_of(ROOT / "reference", "lab4_cnn.py", LAB4)
    assert changed(made["relu_on_output"]) == "x = torch.relu(self.fc2(x))"
    assert changed(made["no_output"]) == "return x"
    assert changed(made["wrong_output"]) == "return torch.softmax(x, dim=1)"
    assert changed(made["avg_pool"]) == "x = F.relu(torch.nn.functional.avg_pool2d(self.conv1(x), 2))"
    assert changed(made["no_relu"]) == "x = F.max_pool2d(self.conv1(x), 2)"
    assert changed(made["tanh_for_relu"]) == "x = torch.tanh(F.max_pool2d(self.conv1(x), 2))"
    assert changed(made["padding"]) == ("self.conv1 = nn.Conv2d(1, 10, kernel_size=5, padding=2) "
                                        "self.fc1 = nn.Linear(500, 50)")
    assert made["padding"].title == "padding 2 for 0 in conv1, fc1 resized to 500 inputs"
    assert changed(made["stride"]).endswith("stride=2) self.fc1 = nn.Linear(20, 50)")
    assert changed(made["dropout_moved"]) == "x = F.relu(self.fc1(F.dropout(x, training=self.training))) x = x"
    assert "torch.nn.functional.dropout2d(self.conv2(x), self.conv2_drop.p, training=False)" in changed(
        made["dropout_off"])
    assert "torch.nn.functional.dropout2d(self.conv2(x), self.conv2_drop.p)," in changed(made["dropout_always"])
    assert made["frozen_layer"].change == "__init__ ends with `self.conv1.requires_grad_(False)`"
    assert "self.conv1.requires_grad_(False)\n" in made["frozen_layer"].source
    assert changed(made["detached_layer"]) == "x = F.relu(F.max_pool2d(self.conv1(x).detach(), 2))"
    assert changed(made["fixed_batch"]) == "x = x.reshape(64, -1)"
    assert changed(made["transposed_flatten"]) == "x = x.transpose(-1, -2).flatten(1)"


def test_mutants_of_a_sequential_net_edit_its_elements():
    made = mutants_of(TESTS / "correct" / "sequential", "lab4_cnn.py", LAB4)
    assert "nn.Linear(50, 10), torch.nn.ReLU(), nn.LogSoftmax(dim=1))" in changed(made["relu_on_output"])
    assert changed(made["no_output"]).endswith("nn.Linear(50, 10))")
    assert changed(made["wrong_output"]).endswith("nn.Linear(50, 10), torch.nn.Softmax(dim=1))")
    assert "nn.Conv2d(1, 10, kernel_size=5), torch.nn.AvgPool2d(2), nn.ReLU()" in changed(made["avg_pool"])
    assert "nn.MaxPool2d(2), torch.nn.Tanh(), nn.Conv2d(10, 20" in changed(made["tanh_for_relu"])
    assert "kernel_size=5, padding=2)" in changed(made["padding"]) and "nn.Linear(500, 50)" in changed(made["padding"])
    assert "nn.Flatten(), nn.Dropout(), nn.Linear(320, 50), nn.ReLU(), nn.Linear(50, 10)" in changed(
        made["dropout_moved"])
    assert made["frozen_layer"].change == "__init__ ends with `self.features[0].requires_grad_(False)`"
    assert changed(made["detached_layer"]) == "return self.classifier(self.features(x).detach())"
    for name in ("dropout_off", "dropout_always", "fixed_batch", "transposed_flatten"):
        assert made[name].reason.endswith("layer called in forward"), made[name]


def test_mutants_of_a_net_of_modules_and_tensor_methods_call_functions_and_import_torch():
    made = mutants_of(TESTS / "mutants", "modules_net.py", LAB4)
    assert all("\nimport torch\nclass Net" in m.source.replace("\n\n", "\n") for m in made.values()
               if isinstance(m, Mutant) and "torch." in changed(m)), "torch is imported where a mutant uses it"
    assert changed(made["relu_on_output"]) == "return torch.relu(self.fc2(x)).log_softmax(dim=1)"
    assert changed(made["wrong_output"]) == "return torch.softmax(self.fc2(x), dim=1)"
    assert changed(made["avg_pool"]) == ("x = self.relu(torch.nn.functional.avg_pool2d(self.conv1(x), "
                                         "self.pool.kernel_size, self.pool.stride, self.pool.padding))")
    assert changed(made["no_relu"]) == "x = self.pool(self.conv1(x))"
    assert changed(made["padding"]) == "self.conv1 = nn.Conv2d(1, 10, 5, padding=2) self.fc1 = nn.Linear(500, 50)"
    assert changed(made["dropout_moved"]) == "x = self.relu(self.fc1(self.drop(x)))"
    assert changed(made["dropout_off"]) == ("x = torch.nn.functional.dropout(self.relu(self.fc1(x)), self.drop.p, "
                                            "training=False)")
    assert changed(made["fixed_batch"]) == "x = x.reshape(64, -1)"


def test_a_log_of_softmax_is_the_output_transform_and_a_stated_flatten_size_is_resized():
    made = mutants_of(TESTS / "correct" / "log_of_softmax", "lab4_cnn.py", LAB4)
    assert changed(made["no_output"]) == "return x"
    assert changed(made["wrong_output"]) == "return torch.softmax(x, dim=1)"
    assert changed(made["padding"]).endswith("self.fc1 = nn.Linear(500, 50) x = x.view(-1, 500)")


def test_mutants_of_a_binary_net_and_a_net_without_what_they_change_are_not_applicable(tmp_path):
    (tmp_path / "mlp.py").write_text(
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.layers = nn.Sequential(nn.Linear(8, 12), nn.ReLU(), nn.Linear(12, 8), nn.ReLU(),\n"
        "                                    nn.Linear(8, 1), nn.Sigmoid())\n\n"
        "    def forward(self, x):\n        return self.layers(x)\n", encoding="utf-8")
    made = mutants_of(tmp_path, "mlp.py", Lab((8,), "sigmoid", 16))
    assert changed(made["no_output"]).endswith("nn.Linear(8, 1))")
    assert changed(made["tanh_for_relu"]).startswith("self.layers = nn.Sequential(nn.Linear(8, 12), torch.nn.Tanh()")
    assert made["wrong_output"].title == "softmax for sigmoid"
    assert {name for name, m in made.items() if isinstance(m, NotApplicable)} == {
        "avg_pool", "padding", "stride", "no_dropout", "dropout_moved", "dropout_off", "dropout_always",
        "fixed_batch", "transposed_flatten"}
    assert made["padding"].reason == "the reference's Net has no conv2d layer"
