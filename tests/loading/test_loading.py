"""Executing a submission: unique modules, clear errors, skipped names explained."""

from __future__ import annotations

import sys
import textwrap

import pytest

from cnngrade.submission.errors import LoadError, MissingPart, NotImplementedYet, StudentCodeError
from cnngrade.submission.inprocess import InProcessSubmission
from cnngrade.submission.loading import load_module
from cnngrade.submission.sources import read_source


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


def test_syntax_error_names_file_line_and_code(tmp_path):
    source = read_source(write(tmp_path / "lab4_cnn.py", "x = 1\nclass Net(:\n"))
    with pytest.raises(LoadError, match=r"Syntax error in lab4_cnn.py, line 2: .*`class Net\(:`"):
        load_module(source, ["Net"])


def test_module_is_not_left_in_sys_modules(tmp_path):
    before = set(sys.modules)
    load_module(read_source(write(tmp_path / "lab4_cnn.py", "class Net: pass\n")), ["Net"])
    assert {m for m in set(sys.modules) - before if m.startswith("cnngrade_submission")} == set()


def test_two_loads_of_the_same_file_are_independent(tmp_path):
    path = write(tmp_path / "lab4_cnn.py", "class Net: pass\n")
    first = load_module(read_source(path), ["Net"]).get("Net")
    second = load_module(read_source(path), ["Net"]).get("Net")
    assert first is not second
    assert first.__module__ != second.__module__


def test_missing_name_lists_what_was_found(tmp_path):
    module = load_module(read_source(write(tmp_path / "lab4_cnn.py", "class Network: pass\ndef f(): pass\n")),
                         ["Net"])
    with pytest.raises(MissingPart, match=r"lab4_cnn.py does not define `Net`; it defines `Network`, `f`."):
        module.get("Net")


def test_name_only_a_skipped_statement_defines_is_reported_by_name(tmp_path):
    path = write(tmp_path / "lab4_cnn.py", """\
        import torch
        for HIDDEN in [50]:
            pass
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(HIDDEN, 10)
        """)
    with pytest.raises(StudentCodeError) as info:
        InProcessSubmission(path).build_net()
    message = str(info.value)
    assert "NameError: name 'HIDDEN' is not defined (lab4_cnn.py, line 7" in message
    assert "`HIDDEN` is only defined by lab4_cnn.py, line 2 (`for HIDDEN in [50]:`), which the grader skips" in message


def test_failed_import_is_reported_when_its_name_is_needed(tmp_path):
    path = write(tmp_path / "lab4_cnn.py", """\
        import not_a_real_module as helpers
        class Net:
            def __init__(self):
                helpers.build()
        """)
    with pytest.raises(StudentCodeError, match=r"The statement that defines `helpers` failed: ModuleNotFoundError") \
            as raised:
        InProcessSubmission(path).build_net()
    # the module it could not import, which the isolated backend checks against the grading machine's
    assert raised.value.missing_module == "not_a_real_module"


def test_an_import_error_in_a_call_names_its_module(tmp_path):
    path = write(tmp_path / "lab4_cnn.py", """\
        class Net:
            def __init__(self):
                import not_a_real_package.sub
        """)
    with pytest.raises(StudentCodeError) as raised:
        InProcessSubmission(path).build_net()
    assert raised.value.missing_module == "not_a_real_package"


def test_unneeded_failing_import_is_harmless(tmp_path):
    path = write(tmp_path / "lab4_cnn.py", """\
        import torch
        import not_a_real_module
        class Net(torch.nn.Module):
            pass
        """)
    assert InProcessSubmission(path).build_net().parameters == ()


def test_not_implemented_is_reported_as_such(tmp_path):
    path = write(tmp_path / "lab4_cnn.py", """\
        class Net:
            def __init__(self):
                # TODO: your code here
                raise NotImplementedError
        """)
    with pytest.raises(NotImplementedYet, match=r"Net\(\) is not implemented yet \(lab4_cnn.py, line 4"):
        InProcessSubmission(path).build_net()


def test_net_that_raises_is_reported_with_its_line(tmp_path):
    path = write(tmp_path / "lab4_cnn.py", """\
        class Net:
            def __init__(self):
                self.x = 1 / 0
        """)
    with pytest.raises(StudentCodeError, match=r"Net\(\) raised ZeroDivisionError: division by zero "
                                               r"\(lab4_cnn.py, line 3: `self.x = 1 / 0`\)"):
        InProcessSubmission(path).build_net()


def test_net_that_is_not_a_module(tmp_path):
    path = write(tmp_path / "lab4_cnn.py", "class Net:\n    pass\n")
    with pytest.raises(StudentCodeError, match="not a torch.nn.Module"):
        InProcessSubmission(path).build_net()


def test_missing_submission_and_missing_file(tmp_path):
    with pytest.raises(LoadError, match="Submission not found"):
        InProcessSubmission(tmp_path / "nothing").build_net()
    with pytest.raises(MissingPart, match="The submission has no lab4_cnn.py"):
        InProcessSubmission(tmp_path).build_net()


def test_sibling_files_are_importable_definitions_only(tmp_path):
    write(tmp_path / "layers.py", """\
        import torch
        WIDTH = 7
        def block():
            return torch.nn.Linear(WIDTH, 10)
        raise SystemExit("top-level code of a sibling must not run")
        """)
    path = write(tmp_path / "lab4_cnn.py", """\
        import torch
        from layers import block
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = block()
        """)
    description = InProcessSubmission(path).build_net()
    assert [p.shape for p in description.parameters] == [(10, 7), (10,)]
    assert "layers" not in sys.modules


def test_run_all_code_mode_runs_top_level_but_not_main(tmp_path):
    path = write(tmp_path / "lab4_cnn.py", """\
        import torch
        SIZE = 3
        SIZE += 1
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(SIZE, 2)
        if __name__ == "__main__":
            raise SystemExit("main must not run")
        """)
    assert InProcessSubmission(path, definitions_only=False).build_net().parameters[0].shape == (2, 4)


def test_run_all_code_mode_reports_top_level_errors(tmp_path):
    path = write(tmp_path / "lab4_cnn.py", "import torch\nopen('/nonexistent/data')\nclass Net: pass\n")
    with pytest.raises(LoadError, match=r"Running lab4_cnn.py failed: FileNotFoundError.*line 2"):
        InProcessSubmission(path, definitions_only=False).build_net()
